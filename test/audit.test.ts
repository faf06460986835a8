/**
 * The audit log over a real server: administrators' changes over the HTTP admin API (an account, a domain, a
 * shared group's member) and a change made with the `parley` CLI on the same database appear with actor, type
 * and subject; filters and paging; the CLI's own `audit list`; administrators only.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { runParley } from './cli.js';
import { freshUsers, startServer, type TestServer } from './harness.js';

let t: TestServer;
let root: string;

beforeAll(async () => {
  t = await startServer({ modules: { apikeys: { enabled: true } } });
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  root = (await login(t.url, 'root@localhost', 'pw-root')).token;
});
afterAll(async () => t?.close());

/** A request to the API as `token` (root by default). */
async function call(method: string, path: string, body?: unknown, token = root): Promise<{ status: number; json: Record<string, any> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

interface Entry {
  id: number;
  at: number;
  actor: string | null;
  type: string;
  subject: string | null;
  data: Record<string, unknown>;
}

const audit = async (query: string): Promise<{ entries: Entry[]; next: number | null }> => {
  const r = await call('GET', `/api/v1/audit${query}`);
  expect(r.status).toBe(200);
  return r.json as { entries: Entry[]; next: number | null };
};

describe('the audit log', () => {
  it('records administrators\' changes over HTTP with actor and subject, newest first', async () => {
    const before = Date.now();
    expect((await call('POST', '/api/v1/admin/users', { address: 'erin@localhost', password: 'pw-erin-123' })).status).toBe(201);
    expect((await call('POST', '/api/v1/admin/domains', { domain: 'branch.example' })).status).toBe(201);
    expect((await call('PUT', '/api/v1/admin/shared-groups/sales/members/erin@localhost')).status).toBe(200);
    const { entries } = await audit('?limit=3');
    expect(entries.map((e) => [e.type, e.actor, e.subject])).toEqual([
      ['group.membership', 'root@localhost', 'erin@localhost'],
      ['domain.added', 'root@localhost', 'branch.example'],
      ['account.created', 'root@localhost', 'erin@localhost'],
    ]);
    expect(entries[0]!.data).toEqual({ group: 'sales', member: true });
    expect(entries.every((e) => e.at >= before && e.at <= Date.now())).toBe(true);
    // No password anywhere in the log.
    expect(JSON.stringify(await audit('?limit=1000'))).not.toContain('pw-erin-123');
  });

  it('records a change made with the CLI on the same database, with the operator as actor', async () => {
    const run = await runParley(join(t.dir, 'parley.db'), ['user', 'add', 'frank@localhost'], 'pw-frank-123\n');
    expect(run).toMatchObject({ code: 0, out: 'added user frank@localhost\n' });
    const actor = `cli:${userInfo().username}`;
    const { entries } = await audit(`?actor=${encodeURIComponent(actor)}`);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ type: 'account.created', actor, subject: 'frank@localhost' });
    // A CLI change the store refuses (the account exists) leaves nothing behind.
    expect((await runParley(join(t.dir, 'parley.db'), ['user', 'add', 'frank@localhost'], 'pw-frank-123\n')).code).toBe(1);
    expect((await audit(`?actor=${encodeURIComponent(actor)}`)).entries).toHaveLength(1);
    // The CLI lists it too.
    const list = await runParley(join(t.dir, 'parley.db'), ['audit', 'list', '--subject', 'frank@localhost']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`^\\d+\\t\\S+Z\\t${actor}\\taccount\\.created\\tfrank@localhost\\t\\{\\}\\n$`));
  });

  it('records API keys created and revoked, over HTTP and with the CLI, without their tokens', async () => {
    const made = await call('POST', '/api/v1/apikeys/keys', { name: 'deploy', scopes: ['presence:read', 'notify'] });
    expect(made.status).toBe(201);
    const id = made.json.key.id as string;
    expect((await call('DELETE', `/api/v1/apikeys/keys/${id}`)).status).toBe(200);
    const http = (await audit(`?type=apikeys.*&actor=root%40localhost`)).entries;
    expect(http.map((e) => [e.type, e.subject, e.data])).toEqual([
      ['apikeys.revoked', 'root@localhost', { id, name: 'deploy', scopes: ['presence:read', 'notify'] }],
      ['apikeys.created', 'root@localhost', { id, name: 'deploy', scopes: ['presence:read', 'notify'] }],
    ]);
    // The operator's key, made and revoked with the CLI on the same database.
    const env = { PARLEY_MODULES__APIKEYS__ENABLED: 'true' };
    const db = join(t.dir, 'parley.db');
    const created = await runParley(db, ['apikeys', 'create', 'root@localhost', 'ci', 'presence:read'], '', env);
    expect(created.code).toBe(0);
    const [line, token] = created.out.trimEnd().split('\n');
    const cliId = line!.split('\t')[0]!;
    expect((await runParley(db, ['apikeys', 'revoke', cliId], '', env)).code).toBe(0);
    const actor = `cli:${userInfo().username}`;
    const cli = (await audit(`?type=apikeys.*&actor=${encodeURIComponent(actor)}`)).entries;
    expect(cli.map((e) => [e.type, e.subject, e.data])).toEqual([
      ['apikeys.revoked', 'root@localhost', { id: cliId, name: 'ci', scopes: ['presence:read'] }],
      ['apikeys.created', 'root@localhost', { id: cliId, name: 'ci', scopes: ['presence:read'] }],
    ]);
    // The tokens were shown once to who made them, and are nowhere in the log.
    const all = JSON.stringify(await audit('?limit=1000'));
    expect(token).toMatch(/\S{20,}/);
    expect(all).not.toContain(token!);
    expect(all).not.toContain(made.json.token as string);
    // A revocation of a key that does not exist changes nothing and records nothing.
    expect((await runParley(db, ['apikeys', 'revoke', '0123456789abcdef'], '', env)).code).toBe(1);
    expect((await audit(`?type=apikeys.*&actor=${encodeURIComponent(actor)}`)).entries).toHaveLength(2);
  });

  it('filters by type, actor, subject and time, and pages with next', async () => {
    const [u] = await freshUsers(t, 'gina');
    const from = Date.now();
    await call('PUT', `/api/v1/admin/shared-groups/ops/members/${u}`);
    await call('DELETE', `/api/v1/admin/shared-groups/ops/members/${u}`);
    await call('DELETE', `/api/v1/admin/users/${u}`);
    const bySubject = await audit(`?subject=${encodeURIComponent(u!)}`);
    expect(bySubject.entries.map((e) => e.type)).toEqual(['account.removed', 'group.membership', 'group.membership']);
    expect((await audit(`?subject=${encodeURIComponent(u!)}&type=group.*`)).entries.map((e) => e.data.member)).toEqual([false, true]);
    expect((await audit(`?type=account.removed&actor=root%40localhost`)).entries.map((e) => e.subject)).toEqual([u]);
    expect((await audit(`?from=${from}&to=${Date.now() + 1}`)).entries).toHaveLength(3);
    expect((await audit(`?to=${from}&type=account.removed`)).entries).toHaveLength(0);
    // Paging: one at a time, each page's next is where the following one starts, the last has none.
    const seen: number[] = [];
    let next: number | null = null;
    do {
      const page = await audit(`?subject=${encodeURIComponent(u!)}&limit=1${next === null ? '' : `&before=${next}`}`);
      seen.push(...page.entries.map((e) => e.id));
      next = page.next;
    } while (next !== null && seen.length < 10);
    expect(seen).toEqual(bySubject.entries.map((e) => e.id));
  });

  it('refuses people who are not administrators, and bad queries', async () => {
    const [u] = await freshUsers(t, 'hank');
    const token = (await login(t.url, u!, `pw-${u!.split('@')[0]}`)).token;
    const r = await call('GET', '/api/v1/audit', undefined, token);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('forbidden');
    expect((await call('GET', '/api/v1/audit?limit=5000')).status).toBe(400);
    expect((await call('GET', '/api/v1/audit?type=a*b')).status).toBe(400);
    expect((await call('GET', '/api/v1/audit?colour=red')).status).toBe(400);
    const none = await fetch(`${t.url}/api/v1/audit`);
    expect(none.status).toBe(401);
  });
});
