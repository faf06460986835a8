/**
 * XMPP over WebSocket (RFC 7395) on the HTTP port: the handshake (subprotocol, Origin, path), framing (<open/>,
 * <close/>, one element per message), SASL SCRAM from a raw client, chat with a TCP client, limits, shutdown,
 * and a real client library (@xmpp/client) over ws://.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaxesParser } from 'saxes';
import { WebSocket, type ClientOptions } from 'ws';
import { freshUsers, startServer, until, type TestServer } from './harness.js';
import { RawPeer } from './wire.js';
import { RawXmpp } from './xmpp-raw.js';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const STREAMS = 'http://etherx.jabber.org/streams';

const openTag = (domain = 'localhost'): string => `<open xmlns="${FRAMING}" to="${domain}" version="1.0"/>`;
const closeTag = `<close xmlns="${FRAMING}"/>`;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const local = (address: string): string => address.split('@')[0]!;
const password = (address: string): string => `pw-${local(address)}`;

/** The root of one WebSocket message parsed as a standalone document; throws unless it is exactly one element. */
function rootOf(text: string): { name: string; uri: string; attrs: Record<string, string> } {
  const parser = new SaxesParser({ xmlns: true });
  let root: { name: string; uri: string; attrs: Record<string, string> } | null = null;
  let depth = 0;
  let roots = 0;
  parser.on('opentag', (tag) => {
    if (depth++ === 0) {
      roots++;
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = v.value;
      root = { name: tag.local, uri: tag.uri, attrs };
    }
  });
  parser.on('closetag', () => void depth--);
  parser.on('text', (t) => {
    if (depth === 0 && t.trim() !== '') throw new Error(`text outside the element: ${JSON.stringify(t)}`);
  });
  parser.write(text).close();
  if (roots !== 1 || root === null) throw new Error(`not one element: ${text}`);
  return root;
}

/** A raw RFC 7395 client: every message received is kept, in order. */
class XmppWs {
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | null = null;
  /** Messages before this index have been consumed by next()/until(). */
  private seen = 0;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      this.messages.push(data.toString('utf8'));
    });
  }

  static async open(url: string, protocols: string[] = ['xmpp'], opts: ClientOptions = {}): Promise<XmppWs> {
    const ws = new WebSocket(url, protocols, opts);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    return new XmppWs(ws);
  }

  send(text: string | Buffer, binary = false): void {
    this.ws.send(text, { binary });
  }

  /** The first not yet consumed message matching `re`; the ones before it are consumed too. */
  async until(re: RegExp, ms = 5000): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = this.seen; i < this.messages.length; i++) {
        const m = re.exec(this.messages[i]!);
        if (m) {
          this.seen = i + 1;
          return m;
        }
      }
      if (Date.now() > end || this.closeCode !== null) {
        throw new Error(`${this.closeCode !== null ? `closed (${this.closeCode})` : 'timed out'} waiting for ${re}; received:\n${this.messages.slice(-10).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Opens (or reopens) the stream; returns the <open/> and the features messages. */
  async open(domain = 'localhost'): Promise<{ open: string; features: string }> {
    this.send(openTag(domain));
    const open = (await this.until(/^<open /)).input;
    const features = (await this.until(/^<stream:features/)).input;
    return { open, features };
  }
}

/** A minimal SCRAM client (RFC 5802 §3), without channel binding (gs2 header "n,,"). */
function scramClient(user: string, pass: string, hash: 'sha256' | 'sha1') {
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=${user},r=${nonce}`;
  const hmac = (key: Buffer, text: string): Buffer => createHmac(hash, key).update(text).digest();
  return {
    first: `n,,${bare}`,
    final(serverFirst: string): { message: string; serverSignature: string } {
      const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)]));
      const r = attrs.r!;
      if (!r.startsWith(nonce)) throw new Error('the server nonce does not extend ours');
      const salted = pbkdf2Sync(pass, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), hash === 'sha256' ? 32 : 20, hash);
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=${b64('n,,')},r=${r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
      return { message: `${withoutProof},p=${proof.toString('base64')}`, serverSignature };
    },
  };
}

/** Authenticates with SCRAM on an opened stream; resolves once <success/> carried the right server signature. */
async function scramAuth(c: XmppWs, address: string, mech: 'SCRAM-SHA-256' | 'SCRAM-SHA-1' = 'SCRAM-SHA-256', pass = password(address)): Promise<void> {
  const scram = scramClient(local(address), pass, mech === 'SCRAM-SHA-256' ? 'sha256' : 'sha1');
  c.send(`<auth xmlns="${SASL}" mechanism="${mech}">${b64(scram.first)}</auth>`);
  const challenge = await c.until(/^<challenge[^>]*>([^<]+)<\/challenge>$|^<failure/);
  if (challenge[1] === undefined) throw new Error(`SASL failed: ${challenge.input}`);
  const final = scram.final(unb64(challenge[1]));
  c.send(`<response xmlns="${SASL}">${b64(final.message)}</response>`);
  const success = await c.until(/^<success[^>]*>([^<]*)<\/success>$|^<failure/);
  if (success[1] === undefined) throw new Error(`SASL failed: ${success.input}`);
  expect(unb64(success[1])).toBe(`v=${final.serverSignature}`);
}

/** Opens, authenticates with SCRAM-SHA-256, reopens and binds; returns the bound full address. */
async function wsLogin(c: XmppWs, address: string, resource = 'web'): Promise<string> {
  await c.open();
  await scramAuth(c, address);
  const { features } = await c.open();
  expect(features).toContain('urn:ietf:params:xml:ns:xmpp-bind');
  c.send(`<iq xmlns="jabber:client" type="set" id="bind1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>${resource}</resource></bind></iq>`);
  return (await c.until(/<jid>([^<]+)<\/jid>/))[1]!;
}

/** Status of an upgrade request to `path` with the given headers (101 when upgraded). */
function upgradeStatus(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const u = new URL(baseUrl);
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
      timeout: 2000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new Error('the upgrade request was left hanging'));
    });
    req.on('error', reject);
    req.end();
  });
}

let t: TestServer;
let wsUrl: string;

beforeAll(async () => {
  t = await startServer({ server: { allowedOrigins: ['https://chat.example.com'] } });
  wsUrl = `${t.url.replace(/^http/, 'ws')}/xmpp-websocket`;
});
afterAll(async () => {
  await t?.close();
});

describe('handshake', () => {
  it('selects the "xmpp" subprotocol', async () => {
    const c = await XmppWs.open(wsUrl, ['chat', 'xmpp']);
    expect(c.ws.protocol).toBe('xmpp');
    c.ws.close();
  });

  it('refuses a handshake that does not offer "xmpp" (RFC 7395 §3.1)', async () => {
    await expect(XmppWs.open(wsUrl, [])).rejects.toThrow(/HTTP 400/);
    await expect(XmppWs.open(wsUrl, ['chat', 'XMPP'])).rejects.toThrow(/HTTP 400/);
  });

  it('checks the Origin like the JSON door', async () => {
    await expect(XmppWs.open(wsUrl, ['xmpp'], { origin: 'https://evil.example.com' })).rejects.toThrow(/HTTP 403/);
    for (const origin of ['https://chat.example.com', `http://127.0.0.1:${new URL(t.url).port}`]) {
      const c = await XmppWs.open(wsUrl, ['xmpp'], { origin });
      c.ws.close();
    }
  });

  it('an unknown path gets 404 while /ws (JSON) still works', async () => {
    expect(await upgradeStatus(t.url, '/not-ws', { 'sec-websocket-protocol': 'xmpp' })).toBe(404);
    expect(await upgradeStatus(t.url, '/xmpp-websocket/x', { 'sec-websocket-protocol': 'xmpp' })).toBe(404);
    expect(await upgradeStatus(t.url, '/xmpp-websocket?x=1', { 'sec-websocket-protocol': 'xmpp' })).toBe(101);
    const [a] = await freshUsers(t, 'json');
    const c = await t.connect(a!);
    await c.request('ping');
    const raw = await RawPeer.open(t.wsUrl);
    raw.ws.close();
  });
});

describe('framing and authentication', () => {
  it('answers <open/> with <open/> and features in separate messages, SCRAM but no PLAIN over plain ws', async () => {
    const c = await XmppWs.open(wsUrl);
    const { open, features } = await c.open();
    const o = rootOf(open);
    expect(o).toMatchObject({ name: 'open', uri: FRAMING });
    expect(o.attrs).toMatchObject({ from: 'localhost', version: '1.0' });
    expect(o.attrs.id).toBeTruthy();
    const f = rootOf(features); // standalone: the stream prefix is declared in the message itself
    expect(f).toMatchObject({ name: 'features', uri: STREAMS });
    const mechs = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
    expect(mechs).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1']);
    expect(features).not.toContain('starttls');
    c.send(closeTag);
    await c.closed;
  });

  it('logs in with SCRAM-SHA-256, binds, and chats with a TCP client; every message is one element', async () => {
    const [wa, tb] = await freshUsers(t, 'wsa', 'tcpb');
    const c = await XmppWs.open(wsUrl);
    const jid = await wsLogin(c, wa!, 'browser');
    expect(jid).toBe(`${wa}/browser`);
    c.send(`<presence xmlns="jabber:client"/>`);

    const b = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    const bJid = await b.login(tb!, password(tb!), 'desk');
    b.write(`<presence/>`);

    b.write(`<message type="chat" to="${wa}" id="m1"><body>hello from tcp &amp; co</body></message>`);
    const got = await c.until(/^<message[^>]*type="chat"[^>]*>.*hello from tcp &amp; co/);
    const m = rootOf(got.input);
    // RFC 7395: every message is a standalone document, so a stanza carries its jabber:client declaration.
    expect(m).toMatchObject({ name: 'message', uri: 'jabber:client' });
    expect(m.attrs.from).toBe(bJid);

    c.send(`<message xmlns="jabber:client" type="chat" to="${tb}" id="m2"><body>hello from the browser</body></message>`);
    await b.until(/<message[^>]*>.*hello from the browser/);

    for (const text of c.messages) {
      const root = rootOf(text);
      if (root.name === 'message' || root.name === 'presence' || root.name === 'iq') expect(root.uri).toBe('jabber:client');
    }
    expect(c.messages.some((text) => /^<iq [^>]*id="bind1"/.test(text))).toBe(true);
    c.send(closeTag);
    const closeMsg = await c.until(/^<close/);
    expect(rootOf(closeMsg.input)).toMatchObject({ name: 'close', uri: FRAMING });
    expect((await c.closed).code).toBe(1000);
    b.close();
  });

  it('SCRAM-SHA-1 works too; a wrong password fails without ending the stream', async () => {
    const [wa] = await freshUsers(t, 'wsc');
    const c = await XmppWs.open(wsUrl);
    await c.open();
    await expect(scramAuth(c, wa!, 'SCRAM-SHA-1', 'wrong')).rejects.toThrow(/not-authorized/);
    await scramAuth(c, wa!, 'SCRAM-SHA-1');
    c.ws.close();
  });

  it('PLAIN is refused over plain ws', async () => {
    const [wa] = await freshUsers(t, 'wsp');
    const c = await XmppWs.open(wsUrl);
    await c.open();
    c.send(`<auth xmlns="${SASL}" mechanism="PLAIN">${b64(`\0${local(wa!)}\0${password(wa!)}`)}</auth>`);
    await c.until(/^<failure[^>]*><invalid-mechanism\/>/);
    c.ws.close();
  });

  it('a message over the pre-authentication limit gets a policy-violation stream error, then <close/>', async () => {
    const c = await XmppWs.open(wsUrl);
    await c.open();
    c.send(`<message xmlns="jabber:client" to="x@localhost"><body>${'a'.repeat(20_000)}</body></message>`);
    const err = await c.until(/^<stream:error/);
    expect(rootOf(err.input)).toMatchObject({ name: 'error', uri: STREAMS });
    expect(err.input).toContain('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    await c.until(/^<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"\/>$/);
    expect((await c.closed).code).toBe(1000);
  });

  it('a stream error before <open/> still comes after an <open/> of the server', async () => {
    const c = await XmppWs.open(wsUrl);
    c.send(openTag('elsewhere.example'));
    await c.until(/^<open /);
    const err = await c.until(/^<stream:error/);
    expect(err.input).toContain('host-unknown');
    await c.until(/^<close /);
    await c.closed;
  });

  it('a binary message ends the stream with unsupported-encoding', async () => {
    const c = await XmppWs.open(wsUrl);
    await c.open();
    c.send(Buffer.from(openTag()), true);
    const err = await c.until(/^<stream:error/);
    expect(err.input).toContain('<unsupported-encoding ');
    await c.until(/^<close /);
    expect((await c.closed).code).toBe(1000);
  });

  it('a message past the WebSocket limit closes with 1009', async () => {
    const c = await XmppWs.open(wsUrl);
    await c.open();
    c.send(`<message xmlns="jabber:client"><body>${'a'.repeat(t.server.config.xmpp.maxStanzaBytes + 20_000)}</body></message>`);
    expect((await c.closed).code).toBe(1009);
  });

  it('counts its connections in /health', async () => {
    const health = async (): Promise<number> => ((await (await fetch(`${t.url}/health`)).json()) as { connections: number }).connections;
    const before = await health();
    const c = await XmppWs.open(wsUrl);
    await c.open();
    expect(await health()).toBe(before + 1);
    c.send(closeTag);
    await c.closed;
    const end = Date.now() + 2000;
    while ((await health()) !== before && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await health()).toBe(before);
  });
});

describe('configuration', () => {
  it('allowPlainWithoutTls offers PLAIN, and PLAIN logs in', async () => {
    const t2 = await startServer({ xmpp: { allowPlainWithoutTls: true, websocketPath: '/chat' } });
    try {
      const [wa] = await freshUsers(t2, 'wsplain');
      const c = await XmppWs.open(`${t2.url.replace(/^http/, 'ws')}/chat`);
      const { features } = await c.open();
      expect(features).toContain('<mechanism>PLAIN</mechanism>');
      c.send(`<auth xmlns="${SASL}" mechanism="PLAIN">${b64(`\0${local(wa!)}\0${password(wa!)}`)}</auth>`);
      await c.until(/^<success/);
      c.ws.close();
      expect(await upgradeStatus(t2.url, '/xmpp-websocket', { 'sec-websocket-protocol': 'xmpp' })).toBe(404);
    } finally {
      await t2.close();
    }
  });

  it('websocketPath null turns the endpoint off; the JSON door still 404s other paths', async () => {
    const t2 = await startServer({ xmpp: { websocketPath: null } });
    try {
      expect(await upgradeStatus(t2.url, '/xmpp-websocket', { 'sec-websocket-protocol': 'xmpp' })).toBe(404);
      const raw = await RawPeer.open(t2.wsUrl);
      raw.ws.close();
    } finally {
      await t2.close();
    }
  });

  it('over wss (server.tls), PLAIN is offered and works; no -PLUS mechanisms (no channel binding over WebSocket)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-wss-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
      { stdio: 'ignore' },
    );
    const t2 = await startServer({ server: { tls: { cert: certFile, key: keyFile } } });
    try {
      const [wa] = await freshUsers(t2, 'wss');
      const c = await XmppWs.open(`${t2.url.replace(/^https/, 'wss')}/xmpp-websocket`, ['xmpp'], { ca: readFileSync(certFile) });
      const { features } = await c.open();
      const mechs = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
      expect(mechs).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
      c.send(`<auth xmlns="${SASL}" mechanism="PLAIN">${b64(`\0${local(wa!)}\0${password(wa!)}`)}</auth>`);
      await c.until(/^<success/);
      await c.open();
      c.send(`<iq xmlns="jabber:client" type="set" id="b"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>`);
      await c.until(/<jid>/);
      c.send(closeTag);
      await c.until(/^<close /);
      await c.closed;
    } finally {
      await t2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shutdown sends system-shutdown and <close/> to open streams', async () => {
    const t2 = await startServer();
    const [wa] = await freshUsers(t2, 'wsdown');
    const c = await XmppWs.open(`${t2.url.replace(/^http/, 'ws')}/xmpp-websocket`);
    await wsLogin(c, wa!);
    await t2.close();
    const err = await c.until(/^<stream:error/);
    expect(err.input).toContain('<system-shutdown ');
    await c.until(/^<close /);
    expect((await c.closed).code).toBe(1000);
  });
});

describe('@xmpp/client over ws://', () => {
  it('logs in (SCRAM-SHA-1) and exchanges a message with a TCP client', async () => {
    // xmpp.js uses the WHATWG WebSocket global, which Node 20 lacks; ws provides a compatible one.
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket ??= WebSocket;
    const { client, xml } = await import('@xmpp/client');
    const [wa, tb] = await freshUsers(t, 'xjs', 'xjstcp');
    const x = client({ service: wsUrl, domain: 'localhost', resource: 'xjs', username: local(wa!), password: password(wa!), timeout: 5000 });
    x.on('error', () => undefined);
    const mechanisms: string[] = [];
    x.on('send', (e: { name: string; attrs: Record<string, string | undefined> }) => {
      if (e.name === 'auth' && e.attrs.mechanism) mechanisms.push(e.attrs.mechanism);
    });
    const received: string[] = [];
    x.on('stanza', (s: { is(n: string): boolean; getChildText(n: string): string | null }) => {
      if (s.is('message')) received.push(s.getChildText('body') ?? '');
    });
    try {
      const jid = await x.start();
      expect(jid.toString()).toBe(`${wa}/xjs`);
      expect(mechanisms).toEqual(['SCRAM-SHA-1']);
      await x.send(xml('presence'));
      const b = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
      const bJid = await b.login(tb!, password(tb!), 'desk');
      await x.send(xml('message', { type: 'chat', to: bJid }, xml('body', {}, 'from xmpp.js')));
      await b.until(/<body>from xmpp\.js<\/body>/);
      b.write(`<message type="chat" to="${wa}/xjs"><body>to xmpp.js</body></message>`);
      await until(() => received.includes('to xmpp.js'), 5000, 'the message to xmpp.js');
      b.close();
    } finally {
      await x.stop().catch(() => undefined);
      if (had === undefined) delete g.WebSocket;
    }
  });
});
