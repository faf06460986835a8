/**
 * A hand-driven server-to-server stream for tests (RFC 6120): STARTTLS with a certificate of the test's choice,
 * SASL EXTERNAL (XEP-0178), then whatever the test writes, forged or not.
 */
import { createConnection } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { expect } from 'vitest';

/** A hand-driven s2s stream: STARTTLS, SASL EXTERNAL with its own certificate, then raw writes. */
export class RawS2s {
  text = '';
  closed: Promise<void>;
  private constructor(private socket: TLSSocket, closed: Promise<void>) {
    this.closed = closed;
  }

  /** Connects, STARTTLS with the given certificate, and reads the features of the encrypted stream. */
  static async tls(port: number, from: string, to: string, pki: { cert: string; key: string; ca: string }): Promise<RawS2s> {
    const header = RawS2s.header(from, to);
    const tcp = createConnection({ host: '127.0.0.1', port });
    let plain = '';
    tcp.on('data', (c: Buffer) => (plain += c.toString('utf8')));
    await new Promise<void>((r) => tcp.once('connect', () => r()));
    tcp.write(header);
    await waitText(() => plain, /<starttls/);
    tcp.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await waitText(() => plain, /<proceed/);
    tcp.removeAllListeners('data');
    const tls = tlsConnect({ socket: tcp, servername: to, cert: pki.cert, key: pki.key, ca: pki.ca });
    const r = new RawS2s(tls, new Promise<void>((res) => tls.once('close', () => res())));
    tls.on('data', (c: Buffer) => (r.text += c.toString('utf8')));
    await new Promise<void>((res) => tls.once('secureConnect', () => res()));
    tls.write(header);
    await r.waitFor(/<\/stream:features>/);
    return r;
  }

  static header(from: string, to: string): string {
    return `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`;
  }

  /** The stream id of the latest header. */
  get streamId(): string {
    const ids = [...this.text.matchAll(/<stream:stream [^>]*id="([^"]+)"/g)];
    return ids[ids.length - 1]![1]!;
  }

  /** Connects and authenticates by SASL EXTERNAL as `from`. */
  static async open(port: number, from: string, to: string, pki: { cert: string; key: string; ca: string }): Promise<RawS2s> {
    const r = await RawS2s.tls(port, from, to, pki);
    expect(r.text).toMatch(/<mechanism>EXTERNAL<\/mechanism>/);
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from(from).toString('base64')}</auth>`);
    await r.waitFor(/<success/);
    const at = r.text.length;
    r.write(RawS2s.header(from, to));
    await waitText(() => r.text.slice(at), /<\/stream:features>|<stream:features\/>/);
    return r;
  }

  write(s: string): void {
    this.socket.write(s);
  }

  waitFor(re: RegExp): Promise<void> {
    return waitText(() => this.text, re);
  }
}

/** Waits until `get()` matches `re`. */
export async function waitText(get: () => string, re: RegExp, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in ${get().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
