/**
 * Bots over real sockets (docs/bots.md): an administrator creates a bot account and an API key for it; the bot
 * logs in with the key (JSON hello `apiKey`, HTTP bearer), answers people over the JSON API and XMPP, answers
 * `who <group>` from the presentities query, resumes without a gap after a lost connection, and is refused with
 * stable codes: a key without the bot scope, a revoked key, a person's key, a password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, xml, type XmlElement, type XmppClient } from '@xmpp/client';
import { ParleyBot, ParleyClient, login, type ConnectOptions } from '../client/index.js';
import { echoBot } from '../examples/echo-bot.js';
import { whoBot } from '../examples/who-bot.js';
import { addUser } from '../src/engine/admin-service.js';
import { freshUsers, onlineAt, refusal, startServer, trustServerCertificate, until, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

const DOMAIN = 'localhost';
let t: TestServer;
let root: string;
let restoreTls: (() => void) | null = null;
const bots: ParleyBot[] = [];

beforeAll(async () => {
  t = await startServer({
    modules: { apikeys: { enabled: true, requestsPerSecond: 200 }, presentities: { enabled: true } } as never,
  });
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  root = (await login(t.url, 'root@localhost', 'pw-root')).token;
  restoreTls = trustServerCertificate(t, DOMAIN);
});
afterAll(async () => {
  await Promise.all(bots.map((b) => b.stop()));
  restoreTls?.();
  await t?.close();
});

/** An HTTP call with a bearer token; returns the status and the JSON body. */
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, any>) };
}

let botN = 0;
/** A new bot account created by the administrator over HTTP, with a key of the given scopes. */
async function newBot(scopes: string[] = ['bot']): Promise<{ address: string; key: string; keyId: string }> {
  const address = `bot-${++botN}@localhost`;
  const created = await call('POST', '/admin/users', root, { address, kind: 'bot' });
  expect(created).toMatchObject({ status: 201, body: { address, kind: 'bot' } });
  const k = await call('POST', '/apikeys/keys', root, { owner: address, name: 'bot', scopes });
  expect(k.status).toBe(201);
  return { address, key: k.body.token as string, keyId: k.body.key.id as string };
}

/** Starts a bot and stops it after the file. */
async function startBot(key: string, setup: (b: ParleyBot) => ParleyBot, extra: Partial<Parameters<typeof ParleyBot.start>[0]> = {}): Promise<ParleyBot> {
  const b = setup(await ParleyBot.start({ url: t.wsUrl, apiKey: key, minReconnectMs: 50, onError: () => undefined, ...extra }));
  bots.push(b);
  return b;
}

describe('bot accounts', () => {
  it('are created by administrators, listed with their kind, and have no password', async () => {
    const { address } = await newBot();
    const listed = await call('GET', '/admin/users', root);
    expect(listed.body.users).toContainEqual(expect.objectContaining({ address, kind: 'bot', admin: false }));
    expect(listed.body.users).toContainEqual(expect.objectContaining({ address: 'root@localhost', kind: 'person' }));
    // A bot with a password, a person without one: refused.
    expect((await call('POST', '/admin/users', root, { address: 'x-bot@localhost', kind: 'bot', password: 'secret-pw' })).body.error.code).toBe('bad-request');
    expect((await call('POST', '/admin/users', root, { address: 'x-person@localhost' })).body.error.code).toBe('bad-request');
    // Only administrators create accounts.
    const [alice] = await freshUsers(t, 'alice');
    const aliceToken = (await login(t.url, alice!, `pw-${alice!.split('@')[0]}`)).token;
    expect((await call('POST', '/admin/users', aliceToken, { address: 'y-bot@localhost', kind: 'bot' })).status).toBe(403);
    // Password login is refused with a clear error, over HTTP and in hello.
    const http = await fetch(`${t.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, password: 'anything' }) });
    expect(http.status).toBe(401);
    expect(((await http.json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: 'not-authorized', reason: 'bot-account' });
    const e = await refusal(ParleyClient.connect({ url: t.wsUrl, address, password: 'anything' }));
    expect(e).toMatchObject({ code: 'not-authorized', details: { reason: 'bot-account' } });
  });

  it('log in with their key in hello and over HTTP; refusals have stable codes', async () => {
    const bot = await newBot();
    const c = await ParleyClient.connect({ url: t.wsUrl, apiKey: bot.key, resource: 'probe' });
    expect(c.hello.address).toBe(bot.address);
    await c.close();
    // HTTP: the key is taken where a session token is.
    expect(await call('GET', '/roster', bot.key)).toMatchObject({ status: 200, body: { items: [] } });
    // A key of the bot without the bot scope: forbidden, naming the scope.
    const k = await call('POST', '/apikeys/keys', root, { owner: bot.address, name: 'reader', scopes: ['presence:read'] });
    const noScope = await refusal(ParleyClient.connect({ url: t.wsUrl, apiKey: k.body.token }));
    expect(noScope).toMatchObject({ code: 'forbidden', details: { scope: 'bot' } });
    expect((await call('GET', '/roster', k.body.token)).body.error).toMatchObject({ code: 'forbidden', scope: 'bot' });
    // A person's key, even with the bot scope: forbidden (keys never stand in for people).
    const [alice] = await freshUsers(t, 'alice');
    const personal = await call('POST', '/apikeys/keys', root, { owner: alice, name: 'x', scopes: ['bot'] });
    expect(await refusal(ParleyClient.connect({ url: t.wsUrl, apiKey: personal.body.token }))).toMatchObject({ code: 'forbidden', details: { reason: 'not-a-bot' } });
    // Made-up keys: not-authorized.
    expect((await refusal(ParleyClient.connect({ url: t.wsUrl, apiKey: 'pk_0000000000000000_nope' }))).code).toBe('not-authorized');
  });

  it('a revoked key ends the bot\'s session and cannot log in again', async () => {
    const bot = await newBot();
    const b = await startBot(bot.key, echoBot);
    expect((await call('DELETE', `/apikeys/keys/${bot.keyId}`, root)).status).toBe(200);
    const stopped = await b.stopped;
    expect(stopped).toMatchObject({ code: 'not-authorized' });
    expect((await refusal(ParleyClient.connect({ url: t.wsUrl, apiKey: bot.key }))).code).toBe('not-authorized');
    expect((await call('GET', '/roster', bot.key)).status).toBe(401);
  });
});

describe('bots over XMPP', () => {
  it('log in with SASL PLAIN and their key, talk like users, and are ended when the key is revoked', async () => {
    const bot = await newBot();
    const [alice] = await freshUsers(t, 'alice');
    const tlsPort = t.server.xmpp!.ports.directTls!;
    const x = await RawXmpp.open(tlsPort, true);
    try {
      const full = await x.login(bot.address, bot.key, 'xmpp-bot');
      expect(full).toBe(`${bot.address}/xmpp-bot`);
      x.write("<presence/>");
      const a = await onlineAt(t, alice!, 'web');
      const from = x.text.length;
      await a.send(bot.address, 'ping over json');
      await x.until(/<body>ping over json<\/body>/, 5000, from);
      x.write(`<message type='chat' to='${alice}' id='b1'><body>pong over xmpp</body></message>`);
      await until(() => a.events.some((e) => e.ev === 'message' && (e.data as { body?: string }).body === 'pong over xmpp'), 5000, 'the bot\'s XMPP message');
      await a.close();
      // Revoking the key ends the XMPP session too.
      expect((await call('DELETE', `/apikeys/keys/${bot.keyId}`, root)).status).toBe(200);
      await x.untilClosed(5000);
      expect(x.text.slice(from)).toMatch(/<stream:error><not-authorized [^>]*\/><text [^>]*>the API key was revoked<\/text>/);
    } finally {
      x.close();
    }
    // A revoked key, another bot's key and a person's key with the bot scope are all refused as a wrong
    // password would be (a person logs in with a password, never a key).
    const other = await newBot();
    const personal = await call('POST', '/apikeys/keys', root, { owner: alice, name: 'x', scopes: ['bot'] });
    for (const [who, key] of [[bot.address, bot.key], [bot.address, other.key], [alice!, personal.body.token as string]] as const) {
      const y = await RawXmpp.open(tlsPort, true);
      try {
        await y.open();
        const local = who.split('@')[0]!;
        y.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${key}`).toString('base64')}</auth>`);
        await y.until(/<failure[^>]*>.*?<\/failure>/s);
        expect(y.text).toContain('<not-authorized/>');
        expect(y.text).not.toContain('<success');
      } finally {
        y.close();
      }
    }
  });
});

describe('the echo bot', () => {
  it('answers a user of the JSON API', async () => {
    const bot = await newBot();
    await startBot(bot.key, echoBot);
    const [alice] = await freshUsers(t, 'alice');
    const a = await onlineAt(t, alice!);
    await a.send(bot.address, 'hello bot');
    const reply = await a.waitFor('message', (d) => d.from !== undefined && String(d.from).startsWith(`${bot.address}/`));
    expect(reply.data).toMatchObject({ type: 'chat', body: 'hello bot', to: alice });
    await a.send(bot.address, 'ping');
    await a.waitFor('message', (d) => d.body === 'pong');
  });

  it('answers an XMPP client', async () => {
    const bot = await newBot();
    await startBot(bot.key, echoBot);
    const [alice] = await freshUsers(t, 'alice');
    const x: XmppClient = client({
      service: `xmpp://127.0.0.1:${t.server.xmpp!.ports.starttls}`,
      domain: DOMAIN,
      resource: 'xmppjs',
      username: alice!.split('@')[0]!,
      password: `pw-${alice!.split('@')[0]}`,
      timeout: 10_000,
    });
    const received: XmlElement[] = [];
    x.on('element', (el: XmlElement) => received.push(el));
    x.on('error', () => undefined);
    try {
      await x.start();
      await x.send(xml('presence'));
      await x.send(xml('message', { type: 'chat', to: bot.address, id: 'x1' }, xml('body', {}, 'hello from xmpp')));
      await until(() => received.some((el) => el.is('message') && el.getChildText('body') === 'hello from xmpp'), 10_000, 'the bot\'s reply over XMPP');
      const m = received.find((el) => el.is('message') && el.getChildText('body') === 'hello from xmpp')!;
      expect(String(m.attrs.from).split('/')[0]).toBe(bot.address);
      expect(m.attrs.type).toBe('chat');
    } finally {
      x.reconnect.stop();
      await x.stop().catch(() => undefined);
    }
  });

  it('reconnects after a lost connection and answers what came meanwhile, once each', async () => {
    const bot = await newBot();
    const conns: ParleyClient[] = [];
    const sinces: Array<number | null | undefined> = [];
    const connect = async (o: ConnectOptions): Promise<ParleyClient> => {
      sinces.push(o.since);
      const c = await ParleyClient.connect(o);
      conns.push(c);
      return c;
    };
    const b = await startBot(bot.key, echoBot, { connect });
    const [alice] = await freshUsers(t, 'alice');
    const a = await onlineAt(t, alice!);
    await a.send(bot.address, 'before');
    await a.waitFor('message', (d) => d.body === 'before' && String(d.from).startsWith(bot.address));
    // The bot's socket drops: it goes offline; what alice sends now waits in the log.
    conns[0]!.ws.terminate();
    await until(() => b.connections === 2 || !t.server.engine.isOnline(bot.address), 5000, 'the bot offline');
    for (const body of ['one', 'two', 'three']) await a.send(bot.address, body);
    await until(() => b.connections === 2, 10_000, 'the bot reconnected');
    for (const body of ['one', 'two', 'three']) await a.waitFor('message', (d) => d.body === body && String(d.from).startsWith(bot.address));
    await a.request('ping');
    await new Promise((r) => setTimeout(r, 200));
    const fromBot = a.received('message').filter((d) => String(d.from).startsWith(bot.address)).map((d) => d.body);
    expect(fromBot).toEqual(['before', 'one', 'two', 'three']);
    // The first connection took the offline queue; the second resumed from the log position the bot reached.
    expect(conns).toHaveLength(2);
    expect(sinces[0]).toBeNull();
    expect(sinces[1]).toBeGreaterThan(0);
  });
});

describe('the who bot', () => {
  it('lists the available members of a shared group, sets do-not-disturb apart and leaves out the offline', async () => {
    const bot = await newBot();
    const [ann, carol, dave, asker] = await freshUsers(t, 'ann', 'carol', 'dave', 'asker');
    const group = `team-${botN}`;
    for (const m of [ann, carol, dave, asker, bot.address]) expect((await call('PUT', `/admin/shared-groups/${group}/members/${m}`, root)).status).toBe(200);
    await onlineAt(t, ann!, 'r', { availability: 'available', activity: 'in-meeting', status: 'until 3' });
    await onlineAt(t, carol!, 'r', { availability: 'dnd', status: 'focus time' });
    await startBot(bot.key, whoBot);
    const q = await onlineAt(t, asker!);
    await q.send(bot.address, `who ${group}`);
    const reply = await q.waitFor('message', (d) => String(d.from).startsWith(bot.address));
    const text = String(reply.data.body);
    expect(text).toContain(`Available in ${group}:\n- ${ann} (in-meeting: until 3)`);
    expect(text).toContain(`Do not disturb:\n- ${carol} (focus time)`);
    expect(text.split('Do not disturb:')[0]).not.toContain(carol!);
    expect(text).not.toContain(dave!);
    expect(text).not.toContain(bot.address);
    await q.send(bot.address, 'hello');
    await q.waitFor('message', (d) => d.body === 'ask me: who <group>');
  });
});
