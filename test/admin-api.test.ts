/**
 * The HTTP administration API end to end on a real server: who may call it, accounts (listing, detail, disabled,
 * administrator rights, passwords), sessions on both front doors (listed with their protocol, ended one or all),
 * rooms and shared groups; and the operator CLI's new commands against the same database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient, login } from '../client/index.js';
import { runCli } from '../src/app/cli.js';
import { addUser } from '../src/engine/admin-service.js';
import { freshUsers, onlineAt, refusal, startServer, until, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
let root: string;

beforeAll(async () => {
  t = await startServer();
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  root = (await login(t.url, 'root@localhost', 'pw-root')).token;
});
afterAll(() => t.close());

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** One JSON request; `token` as a bearer token. */
async function api(method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const codeOf = (r: Reply): unknown => (r.body.error as { code?: string } | undefined)?.code;
const enc = encodeURIComponent;
const pw = (address: string): string => `pw-${address.split('@')[0]}`;
const tokenOf = async (address: string): Promise<string> => (await login(t.url, address, pw(address))).token;

/** An XMPP session over direct TLS, bound to `resource` and available. */
async function xmppAt(address: string, resource: string): Promise<RawXmpp> {
  const x = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  await x.login(address, pw(address), resource);
  x.write('<presence/>');
  return x;
}

/** The session.closing a JSON client was told before its socket closed. */
async function closingOf(c: ParleyClient): Promise<{ code: string; message: string }> {
  await c.closed;
  const e = c.events.find((x) => x.ev === 'session.closing');
  return e?.data as { code: string; message: string };
}

describe('who may call the administration API', () => {
  it('a plain user gets forbidden on every admin route but /me; no token is not-authorized', async () => {
    const [plain] = await freshUsers(t, 'plain');
    const token = await tokenOf(plain!);
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/admin/domains'],
      ['POST', '/api/v1/admin/domains', { domain: 'x.example' }],
      ['DELETE', '/api/v1/admin/domains/localhost'],
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { address: 'm@localhost', password: 'pw' }],
      ['GET', `/api/v1/admin/users/${enc(plain!)}`],
      ['PATCH', `/api/v1/admin/users/${enc(plain!)}`, { admin: true }],
      ['DELETE', '/api/v1/admin/users/root@localhost'],
      ['POST', '/api/v1/admin/users/root@localhost/password', { password: 'taken-over' }],
      ['DELETE', '/api/v1/admin/users/root@localhost/sessions'],
      ['DELETE', '/api/v1/admin/users/root@localhost/sessions/web'],
      ['GET', '/api/v1/admin/sessions'],
      ['GET', '/api/v1/admin/rooms'],
      ['GET', '/api/v1/admin/rooms/r@conference.localhost'],
      ['DELETE', '/api/v1/admin/rooms/r@conference.localhost'],
      ['GET', '/api/v1/admin/shared-groups'],
      ['POST', '/api/v1/admin/shared-groups', { name: 'g' }],
      ['PATCH', '/api/v1/admin/shared-groups/g', { displayName: 'G' }],
      ['DELETE', '/api/v1/admin/shared-groups/g'],
      ['PUT', `/api/v1/admin/shared-groups/g/members/${enc(plain!)}`],
      ['DELETE', `/api/v1/admin/shared-groups/g/members/${enc(plain!)}`],
    ];
    for (const [method, path, body] of routes) {
      const r = await api(method, path, token, body);
      expect([method, path, r.status, codeOf(r)]).toEqual([method, path, 403, 'forbidden']);
      expect((await api(method, path, undefined, body)).status).toBe(401);
    }
    expect(await api('GET', '/api/v1/admin/me', token)).toEqual({ status: 200, body: { address: plain, admin: false, roles: [] } });
    expect(await api('GET', '/api/v1/admin/me', root)).toEqual({ status: 200, body: { address: 'root@localhost', admin: true, roles: [] } });
    expect(codeOf(await api('GET', '/api/v1/admin/me'))).toBe('not-authorized');
  });
});

describe('accounts', () => {
  it('lists accounts sorted and paged, filtered by domain and substring, with sessions counted', async () => {
    const users = await freshUsers(t, 'pg-a', 'pg-b', 'pg-c');
    const n = users[0]!.split('-')[2]!.split('@')[0];
    const c = await onlineAt(t, users[1]!, 'web');
    const q = `-${n}@`;
    const first = await api('GET', `/api/v1/admin/users?q=${enc(q.toUpperCase())}&limit=2`, root);
    expect(first.status).toBe(200);
    const page1 = first.body.users as Array<Record<string, unknown>>;
    expect(page1.map((u) => u.address)).toEqual(users.slice(0, 2));
    expect(page1[1]).toEqual({ address: users[1], kind: 'person', admin: false, disabled: false, createdAt: expect.any(Number), lastSeen: null, online: 1 });
    expect(first.body.next).toBe(users[1]);
    const second = await api('GET', `/api/v1/admin/users?q=${enc(q)}&limit=2&after=${enc(users[1]!)}`, root);
    expect((second.body.users as Array<{ address: string }>).map((u) => u.address)).toEqual([users[2]]);
    expect(second.body.next).toBeNull();
    const inDomain = await api('GET', '/api/v1/admin/users?domain=LOCALHOST&limit=1000', root);
    expect((inDomain.body.users as Array<{ address: string }>).map((u) => u.address)).toEqual(expect.arrayContaining(['root@localhost', ...users]));
    expect((await api('GET', '/api/v1/admin/users?domain=nowhere.example', root)).body).toEqual({ users: [], next: null });
    expect(codeOf(await api('GET', '/api/v1/admin/users?limit=0', root))).toBe('bad-request');
    expect(codeOf(await api('GET', '/api/v1/admin/users?limit=1001', root))).toBe('bad-request');
    expect(codeOf(await api('GET', '/api/v1/admin/users?colour=blue', root))).toBe('bad-request');
    await c.close();
  });

  it('shows one account with its sessions on both front doors, their protocols and its groups', async () => {
    const [u] = await freshUsers(t, 'detail');
    expect((await api('PUT', `/api/v1/admin/shared-groups/detail-team/members/${enc(u!)}`, root)).status).toBe(200);
    const c = await onlineAt(t, u!, 'web', { availability: 'away', status: 'lunch' });
    const x = await xmppAt(u!, 'desk');
    try {
      await until(() => t.server.engine.sessionsOf(u!).length === 2, 5000, 'two sessions');
      const r = await api('GET', `/api/v1/admin/users/${enc(u!)}`, root);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ address: u, kind: 'person', admin: false, disabled: false, online: 2, groups: ['detail-team'] });
      const sessions = (r.body.sessions as Array<Record<string, unknown>>).sort((a, b) => String(a.resource).localeCompare(String(b.resource)));
      expect(sessions).toEqual([
        { id: expect.any(String), resource: 'desk', protocol: 'xmpp-tcp', openedAt: expect.any(Number), available: true, node: expect.any(String), presence: { availability: 'available' } },
        { id: expect.any(String), resource: 'web', protocol: 'json', openedAt: expect.any(Number), available: true, node: expect.any(String), presence: { availability: 'away', status: 'lunch' } },
      ]);
      expect(codeOf(await api('GET', '/api/v1/admin/users/nobody@localhost', root))).toBe('item-not-found');
      expect(codeOf(await api('GET', '/api/v1/admin/users/not%20valid@localhost', root))).toBe('jid-malformed');
    } finally {
      x.close();
      await c.close();
    }
  });

  it('a disabled account cannot sign in by any path and its sessions are closed; enabling restores sign-in', async () => {
    const [u] = await freshUsers(t, 'disabled');
    const token = await tokenOf(u!);
    const c = await onlineAt(t, u!, 'web');
    const x = await xmppAt(u!, 'desk');
    await until(() => t.server.engine.sessionsOf(u!).length === 2, 5000, 'two sessions');
    const from = x.text.length;
    const r = await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { disabled: true });
    expect(r).toEqual({ status: 200, body: { address: u, kind: 'person', admin: false, disabled: true, createdAt: expect.any(Number), lastSeen: expect.any(Number), online: 0 } });
    expect(await closingOf(c)).toEqual({ code: 'account-disabled', message: 'the account was disabled by an administrator' });
    await x.untilClosed();
    expect(x.text.slice(from)).toMatch(/<stream:error><policy-violation [^>]*\/><text [^>]*>the account was disabled by an administrator<\/text>/);
    // Password login over HTTP and for the web apps, JSON hello, XMPP SASL (SCRAM and PLAIN), the old token.
    const http = await api('POST', '/api/v1/login', undefined, { address: u, password: pw(u!) });
    expect([http.status, codeOf(http)]).toEqual([403, 'account-disabled']);
    expect(codeOf(await api('POST', '/api/v1/web/login', undefined, { address: u, password: pw(u!) }))).toBe('account-disabled');
    expect((await refusal(ParleyClient.connect({ url: t.wsUrl, address: u!, password: pw(u!) }))).code).toBe('account-disabled');
    // A wrong password is still just wrong: being disabled is told only to who proves the password.
    expect(codeOf(await api('POST', '/api/v1/login', undefined, { address: u, password: 'wrong' }))).toBe('not-authorized');
    expect(codeOf(await api('GET', '/api/v1/roster', token))).toBe('not-authorized');
    const y = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    try {
      await y.open();
      const scram = await y.scram('SCRAM-SHA-256', u!.split('@')[0]!, pw(u!));
      expect(scram).toMatch(/<failure[^>]*><account-disabled\/><text[^>]*>this account is disabled/);
      const plainFrom = y.text.length;
      y.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${u!.split('@')[0]}\0${pw(u!)}`).toString('base64')}</auth>`);
      await y.until(/<failure[^>]*>.*?<\/failure>/s, 5000, plainFrom);
      expect(y.text.slice(plainFrom)).toContain('<account-disabled/>');
      expect(y.text).not.toContain('<success');
    } finally {
      y.close();
    }
    const listed = await api('GET', `/api/v1/admin/users?q=${enc(u!)}`, root);
    expect((listed.body.users as Array<{ disabled: boolean }>)[0]!.disabled).toBe(true);
    expect((await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { disabled: false })).body).toMatchObject({ disabled: false });
    const again = await onlineAt(t, u!, 'back');
    await again.close();
    const z = await xmppAt(u!, 'desk2');
    z.close();
  });

  it('administrator rights: given and taken; never to a bot; an administrator cannot disable or demote themself', async () => {
    const [u] = await freshUsers(t, 'promoted');
    const token = await tokenOf(u!);
    expect((await api('GET', '/api/v1/admin/sessions', token)).status).toBe(403);
    expect((await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { admin: true })).body).toMatchObject({ address: u, admin: true });
    expect((await api('GET', '/api/v1/admin/me', token)).body).toMatchObject({ admin: true });
    expect((await api('GET', '/api/v1/admin/sessions', token)).status).toBe(200);
    // The new administrator cannot disable or demote themself, but can demote root... who stays an admin here.
    const self = await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, token, { disabled: true });
    expect([self.status, codeOf(self)]).toEqual([409, 'conflict']);
    expect((self.body.error as { message: string }).message).toMatch(/cannot disable your own account/);
    const demote = await api('PATCH', '/api/v1/admin/users/root@localhost', root, { admin: false });
    expect([demote.status, codeOf(demote)]).toEqual([409, 'conflict']);
    expect((demote.body.error as { message: string }).message).toMatch(/your own administrator rights/);
    expect((await api('GET', '/api/v1/admin/me', root)).body).toMatchObject({ admin: true });
    expect((await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { admin: false })).body).toMatchObject({ admin: false });
    expect((await api('GET', '/api/v1/admin/sessions', token)).status).toBe(403);
    const bot = await api('POST', '/api/v1/admin/users', root, { address: `bot-${Date.now()}@localhost`, kind: 'bot' });
    expect(bot.status).toBe(201);
    const botAdmin = await api('PATCH', `/api/v1/admin/users/${enc(bot.body.address as string)}`, root, { admin: true });
    expect([botAdmin.status, codeOf(botAdmin)]).toEqual([400, 'bad-request']);
    expect(codeOf(await api('PATCH', '/api/v1/admin/users/nobody@localhost', root, { admin: true }))).toBe('item-not-found');
    expect(codeOf(await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { admin: 'yes' }))).toBe('bad-request');
    expect(codeOf(await api('PATCH', `/api/v1/admin/users/${enc(u!)}`, root, { colour: 'blue' }))).toBe('bad-request');
  });

  it('sets a password: sessions end everywhere, old tokens and password fail, the new one works; bots refused', async () => {
    const [u] = await freshUsers(t, 'rekeyed');
    const c = await onlineAt(t, u!, 'web');
    const old = await tokenOf(u!);
    expect(await api('POST', `/api/v1/admin/users/${enc(u!)}/password`, root, { password: 'brand-new-secret' })).toEqual({ status: 200, body: { address: u } });
    expect(await closingOf(c)).toEqual({ code: 'not-authorized', message: 'the password was changed' });
    expect(codeOf(await api('GET', '/api/v1/roster', old))).toBe('not-authorized');
    expect(codeOf(await api('POST', '/api/v1/login', undefined, { address: u, password: pw(u!) }))).toBe('not-authorized');
    expect((await api('POST', '/api/v1/login', undefined, { address: u, password: 'brand-new-secret' })).status).toBe(200);
    expect(codeOf(await api('POST', `/api/v1/admin/users/${enc(u!)}/password`, root, {}))).toBe('bad-request');
    expect(codeOf(await api('POST', '/api/v1/admin/users/nobody@localhost/password', root, { password: 'x' }))).toBe('item-not-found');
    const bot = await api('POST', '/api/v1/admin/users', root, { address: `pbot-${Date.now()}@localhost`, kind: 'bot' });
    expect(codeOf(await api('POST', `/api/v1/admin/users/${enc(bot.body.address as string)}/password`, root, { password: 'x' }))).toBe('not-acceptable');
  });
});

describe('sessions', () => {
  it('lists every session with its protocol and counts; ends one resource, then all, telling the clients why', async () => {
    const [u] = await freshUsers(t, 'kicked');
    const web = await onlineAt(t, u!, 'web');
    const phone = await onlineAt(t, u!, 'phone');
    const x = await xmppAt(u!, 'desk');
    await until(() => t.server.engine.sessionsOf(u!).length === 3, 5000, 'three sessions');
    const all = await api('GET', '/api/v1/admin/sessions', root);
    expect(all.status).toBe(200);
    const body = all.body as { total: number; users: number; byProtocol: Record<string, number>; sessions: Array<Record<string, unknown>> };
    expect(body.total).toBe(body.sessions.length);
    expect(body.byProtocol.json).toBeGreaterThanOrEqual(2);
    expect(body.byProtocol['xmpp-tcp']).toBeGreaterThanOrEqual(1);
    expect(Object.values(body.byProtocol).reduce((a, b) => a + b, 0)).toBe(body.total);
    expect(body.users).toBeGreaterThanOrEqual(1);
    const mine = body.sessions.filter((s) => s.user === u).map((s) => [s.resource, s.protocol]).sort();
    expect(mine).toEqual([['desk', 'xmpp-tcp'], ['phone', 'json'], ['web', 'json']]);

    expect(await api('DELETE', `/api/v1/admin/users/${enc(u!)}/sessions/phone`, root)).toEqual({ status: 200, body: { ended: 1 } });
    expect(await closingOf(phone)).toEqual({ code: 'policy-violation', message: 'an administrator ended this session' });
    expect((await phone.closed).code).toBe(1008);
    expect(t.server.engine.sessionsOf(u!).map((s) => s.resource).sort()).toEqual(['desk', 'web']);
    expect(codeOf(await api('DELETE', `/api/v1/admin/users/${enc(u!)}/sessions/phone`, root))).toBe('item-not-found');

    const from = x.text.length;
    expect(await api('DELETE', `/api/v1/admin/users/${enc(u!)}/sessions`, root)).toEqual({ status: 200, body: { ended: 2 } });
    expect(await closingOf(web)).toEqual({ code: 'policy-violation', message: 'an administrator ended this session' });
    await x.untilClosed();
    expect(x.text.slice(from)).toMatch(/<stream:error><policy-violation [^>]*\/><text [^>]*>an administrator ended this session<\/text>/);
    expect(await api('DELETE', `/api/v1/admin/users/${enc(u!)}/sessions`, root)).toEqual({ status: 200, body: { ended: 0 } });
    expect(codeOf(await api('DELETE', '/api/v1/admin/users/nobody@localhost/sessions', root))).toBe('item-not-found');
    // Ended, not disabled: the user signs in again.
    const back = await onlineAt(t, u!, 'web');
    await back.close();
  });
});

describe('rooms', () => {
  it('lists rooms and their members; destroying one tells a member, then it is gone', async () => {
    const [owner, member, occupant] = await freshUsers(t, 'owner', 'member', 'occupant');
    const a = await onlineAt(t, owner!, 'web');
    const b = await onlineAt(t, member!, 'web');
    const local = `ops-${Date.now()}`;
    const created = (await a.request('room.create', { name: 'Ops Room', local, membersOnly: false })) as { room: { address: string } };
    const room = created.room.address;
    await b.request('room.join', { room });
    // An XMPP occupant enters the room (XEP-0045 §7.2): an open room lets anyone of the server in.
    const x = await xmppAt(occupant!, 'desk');
    x.write(`<presence to='${room}/occ'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await x.until(/<status code="110"\/>/);
    const list = await api('GET', `/api/v1/admin/rooms?q=${enc(local.toUpperCase())}`, root);
    expect(list).toEqual({
      status: 200,
      body: { rooms: [{ address: room, name: 'Ops Room', members: 3, public: true, membersOnly: false, moderated: false, createdAt: expect.any(Number) }], next: null },
    });
    const limited = await api('GET', '/api/v1/admin/rooms?limit=1', root);
    expect((limited.body.rooms as unknown[]).length).toBe(1);
    const detail = await api('GET', `/api/v1/admin/rooms/${enc(room)}`, root);
    expect(detail.body).toMatchObject({ address: room, name: 'Ops Room', membersOnly: false });
    expect((detail.body.members as Array<{ address: string; role: string }>).sort((m, n) => m.address.localeCompare(n.address))).toEqual(
      [
        { address: owner, role: 'owner' },
        { address: member, role: 'member' },
        { address: occupant, role: 'member' },
      ].sort((m, n) => m.address!.localeCompare(n.address!)),
    );
    const from = x.text.length;
    expect(await api('DELETE', `/api/v1/admin/rooms/${enc(room)}`, root, { reason: 'closed by IT' })).toEqual({ status: 200, body: { room } });
    const told = await b.waitFor('room.member', (d) => (d as { destroyed?: boolean }).destroyed === true);
    expect(told.data).toEqual({ room, destroyed: true, by: 'root@localhost', reason: 'closed by IT' });
    // XEP-0045 §10.9: the occupant's unavailable presence carries the destroy element with the reason.
    await x.until(/<destroy><reason>closed by IT<\/reason><\/destroy>/, 5000, from);
    x.close();
    expect(codeOf(await api('GET', `/api/v1/admin/rooms/${enc(room)}`, root))).toBe('item-not-found');
    expect(codeOf(await api('DELETE', `/api/v1/admin/rooms/${enc(room)}`, root))).toBe('item-not-found');
    expect((await api('GET', `/api/v1/admin/rooms?q=${enc(local)}`, root)).body).toEqual({ rooms: [], next: null });
    await a.close();
    await b.close();
  });
});

describe('shared groups', () => {
  it('creates, renames and removes a group; its members stop seeing each other', async () => {
    const [p, q] = await freshUsers(t, 'grp-p', 'grp-q');
    const name = `team-${Date.now()}`;
    expect(await api('POST', '/api/v1/admin/shared-groups', root, { name })).toEqual({ status: 201, body: { name, displayName: name } });
    expect(codeOf(await api('POST', '/api/v1/admin/shared-groups', root, { name }))).toBe('conflict');
    expect(codeOf(await api('POST', '/api/v1/admin/shared-groups', root, { name: 'bad name' }))).toBe('bad-request');
    expect(await api('PATCH', `/api/v1/admin/shared-groups/${name}`, root, { displayName: 'The Team' })).toEqual({ status: 200, body: { name, displayName: 'The Team' } });
    expect(codeOf(await api('PATCH', '/api/v1/admin/shared-groups/no-such-group', root, { displayName: 'X' }))).toBe('item-not-found');
    expect(codeOf(await api('PATCH', `/api/v1/admin/shared-groups/${name}`, root, {}))).toBe('bad-request');
    for (const u of [p!, q!]) expect((await api('PUT', `/api/v1/admin/shared-groups/${name}/members/${enc(u)}`, root)).status).toBe(200);
    const groups = (await api('GET', '/api/v1/admin/shared-groups', root)).body.groups as Array<{ name: string; displayName: string; members: string[] }>;
    expect(groups.find((g) => g.name === name)).toEqual({ name, displayName: 'The Team', members: [p, q].sort() });
    const pToken = await tokenOf(p!);
    const rosterOf = async (): Promise<string[]> => ((await api('GET', '/api/v1/roster', pToken)).body.items as Array<{ contact: string }>).map((i) => i.contact);
    expect(await rosterOf()).toContain(q);
    expect(await api('DELETE', `/api/v1/admin/shared-groups/${name}`, root)).toEqual({ status: 200, body: { name } });
    expect(await rosterOf()).not.toContain(q);
    expect(((await api('GET', '/api/v1/admin/shared-groups', root)).body.groups as Array<{ name: string }>).some((g) => g.name === name)).toBe(false);
    expect(codeOf(await api('DELETE', `/api/v1/admin/shared-groups/${name}`, root))).toBe('item-not-found');
  });
});

describe('the operator CLI on the same database', () => {
  it('disables (the running server ends the sessions), enables, promotes, lists and destroys rooms', async () => {
    const config = join(t.dir, 'cli.yaml');
    writeFileSync(config, `storage:\n  sqlite:\n    path: ${join(t.dir, 'parley.db')}\nlog:\n  level: silent\n`);
    const cli = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await runCli(['--config', config, ...args], { out: (s) => (out += s), err: (s) => (err += s) });
      return { code, out, err };
    };
    const [u, owner] = await freshUsers(t, 'cli-user', 'cli-owner');
    const c = await onlineAt(t, u!, 'web');
    expect(await cli('user', 'disable', u!)).toMatchObject({ code: 0, out: `disabled ${u}\n` });
    expect(await closingOf(c)).toEqual({ code: 'account-disabled', message: 'the account was disabled' });
    expect((await cli('user', 'list', 'localhost')).out).toContain(`${u} (disabled)\n`);
    expect(codeOf(await api('POST', '/api/v1/login', undefined, { address: u, password: pw(u!) }))).toBe('account-disabled');
    expect(await cli('user', 'enable', u!)).toMatchObject({ code: 0, out: `enabled ${u}\n` });
    expect((await api('POST', '/api/v1/login', undefined, { address: u, password: pw(u!) })).status).toBe(200);
    expect(await cli('user', 'admin', u!, 'on')).toMatchObject({ code: 0, out: `${u} is now an administrator\n` });
    expect((await api('GET', '/api/v1/admin/me', await tokenOf(u!))).body).toMatchObject({ admin: true });
    expect(await cli('user', 'admin', u!, 'off')).toMatchObject({ code: 0 });
    expect((await cli('user', 'admin', u!, 'maybe')).code).toBe(2);
    expect((await cli('user', 'disable', 'nobody@localhost')).err).toContain('item-not-found');

    const a = await onlineAt(t, owner!, 'web');
    const local = `cli-room-${Date.now()}`;
    const room = ((await a.request('room.create', { name: 'CLI Room', local })) as { room: { address: string } }).room.address;
    expect((await cli('room', 'list', 'localhost')).out).toContain(`${room} "CLI Room" (members only) 1 members\n`);
    expect(await cli('room', 'destroy', room)).toMatchObject({ code: 0, out: `destroyed room ${room}\n` });
    expect((await cli('room', 'list')).out).not.toContain(room);
    expect((await cli('room', 'destroy', room)).err).toContain('item-not-found');
    expect((await cli('--help')).out).toMatch(/user disable <local@domain>[\s\S]*room destroy <room@domain>/);
    await a.close();
  });
});
