/**
 * A lean XMPP client for benchmarks against other servers: STARTTLS (RFC 6120 §5) verified against a given CA,
 * SASL PLAIN (RFC 4616) over TLS, resource binding (§7), initial presence, then a callback per received
 * <message/> body. No XML parser: it only needs bodies of messages it knows the shape of, and a Python or
 * JavaScript client library would cost more CPU than the servers under test.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** Where and as whom. */
export interface C2sReaderOptions {
  host: string;
  port: number;
  domain: string;
  user: string;
  password: string;
  caFile: string;
  /** Called with each message body as it arrives. */
  onBody: (body: string) => void;
  /** Called with each error bounce (a benchmark stops on the first). */
  onError?: (xml: string) => void;
}

const header = (domain: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;

/** A logged-in client: send a chat message, close. */
export interface C2sReader {
  send(to: string, body: string): void;
  close(): void;
}

/** Connects, logs in and binds; resolves once initial presence has been sent. */
export async function startC2sReader(o: C2sReaderOptions): Promise<C2sReader> {
  const plain = netConnect({ host: o.host, port: o.port });
  let text = '';
  const waitFor = (re: RegExp, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`c2s: no ${what}: ${text.slice(-500)}`)), 15_000);
      const check = (): void => {
        if (re.test(text)) {
          clearTimeout(t);
          text = '';
          resolve();
        } else setTimeout(check, 5);
      };
      check();
    });
  plain.setEncoding('utf8');
  plain.on('data', (d: string) => (text += d));
  plain.write(header(o.domain));
  await waitFor(/<\/stream:features>/, 'features');
  plain.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await waitFor(/<proceed/, 'proceed');
  plain.removeAllListeners('data');
  const sock: TLSSocket = tlsConnect({ socket: plain, servername: o.domain, ca: readFileSync(o.caFile) });
  await new Promise<void>((resolve, reject) => (sock.once('secureConnect', resolve), sock.once('error', reject)));
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (text += d));
  sock.write(header(o.domain));
  await waitFor(/<\/stream:features>/, 'features after TLS');
  sock.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${o.user}\0${o.password}`).toString('base64')}</auth>`);
  await waitFor(/<success/, 'SASL success');
  sock.write(header(o.domain));
  await waitFor(/<\/stream:features>/, 'features after SASL');
  sock.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>");
  await waitFor(/id=["']b1["']/, 'bind result');
  sock.removeAllListeners('data');
  // From here on: pull the <body> out of every <message> that is not an error bounce (which carries the original
  // body too: RFC 6120 §8.3.1 lets the error include it). Bodies are digits and spaces only.
  let rest = '';
  const messageRe = /<message\b([^>]*)>([\s\S]*?)<\/message>/g;
  sock.on('data', (d: string) => {
    rest += d;
    let last = 0;
    for (let m = messageRe.exec(rest); m !== null; m = messageRe.exec(rest)) {
      last = messageRe.lastIndex;
      if (/type=["']error["']/.test(m[1]!)) {
        o.onError?.(m[0]);
        continue;
      }
      const body = /<body>([^<]*)<\/body>/.exec(m[2]!);
      if (body) o.onBody(body[1]!);
    }
    messageRe.lastIndex = 0;
    rest = rest.slice(last > 0 ? last : Math.max(0, rest.length - 65_536));
  });
  sock.write('<presence/>');
  return {
    send: (to, body) => void sock.write(`<message type='chat' to='${to}'><body>${body}</body></message>`),
    close: () => sock.destroy(),
  };
}
