/**
 * A scripted server-to-server stream (RFC 6120 `jabber:server`), for tests that need a remote server to misbehave
 * on purpose: it connects, negotiates STARTTLS (§5), authenticates either with SASL EXTERNAL (§6, XEP-0178)
 * using a certificate the test CA issued for the domain it claims, or with XEP-0220 dialback answered by an
 * authoritative server the test runs itself (startDialbackAuthority), and then writes whatever XML the test
 * gives it, recording everything the other side sends.
 */
import { createServer as netServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket, createSecureContext } from 'node:tls';
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
  /**
   * How to authenticate (default external). Dialback needs startDialbackAuthority running for `from`; `none`
   * stops after STARTTLS, at the features of the encrypted stream, for a test that authenticates by hand.
   */
  auth?: 'external' | 'dialback' | 'none';
}

/** An authenticated raw s2s stream. */
export interface RawS2s {
  /** Everything received after authentication (with `auth: 'none'`, since the encrypted stream's header). */
  received(): string;
  /** Writes raw XML. */
  send(xml: string): void;
  /** Resolves with the received text once `re` matches it (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Resolves when the other side has closed the connection. */
  closed: Promise<void>;
  close(): void;
}

const NS_DB = 'jabber:server:dialback';

/** A `jabber:server` stream header with the dialback namespace declared (RFC 6120 §4.7, XEP-0220). */
export const streamHeader = (from: string, to: string, id?: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='${NS_DB}' xmlns:stream='http://etherx.jabber.org/streams' from='${from}' to='${to}'${id ? ` id='${id}'` : ''} version='1.0'>`;

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
  plain.write(streamHeader(o.from, o.to));
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
  sock.write(streamHeader(o.from, o.to));
  await r.waitFor(/<\/stream:features>/, 10_000, 'the stream features after TLS');
  const auth = o.auth ?? 'external';
  if (auth === 'dialback') {
    // XEP-0220 §2.1.2: the key is opaque to the receiving server, which asks the authoritative server about it.
    sock.write(`<db:result from='${o.from}' to='${o.to}'>raw-s2s-dialback-key</db:result>`);
    await r.waitFor(/<(db:)?result[^>]*type=["'](valid|invalid|error)["']/, 15_000, 'the dialback result');
    if (!/type=["']valid["']/.test(r.text)) throw new Error(`dialback refused: ${r.text}`);
  } else if (auth === 'external') {
    if (!/EXTERNAL/.test(r.text)) throw new Error(`SASL EXTERNAL not offered after TLS: ${r.text}`);
    sock.write(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from(o.from).toString('base64')}</auth>`);
    await r.waitFor(/<success|<failure/, 10_000, 'the SASL outcome');
    if (/<failure/.test(r.text)) throw new Error(`SASL EXTERNAL refused: ${r.text}`);
    // RFC 6120 §6.4.6: after success, a new stream over the same TLS layer.
    sock.removeAllListeners('data');
    r = new Reader();
    r.attach(sock);
    sock.write(streamHeader(o.from, o.to));
    await r.waitFor(/<\/stream:features>|<stream:features\/>/, 10_000, 'the stream features after SASL');
  }
  // Unauthenticated, the test sees the features it has to answer; otherwise what follows authentication.
  const after = auth === 'none' ? 0 : r.text.length;
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return {
    received: () => r.text.slice(after),
    send: (xml) => void sock.write(xml),
    waitFor: (re, ms = 10_000) => r.waitFor(re, ms, String(re)),
    closed,
    close: () => sock.destroy(),
  };
}

/** What the test's authoritative server saw. */
export interface DialbackAuthority {
  /** The ids of the streams it was asked to verify keys for. */
  verified: string[];
  close(): Promise<void>;
}

/**
 * The authoritative server of `domain` for XEP-0220 (§2.3): listens on address:5269, requires STARTTLS with the
 * given certificate, offers dialback, and answers every <db:verify/> with type='valid' (it vouches for whatever key
 * it is shown, which is what lets a test own a remote domain's identity without SASL EXTERNAL).
 */
export async function startDialbackAuthority(o: { address: string; domain: string; certFile: string; keyFile: string }): Promise<DialbackAuthority> {
  const verified: string[] = [];
  const context = createSecureContext({ cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) });
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = netServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const id = `authority-${++n}`;
    let buf = '';
    raw.setEncoding('utf8');
    const onPlain = (d: string): void => {
      buf += d;
      if (/<stream:stream/.test(buf) && !/sent-features/.test(buf)) {
        buf += 'sent-features';
        raw.write(`${streamHeader(o.domain, 'peer', id)}<stream:features><starttls xmlns='${NS_TLS}'><required/></starttls></stream:features>`);
      }
      if (/<starttls/.test(buf)) {
        raw.off('data', onPlain);
        raw.write(`<proceed xmlns='${NS_TLS}'/>`);
        const t = new TLSSocket(raw, { isServer: true, secureContext: context });
        let text = '';
        t.setEncoding('utf8');
        t.on('error', () => undefined);
        t.on('data', (chunk: string) => {
          text += chunk;
          if (/<stream:stream/.test(text) && !text.includes('\u0000')) {
            text = text.replace(/<stream:stream[^>]*>/, '\u0000');
            t.write(`${streamHeader(o.domain, 'peer', `${id}-tls`)}<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`);
          }
          for (let m = /<(?:db:)?verify\b([^>]*)>[^<]*<\/(?:db:)?verify>/.exec(text); m !== null; m = /<(?:db:)?verify\b([^>]*)>[^<]*<\/(?:db:)?verify>/.exec(text)) {
            const attr = (name: string): string => new RegExp(`${name}=["']([^"']*)["']`).exec(m![1]!)?.[1] ?? '';
            verified.push(attr('id'));
            t.write(`<db:verify from='${attr('to')}' to='${attr('from')}' id='${attr('id')}' type='valid'/>`);
            text = text.slice(m.index + m[0].length);
          }
        });
      }
    };
    raw.on('data', onPlain);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(5269, o.address, () => resolve());
  });
  return {
    verified,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One stream a scripted receiving server took, after authentication. */
export interface RawPeerStream {
  /** What arrived after the stream was authenticated. */
  received(): string;
  send(xml: string): void;
}

/** A scripted receiving server (startRawS2sPeer). */
export interface RawS2sPeer {
  port: number;
  /** The streams authenticated so far, in order. */
  streams: RawPeerStream[];
  /** Everything every stream received after authentication. */
  received(): string;
  close(): Promise<void>;
}

/**
 * A receiving server for `domain` that Parley's outgoing streams reach (RFC 6120 §5, §6): it requires STARTTLS with
 * the given certificate, accepts SASL EXTERNAL from anyone (the test is not about who connects), and offers the
 * features of the restarted stream. `closeAfterAuth`: how many of the first streams it closes (RFC 6120 §4.4) in
 * the same write as those features, so the initiating server reads "ready" and the close together.
 */
export async function startRawS2sPeer(o: { domain: string; certFile: string; keyFile: string; closeAfterAuth?: number }): Promise<RawS2sPeer> {
  const context = createSecureContext({ cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) });
  const streams: RawPeerStream[] = [];
  const sockets = new Set<Socket>();
  let n = 0;
  const server: Server = netServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const id = `raw-peer-${++n}`;
    let buf = '';
    raw.setEncoding('utf8');
    const onPlain = (d: string): void => {
      buf += d;
      if (/<stream:stream/.test(buf) && !buf.includes('\u0000')) {
        buf = buf.replace(/<stream:stream[^>]*>/, '\u0000');
        raw.write(`${streamHeader(o.domain, 'peer', id)}<stream:features><starttls xmlns='${NS_TLS}'><required/></starttls></stream:features>`);
      }
      if (!/<starttls/.test(buf)) return;
      raw.off('data', onPlain);
      raw.write(`<proceed xmlns='${NS_TLS}'/>`);
      const t = new TLSSocket(raw, { isServer: true, secureContext: context });
      let text = '';
      let phase: 'sasl' | 'restart' | 'open' = 'sasl';
      let opened = 0;
      t.setEncoding('utf8');
      t.on('error', () => undefined);
      t.on('data', (chunk: string) => {
        if (phase === 'open') {
          text += chunk;
          return;
        }
        buf = chunk;
        if (/<stream:stream/.test(buf) && phase === 'sasl' && opened === 0) {
          opened++;
          t.write(`${streamHeader(o.domain, 'peer', `${id}-tls`)}<stream:features><mechanisms xmlns='${NS_SASL}'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>`);
        }
        if (/<auth\b/.test(buf) && phase === 'sasl') {
          phase = 'restart';
          t.write(`<success xmlns='${NS_SASL}'/>`);
          return;
        }
        if (/<stream:stream/.test(buf) && phase === 'restart') {
          phase = 'open';
          const closing = streams.length < (o.closeAfterAuth ?? 0);
          streams.push({ received: () => text, send: (xml) => void t.write(xml) });
          t.write(`${streamHeader(o.domain, 'peer', `${id}-auth`)}<stream:features/>${closing ? '</stream:stream>' : ''}`);
          if (closing) t.end();
        }
      });
    };
    raw.on('data', onPlain);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    streams,
    received: () => streams.map((s) => s.received()).join(''),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
