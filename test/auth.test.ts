/**
 * Authentication and the HTTP side: login/logout and tokens, failed-login throttling and lockout (per account and
 * per source address), password storage, the WebSocket Origin check, TLS, /health, /metrics and the admin API.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/engine/admin-service.js';
import { ParleyApiError, ParleyClient, login } from '../client/index.js';
import { startServer, type TestServer } from './harness.js';
import { RawPeer } from './wire.js';

interface Reply {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

/** An HTTP(S) request with a chosen source address (each throttle scenario uses its own 127.0.0.x). */
function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; from?: string; ca?: Buffer } = {},
): Promise<Reply> {
  const u = new URL(path, base);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started });
      });
    };
    const common = { method, host: u.hostname, port: u.port, path: u.pathname + u.search, headers, localAddress: opts.from ?? '127.0.0.1' };
    const req = u.protocol === 'https:' ? httpsRequest({ ...common, ca: opts.ca }, onResponse) : httpRequest(common, onResponse);
    req.on('error', reject);
    req.end(payload);
  });
}

const errorCode = (r: Reply): unknown => (r.body.error as { code?: string } | undefined)?.code;

const LOCK_MINUTES = 0.03; // 1.8 s

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    server: { allowedOrigins: ['https://chat.example.com'] },
    auth: { freeFailures: 1, lockAfter: 3, ipLockAfter: 4, lockMinutes: LOCK_MINUTES },
  });
  await t.users('alice@localhost', 'bob@localhost', 'carol@localhost', 'dave@localhost', 'erin@localhost', 'frank@localhost');
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
});
afterAll(() => t?.close());

describe('login, tokens, logout', () => {
  it('HTTP login returns a token that opens a session', async () => {
    const r = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'Alice@LOCALHOST', password: 'pw-alice' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ address: 'alice@localhost', token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(r.body.expiresAt).toBeGreaterThan(Date.now());
    const c = await ParleyClient.connect({ url: t.wsUrl, token: r.body.token as string });
    expect(c.hello.address).toBe('alice@localhost');
    await c.close();
  });

  it('a wrong password is 401 not-authorized, and so is an unknown user or a malformed address', async () => {
    const from = '127.0.0.10';
    for (const body of [
      { address: 'bob@localhost', password: 'wrong' },
      { address: 'nobody@localhost', password: 'pw-nobody' },
      { address: 'not an address', password: 'x' },
    ]) {
      const r = await call(t.url, 'POST', '/api/v1/login', { body, from });
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'not-authorized', message: 'wrong address or password' });
    }
    const bad = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'bob@localhost' }, from: '127.0.0.11' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'bad-request', message: expect.stringMatching(/password/) });
  });

  it('hello with a bad token is not-authorized', async () => {
    for (const token of ['nope', 'A'.repeat(43)]) {
      await expect(ParleyClient.connect({ url: t.wsUrl, token })).rejects.toMatchObject({ code: 'not-authorized' });
    }
  });

  it('logout revokes the token (HTTP and WebSocket)', async () => {
    const { token } = await login(t.url, 'bob@localhost', 'pw-bob');
    expect((await call(t.url, 'GET', '/api/v1/roster', { token })).status).toBe(200);
    expect((await call(t.url, 'POST', '/api/v1/logout', { token })).status).toBe(200);
    const after = await call(t.url, 'GET', '/api/v1/roster', { token });
    expect(after.status).toBe(401);
    expect(errorCode(after)).toBe('not-authorized');
    await expect(ParleyClient.connect({ url: t.wsUrl, token })).rejects.toMatchObject({ code: 'not-authorized' });
    expect((await call(t.url, 'POST', '/api/v1/logout', { token })).status).toBe(401);
    expect((await call(t.url, 'GET', '/api/v1/roster')).status).toBe(401);
  });

  it('hello with address and password works', async () => {
    const c = await ParleyClient.connect({ url: t.wsUrl, address: 'carol@localhost', password: 'pw-carol', resource: 'desk' });
    expect(c.hello).toMatchObject({ address: 'carol@localhost', resource: 'desk' });
    expect(await c.request('ping')).toEqual({});
    await c.close();
    await expect(ParleyClient.connect({ url: t.wsUrl, address: 'carol@localhost', password: 'nope', wsOptions: { localAddress: '127.0.0.12' } })).rejects.toMatchObject({
      code: 'not-authorized',
    });
  });
});

describe('failed-login throttling and lockout', () => {
  it('per account: failures are slowed, then the account locks; the right password is refused until unlock', async () => {
    const from = '127.0.0.20';
    const wrong = () => call(t.url, 'POST', '/api/v1/login', { body: { address: 'dave@localhost', password: 'wrong' }, from });
    const r1 = await wrong();
    const r2 = await wrong();
    expect([r1.status, r2.status]).toEqual([401, 401]);
    const r3 = await wrong();
    expect(r3.status).toBe(401);
    // Past freeFailures (1) the answer is delayed (250 ms base); the second attempt was not.
    expect(r3.ms).toBeGreaterThanOrEqual(240);
    expect(r2.ms).toBeLessThan(r3.ms);
    // lockAfter = 3: now locked, the right password included, from any address.
    const locked = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'dave@localhost', password: 'pw-dave' }, from });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toMatchObject({ code: 'account-locked', scope: 'account' });
    const retryAfterMs = (locked.body.error as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(LOCK_MINUTES * 60_000);
    const elsewhere = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'DAVE@localhost', password: 'pw-dave' }, from: '127.0.0.21' });
    expect(elsewhere.status).toBe(429);
    await expect(ParleyClient.connect({ url: t.wsUrl, address: 'dave@localhost', password: 'pw-dave' })).rejects.toMatchObject({ code: 'account-locked' });
    // The lock is per account: another account from the same source address still logs in.
    expect((await call(t.url, 'POST', '/api/v1/login', { body: { address: 'erin@localhost', password: 'pw-erin' }, from })).status).toBe(200);
    // After the lock: the right password works again.
    await new Promise((r) => setTimeout(r, retryAfterMs + 100));
    const ok = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'dave@localhost', password: 'pw-dave' }, from: '127.0.0.21' });
    expect(ok.status).toBe(200);
  });

  it('parallel guesses cannot outrun the lock: at most lockAfter passwords are ever checked', async () => {
    // Costly keys make each verification slow, so without counting attempts in flight every guess of the burst
    // would pass the throttle before the first failure was recorded.
    await addUser(t.server.store, 'slow@localhost', 'pw-slow', { admin: false, iterations: 100_000, now: Date.now() });
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(t.url, 'POST', '/api/v1/login', { body: { address: 'slow@localhost', password: `guess-${i}` }, from: `127.0.1.${i + 1}` }),
      ),
    );
    const checked = burst.filter((r) => r.status === 401).length;
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(3);
    for (const r of burst.filter((x) => x.status !== 401)) {
      expect(r.status).toBe(429);
      expect(['rate-limited', 'account-locked']).toContain(errorCode(r));
    }
  });

  it('per source address: failures across accounts lock the address, not the accounts', async () => {
    const from = '127.0.0.30';
    const statuses: number[] = [];
    for (const who of ['ghost1', 'ghost2', 'ghost3', 'ghost4']) {
      statuses.push((await call(t.url, 'POST', '/api/v1/login', { body: { address: `${who}@localhost`, password: 'x' }, from })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401]);
    // ipLockAfter = 4: this address is locked even for a correct login of an account that never failed.
    const blocked = await call(t.url, 'POST', '/api/v1/login', { body: { address: 'frank@localhost', password: 'pw-frank' }, from });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toMatchObject({ code: 'account-locked', scope: 'address' });
    await expect(
      ParleyClient.connect({ url: t.wsUrl, address: 'frank@localhost', password: 'pw-frank', wsOptions: { localAddress: from } }),
    ).rejects.toMatchObject({ code: 'account-locked' });
    // The same account from another address is fine.
    expect((await call(t.url, 'POST', '/api/v1/login', { body: { address: 'frank@localhost', password: 'pw-frank' }, from: '127.0.0.31' })).status).toBe(200);
  });
});

describe('password storage', () => {
  it('no plain password is stored; accounts keep SCRAM keys only', async () => {
    const password = 'Canary-Plaintext-7f3a9c';
    await addUser(t.server.store, 'canary@localhost', password, { admin: false, iterations: 4096, now: Date.now() });
    const { token } = await login(t.url, 'canary@localhost', password);
    await call(t.url, 'POST', '/api/v1/login', { body: { address: 'canary@localhost', password: `${password}x` }, from: '127.0.0.40' });
    const acc = await t.server.store.accounts.get('canary@localhost');
    expect(Object.keys(acc!.credentials).sort()).toEqual(['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    for (const c of Object.values(acc!.credentials)) {
      expect(Object.keys(c).sort()).toEqual(['iterations', 'salt', 'serverKey', 'storedKey']);
      expect(c.iterations).toBeGreaterThanOrEqual(4096);
    }
    expect(JSON.stringify(acc)).not.toContain(password);
    // Every file of the database (main file, WAL, shared memory): neither the password nor the token.
    const files = readdirSync(t.dir).filter((f) => f.startsWith('parley.db'));
    expect(files).toContain('parley.db');
    for (const f of files) {
      const bytes = readFileSync(join(t.dir, f));
      for (const secret of [password, token]) {
        expect(bytes.includes(Buffer.from(secret, 'utf8')), `${secret} in ${f}`).toBe(false);
        expect(bytes.includes(Buffer.from(secret, 'utf16le')), `${secret} (UTF-16) in ${f}`).toBe(false);
      }
    }
  });
});

describe('WebSocket Origin check', () => {
  const port = (): string => new URL(t.url).port;
  it('an allowed Origin, no Origin, and the same origin are accepted', async () => {
    for (const origin of ['https://chat.example.com', undefined, `http://127.0.0.1:${port()}`]) {
      const c = await ParleyClient.connect({ url: t.wsUrl, address: 'erin@localhost', password: 'pw-erin', wsOptions: origin ? { origin } : {} });
      expect(c.hello.address).toBe('erin@localhost');
      await c.close();
    }
  });

  it('another Origin is refused with HTTP 403', async () => {
    for (const origin of ['https://evil.example.com', 'http://chat.example.com', 'https://chat.example.com.evil.net', 'null', `https://127.0.0.1:${port()}`]) {
      await expect(RawPeer.open(t.wsUrl, { origin })).rejects.toThrow(/HTTP 403/);
    }
    await expect(ParleyClient.connect({ url: t.wsUrl, token: 'x', wsOptions: { origin: 'https://evil.example.com' } })).rejects.toBeInstanceOf(ParleyApiError);
  });
});

describe('health and metrics', () => {
  it('/health answers JSON', async () => {
    const r = await call(t.url, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', uptimeSeconds: expect.any(Number), sessions: expect.any(Number), connections: expect.any(Number) });
  });

  it('/metrics has connections, messages, delivery and storage latency after some traffic', async () => {
    const alice = await t.connect('alice@localhost');
    const bob = await t.connect('bob@localhost');
    await alice.send('bob@localhost', 'metrics 1');
    await bob.waitFor('message', (d) => d.body === 'metrics 1');
    await alice.request('history', { with: 'bob@localhost' });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^parley_connections [1-9]\d*$/m);
    expect(text).toMatch(/^parley_messages_total\{type="chat",outcome="stored"\} [1-9]\d*$/m);
    expect(text).toMatch(/^parley_delivery_latency_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^parley_storage_latency_seconds_count\{op="append"\} [1-9]\d*$/m);
    expect(text).toMatch(/^parley_storage_latency_seconds_count\{op="history"\} [1-9]\d*$/m);
    await alice.close();
    await bob.close();
  });
});

describe('/metrics is not public', () => {
  const get = (server: TestServer, remoteAddress: string, headers: Record<string, string> = {}) =>
    server.server.http.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });

  it('answers loopback clients (IPv4, IPv6, mapped) and refuses everyone else with 403 and a clear error', async () => {
    for (const ip of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) expect((await get(t, ip)).statusCode, ip).toBe(200);
    for (const ip of ['203.0.113.5', '192.0.2.2', '::ffff:203.0.113.5', '2001:db8::1', '10.0.0.1']) {
      const r = await get(t, ip);
      expect(r.statusCode, ip).toBe(403);
      expect(r.json()).toEqual({ error: { code: 'forbidden', message: expect.stringMatching(/loopback clients only; set server\.metricsToken/) } });
      expect(r.body).not.toContain('parley_');
    }
    // Through a proxy on the same host, a request is not a loopback client.
    expect((await get(t, '127.0.0.1', { 'x-forwarded-for': '203.0.113.5' })).statusCode).toBe(403);
    expect((await get(t, '127.0.0.1', { forwarded: 'for=203.0.113.5' })).statusCode).toBe(403);
  });

  it('with server.metricsToken, a scraper elsewhere gets in with the bearer token, and only with it', async () => {
    const token = 'scrape-me-0123456789abcdef';
    const m = await startServer({ server: { metricsToken: token } });
    try {
      expect((await get(m, '203.0.113.5', { authorization: `Bearer ${token}` })).statusCode).toBe(200);
      expect((await get(m, '203.0.113.5', { authorization: `Bearer ${token}` })).body).toMatch(/^parley_sessions /m);
      for (const authorization of [undefined, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, token]) {
        const r = await get(m, '203.0.113.5', authorization === undefined ? {} : { authorization });
        expect(r.statusCode, String(authorization)).toBe(401);
        expect(r.json().error).toMatchObject({ code: 'not-authorized', message: expect.stringMatching(/Bearer/) });
      }
      expect((await get(m, '127.0.0.1')).statusCode).toBe(200);
    } finally {
      await m.close();
    }
  });
});

describe('admin API', () => {
  let admin: string;
  let plain: string;
  beforeAll(async () => {
    admin = (await login(t.url, 'root@localhost', 'pw-root')).token;
    plain = (await login(t.url, 'alice@localhost', 'pw-alice')).token;
  });

  it('a non-admin is forbidden; no token is not-authorized', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/admin/domains'],
      ['POST', '/api/v1/admin/domains', { domain: 'sneaky.example' }],
      ['DELETE', '/api/v1/admin/domains/localhost'],
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { address: 'mallory@localhost', password: 'pw' }],
      ['DELETE', '/api/v1/admin/users/bob@localhost'],
      ['GET', '/api/v1/admin/shared-groups'],
    ];
    for (const [method, path, body] of routes) {
      const r = await call(t.url, method, path, { token: plain, body });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(errorCode(r)).toBe('forbidden');
      const anon = await call(t.url, method, path, { body });
      expect(anon.status, `${method} ${path} without token`).toBe(401);
    }
    expect(await t.server.store.domains.list()).not.toContain('sneaky.example');
    expect(await t.server.store.accounts.get('bob@localhost')).not.toBeNull();
  });

  it('an admin adds a domain and a user, lists users, removes the user (closing its session)', async () => {
    const d = await call(t.url, 'POST', '/api/v1/admin/domains', { token: admin, body: { domain: 'Corp.Example' } });
    expect(d.status).toBe(201);
    expect(d.body).toEqual({ domain: 'corp.example' });
    expect((await call(t.url, 'POST', '/api/v1/admin/domains', { token: admin, body: { domain: 'corp.example' } })).status).toBe(409);
    expect(errorCode(await call(t.url, 'POST', '/api/v1/admin/domains', { token: admin, body: { domain: 'bad domain' } }))).toBe('jid-malformed');

    const u = await call(t.url, 'POST', '/api/v1/admin/users', { token: admin, body: { address: 'zed@corp.example', password: 'pw-zed' } });
    expect(u.status).toBe(201);
    expect(u.body).toEqual({ address: 'zed@corp.example', kind: 'person' });
    expect(errorCode(await call(t.url, 'POST', '/api/v1/admin/users', { token: admin, body: { address: 'a b@corp.example', password: 'x' } }))).toBe('jid-malformed');
    expect(errorCode(await call(t.url, 'POST', '/api/v1/admin/users', { token: admin, body: { address: 'x@unhosted.example', password: 'x' } }))).toBe('item-not-found');

    const list = await call(t.url, 'GET', '/api/v1/admin/users?domain=Corp.Example', { token: admin });
    expect(list.status).toBe(200);
    expect((list.body.users as Array<{ address: string }>).map((x) => x.address)).toEqual(['zed@corp.example']);
    const all = await call(t.url, 'GET', '/api/v1/admin/users', { token: admin });
    expect((all.body.users as Array<{ address: string; admin: boolean }>).find((x) => x.address === 'root@localhost')).toMatchObject({ admin: true });

    // The new user works at once: alice can message zed on the new domain.
    const zed = await t.connect('zed@corp.example');
    const alice = await t.connect('alice@localhost');
    await alice.send('zed@corp.example', 'welcome');
    await zed.waitFor('message', (m) => m.body === 'welcome');

    const rm = await call(t.url, 'DELETE', `/api/v1/admin/users/${encodeURIComponent('zed@corp.example')}`, { token: admin });
    expect(rm.status).toBe(200);
    // Deregistered by the time the request is answered, not only when the socket has finished closing.
    expect(t.server.engine.sessions.countOf('zed@corp.example')).toBe(0);
    const closing = await zed.waitFor('session.closing');
    expect(closing.data).toMatchObject({ code: 'not-authorized' });
    await zed.closed;
    await expect(login(t.url, 'zed@corp.example', 'pw-zed')).rejects.toMatchObject({ code: 'not-authorized' });
    await expect(alice.send('zed@corp.example', 'gone?')).rejects.toMatchObject({ code: 'item-not-found' });
    expect((await call(t.url, 'DELETE', '/api/v1/admin/users/zed@corp.example', { token: admin })).status).toBe(404);
    await alice.close();
  });

  it("removing a domain closes the sessions of that domain's users", async () => {
    expect((await call(t.url, 'POST', '/api/v1/admin/domains', { token: admin, body: { domain: 'temp.example' } })).status).toBe(201);
    expect((await call(t.url, 'POST', '/api/v1/admin/users', { token: admin, body: { address: 'yan@temp.example', password: 'pw-yan' } })).status).toBe(201);
    const yan = await t.connect('yan@temp.example');
    const rm = await call(t.url, 'DELETE', '/api/v1/admin/domains/temp.example', { token: admin });
    expect(rm.status).toBe(200);
    expect(t.server.engine.sessions.countOf('yan@temp.example')).toBe(0);
    await yan.closed;
    expect(yan.received('session.closing')[0]).toMatchObject({ code: 'not-authorized' });
    const alice = await t.connect('alice@localhost');
    await expect(alice.send('yan@temp.example', 'x')).rejects.toMatchObject({ code: 'remote-server-not-found' });
    await alice.close();
  });
});

describe('TLS', () => {
  let tls: TestServer;
  let cert: Buffer;
  beforeAll(async () => {
    const dir = t.dir;
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    // A throwaway self-signed certificate for 127.0.0.1 (so the client can verify it with the cert as its CA).
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
      { stdio: 'ignore' },
    );
    expect(existsSync(certFile) && existsSync(keyFile)).toBe(true);
    cert = readFileSync(certFile);
    tls = await startServer({ server: { tls: { cert: certFile, key: keyFile } } });
    await tls.users('tess@localhost');
  });
  afterAll(() => tls?.close());

  it('serves HTTPS and WSS', async () => {
    expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(tls.wsUrl).toMatch(/^wss:\/\//);
    const h = await call(tls.url, 'GET', '/health', { ca: cert });
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok' });
    const l = await call(tls.url, 'POST', '/api/v1/login', { ca: cert, body: { address: 'tess@localhost', password: 'pw-tess' } });
    expect(l.status).toBe(200);
    const c = await ParleyClient.connect({ url: tls.wsUrl, token: l.body.token as string, wsOptions: { ca: cert } });
    expect(c.hello.address).toBe('tess@localhost');
    const p = await ParleyClient.connect({ url: tls.wsUrl, address: 'tess@localhost', password: 'pw-tess', wsOptions: { ca: cert, origin: tls.url } });
    expect(p.hello.address).toBe('tess@localhost');
    await c.close();
    await p.close();
    // Plain HTTP on the TLS port is not served.
    await expect(call(tls.url.replace('https:', 'http:'), 'GET', '/health')).rejects.toThrow();
  });
});
