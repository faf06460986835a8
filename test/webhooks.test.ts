/**
 * Webhooks over real sockets: a receiver (a node:http server in this test) gets signed deliveries, verified
 * with the algorithm docs/webhooks.md gives receivers, in order, with one retry after a 500; targets refused
 * against server-side request forgery (a host resolving to loopback, a redirect to loopback); a webhook disabled
 * after repeated failures with its reason and enabled again; deliveries resumed after a restart without loss;
 * bad input. Only 127.0.0.2 is allowed as a target here (modules.webhooks.allowCidrs), standing for a public host.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { buildServer, type ParleyServer } from '../src/app/build.js';
import { validateConfig } from '../src/app/config.js';
import { addUser } from '../src/engine/admin-service.js';
import { freshUsers, startServer, until, type TestServer } from './harness.js';

/** The address standing for a public host (allowed by the config); 127.0.0.1 stays refused. */
const PUBLIC = '127.0.0.2';
const WEBHOOKS = { enabled: true, allowCidrs: [`${PUBLIC}/32`], retryMinSeconds: 0.05, retryMaxSeconds: 0.3, maxConsecutiveFailures: 3 };

/** One request the receiver got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: { id: string; type: string; webhook: string; data: Record<string, any> };
  status: number;
}

/** A webhook receiver: answers each path with the status `answer` gives (200 by default) and records requests. */
class Receiver {
  readonly got: Received[] = [];
  answer: (path: string, n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  private server!: Server;
  port = 0;

  static async start(host: string): Promise<Receiver> {
    const r = new Receiver();
    r.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const path = req.url ?? '/';
        const a = r.answer(path, r.got.filter((g) => g.path === path).length);
        r.got.push({ path, headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) as Received['body'], status: a.status });
        res.writeHead(a.status, a.headers ?? {});
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, host, resolve));
    r.port = (r.server.address() as { port: number }).port;
    return r;
  }

  on(path: string): Received[] {
    return this.got.filter((g) => g.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The receiver's check, as docs/webhooks.md describes it: HMAC-SHA256 of "<t>.<raw body>", t within 5 minutes. */
function verify(secret: string, header: string, raw: Buffer): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let t: TestServer;
let rx: Receiver;
/** A receiver on 127.0.0.1, which webhooks must never reach here. */
let loopback: Receiver;

beforeAll(async () => {
  [rx, loopback] = await Promise.all([Receiver.start(PUBLIC), Receiver.start('127.0.0.1')]);
  t = await startServer({
    modules: { apikeys: { enabled: true, requestsPerSecond: 1000 }, presentities: { enabled: true }, webhooks: WEBHOOKS } as never,
  });
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
  await loopback?.close();
});

/** An HTTP call with a bearer token against `base`; returns the status and the JSON body. */
async function callAt(base: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, any>) };
}
const call = (method: string, path: string, token: string, body?: unknown) => callAt(t.url, method, path, token, body);

/** A new API key of `owner` with `scopes`. */
async function keyAt(base: string, owner: string, scopes: string[]): Promise<string> {
  const { token } = await login(base, owner, `pw-${owner.split('@')[0]}`);
  const r = await callAt(base, 'POST', '/apikeys/keys', token, { name: 'test', scopes });
  expect(r.status).toBe(201);
  return r.body.token as string;
}
const ALL = ['presence:read', 'presence:write:things', 'webhooks'];

let thingN = 0;
const thing = (): string => `hooked-${++thingN}@localhost`;

/** The `n` field of a change delivery. */
const nOf = (g: Received): number | undefined => (g.body.data.presentity as { fields?: { n?: number } } | undefined)?.fields?.n;

describe('deliveries', () => {
  it('are signed, in order, and one is retried after a 500 with the same delivery id', async () => {
    const [owner] = await freshUsers(t, 'hookowner');
    const key = await keyAt(t.url, owner!, ALL);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', fields: { n: 'number' } });
    rx.answer = (path, n) => ({ status: path === '/flaky' && n === 0 ? 500 : 200 });
    const created = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/flaky`, target: { addresses: [addr] }, description: 'the board' });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(created.body.webhook).toMatchObject({ url: `http://${PUBLIC}:${rx.port}/flaky`, enabled: true, disabled: null, description: 'the board' });
    const id = created.body.webhook.id as string;
    // Never shown again.
    expect(JSON.stringify((await call('GET', `/webhooks/${id}`, key)).body)).not.toContain(secret);
    expect(JSON.stringify((await call('GET', '/webhooks', key)).body)).not.toContain(secret);

    for (let n = 1; n <= 3; n++) await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n } });
    await until(() => rx.on('/flaky').filter((g) => g.status === 200).length >= 3, 10_000, 'three deliveries');
    const got = rx.on('/flaky');
    expect(got.map(nOf)).toEqual([1, 1, 2, 3]);
    expect(got.map((g) => g.status)).toEqual([500, 200, 200, 200]);
    // The retry is the same delivery: same id, next attempt.
    expect(got[1]!.headers['parley-delivery-id']).toBe(got[0]!.headers['parley-delivery-id']);
    expect(got.map((g) => g.headers['parley-attempt'])).toEqual(['1', '2', '1', '1']);
    for (const g of got) {
      expect(verify(secret, g.headers['parley-signature'] as string, g.raw)).toBe(true);
      expect(verify('whsec_wrong', g.headers['parley-signature'] as string, g.raw)).toBe(false);
      expect(g.headers['parley-webhook-id']).toBe(id);
      expect(g.headers['parley-event']).toBe('presence.change');
      expect(g.body).toMatchObject({ id: g.headers['parley-delivery-id'], type: 'presence.change', webhook: id, data: { address: addr, match: true } });
    }
    const positions = got.slice(1).map((g) => g.body.data.position as number);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // A tampered body fails the check.
    expect(verify(secret, got[1]!.headers['parley-signature'] as string, Buffer.from(got[1]!.raw.toString().replace('"n":1', '"n":9')))).toBe(false);

    // The delivery log, newest first.
    const log = await call('GET', `/webhooks/${id}/deliveries`, key);
    expect(log.status).toBe(200);
    const attempts = (log.body.deliveries as Array<{ status: number; attempt: number; error: string | null; durationMs: number }>).reverse();
    expect(attempts.map((a) => a.status)).toEqual([500, 200, 200, 200]);
    expect(attempts[0]).toMatchObject({ attempt: 1, error: 'HTTP 500' });
    expect(attempts[1]).toMatchObject({ attempt: 2, error: null });
    expect((await call('GET', `/webhooks/${id}`, key)).body.webhook).toMatchObject({ position: got[3]!.body.data.position, failures: 0 });

    // A test event through the same queue.
    const test = await call('POST', `/webhooks/${id}/test`, key);
    expect(test.status).toBe(202);
    await until(() => rx.on('/flaky').some((g) => g.headers['parley-delivery-id'] === test.body.deliveryId), 5000, 'the test event');
    const ev = rx.on('/flaky').find((g) => g.headers['parley-delivery-id'] === test.body.deliveryId)!;
    expect(ev.body.type).toBe('webhook.test');
    expect(verify(secret, ev.headers['parley-signature'] as string, ev.raw)).toBe(true);

    // Deleted: nothing more arrives.
    expect((await call('DELETE', `/webhooks/${id}`, key)).status).toBe(200);
    const before = rx.on('/flaky').length;
    await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n: 4 } });
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.on('/flaky').length).toBe(before);
    expect((await call('GET', `/webhooks/${id}`, key)).body.error.code).toBe('item-not-found');
  });

  it('follow what the owner may see: nothing of a thing without a grant', async () => {
    const [owner, stranger] = await freshUsers(t, 'vhowner', 'vhstranger');
    const ownerKey = await keyAt(t.url, owner!, ALL);
    const strangerKey = await keyAt(t.url, stranger!, ['presence:read', 'webhooks']);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing', fields: { n: 'number' } });
    const w = await call('POST', '/webhooks', strangerKey, { url: `http://${PUBLIC}:${rx.port}/stranger`, target: { addresses: [addr] } });
    expect(w.status).toBe(201);
    await call('POST', `/presentities/things/${addr}/presence`, ownerKey, { fields: { n: 1 } });
    // The test event comes after anything queued before it.
    const test = await call('POST', `/webhooks/${w.body.webhook.id}/test`, strangerKey);
    await until(() => rx.on('/stranger').length >= 1, 5000, 'the test event');
    await call('PUT', `/presentities/things/${addr}`, ownerKey, { kind: 'thing', fields: { n: 'number' }, grants: { users: [stranger] } });
    await call('POST', `/presentities/things/${addr}/presence`, ownerKey, { fields: { n: 2 } });
    await until(() => rx.on('/stranger').some((g) => nOf(g) === 2), 5000, 'the granted change');
    const types = rx.on('/stranger').map((g) => (g.body.type === 'webhook.test' ? g.body.id : nOf(g)));
    // Nothing came before the test event: the change made before the grant was not delivered.
    expect(types[0]).toBe(test.body.deliveryId);
    // Someone else's webhook does not exist for this owner.
    expect((await call('GET', `/webhooks/${w.body.webhook.id}`, ownerKey)).body.error.code).toBe('item-not-found');
  });
});

describe('server-side request forgery', () => {
  it('refuses targets that resolve to loopback, private or link-local addresses unless allowed', async () => {
    const [owner] = await freshUsers(t, 'ssrf');
    const key = await keyAt(t.url, owner!, ALL);
    const target = { addresses: [owner] };
    for (const url of [
      `http://localhost:${loopback.port}/`,
      `http://127.0.0.1:${loopback.port}/`,
      `http://[::ffff:127.0.0.1]:${loopback.port}/`,
      `http://[::1]:${loopback.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://[fd00::1]/',
      'http://0.0.0.0/',
    ]) {
      const r = await call('POST', '/webhooks', key, { url, target });
      expect(r, url).toMatchObject({ status: 403, body: { error: { code: 'policy-violation', field: 'url' } } });
    }
    expect(loopback.got).toHaveLength(0);
  });

  it('refuses a redirect from an allowed target to loopback (by address or by name), and logs why', async () => {
    const [owner] = await freshUsers(t, 'redir');
    const key = await keyAt(t.url, owner!, ALL);
    const to: Record<string, string> = {
      '/redirect-ip': `http://127.0.0.1:${loopback.port}/stolen`,
      '/redirect-name': `http://localhost:${loopback.port}/stolen`,
      '/redirect-mapped': `http://[::ffff:7f00:1]:${loopback.port}/stolen`,
    };
    rx.answer = (path) => (to[path] ? { status: 307, headers: { location: to[path]! } } : { status: 200 });
    for (const path of Object.keys(to)) {
      const w = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}${path}`, target: { addresses: [owner] } });
      expect(w.status).toBe(201);
      await call('POST', `/webhooks/${w.body.webhook.id}/test`, key);
      let log: Array<{ error: string | null; status: number | null }> = [];
      for (let i = 0; i < 200 && log.length === 0; i++) {
        log = (await call('GET', `/webhooks/${w.body.webhook.id}/deliveries`, key)).body.deliveries;
        if (log.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(log[log.length - 1]!.error, path).toMatch(/is loopback/);
      await call('DELETE', `/webhooks/${w.body.webhook.id}`, key);
    }
    expect(rx.on('/redirect-ip').length).toBeGreaterThan(0);
    expect(loopback.got).toHaveLength(0);
  });
});

describe('failures', () => {
  it('disable a webhook after repeated failures with the reason; enabling it resumes from its position', async () => {
    const [owner] = await freshUsers(t, 'failing');
    const key = await keyAt(t.url, owner!, ALL);
    const addr = thing();
    await call('PUT', `/presentities/things/${addr}`, key, { kind: 'thing', fields: { n: 'number' } });
    let down = true;
    rx.answer = (path) => ({ status: path === '/down' && down ? 500 : 200 });
    const w = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/down`, target: { addresses: [addr] } });
    const id = w.body.webhook.id as string;
    await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n: 1 } });
    let hook: Record<string, any> = {};
    for (let i = 0; i < 200 && hook.enabled !== false; i++) {
      hook = (await call('GET', `/webhooks/${id}`, key)).body.webhook;
      if (hook.enabled !== false) await new Promise((r) => setTimeout(r, 25));
    }
    expect(hook).toMatchObject({ enabled: false, failures: 3, lastError: 'HTTP 500' });
    expect(hook.disabled.reason).toMatch(/^HTTP 500 after 3 attempts over \d+/);
    expect(typeof hook.disabled.at).toBe('number');
    expect(rx.on('/down')).toHaveLength(3);
    // Off: no test events, and changes wait in the change log.
    expect((await call('POST', `/webhooks/${id}/test`, key)).body.error.code).toBe('not-allowed');
    await call('POST', `/presentities/things/${addr}/presence`, key, { fields: { n: 2 } });
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.on('/down')).toHaveLength(3);
    // Enabled again: both changes arrive, in order.
    down = false;
    const on = await call('PATCH', `/webhooks/${id}`, key, { enabled: true });
    expect(on.body.webhook).toMatchObject({ enabled: true, disabled: null, failures: 0 });
    await until(() => rx.on('/down').filter((g) => g.status === 200).length >= 2, 5000, 'the resumed deliveries');
    expect(rx.on('/down').filter((g) => g.status === 200).map(nOf)).toEqual([1, 2]);
    // Switched off by its owner: the reason says so.
    const off = await call('PATCH', `/webhooks/${id}`, key, { enabled: false });
    expect(off.body.webhook.disabled.reason).toMatch(/^disabled by /);
    // A new secret is shown once.
    const rotated = await call('PATCH', `/webhooks/${id}`, key, { rotateSecret: true });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    // Every change is in the audit log, with its owner as actor, and no secret is.
    expect((await call('DELETE', `/webhooks/${id}`, key)).status).toBeLessThan(300);
    await addUser(t.server.store, 'auditor-wh@localhost', 'pw-auditor-wh', { admin: true, iterations: 4096, now: Date.now() });
    const { token: admin } = await login(t.url, 'auditor-wh@localhost', 'pw-auditor-wh');
    const log = (await call('GET', `/audit?subject=${id}`, admin)).body as { entries: Array<{ type: string; actor: string; data: Record<string, unknown> }> };
    const keyId = key.split('_')[1]!; // pk_<id>_<secret>
    const url = `http://${PUBLIC}:${rx.port}/down`;
    expect(log.entries.map((e) => [e.type, e.actor, e.data])).toEqual([
      ['webhooks.removed', owner, { url, keyId }],
      ['webhooks.updated', owner, { rotated: true, keyId }],
      ['webhooks.updated', owner, { enabled: false, keyId }],
      ['webhooks.updated', owner, { enabled: true, keyId }],
      ['webhooks.created', owner, { url, target: { addresses: [addr] }, keyId }],
    ]);
    expect(JSON.stringify(log)).not.toContain(rotated.body.secret as string);
    expect(JSON.stringify(log)).not.toContain(w.body.secret as string);
  });
});

describe('restart', () => {
  it('resumes after a restart from the last delivered position, losing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-hooks-'));
    const start = async (): Promise<{ server: ParleyServer; url: string }> => {
      const config = validateConfig({
        server: { port: 0 },
        storage: { sqlite: { path: join(dir, 'parley.db'), synchronous: 'normal' } },
        auth: { scramIterations: 4096 },
        xmpp: { port: 0, directTlsPort: 0, certDir: join(dir, 'certs') },
        log: { level: 'silent' },
        modules: { apikeys: { enabled: true, requestsPerSecond: 1000 }, presentities: { enabled: true, ringSize: 16 }, webhooks: { ...WEBHOOKS, maxConsecutiveFailures: 1000 } },
      });
      const server = await buildServer(config, { log: pino({ level: 'silent' }) });
      return { server, url: await server.listen() };
    };
    let a = await start();
    try {
      await addUser(a.server.store, 'restarter@localhost', 'pw-restarter', { admin: false, iterations: 4096, now: Date.now() });
      const key = await keyAt(a.url, 'restarter@localhost', ALL);
      const addr = thing();
      await callAt(a.url, 'PUT', `/presentities/things/${addr}`, key, { kind: 'thing', fields: { n: 'number' } });
      let down = false;
      rx.answer = (path) => ({ status: path === '/restart' && down ? 503 : 200 });
      const w = await callAt(a.url, 'POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/restart`, target: { addresses: [addr] } });
      expect(w.status).toBe(201);
      // A quiet webhook, on a thing that does not change while more changes than the ring holds (16 here) go by.
      const quiet = thing();
      await callAt(a.url, 'PUT', `/presentities/things/${quiet}`, key, { kind: 'thing' });
      expect((await callAt(a.url, 'POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/quiet`, target: { addresses: [quiet] } })).status).toBe(201);
      const busy = thing();
      await callAt(a.url, 'PUT', `/presentities/things/${busy}`, key, { kind: 'thing' });
      for (let i = 0; i < 20; i++) await callAt(a.url, 'POST', `/presentities/things/${busy}/presence`, key, { status: `s${i}` });
      await callAt(a.url, 'POST', `/presentities/things/${addr}/presence`, key, { fields: { n: 1 } });
      await until(() => rx.on('/restart').some((g) => g.status === 200), 5000, 'the first delivery');
      // The receiver goes down; changes pile up.
      down = true;
      for (let n = 2; n <= 4; n++) await callAt(a.url, 'POST', `/presentities/things/${addr}/presence`, key, { fields: { n } });
      await until(() => rx.on('/restart').some((g) => g.status === 503), 5000, 'a failed attempt');
      await a.server.close();
      // Back up, and Parley restarts.
      down = false;
      a = await start();
      await until(() => rx.on('/restart').filter((g) => g.status === 200).length >= 4, 10_000, 'the resumed deliveries');
      const ok = rx.on('/restart').filter((g) => g.status === 200);
      // At least once, in order: every change arrives; a repeat (same delivery id) is allowed, a gap is not.
      const firstSeen = [...new Map(ok.map((g) => [g.headers['parley-delivery-id'], nOf(g)])).values()];
      expect(firstSeen).toEqual([1, 2, 3, 4]);
      const hook = (await callAt(a.url, 'GET', `/webhooks/${w.body.webhook.id}`, key)).body.webhook;
      expect(hook.position).toBe(ok[ok.length - 1]!.body.data.position);
      // The quiet webhook had seen everything when Parley stopped: no snapshot, nothing at all.
      expect(rx.on('/quiet')).toEqual([]);
    } finally {
      await a.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  it('refuses non-http URLs, unknown fields, wrong types and keys without the scopes', async () => {
    const [owner] = await freshUsers(t, 'hookbad');
    const key = await keyAt(t.url, owner!, ALL);
    const target = { addresses: [owner] };
    for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd']) {
      const r = await call('POST', '/webhooks', key, { url, target });
      expect(r, url).toMatchObject({ status: 400, body: { error: { code: 'bad-request', field: 'url', issue: 'invalid_scheme' } } });
    }
    expect((await call('POST', '/webhooks', key, { url: 'not a url', target })).body.error).toMatchObject({ code: 'bad-request', field: 'url', issue: 'invalid_url' });
    expect((await call('POST', '/webhooks', key, { url: `http://user:pw@${PUBLIC}/`, target })).body.error).toMatchObject({ code: 'bad-request', issue: 'credentials' });
    const unknown = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/`, target, colour: 'red' });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'bad-request', issue: 'unrecognized_keys', fields: ['colour'] } } });
    const wrongType = await call('POST', '/webhooks', key, { url: 42, target });
    expect(wrongType.body.error).toMatchObject({ code: 'bad-request', issue: 'invalid_type', field: 'url' });
    const noTarget = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/`, target: {} });
    expect(noTarget.body.error).toMatchObject({ code: 'bad-request' });
    const badWhere = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/`, target: { group: 'g', where: { mood: 'x' } } });
    expect(badWhere.body.error).toMatchObject({ code: 'bad-request', issue: 'unrecognized_keys', fields: ['mood'] });
    expect((await call('GET', '/webhooks/nope', key)).body.error).toMatchObject({ code: 'bad-request', field: 'id' });
    const w = await call('POST', '/webhooks', key, { url: `http://${PUBLIC}:${rx.port}/`, target });
    expect((await call('PATCH', `/webhooks/${w.body.webhook.id}`, key, { enabled: 'yes' })).body.error).toMatchObject({ issue: 'invalid_type', field: 'enabled' });
    expect((await call('PATCH', `/webhooks/${w.body.webhook.id}`, key, { secret: 'mine' })).body.error).toMatchObject({ issue: 'unrecognized_keys' });
    expect((await call('PATCH', `/webhooks/${w.body.webhook.id}`, key, { url: 'gopher://x/' })).body.error).toMatchObject({ field: 'url', issue: 'invalid_scheme' });
    expect((await call('GET', `/webhooks/${w.body.webhook.id}/deliveries?limit=0`, key)).body.error).toMatchObject({ field: 'limit', issue: 'too_small' });
    // Scopes: `webhooks` and `presence:read` both.
    const readOnly = await keyAt(t.url, owner!, ['presence:read']);
    expect((await call('GET', '/webhooks', readOnly)).body.error).toMatchObject({ code: 'forbidden', scope: 'webhooks' });
    const hooksOnly = await keyAt(t.url, owner!, ['webhooks']);
    expect((await call('GET', '/webhooks', hooksOnly)).body.error).toMatchObject({ code: 'forbidden', scope: 'presence:read' });
    expect((await call('GET', '/webhooks', 'pk_0000000000000000_nope')).body.error.code).toBe('not-authorized');
  });
});
