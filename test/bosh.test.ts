/**
 * XMPP over BOSH (XEP-0124, XEP-0206) on the HTTP port, end to end: the real Strophe.js client (its Node build,
 * with test/bosh-xhr.ts as its XMLHttpRequest) logs in with SCRAM, gets its roster, exchanges messages and
 * presence with a JSON API user, has a long poll answered by an incoming message, and terminates; hostile
 * requests (wrong sid, replayed and out-of-window rids, an oversized body, malformed XML) each get their
 * XEP-0124 §17 condition while another BOSH session goes on. Also CORS and XEP-0156 host-meta discovery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $build, $iq, $msg, $pres, Strophe } from 'strophe.js';
import { freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';
import { installXhr, xhrLog } from './bosh-xhr.js';
import { RawXmpp } from './xmpp-raw.js';

const BIND = 'http://jabber.org/protocol/httpbind';
Strophe.setLogLevel(Strophe.LogLevel.FATAL);

type StropheConnection = InstanceType<typeof Strophe.Connection>;
/** The DOM element Strophe hands to handlers (@xmldom/xmldom's). */
interface DomElement {
  getAttribute(name: string): string | null;
  getElementsByTagName(name: string): ArrayLike<{ textContent: string | null }>;
}

/** Connects Strophe over BOSH and resolves once it is connected (rejects on a failed login). */
async function stropheLogin(url: string, jid: string, password: string, log?: string[]): Promise<StropheConnection> {
  // An http(s) URL selects Strophe's BOSH transport.
  const conn = new Strophe.Connection(url);
  if (log) {
    conn.rawInput = (d: string) => void log.push(`IN ${d}`);
    conn.rawOutput = (d: string) => void log.push(`OUT ${d}`);
  }
  await new Promise<void>((resolve, reject) => {
    conn.connect(jid, password, (status: number, condition?: string) => {
      if (status === Strophe.Status.CONNECTED) resolve();
      else if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL || status === Strophe.Status.DISCONNECTED) {
        reject(new Error(`strophe status ${status} ${condition ?? ''}`));
      }
    });
  });
  return conn;
}

/** A raw BOSH POST; resolves with the status and the body text. */
async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=utf-8', ...headers } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Attribute `name` of the root <body/> of `xml`. */
function attr(xml: string, name: string): string | undefined {
  const root = /^<body\b[^>]*>/.exec(xml)?.[0] ?? '';
  return new RegExp(`\\s${name}="([^"]*)"`).exec(root)?.[1];
}

/** A raw BOSH session, for the hostile cases: creation with SASL left undone. */
async function rawSession(url: string, rid: number): Promise<{ sid: string; text: string }> {
  const r = await post(url, `<body xmlns="${BIND}" rid="${rid}" to="localhost" wait="2" hold="1" ver="1.6" xml:lang="en" xmpp:version="1.0" xmlns:xmpp="urn:xmpp:xbosh"/>`);
  const sid = attr(r.text, 'sid');
  if (sid === undefined) throw new Error(`no sid in ${r.text}`);
  return { sid, text: r.text };
}

describe('XMPP over BOSH', () => {
  let t: TestServer;
  let bosh: string;
  let undoXhr: () => void;

  beforeAll(async () => {
    t = await startServer({ server: { allowedOrigins: ['https://chat.example.com'] }, xmpp: { bosh: { path: '/http-bind', maxWaitSeconds: 3, inactivitySeconds: 5, pollingSeconds: 1 } } });
    bosh = `${t.url}/http-bind`;
    undoXhr = installXhr('https://chat.example.com');
  });
  afterAll(async () => {
    undoXhr?.();
    await t?.close();
  });

  it('Strophe logs in with SCRAM, gets its roster, chats and sees presence with a JSON user, long-polls, terminates', async () => {
    const [sa, jb] = await freshUsers(t, 'stro', 'json');
    const json = await onlineAt(t, jb!);
    // The JSON user subscribes to the Strophe user's presence; Strophe approves below.
    await json.request('roster.subscribe', { contact: sa });
    const log: string[] = [];
    const conn = await stropheLogin(bosh, `${sa}/web`, 'pw-' + sa!.split('@')[0], log);
    expect(conn.authenticated).toBe(true);
    const mech = log.find((l) => l.includes('<auth '));
    expect(mech).toMatch(/mechanism="SCRAM-SHA-(1|256|512)"/);
    expect(conn.jid).toBe(`${sa}/web`);

    const roster = await new Promise<DomElement>((resolve, reject) => conn.sendIQ($iq({ type: 'get' }).c('query', { xmlns: 'jabber:iq:roster' }), resolve, reject));
    expect(roster.getElementsByTagName('query').length).toBe(1);

    const messages: Array<{ from: string; body: string }> = [];
    conn.addHandler(
      (m: DomElement) => {
        const body = m.getElementsByTagName('body')[0]?.textContent;
        if (body) messages.push({ from: m.getAttribute('from') ?? '', body });
        return true;
      },
      null,
      'message',
    );
    conn.send($pres({ to: jb, type: 'subscribed' }));
    conn.send($pres());
    const presenceOf = (state: string) => () => json.events.some((e) => e.ev === 'presence' && (e.data as { user?: string }).user === sa && (e.data as { state?: string }).state === state);
    await until(presenceOf('available'), 5000, 'presence at the JSON user');

    // A long poll answered by an incoming message: Strophe is idle, one request held; the message answers it.
    await new Promise((r) => setTimeout(r, 500));
    const before = xhrLog.length;
    const sentAt = Date.now();
    await json.request('message.send', { to: sa, body: 'hello over BOSH' });
    await until(() => messages.some((m) => m.body === 'hello over BOSH'), 5000, 'the message at Strophe');
    expect(Date.now() - sentAt).toBeLessThan(2000); // well before wait (3 s) ran out: it answered the held request
    expect(xhrLog.length - before).toBeLessThanOrEqual(2);

    conn.send($msg({ to: jb, type: 'chat' }).c('body').t('hello from Strophe'));
    await until(() => json.events.some((e) => e.ev === 'message' && (e.data as { body?: string }).body === 'hello from Strophe'), 5000, 'the message at the JSON user');

    // Terminate: the JSON user sees Strophe go offline.
    const beforeBye = json.events.length;
    await new Promise<void>((resolve) => {
      conn.connect_callback = (status: number) => {
        if (status === Strophe.Status.DISCONNECTED) resolve();
      };
      conn.disconnect('bye');
    });
    const terminate = log.find((l) => l.startsWith('OUT') && l.includes('type="terminate"'));
    expect(terminate).toBeDefined();
    await until(() => json.events.slice(beforeBye).some((e) => e.ev === 'presence' && (e.data as { user?: string }).user === sa && (e.data as { state?: string }).state === 'offline'), 5000, 'offline presence');
  });

  it('XEP-0198 over BOSH without a special case: enable, acks, and resumption on another transport after the BOSH session went away', async () => {
    const [sa, jb] = await freshUsers(t, 'smb', 'smjson');
    const json = await onlineAt(t, jb!);
    const log: string[] = [];
    const conn = await stropheLogin(bosh, `${sa}/web`, 'pw-' + sa!.split('@')[0], log);
    conn.send($build('enable', { xmlns: 'urn:xmpp:sm:3', resume: 'true' }).tree());
    await until(() => log.some((l) => l.includes('<enabled ')), 5000, '<enabled/>');
    const id = /<enabled [^>]*id="([^"]+)"/.exec(log.find((l) => l.includes('<enabled '))!)![1]!;
    conn.send($build('r', { xmlns: 'urn:xmpp:sm:3' }).tree());
    await until(() => log.some((l) => /<a [^>]*xmlns="urn:xmpp:sm:3"|<a h=/.test(l)), 5000, '<a/>');
    // The client vanishes without terminate: after `inactivity` (5 s) the stream hibernates, like a broken TCP one.
    conn.reset();
    await new Promise((r) => setTimeout(r, 6000));
    await json.request('message.send', { to: `${sa}/web`, body: 'while away' });
    const raw = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    await raw.open();
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${sa!.split('@')[0]}\0pw-${sa!.split('@')[0]}`).toString('base64')}</auth>`);
    await raw.until(/<success/);
    await raw.open();
    raw.write(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await raw.until(/<resumed [^>]*previd="[^"]+"/);
    await raw.until(/<body>while away<\/body>/);
    raw.write('</stream:stream>');
  }, 20_000);

  describe('hostile requests, each with its condition, while another BOSH session goes on', () => {
    let bystander: StropheConnection;
    let bystanderAddr: string;
    let peer: Awaited<ReturnType<typeof onlineAt>>;
    const got: string[] = [];

    beforeAll(async () => {
      const [b, p] = await freshUsers(t, 'bystander', 'peer');
      bystanderAddr = b!;
      peer = await onlineAt(t, p!);
      bystander = await stropheLogin(bosh, `${b}/web`, 'pw-' + b!.split('@')[0]);
      bystander.addHandler(
        (m: DomElement) => {
          const body = m.getElementsByTagName('body')[0]?.textContent;
          if (body) got.push(body);
          return true;
        },
        null,
        'message',
      );
      bystander.send($pres());
    });
    afterAll(() => bystander?.reset());

    /** The bystander still receives messages (its long poll goes on). */
    async function bystanderAlive(tag: string): Promise<void> {
      await peer.request('message.send', { to: bystanderAddr, body: tag });
      await until(() => got.includes(tag), 5000, `${tag} at the bystander`);
    }

    it('an unknown sid gets item-not-found', async () => {
      const r = await post(bosh, `<body xmlns="${BIND}" sid="not-a-session" rid="5"/>`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/xml; charset=utf-8');
      expect(attr(r.text, 'type')).toBe('terminate');
      expect(attr(r.text, 'condition')).toBe('item-not-found');
      await bystanderAlive('after a wrong sid');
    });

    it('a repeated rid gets the same response again; one outside the window ends the session with item-not-found', async () => {
      const { sid, text } = await rawSession(bosh, 1000);
      expect(text).toContain('<stream:features');
      expect(attr(text, 'requests')).toBe('2');
      expect(attr(text, 'hold')).toBe('1');
      expect(sid.length).toBeGreaterThanOrEqual(32);
      const first = post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="1001"/>`); // held
      await new Promise((r) => setTimeout(r, 100));
      const second = post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="1002"/>`); // answers 1001, is held
      const a = await first;
      expect(a.text).toBe(`<body xmlns="${BIND}"/>`);
      const again = await post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="1001"/>`);
      expect(again.text).toBe(a.text);
      const far = await post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="5000"/>`);
      expect(attr(far.text, 'type')).toBe('terminate');
      expect(attr(far.text, 'condition')).toBe('item-not-found');
      expect(attr((await second).text, 'type')).toBe('terminate');
      const after = await post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="1003"/>`);
      expect(attr(after.text, 'condition')).toBe('item-not-found');
      await bystanderAlive('after a replayed rid');
    });

    it('more requests at once than `requests` is policy-violation', async () => {
      const { sid } = await rawSession(bosh, 2000);
      const req = (rid: number) => post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="${rid}"/>`);
      const a = req(2001); // held
      await new Promise((r) => setTimeout(r, 100));
      const b = req(2002); // answers 2001, held
      expect((await a).text).toBe(`<body xmlns="${BIND}"/>`);
      const d = req(2004); // ahead of 2003: waits for it; two outstanding now
      await new Promise((r) => setTimeout(r, 100));
      const c = await req(2003); // a third at once
      expect(attr(c.text, 'condition')).toBe('policy-violation');
      expect(attr((await b).text, 'type')).toBe('terminate');
      expect(attr((await d).text, 'type')).toBe('terminate');
      await bystanderAlive('after overactivity');
    });

    it('an oversized body gets HTTP 413 with policy-violation, a big pre-auth stanza a remote-stream-error', async () => {
      const huge = `<body xmlns="${BIND}" sid="x" rid="1"><message xmlns="jabber:client"><body>${'a'.repeat(400_000)}</body></message></body>`;
      const r = await post(bosh, huge);
      expect(r.status).toBe(413);
      expect(attr(r.text, 'condition')).toBe('policy-violation');
      const { sid } = await rawSession(bosh, 3000);
      const big = await post(bosh, `<body xmlns="${BIND}" sid="${sid}" rid="3001"><message xmlns="jabber:client" to="x@localhost"><body>${'a'.repeat(20_000)}</body></message></body>`);
      expect(attr(big.text, 'type')).toBe('terminate');
      expect(attr(big.text, 'condition')).toBe('remote-stream-error');
      expect(big.text).toContain('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
      await bystanderAlive('after an oversized body');
    });

    it('malformed XML, a DOCTYPE and a wrong root get bad-request', async () => {
      for (const bad of [`<body xmlns="${BIND}" sid="x" rid="1"><message>`, `<!DOCTYPE body [<!ENTITY a "aaaa">]><body xmlns="${BIND}"/>`, `<html/>`, '']) {
        const r = await post(bosh, bad);
        expect(r.status).toBe(200);
        expect(attr(r.text, 'condition')).toBe('bad-request');
      }
      await bystanderAlive('after malformed XML');
    });

    it('creation errors: host-unknown, improper-addressing, a missing rid', async () => {
      const create = (attrs: string) => post(bosh, `<body xmlns="${BIND}" ${attrs} wait="5" hold="1" xmpp:version="1.0" xmlns:xmpp="urn:xmpp:xbosh"/>`);
      expect(attr((await create('rid="1" to="elsewhere.example"')).text, 'condition')).toBe('host-unknown');
      expect(attr((await create('rid="1"')).text, 'condition')).toBe('improper-addressing');
      expect(attr((await create('to="localhost"')).text, 'condition')).toBe('bad-request');
      await bystanderAlive('after bad creations');
    });
  });

  it('CORS for allowed origins only, with the preflight', async () => {
    const ok = await fetch(bosh, { method: 'OPTIONS', headers: { origin: 'https://chat.example.com', 'access-control-request-method': 'POST' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://chat.example.com');
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    const refused = await fetch(bosh, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const post403 = await post(bosh, `<body xmlns="${BIND}" sid="x" rid="1"/>`, { origin: 'https://evil.example' });
    expect(post403.status).toBe(403);
  });

  it('XEP-0156: host-meta and host-meta.json list the BOSH and WebSocket URLs', async () => {
    const host = new URL(t.url).host;
    const xrd = await fetch(`${t.url}/.well-known/host-meta`);
    expect(xrd.headers.get('content-type')).toContain('application/xrd+xml');
    expect(xrd.headers.get('access-control-allow-origin')).toBe('*');
    const text = await xrd.text();
    expect(text).toContain(`<Link rel="urn:xmpp:alt-connections:xbosh" href="http://${host}/http-bind"/>`);
    expect(text).toContain(`<Link rel="urn:xmpp:alt-connections:websocket" href="ws://${host}/xmpp-websocket"/>`);
    const json = (await (await fetch(`${t.url}/.well-known/host-meta.json`)).json()) as { links: Array<{ rel: string; href: string }> };
    expect(json.links).toEqual([
      { rel: 'urn:xmpp:alt-connections:xbosh', href: `http://${host}/http-bind` },
      { rel: 'urn:xmpp:alt-connections:websocket', href: `ws://${host}/xmpp-websocket` },
    ]);
  });
});
