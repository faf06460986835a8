/**
 * Presence as a platform over real sockets: API keys and their scopes, things and processes with heartbeats,
 * visibility by grants, reads, Server-Sent Event streams that resume from a position, JSON WebSocket
 * subscriptions, bad input and the per-key rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';
import { SseReader } from './sse.js';

let t: TestServer;

beforeAll(async () => {
  t = await startServer({
    modules: {
      apikeys: { enabled: true, requestsPerSecond: 50 },
      presentities: { enabled: true, sseHeartbeatSeconds: 1, ringSize: 16 },
    } as never,
  });
});
afterAll(async () => {
  await t?.close();
});

const api = (path: string): string => `${t.url}/api/v1${path}`;

/** An HTTP call with a bearer token; returns the status and the JSON body. */
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(api(path), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, any>) };
}

/** A user's session token. */
async function sessionToken(address: string): Promise<string> {
  return (await login(t.url, address, `pw-${address.split('@')[0]}`)).token;
}

/** A new API key of `owner` with `scopes`. */
async function keyFor(owner: string, scopes: string[]): Promise<string> {
  const r = await call('POST', '/apikeys/keys', await sessionToken(owner), { name: 'test', scopes });
  expect(r.status).toBe(201);
  return r.body.token as string;
}

let thingN = 0;
/** A new thing's address. */
const thing = (): string => `thing-${++thingN}@localhost`;

describe('API keys', () => {
  it('are shown once, listed without secrets, and stop working when revoked', async () => {
    const [owner] = await freshUsers(t, 'owner');
    const session = await sessionToken(owner!);
    const created = await call('POST', '/apikeys/keys', session, { name: 'monitoring', scopes: ['presence:read'] });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^pk_[0-9a-f]{16}_/);
    const listed = await call('GET', '/apikeys/keys', session);
    expect(listed.body.keys).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token.slice(20));
    expect((await call('GET', `/presentities/presence/${owner}`, created.body.token)).status).toBe(200);
    expect((await call('DELETE', `/apikeys/keys/${created.body.key.id}`, session)).status).toBe(200);
    const after = await call('GET', `/presentities/presence/${owner}`, created.body.token);
    expect(after).toMatchObject({ status: 401, body: { error: { code: 'not-authorized' } } });
    // A key cannot mint keys.
    const k = await keyFor(owner!, ['presence:read']);
    expect((await call('POST', '/apikeys/keys', k, { name: 'x', scopes: ['presence:read'] })).body.error.code).toBe('forbidden');
  });

  it('a key without the route\'s scope is refused with forbidden', async () => {
    const [owner] = await freshUsers(t, 'scoped');
    const readOnly = await keyFor(owner!, ['presence:read']);
    const r = await call('PUT', `/presentities/things/${thing()}`, readOnly, { kind: 'thing' });
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'forbidden', scope: 'presence:write:things' } } });
    const writeOnly = await keyFor(owner!, ['presence:write:things']);
    expect((await call('GET', `/presentities/presence/${owner}`, writeOnly)).body.error.code).toBe('forbidden');
    expect((await call('GET', `/presentities/presence/${owner}`, 'pk_0000000000000000_nope')).body.error.code).toBe('not-authorized');
  });
});

describe('things and processes', () => {
  it('a heartbeat that lapses makes the thing unknown, and an SSE subscriber sees it', async () => {
    const [owner] = await freshUsers(t, 'hb');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    expect((await call('PUT', `/presentities/things/${addr}`, key, { kind: 'process', heartbeatSeconds: 1 })).status).toBe(200);
    const up = await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'available', status: 'running' });
    expect(up.body.presentity).toMatchObject({ availability: 'available', status: 'running', kind: 'process' });
    const sse = await SseReader.open(api(`/presentities/stream?addresses=${addr}`), key);
    const snap = await sse.waitFor('snapshot');
    expect(snap.data.presentities).toMatchObject([{ address: addr, availability: 'available' }]);
    const lapsed = await sse.waitFor('change', (d) => (d.presentity as { availability?: string } | undefined)?.availability === 'unknown', 4000);
    expect(Number(lapsed.id)).toBeGreaterThan(Number(snap.id));
    // The next update brings it back.
    await call('POST', `/presentities/things/${addr}/presence`, key, {});
    await sse.waitFor('change', (d) => (d.presentity as { availability?: string } | undefined)?.availability === 'available');
    // Keep-alive comments flow on an idle stream.
    await until(() => sse.comments > 0, 3000, 'a keep-alive comment');
    sse.close();
  });

  it('a temporary state falls back when it expires', async () => {
    const [owner] = await freshUsers(t, 'exp');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing' });
    await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'available', status: 'idle' });
    const tmp = await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'dnd', status: 'printing', expiresInSeconds: 1 });
    expect(tmp.body.presentity).toMatchObject({ availability: 'dnd', status: 'printing' });
    await until(() => false === false, 10);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await call('GET', `/presentities/presence/${addr}`, key)).body.presentity).toMatchObject({ availability: 'available', status: 'idle', expiresAt: null });
  });

  it('refuses bad input with stable codes: unknown fields, wrong types, a heartbeat of zero', async () => {
    const [owner] = await freshUsers(t, 'bad');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    const unknown = await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', colour: 'red' });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'bad-request', issue: 'unrecognized_keys', fields: ['colour'] } } });
    const zero = await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', heartbeatSeconds: 0 });
    expect(zero).toMatchObject({ status: 400, body: { error: { code: 'bad-request', issue: 'too_small', field: 'heartbeatSeconds' } } });
    const kind = await call('PUT', `/presentities/things/${addr}`, key, { kind: 'toaster' });
    expect(kind.body.error).toMatchObject({ code: 'bad-request', field: 'kind' });
    expect((await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', fields: { temperature: 'number', state: 'string' } })).status).toBe(200);
    const wrongType = await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { temperature: 'hot' } });
    expect(wrongType).toMatchObject({ status: 400, body: { error: { code: 'bad-request', issue: 'invalid_type', field: 'fields.temperature' } } });
    const undeclared = await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { humidity: 3 } });
    expect(undeclared.body.error).toMatchObject({ code: 'bad-request', issue: 'unrecognized_keys', fields: ['humidity'] });
    const unknownTop = await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'available', mood: 'happy' });
    expect(unknownTop.body.error).toMatchObject({ code: 'bad-request', issue: 'unrecognized_keys' });
    const notJson = await fetch(api(`/presentities/things/${addr}/presence`), { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{' });
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('bad-json');
    const ok = await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'dnd', fields: { temperature: 81.5, state: 'fault' } });
    expect(ok.body.presentity).toMatchObject({ availability: 'dnd', fields: { temperature: 81.5, state: 'fault' } });
  });

  it('a flood from one key is rate limited while another key goes on', async () => {
    const [owner] = await freshUsers(t, 'flood');
    const flooder = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const calm = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, calm, { kind: 'thing' });
    const mine = thing();
    await call('PUT', `/presentities/things/${mine}`, flooder, { kind: 'thing' });
    const flood = await Promise.all(Array.from({ length: 120 }, (_, i) => call('POST', `/presentities/things/${mine}/presence`, flooder, { status: `u${i}` })));
    const limited = flood.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.body.error).toMatchObject({ code: 'rate-limited' });
    expect(limited[0]!.body.error.retryAfterMs).toBeGreaterThan(0);
    const other = await call('POST', `/presentities/things/${addr}/presence`, calm, { availability: 'available' });
    expect(other.status).toBe(200);
  });
});

describe('visibility', () => {
  it('a caller without a grant sees nothing of a thing; a grant opens it, a withdrawn grant closes it', async () => {
    const [owner, stranger, colleague] = await freshUsers(t, 'vowner', 'vstranger', 'vcolleague');
    const ownerKey = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const strangerKey = await keyFor(stranger!, ['presence:read']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing' });
    await call('POST', `/presentities/things/${addr}/presence`, ownerKey, { availability: 'available', status: 'secret' });
    expect((await call('GET', `/presentities/presence/${addr}`, strangerKey)).body.error.code).toBe('item-not-found');
    // The same answer as for an address that does not exist.
    expect((await call('GET', `/presentities/presence/nothing-here@localhost`, strangerKey)).body.error.code).toBe('item-not-found');
    const many = await call('POST', '/presentities/presence/read', strangerKey, { addresses: [addr, 'nothing-here@localhost'] });
    expect(many.body).toMatchObject({ presentities: [], missing: expect.arrayContaining([addr, 'nothing-here@localhost']) });
    // Nor by writing it.
    expect((await call('POST', `/presentities/things/${addr}/presence`, await keyFor(stranger!, ['presence:write:things']), {})).body.error.code).toBe('item-not-found');
    const sse = await SseReader.open(api(`/presentities/stream`), strangerKey, { body: { addresses: [addr] } });
    expect((await sse.waitFor('snapshot')).data.presentities).toEqual([]);
    await call('POST', `/presentities/things/${addr}/presence`, ownerKey, { status: 'still secret' });
    // A grant to the stranger: the next change reaches the stream.
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing', grants: { users: [stranger] } });
    const seen = await sse.waitFor('change', (d) => d.match === true);
    expect(sse.events.filter((e) => e.event === 'change')).toHaveLength(1);
    expect(seen.data.presentity).toMatchObject({ address: addr, status: 'still secret' });
    // Withdrawn: the stream is told it left the view, with no state.
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing', grants: { domains: ['example.org'] } });
    const left = await sse.waitFor('change', (d) => d.match === false);
    expect(left.data.presentity).toBeUndefined();
    await call('POST', `/presentities/things/${addr}/presence`, ownerKey, { status: 'hidden again' });
    // A domain grant covers everyone of the domain.
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing', grants: { domains: ['localhost'] } });
    const colleagueKey = await keyFor(colleague!, ['presence:read']);
    expect((await call('GET', `/presentities/presence/${addr}`, colleagueKey)).body.presentity).toMatchObject({ status: 'hidden again' });
    sse.close();
  });

  it('people: a caller sees a person through the roster and shared groups only', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'palice', 'pbob', 'pcarol');
    const carolKey = await keyFor(carol!, ['presence:read']);
    const bobKey = await keyFor(bob!, ['presence:read']);
    const a = await onlineAt(t, alice!);
    expect((await call('GET', `/presentities/presence/${alice}`, carolKey)).body.error.code).toBe('item-not-found');
    await t.server.engine.admin.addGroupMember('support', alice!);
    await t.server.engine.admin.addGroupMember('support', bob!);
    const r = await call('GET', `/presentities/presence/${alice}`, bobKey);
    expect(r.body.presentity).toMatchObject({ address: alice, kind: 'person', availability: 'available' });
    // "Available members of group support", as a query.
    const q = await call('POST', '/presentities/query', bobKey, { group: 'support', where: { availability: ['available'] } });
    expect(q.body.presentities.map((p: { address: string }) => p.address)).toEqual([alice]);
    // A person's change reaches a group stream.
    const sse = await SseReader.open(api('/presentities/stream?group=support'), bobKey);
    await sse.waitFor('snapshot');
    await a.request('presence.set', { availability: 'dnd', status: 'in a call' });
    const c = await sse.waitFor('change', (d) => d.address === alice);
    expect(c.data.presentity).toMatchObject({ availability: 'dnd', status: 'in a call' });
    sse.close();
  });
});

describe('reads', () => {
  it('reads thousands of presentities in one call', async () => {
    const [owner] = await freshUsers(t, 'bulk');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const mine = [thing(), thing(), thing()];
    for (const a of mine) await call('PUT', `/presentities/things/${a}`, key, { kind: 'process' });
    const others = Array.from({ length: 5000 }, (_, i) => `nobody-${i}@localhost`);
    const started = Date.now();
    const r = await call('POST', '/presentities/presence/read', key, { addresses: [...others, ...mine, owner] });
    expect(r.status).toBe(200);
    expect(r.body.presentities.map((p: { address: string }) => p.address).sort()).toEqual([...mine, owner].sort());
    expect(r.body.missing).toHaveLength(5000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('streams', () => {
  it('an SSE subscriber resumes after a dropped connection without a gap or a repeat', async () => {
    const [owner] = await freshUsers(t, 'resume');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', fields: { n: 'number' } });
    const first = await SseReader.open(api(`/presentities/stream?addresses=${addr}`), key);
    await first.waitFor('snapshot');
    for (let n = 1; n <= 3; n++) await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n } });
    await first.waitFor('change', (d) => (d.presentity as { fields: { n?: number } } | undefined)?.fields.n === 3);
    const last = first.lastId!;
    first.close();
    // Changes while nobody listens.
    for (let n = 4; n <= 6; n++) await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n } });
    const second = await SseReader.open(api(`/presentities/stream?addresses=${addr}`), key, { lastEventId: last });
    await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n: 7 } });
    await second.waitFor('change', (d) => (d.presentity as { fields: { n?: number } } | undefined)?.fields.n === 7);
    expect(second.events[0]).toMatchObject({ event: 'resumed', data: { from: Number(last) } });
    expect(second.events.some((e) => e.event === 'snapshot')).toBe(false);
    const ns = second.events.filter((e) => e.event === 'change').map((e) => (e.data.presentity as { fields: { n: number } }).fields.n);
    expect(ns).toEqual([4, 5, 6, 7]);
    const ids = second.events.filter((e) => e.id !== null).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    second.close();
  });

  it('a position older than the ring gets a fresh snapshot that says so', async () => {
    const [owner] = await freshUsers(t, 'old');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing' });
    // The ring holds 16 changes here.
    for (let i = 0; i < 20; i++) await call('POST', `/presentities/things/${addr}/presence`, key, { status: `s${i}` });
    const sse = await SseReader.open(api(`/presentities/stream?addresses=${addr}`), key, { lastEventId: '1' });
    const snap = await sse.waitFor('snapshot');
    expect(snap.data).toMatchObject({ reset: true, presentities: [{ address: addr, status: 's19' }] });
    sse.close();
  });

  it('the JSON WebSocket subscribes with a snapshot first and changes after, through the router', async () => {
    const [owner, viewer] = await freshUsers(t, 'wsowner', 'wsviewer');
    const key = await keyFor(owner!, ['presence:read', 'presence:write:things']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', grants: { users: [viewer] } });
    const c = await onlineAt(t, viewer!);
    const reply = await c.request('presentities.subscribe', { subscription: 'printers', addresses: [addr] });
    expect(reply).toMatchObject({ subscription: 'printers' });
    const snap = await c.waitFor('presentities.snapshot', (d) => d.subscription === 'printers');
    expect(snap.data.presentities).toMatchObject([{ address: addr, availability: 'unknown' }]);
    await call('POST', `/presentities/things/${addr}/presence`, key, { availability: 'available' });
    const ch = await c.waitFor('presentities.change', (d) => d.subscription === 'printers');
    expect(ch.data).toMatchObject({ address: addr, match: true, presentity: { availability: 'available' } });
    await expect(c.request('presentities.subscribe', { subscription: 'printers', addresses: [addr], extra: 1 })).rejects.toMatchObject({ code: 'bad-request' });
    await c.request('presentities.unsubscribe', { subscription: 'printers' });
    await expect(c.request('presentities.unsubscribe', { subscription: 'printers' })).rejects.toMatchObject({ code: 'item-not-found' });
  });
});

describe('shutdown', () => {
  it('ends open event streams when the server stops', async () => {
    const own = await startServer({ modules: { apikeys: { enabled: true }, presentities: { enabled: true } } as never });
    await own.users('stopper@localhost');
    const { token } = await login(own.url, 'stopper@localhost', 'pw-stopper');
    const sse = await SseReader.open(`${own.url}/api/v1/presentities/stream?addresses=stopper@localhost`, token);
    await sse.waitFor('snapshot');
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await until(() => sse.ended, 2000, 'the stream to end');
  });
});
