/**
 * Live options end to end (docs/settings.md), on a real server over SQLite: an administrator changes the naming
 * policy over HTTP and the next account is judged by it; invalid values are refused with their path; a reset
 * restores the configuration file's value; plain users are refused; a change survives a restart; a second server
 * on the same database and the `parley` CLI (another process's write) are picked up; the files module announces
 * and enforces a changed maxFileBytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { login } from '../client/index.js';
import { runCli } from '../src/app/cli.js';
import { addUser } from '../src/engine/admin-service.js';
import { startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

type Json = Record<string, unknown>;

const MiB = 1 << 20;
let dir = '';
let dbPath = '';
let t: TestServer;
let adminToken = '';
let userToken = '';
const extra: TestServer[] = [];

/** A server on the shared database (files on, in the test's folder). */
const start = (): Promise<TestServer> =>
  startServer({
    storage: { sqlite: { path: dbPath, synchronous: 'normal', worker: true } },
    modules: { files: { enabled: true, directory: join(dir, 'files'), maxFileBytes: 10 * MiB } } as never,
  });

/** An HTTP call with a bearer token; returns status and JSON body. */
async function call(server: TestServer, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const createUser = (server: TestServer, address: string): Promise<{ status: number; body: Json }> =>
  call(server, 'POST', '/api/v1/admin/users', adminToken, { address, password: 'long-enough-pw' });

const FIRST_LAST = { localPattern: '[a-z]+\\.[a-z]+', patternHint: 'first.last in lower case' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-settings-'));
  dbPath = join(dir, 'parley.db');
  t = await start();
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  await t.users('plain@localhost');
  adminToken = (await login(t.url, 'root@localhost', 'pw-root')).token;
  userToken = (await login(t.url, 'plain@localhost', 'pw-plain')).token;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  for (const s of extra) await s.close().catch(() => undefined);
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('live options', () => {
  it('lists the modules with live options, their values, what is overridden and the schema', async () => {
    const r = await call(t, 'GET', '/api/v1/admin/settings', adminToken);
    expect(r.status).toBe(200);
    const modules = r.body['modules'] as Array<Json & { module: string }>;
    const naming = modules.find((m) => m.module === 'naming')!;
    expect(naming).toMatchObject({ enabled: true, live: ['default', 'domains'], overridden: [], values: { domains: {} } });
    expect((naming['schema'] as { properties: Json }).properties).toHaveProperty('default');
    expect(modules.find((m) => m.module === 'files')).toMatchObject({ enabled: true, values: { maxFileBytes: 10 * MiB } });
    // A disabled module with live options is listed too, with its configured values.
    expect(modules.find((m) => m.module === 'apikeys')).toMatchObject({ enabled: false, live: ['usersMayCreate', 'maxKeysPerOwner'] });
    expect((await call(t, 'GET', '/api/v1/admin/settings/naming', adminToken)).body).toMatchObject({ module: 'naming', overridden: [] });
  });

  it('refuses plain users with 403', async () => {
    expect((await call(t, 'GET', '/api/v1/admin/settings', userToken)).status).toBe(403);
    expect((await call(t, 'PUT', '/api/v1/admin/settings/naming', userToken, { values: { default: FIRST_LAST } })).status).toBe(403);
    expect((await call(t, 'DELETE', '/api/v1/admin/settings/naming/default', userToken)).status).toBe(403);
  });

  it('an administrator changes the naming policy: the next account that breaks it is refused, one that fits is created', async () => {
    const r = await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { default: FIRST_LAST } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ module: 'naming', overridden: ['default'], values: { default: { ...FIRST_LAST, minLength: 1, maxLength: 64 } } });
    const refused = await createUser(t, 'bob@localhost');
    expect(refused.status).toBe(403);
    expect(refused.body['error']).toMatchObject({ code: 'policy-violation', rule: 'pattern', message: expect.stringContaining('first.last in lower case') });
    expect((await createUser(t, 'bob.smith@localhost')).status).toBe(201);
  });

  it('refuses invalid values with their path, unknown and fixed keys naming them, and changes nothing', async () => {
    const bad = await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { default: { minLength: 0 } } });
    expect(bad.status).toBe(400);
    expect(bad.body['error']).toMatchObject({ code: 'bad-request', path: 'default.minLength', issue: 'too_small', message: expect.stringMatching(/^modules\.naming\.default\.minLength: /) });
    const regex = await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { domains: { localhost: { localPattern: '(' } } } });
    expect(regex.body['error']).toMatchObject({ path: 'domains.localhost.localPattern', message: expect.stringContaining('not a valid regular expression') });
    const fixed = await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { enabled: false } });
    expect(fixed.body['error']).toMatchObject({ code: 'bad-request', message: expect.stringContaining('modules.naming.enabled is not live') });
    const unknown = await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { colour: 'red' } });
    expect(unknown.body['error']).toMatchObject({ code: 'bad-request', fields: ['colour'] });
    expect((await call(t, 'PUT', '/api/v1/admin/settings/nosuch', adminToken, { values: { a: 1 } })).status).toBe(404);
    // The policy of the previous case still holds.
    expect((await call(t, 'GET', '/api/v1/admin/settings/naming', adminToken)).body).toMatchObject({ overridden: ['default'], values: { default: FIRST_LAST } });
  });

  it('the change survives a restart, and a second server on the same database applies changes made on the first', async () => {
    const before = t;
    await before.server.close();
    rmSync(before.dir, { recursive: true, force: true });
    t = await start();
    adminToken = (await login(t.url, 'root@localhost', 'pw-root')).token;
    expect((await call(t, 'GET', '/api/v1/admin/settings/naming', adminToken)).body).toMatchObject({ overridden: ['default'], values: { default: FIRST_LAST } });
    expect((await createUser(t, 'carol@localhost')).status).toBe(403);

    const other = await start();
    extra.push(other);
    const blocked = { ...FIRST_LAST, blocked: ['boss'] };
    expect((await call(t, 'PUT', '/api/v1/admin/settings/naming', adminToken, { values: { default: blocked } })).status).toBe(200);
    // The second server notices the database changed (its watch of the store) and applies the new rules.
    await expect.poll(async () => (await call(other, 'GET', '/api/v1/admin/settings/naming', adminToken)).body['values'], { timeout: 10_000 }).toMatchObject({ default: blocked });
    const refused = await createUser(other, 'the.boss@localhost');
    expect(refused.body['error']).toMatchObject({ code: 'policy-violation', rule: 'blocked' });
  });

  it('a reset restores the configuration file\'s value, for the next account too', async () => {
    const r = await call(t, 'DELETE', '/api/v1/admin/settings/naming/default', adminToken);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ overridden: [], values: { default: { localPattern: null, blocked: [] } } });
    expect((await createUser(t, 'dave@localhost')).status).toBe(201);
    expect((await call(t, 'DELETE', '/api/v1/admin/settings/naming/enabled', adminToken)).status).toBe(400);
  });

  it('the CLI shows, sets and resets live options; the running server applies what it set', async () => {
    vi.stubEnv('PARLEY_STORAGE__SQLITE__PATH', dbPath);
    const cli = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) });
      return { code, out, err };
    };
    const bad = await cli('settings', 'set', 'naming', 'default', '{"maxLength": 0}');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/modules\.naming\.default\.maxLength/);
    expect((await cli('settings', 'set', 'naming', 'default', '{"minLength": 6}')).code).toBe(0);
    expect((await cli('settings', 'show', 'naming')).out).toMatch(/default = \{.*"minLength":6.*\}\s+\(set at runtime\)/);
    // The server notices the write within its watch of the store; each try a new short name (one created before
    // the server applied the rule must not answer conflict after).
    let n = 0;
    await expect.poll(async () => (await createUser(t, `e${++n}@localhost`)).body['error'], { timeout: 10_000 }).toMatchObject({ code: 'policy-violation', rule: 'length' });
    expect((await cli('settings', 'reset', 'naming', 'default')).code).toBe(0);
    await expect.poll(async () => (await createUser(t, `f${++n}@localhost`)).status, { timeout: 10_000 }).toBe(201);
  });

  it('files: a changed maxFileBytes is announced in disco#info (XEP-0363 §2) and enforced on slots', async () => {
    await t.users('filer@localhost');
    const token = (await login(t.url, 'filer@localhost', 'pw-filer')).token;
    const slot = (size: number): Promise<{ status: number; body: Json }> => call(t, 'POST', '/api/v1/files/slots', token, { filename: 'a.bin', size });
    expect((await slot(5 * MiB)).status).toBe(201);
    const r = await call(t, 'PUT', '/api/v1/admin/settings/files', adminToken, { values: { maxFileBytes: 4 * MiB } });
    expect(r.body).toMatchObject({ values: { maxFileBytes: 4 * MiB }, overridden: ['maxFileBytes'] });
    const refused = await slot(5 * MiB);
    expect(refused.status).toBe(413);
    expect(refused.body['error']).toMatchObject({ code: 'file-too-large', maxFileSize: 4 * MiB });

    const x = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    try {
      await x.login('filer@localhost', 'pw-filer', 'r');
      const from = x.text.length;
      x.write(`<iq type='get' id='info1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      const info = (await x.until(/<iq[^>]*id="info1"[^>]*>.*?<\/iq>/s, 5000, from))[0];
      expect(info).toContain(`<field var="max-file-size"><value>${4 * MiB}</value></field>`);
    } finally {
      x.close();
    }
  });
});
