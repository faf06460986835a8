/**
 * An address that is created again is a new identity: a room re-created at a destroyed room's address, and an
 * account removed and created again, see nothing of their predecessors — through `history`, `hello {since: 0}`,
 * the offline queue, GET /api/v1/history, MAM and MUC history — while the log keeps everything.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type ParleyClient } from '../client/index.js';
import { addUser, removeUser } from '../src/engine/admin-service.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
let admin = '';
let n = 0;
const open: RawXmpp[] = [];

beforeAll(async () => {
  t = await startServer();
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  admin = (await login(t.url, 'root@localhost', 'pw-root')).token;
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

const pw = (user: string): string => `pw-${user.split('@')[0]}`;

async function xmpp(user: string, resource = 'x'): Promise<RawXmpp> {
  const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  open.push(c);
  await c.login(user, pw(user), resource);
  return c;
}

/** Sends an iq and returns the text received from sending it up to and including its reply. */
async function iq(c: RawXmpp, body: string, type: string, to?: string): Promise<string> {
  const id = `q${++n}`;
  const from = c.text.length;
  c.write(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${body}</iq>`);
  const m = await c.until(new RegExp(`<iq[^>]*id="${id}"[^>]*(?:/>|>.*?</iq>)`, 's'), 5000, from);
  return c.text.slice(from, from + m.index + m[0].length);
}

async function http(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Every message body a JSON session received (live and replayed). */
const bodies = (c: ParleyClient): unknown[] => c.received('message').map((m) => m.body);

describe('a room created again at a destroyed room’s address', () => {
  it('shows its creator nothing of the old room: history, HTTP history, hello since 0, MAM', async () => {
    const [alice, mallory] = (await freshUsers(t, 'alice', 'mallory')) as [string, string];
    const local = `board-${++n}`;
    const a = await onlineAt(t, alice);
    const room = (await a.request<{ room: { address: string } }>('room.create', { name: 'Board', local, membersOnly: true })).room.address;
    await a.send(room, 'secret plan one');
    await a.send(room, 'secret plan two');
    await a.request('room.destroy', { room });

    const m = await onlineAt(t, mallory);
    const again = await m.request<{ room: { address: string } }>('room.create', { name: 'Board', local, membersOnly: true });
    expect(again.room.address).toBe(room);
    expect(await m.request('history', { with: room, limit: 50 })).toEqual({ messages: [], more: false });
    expect(await m.request('history', { with: room, after: 0 })).toEqual({ messages: [], more: false });
    const token = (await login(t.url, mallory, pw(mallory))).token;
    const viaHttp = await http('GET', `/api/v1/history?with=${encodeURIComponent(room)}&limit=50`, token);
    expect(viaHttp).toEqual({ status: 200, json: { messages: [], more: false } });
    const resumed = await t.connect(mallory, { since: 0, resource: 'resumed' });
    await resumed.waitFor('synced');
    expect(bodies(resumed)).toEqual([]);

    const x = await xmpp(mallory);
    const mam = await iq(x, `<query xmlns='urn:xmpp:mam:2' queryid='all'/>`, 'set', room);
    expect(mam).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
    expect(mam).not.toContain('secret plan');

    // The new room's own messages are there as usual.
    await m.send(room, 'my board now');
    expect((await m.request<{ messages: Array<{ body: string }> }>('history', { with: room })).messages.map((v) => v.body)).toEqual(['my board now']);
  });

  it('XMPP: a directed presence re-creates the address and sends no history of the old room', async () => {
    const [alice, mallory] = (await freshUsers(t, 'alice', 'mallory')) as [string, string];
    const local = `muc-${++n}`;
    const a = await onlineAt(t, alice);
    const room = (await a.request<{ room: { address: string } }>('room.create', { name: 'Muc', local, membersOnly: false })).room.address;
    await a.send(room, 'old muc secret');
    await a.request('room.destroy', { room });

    const x = await xmpp(mallory);
    const from = x.text.length;
    x.write(`<presence to='${room}/mallory'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='50'/></x></presence>`);
    // §7.2.15: the subject closes the history; 201 says the room was created now (§10.1.2).
    const subject = await x.until(/<subject>[^<]*<\/subject>/, 5000, from);
    const joined = x.text.slice(from, from + subject.index);
    expect(joined).toContain('<status code="201"/>');
    expect(joined).not.toContain('old muc secret');
  });
});

describe('an account removed and created again', () => {
  it("sees nothing of its predecessor's conversations, offline queue or messages, over JSON, HTTP and XMPP", async () => {
    const [alice, rm2] = (await freshUsers(t, 'alice', 'rm')) as [string, string];
    const a = await onlineAt(t, alice);
    const old = await onlineAt(t, rm2);
    const oldSent = await old.send(alice, 'from the old account', 'client-1');
    const toOld = await a.send(rm2, 'to the old account');
    await old.close();
    await a.send(rm2, 'queued for the old account');

    expect((await http('DELETE', `/api/v1/admin/users/${rm2}`, admin)).status).toBe(200);
    expect((await http('POST', '/api/v1/admin/users', admin, { address: rm2, password: pw(rm2) })).status).toBe(201);

    // Offline queue (hello without since) and the whole log (since 0): nothing of the old account.
    const fresh = await onlineAt(t, rm2, 'new');
    const resumed = await t.connect(rm2, { since: 0, resource: 'resumed' });
    await resumed.waitFor('synced');
    expect(bodies(fresh)).toEqual([]);
    expect(bodies(resumed)).toEqual([]);
    expect(await fresh.request('history', { with: alice })).toEqual({ messages: [], more: false, read: null });
    const token = (await login(t.url, rm2, pw(rm2))).token;
    expect((await http('GET', `/api/v1/history?with=${encodeURIComponent(alice)}`, token)).json).toEqual({ messages: [], more: false, read: null });
    // The conversation is a new one for alice too: she is not talking to the account she wrote to before.
    expect(await a.request('history', { with: rm2 })).toEqual({ messages: [], more: false, read: null });

    // The old account's messages can be neither changed nor acknowledged, and its clientIds are not resends.
    await expect(fresh.request('message.edit', { id: oldSent.id, body: 'rewritten' })).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(fresh.request('message.retract', { id: oldSent.id })).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(fresh.request('message.receipt', { id: toOld.id, kind: 'read' })).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(fresh.send(alice, 'reusing an id', 'client-1')).rejects.toMatchObject({ code: 'conflict' });

    const x = await xmpp(rm2);
    const withAlice = await iq(x, `<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>${alice}</value></field></x></query>`, 'set');
    const everything = await iq(x, `<query xmlns='urn:xmpp:mam:2'/>`, 'set');
    for (const mam of [withAlice, everything]) {
      expect(mam).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
      expect(mam).not.toContain('old account');
    }

    // What is written from now on is the new account's.
    await a.send(rm2, 'hello, new account');
    await fresh.waitFor('message', (d) => d.body === 'hello, new account');
    const now = await fresh.request<{ messages: Array<{ body: string }> }>('history', { with: alice });
    expect(now.messages.map((v) => v.body)).toEqual(['hello, new account']);
    // The log keeps what happened: the old account's partner still finds it in her own replay.
    const aliceAll = await t.connect(alice, { since: 0, resource: 'all' });
    await aliceAll.waitFor('synced');
    expect(bodies(aliceAll)).toEqual(expect.arrayContaining(['from the old account', 'to the old account', 'queued for the old account']));
  });

  it('loses the old sessions when another process removes and re-creates the address between two polls', async () => {
    const [rm3] = (await freshUsers(t, 'rm')) as [string];
    const old = await onlineAt(t, rm3, 'r', { availability: 'away', status: 'the old account’s status' });
    const cli = createSqliteStore({ path: join(t.dir, 'parley.db') });
    try {
      await removeUser(cli, rm3);
      await addUser(cli, rm3, pw(rm3), { admin: false, iterations: 4096, now: Date.now() });
    } finally {
      await cli.close();
    }
    // The server notices the other process's change within a second (data_version) and ends the old session.
    const closed = await Promise.race([old.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(closed).not.toBeNull();
    // The old account's session left nothing on the new account: no last-seen time, no status.
    await new Promise((r) => setTimeout(r, 200));
    expect(await t.server.store.accounts.get(rm3)).toMatchObject({ lastSeen: null, lastStatus: null });
    // The new account logs in and stays.
    const fresh = await onlineAt(t, rm3, 'new');
    await new Promise((r) => setTimeout(r, 1500));
    await until(() => fresh.ws.readyState === fresh.ws.OPEN, 100, 'the new session to stay open');
  });
});
