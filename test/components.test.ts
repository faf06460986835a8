/**
 * XEP-0114 components end to end: a real component (slixmpp's ComponentXMPP, test/xmpp/slix_component.py)
 * connects to a real server, presents 50 things, and an HTTP API reader with an API key sees them (reads and
 * Server-Sent Events); the component goes away and its things become unknown; a wrong secret, a from outside
 * the component's domain and malformed XML end only that stream; a flood over the rate limit is slowed down
 * while another component is answered at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { startServer, type TestServer } from './harness.js';
import { databaseWithUsers, sqliteAt, stopAll } from './support/components.js';
import { SseReader } from './sse.js';
import { SlixComponent } from './xmpp/slix-component.js';
import { slixmppUnavailable } from './xmpp/slix.js';
import { freePort } from '../src/modules/testing.js';

const SECRET = 'component-secret-for-tests';
const OWNER = 'owner@localhost';
const READER = 'reader@localhost';
const why = slixmppUnavailable();

let t: TestServer;
let port = 0;
let dir = '';
let ownerKey = '';
let readerKey = '';

/** A JSON answer: the parts these tests look at. */
interface Answer {
  token?: string;
  presentities?: Seen[];
  error?: { code: string };
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Answer }> {
  const r = await fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as Answer };
}

async function keyOf(user: string): Promise<string> {
  const { token } = await login(t.url, user, `pw-${user.split('@')[0]}`);
  return (await call('POST', '/apikeys/keys', token, { name: 'reader', scopes: ['presence:read'] })).body.token!;
}

type Seen = { address: string; availability: string; status: string | null; activity: string | null; fields: Record<string, unknown> };
async function readAll(key: string, addresses: string[]): Promise<Seen[]> {
  return (await call('POST', '/presentities/presence/read', key, { addresses })).body.presentities ?? [];
}

beforeAll(async () => {
  if (why) return;
  // The owner must exist when the module starts (its options are checked then): create the accounts first.
  const db = await databaseWithUsers('components', [OWNER, READER]);
  dir = db.dir;
  port = await freePort();
  const component = (domain: string, extra: Record<string, unknown> = {}) => ({ domain, secret: SECRET, owner: OWNER, ...extra });
  t = await startServer({
    storage: sqliteAt(db.path),
    modules: {
      apikeys: { enabled: true, requestsPerSecond: 200 },
      presentities: { enabled: true, sseHeartbeatSeconds: 1 },
      components: {
        enabled: true,
        port,
        stanzasPerSecond: 1000,
        components: [
          component('sensors.localhost', { grants: { users: [READER] }, fields: { temperature: 'number' } }),
          component('jobs.localhost', { kind: 'process' }),
          component('flood.localhost'),
          component('misc.localhost'),
        ],
      },
    } as never,
  });
  ownerKey = await keyOf(OWNER);
  readerKey = await keyOf(READER);
}, 60_000);

afterAll(() => stopAll(t, dir));

describe.skipIf(why !== null)('XEP-0114 components (slixmpp)', () => {
  it('a component presents 50 things that a reader sees, and they become unknown when it goes away', async () => {
    const c = SlixComponent.start(port, 'sensors.localhost', SECRET);
    await c.waitFor('session_start', () => true, 15_000);
    const addresses = Array.from({ length: 50 }, (_, i) => `press-${i}@sensors.localhost`);
    await c.request('present', { count: 50, prefix: 'press-', field: 'temperature', show: 'away', activity: 'pressing' });
    let seen: Seen[] = [];
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      seen = await readAll(readerKey, addresses);
      if (seen.length === 50 && seen.every((p) => p.availability === 'away')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toHaveLength(50);
    for (const p of seen) {
      const i = Number(p.address.slice(6, p.address.indexOf('@')));
      expect(p).toMatchObject({ availability: 'away', status: `unit ${i}`, activity: 'pressing', fields: { temperature: i + 0.5 } });
    }
    // A reader following them over Server-Sent Events sees them go unknown when the component leaves.
    const sse = await SseReader.open(`${t.url}/api/v1/presentities/stream?addresses=${addresses.slice(0, 5).join(',')}`, readerKey);
    await sse.waitFor('snapshot');
    await c.request('disconnect');
    await c.waitFor('disconnected');
    await sse.waitFor('change', (d) => (d.presentity as { availability?: string } | undefined)?.availability === 'unknown', 5000);
    sse.close();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(await readAll(readerKey, addresses)).every((p) => p.availability === 'unknown')) await new Promise((r) => setTimeout(r, 50));
    const after = await readAll(readerKey, addresses);
    expect(after.map((p) => p.availability)).toEqual(addresses.map(() => 'unknown'));
    expect(after.find((p) => p.address === 'press-3@sensors.localhost')).toMatchObject({ status: 'unit 3', fields: { temperature: 3.5 } });
    await c.kill();
  }, 60_000);

  it('only the component\'s owner may define things in its domain (nobody squats its addresses over REST)', async () => {
    const { token } = await login(t.url, READER, 'pw-reader');
    const writer = (await call('POST', '/apikeys/keys', token, { name: 'w', scopes: ['presence:write:things'] })).body.token!;
    const r = await call('PUT', '/presentities/things/squat@sensors.localhost', writer, { kind: 'thing' });
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'remote-server-not-found' } } });
  });

  it('a wrong secret is refused with not-authorized', async () => {
    const c = SlixComponent.start(port, 'misc.localhost', 'not-the-right-secret-at-all');
    const e = await c.waitFor('stream_error', () => true, 15_000);
    expect(e.condition).toBe('not-authorized');
    await c.kill();
  }, 30_000);

  it('a from outside the component\'s domain ends its stream with invalid-from', async () => {
    const c = SlixComponent.start(port, 'misc.localhost', SECRET);
    await c.waitFor('session_start', () => true, 15_000);
    expect(await c.request('ping', { to: 'localhost' })).toEqual({ type: 'result' });
    await c.request('raw', { xml: `<presence from='${READER}'><status>forged</status></presence>` });
    const e = await c.waitFor('stream_error', () => true, 10_000);
    expect(e.condition).toBe('invalid-from');
    await c.waitFor('disconnected');
    expect(await readAll(ownerKey, [READER]).then((r) => r[0]?.status ?? null)).not.toBe('forged');
    await c.kill();
  }, 30_000);

  it('malformed XML ends only that stream, and a flood over the rate is slowed without holding up another component', async () => {
    const other = SlixComponent.start(port, 'jobs.localhost', SECRET);
    const bad = SlixComponent.start(port, 'misc.localhost', SECRET);
    const flood = SlixComponent.start(port, 'flood.localhost', SECRET);
    await Promise.all([other, bad, flood].map((c) => c.waitFor('session_start', () => true, 15_000)));

    await bad.request('raw', { xml: `<presence from='x@misc.localhost'></iq>` });
    expect((await bad.waitFor('stream_error', () => true, 10_000)).condition).toBe('not-well-formed');
    expect(await other.request('ping', { to: 'localhost' })).toEqual({ type: 'result' });

    // 4,000 presences at 1,000 a second (burst 1,000): about 3 s to get through, less the last read's stanzas,
    // which are applied before the debt they run up is waited out (as on the client port).
    const started = Date.now();
    const flooding = flood.request('flood', { count: 4000 }, 60_000);
    const pings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = Date.now();
      expect(await other.request('ping', { to: 'localhost' })).toEqual({ type: 'result' });
      pings.push(Date.now() - s);
      await new Promise((r) => setTimeout(r, 200));
    }
    await flooding;
    const last = 'flood-99@flood.localhost';
    const end = Date.now() + 30_000;
    while (Date.now() < end && (await readAll(ownerKey, [last]))[0]?.status !== '3999') await new Promise((r) => setTimeout(r, 50));
    const took = Date.now() - started;
    expect((await readAll(ownerKey, [last]))[0]?.status).toBe('3999');
    expect(took).toBeGreaterThan(2000);
    expect(Math.max(...pings)).toBeLessThan(1500);
    expect(flood.events.some((e) => e.ev === 'stream_error' || e.ev === 'disconnected')).toBe(false);
    await Promise.all([other, bad, flood].map((c) => c.kill()));
  }, 90_000);
});
