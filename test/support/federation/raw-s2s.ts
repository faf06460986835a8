/**
 * A scripted server-to-server stream (RFC 6120 `jabber:server`), for tests that need a remote server to misbehave
 * on purpose: it connects, negotiates STARTTLS (§5), authenticates with SASL EXTERNAL (§6, XEP-0178) using a
 * certificate the test CA issued for the domain it claims, restarts the stream, and then writes whatever XML the
 * test gives it, recording everything the other side sends.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** Where to connect and as whom. */
export interface RawS2sOptions {
  host: string;
  port: number;
  /** The domain this stream claims (the `from` of its stream header, and the SASL EXTERNAL authorization identity). */
  from: string;
  /** The receiving domain. */
  to: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** An authenticated raw s2s stream. */
export interface RawS2s {
  /** Everything received after authentication. */
  received(): string;
  /** Writes raw XML. */
  send(xml: string): void;
  /** Resolves with the received text once `re` matches it (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Resolves when the other side has closed the connection. */
  closed: Promise<void>;
  close(): void;
}

const header = (from: string, to: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='${from}' to='${to}' version='1.0'>`;

/** A text buffer over a socket with "wait until this pattern arrives". */
class Reader {
  text = '';
  private wake: Array<() => void> = [];
  ended = false;
  attach(sock: Socket | TLSSocket): void {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.text += d;
      this.notify();
    });
    sock.on('close', () => {
      this.ended = true;
      this.notify();
    });
    sock.on('error', () => undefined);
  }
  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }
  async waitFor(re: RegExp, ms: number, what: string): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      if (re.test(this.text)) return this.text;
      if (this.ended) throw new Error(`connection closed while waiting for ${what}; received: ${this.text.slice(-2000)}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received: ${this.text.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => (clearTimeout(t), resolve()));
      });
    }
  }
}

/** Opens the stream and authenticates it; rejects with what the server said when it refuses. */
export async function openRawS2s(o: RawS2sOptions): Promise<RawS2s> {
  const plain = netConnect({ host: o.host, port: o.port });
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', resolve);
    plain.once('error', reject);
  });
  const pre = new Reader();
  pre.attach(plain);
  plain.write(header(o.from, o.to));
  await pre.waitFor(/<\/stream:features>/, 10_000, 'the first stream features');
  if (!pre.text.includes(NS_TLS)) throw new Error(`no STARTTLS offered: ${pre.text}`);
  plain.write(`<starttls xmlns='${NS_TLS}'/>`);
  await pre.waitFor(/<proceed/, 10_000, 'STARTTLS proceed');
  plain.removeAllListeners('data');
  const sock = tlsConnect({
    socket: plain,
    servername: o.to,
    ca: readFileSync(o.caFile),
    cert: readFileSync(o.certFile),
    key: readFileSync(o.keyFile),
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  let r = new Reader();
  r.attach(sock);
  sock.write(header(o.from, o.to));
  await r.waitFor(/<\/stream:features>/, 10_000, 'the stream features after TLS');
  if (!/EXTERNAL/.test(r.text)) throw new Error(`SASL EXTERNAL not offered after TLS: ${r.text}`);
  sock.write(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from(o.from).toString('base64')}</auth>`);
  await r.waitFor(/<success|<failure/, 10_000, 'the SASL outcome');
  if (/<failure/.test(r.text)) throw new Error(`SASL EXTERNAL refused: ${r.text}`);
  // RFC 6120 §6.4.6: after success, a new stream over the same TLS layer.
  sock.removeAllListeners('data');
  r = new Reader();
  r.attach(sock);
  sock.write(header(o.from, o.to));
  await r.waitFor(/<\/stream:features>|<stream:features\/>/, 10_000, 'the stream features after SASL');
  const after = r.text.length;
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return {
    received: () => r.text.slice(after),
    send: (xml) => void sock.write(xml),
    waitFor: (re, ms = 10_000) => r.waitFor(re, ms, String(re)),
    closed,
    close: () => sock.destroy(),
  };
}
