/** Rooms end to end: membership, invitations, roles, access rules, occupants, history and a busy room. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { drain, freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';

type Data = Record<string, unknown>;
type RoomList = { rooms: Array<{ address: string; role: string | null; invitedBy: string | null }> };
interface RoomInfo {
  address: string;
  name: string;
  membersOnly: boolean;
  createdBy: string;
}

let t: TestServer;
let counter = 0;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.close());

const users = (...names: string[]): Promise<string[]> => freshUsers(t, ...names);

const online = (address: string, resource = 'r', presence?: Data): Promise<ParleyClient> => onlineAt(t, address, resource, presence);


async function createRoom(c: ParleyClient, name: string, membersOnly: boolean): Promise<string> {
  const r = await c.request<{ room: RoomInfo }>('room.create', { name, local: `${name}-${++counter}`, membersOnly });
  return r.room.address;
}

function roomMessages(c: ParleyClient, room: string): Data[] {
  return c.received('message').filter((m) => m.to === room);
}

describe('rooms', () => {
  it('create makes the creator owner; invite notifies; members-only join needs the invitation', async () => {
    const [olga, ivan, zed] = await users('olga', 'ivan', 'zed');
    const o = await online(olga!);
    const i = await online(ivan!);
    const z = await online(zed!);

    const created = await o.request<{ room: RoomInfo }>('room.create', { name: 'Board Room' });
    const room = created.room.address;
    expect(room).toBe('board-room@conference.localhost');
    expect(created.room).toMatchObject({ name: 'Board Room', membersOnly: true, createdBy: olga });
    expect(await o.request('room.members', { room })).toMatchObject({ members: [{ user: olga, role: 'owner' }] });
    await expect(o.request('room.create', { name: 'Board Room' })).rejects.toMatchObject({ code: 'conflict' });

    // Nobody else sees a members-only room or may join it uninvited.
    const listed = await z.request<{ rooms: RoomInfo[] }>('room.list');
    expect(listed.rooms.map((r) => r.address)).not.toContain(room);
    await expect(z.request('room.join', { room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(i.request('room.join', { room })).rejects.toMatchObject({ code: 'forbidden' });

    await o.request('room.invite', { room, user: ivan });
    const inv = await i.waitFor('room.invite', (d) => d.room === room);
    expect(inv.data).toEqual({ room, name: 'Board Room', from: olga });
    await drain(z);
    expect(z.received('room.invite')).toEqual([]);

    // A plain member of a members-only room cannot invite.
    expect(await i.request('room.join', { room })).toEqual({ role: 'member' });
    await o.waitFor('room.member', (d) => d.room === room && d.user === ivan && d.role === 'member');
    await expect(i.request('room.invite', { room, user: zed })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(o.request('room.invite', { room, user: ivan })).rejects.toMatchObject({ code: 'conflict' });
    // An admin may invite to a members-only room.
    await o.request('room.role', { room, user: ivan, role: 'admin' });
    await i.request('room.invite', { room, user: zed });
    await z.waitFor('room.invite', (d) => d.room === room && d.from === ivan);
    expect(await z.request('room.join', { room })).toEqual({ role: 'member' });
    // Joining again is harmless.
    expect(await i.request('room.join', { room })).toEqual({ role: 'admin' });

    const mine = await i.request<{ rooms: Array<RoomInfo & { role: string | null }> }>('room.list');
    expect(mine.rooms.find((r) => r.address === room)).toMatchObject({ role: 'admin' });
    await expect(o.request('room.join', { room: 'nope@conference.localhost' })).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('leave: the member is announced gone and loses access; the last owner cannot leave others behind', async () => {
    const [olga, ivan] = await users('olga', 'ivan');
    const o = await online(olga!);
    const i = await online(ivan!);
    const room = await createRoom(o, 'leavers', false);
    await i.request('room.join', { room });
    await i.send(room, 'bye all');
    await o.waitFor('message', (d) => d.body === 'bye all');

    await expect(o.request('room.leave', { room })).rejects.toMatchObject({ code: 'not-allowed' });
    await i.request('room.leave', { room });
    await o.waitFor('room.member', (d) => d.room === room && d.user === ivan && d.role === null);
    await i.waitFor('room.member', (d) => d.room === room && d.user === ivan && d.role === null);
    await expect(i.send(room, 'still here?')).rejects.toMatchObject({ code: 'forbidden' });
    await o.send(room, 'after you left');
    await drain(i);
    expect(roomMessages(i, room).map((m) => m.body)).not.toContain('after you left');
    // A former member reads the room up to its leaving (the conversations module remembers where), no further.
    const past = await i.request<{ messages: Array<{ body: string | null }> }>('history', { with: room });
    expect(past.messages.map((m) => m.body)).toEqual(['bye all']);
    expect(await o.request('room.members', { room })).toMatchObject({ members: [{ user: olga, role: 'owner' }] });
    // Alone, the owner still cannot leave (nobody could manage the room); destroying it is the way out.
    await expect(o.request('room.leave', { room })).rejects.toMatchObject({ code: 'not-allowed' });
    await o.request('room.destroy', { room });
    await expect(o.request('room.members', { room })).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('an invitee who was offline finds the invitation in room.list', async () => {
    const [ann, ben] = await users('ann', 'ben');
    const a = await online(ann!);
    const room = await createRoom(a, 'secret', true);
    await a.request('room.invite', { room, user: ben });
    const b = await online(ben!);
    const { rooms } = await b.request<RoomList>('room.list');
    expect(rooms.find((r) => r.address === room)).toMatchObject({ role: null, invitedBy: ann });
    await b.request('room.join', { room });
    const after = await b.request<RoomList>('room.list');
    expect(after.rooms.find((r) => r.address === room)).toMatchObject({ role: 'member', invitedBy: null });
  });

  it('a read receipt for a room message goes to its author only, live and on replay', async () => {
    const [amy, bob, cat] = await users('amy', 'bob', 'cat');
    const a = await online(amy!);
    const b = await online(bob!);
    const c = await online(cat!);
    const room = await createRoom(a, 'receipts', false);
    await b.request('room.join', { room });
    await c.request('room.join', { room });
    const since = c.position;
    const sent = await a.send(room, 'read me');
    await b.waitFor('message', (d) => d.id === sent.id);
    await b.request('message.receipt', { id: sent.id, kind: 'read' });
    await a.waitFor('message.receipt', (d) => d.ref === sent.id);
    await drain(c);
    expect(c.received('message.receipt')).toHaveLength(0);
    await c.close();
    const again = await t.connect(cat!, { since });
    await again.waitFor('synced');
    expect(again.received('message').map((m) => m.id)).toContain(sent.id);
    expect(again.received('message.receipt')).toHaveLength(0);
  });

  it('kick and role rules: members cannot kick, admins kick members but not owners, only owners change roles', async () => {
    const [olga, adam, mia, max] = await users('olga', 'adam', 'mia', 'max');
    const o = await online(olga!);
    const a = await online(adam!);
    const m = await online(mia!);
    const x = await online(max!);
    const room = await createRoom(o, 'ruled', false);
    for (const c of [a, m, x]) await c.request('room.join', { room });

    await expect(m.request('room.kick', { room, user: max })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(m.request('room.role', { room, user: mia, role: 'admin' })).rejects.toMatchObject({ code: 'forbidden' });

    await o.request('room.role', { room, user: adam, role: 'admin' });
    for (const c of [o, a, m, x]) await c.waitFor('room.member', (d) => d.room === room && d.user === adam && d.role === 'admin');
    await expect(a.request('room.role', { room, user: mia, role: 'admin' })).rejects.toMatchObject({ code: 'forbidden' });

    await a.request('room.kick', { room, user: max, reason: 'spam' });
    const kicked = await x.waitFor('room.member', (d) => d.room === room && d.user === max && d.role === null);
    expect(kicked.data).toMatchObject({ by: adam, reason: 'spam' });
    await m.waitFor('room.member', (d) => d.user === max && d.role === null);
    await expect(x.send(room, 'let me in')).rejects.toMatchObject({ code: 'forbidden' });

    await expect(a.request('room.kick', { room, user: olga })).rejects.toMatchObject({ code: 'forbidden' });
    // A demoted admin loses the power to kick; promoted again, it has it back.
    await o.request('room.role', { room, user: adam, role: 'member' });
    await a.waitFor('room.member', (d) => d.room === room && d.user === adam && d.role === 'member');
    await expect(a.request('room.kick', { room, user: mia })).rejects.toMatchObject({ code: 'forbidden' });
    await o.request('room.role', { room, user: adam, role: 'admin' });
    await o.request('room.role', { room, user: mia, role: 'admin' });
    await expect(a.request('room.kick', { room, user: mia })).rejects.toMatchObject({ code: 'forbidden' }); // admin vs admin
    await expect(a.request('room.kick', { room, user: max })).rejects.toMatchObject({ code: 'item-not-found' });

    // The sole owner cannot step down; after promoting another owner it can.
    await expect(o.request('room.role', { room, user: olga, role: 'member' })).rejects.toMatchObject({ code: 'not-allowed' });
    await o.request('room.role', { room, user: adam, role: 'owner' });
    await expect(o.request('room.kick', { room, user: adam })).rejects.toMatchObject({ code: 'forbidden' }); // owner vs owner
    await o.request('room.role', { room, user: olga, role: 'member' });
    await a.request('room.kick', { room, user: olga });
    const members = await a.request<{ members: Array<{ user: string; role: string }> }>('room.members', { room });
    expect(members.members.map((x) => [x.user, x.role])).toEqual(
      [
        [adam, 'owner'],
        [mia, 'admin'],
      ].sort(),
    );
  });

  it('non-members can neither post, read history, list members nor see occupants', async () => {
    const [olga, eve] = await users('olga', 'eve');
    const o = await online(olga!);
    const e = await online(eve!);
    const room = await createRoom(o, 'private', true);
    await o.send(room, 'secret');
    await expect(e.send(room, 'hello?')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.request('history', { with: room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.request('room.members', { room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.request('room.occupants', { room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.request('typing', { to: room, state: 'composing' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.send('nosuch@conference.localhost', 'x')).rejects.toMatchObject({ code: 'item-not-found' });
    const open = await createRoom(o, 'open', false);
    await expect(e.send(open, 'not joined yet')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.request('history', { with: open })).rejects.toMatchObject({ code: 'forbidden' });
    expect(roomMessages(e, room)).toEqual([]);
  });

  it('occupants are the members with an online session', async () => {
    const [olga, ivan, pat] = await users('olga', 'ivan', 'pat');
    const o = await online(olga!);
    const i = await online(ivan!);
    const p = await online(pat!);
    const room = await createRoom(o, 'occ', false);
    await i.request('room.join', { room });
    await p.request('room.join', { room });
    await p.request('presence.set', { availability: 'away' });
    type Occ = { occupants: Array<{ user: string; role: string; presence: { state: string } }> };
    let occ = await o.request<Occ>('room.occupants', { room });
    expect(occ.occupants.map((x) => x.user).sort()).toEqual([olga, ivan, pat].sort());
    expect(occ.occupants.find((x) => x.user === pat)).toMatchObject({ role: 'member', presence: { state: 'away' } });
    expect(occ.occupants.find((x) => x.user === olga)).toMatchObject({ role: 'owner', presence: { state: 'available' } });

    await i.close();
    await until(() => !t.server.engine.sessions.isOnline(ivan!), 2000, 'ivan offline');
    occ = await o.request<Occ>('room.occupants', { room });
    expect(occ.occupants.map((x) => x.user).sort()).toEqual([olga, pat].sort());
    const members = await o.request<{ members: unknown[] }>('room.members', { room });
    expect(members.members).toHaveLength(3);
  });

  it('bans (XEP-0045 §9.1): the banned member is removed and kept out until the ban is lifted', async () => {
    const [olga, ivan, pat] = await users('olga', 'ivan', 'pat');
    const o = await online(olga!);
    const i = await online(ivan!);
    const p = await online(pat!);
    const room = await createRoom(o, 'banned', false);
    await i.request('room.join', { room });
    await p.request('room.join', { room });
    await expect(p.request('room.ban', { room, target: ivan })).rejects.toMatchObject({ code: 'forbidden' });
    await o.request('room.ban', { room, target: ivan, reason: 'spam' });
    const gone = await p.waitFor('room.member', (d) => d.user === ivan && d.role === null);
    expect(gone.data).toMatchObject({ room, by: olga, reason: 'spam', banned: true });
    await expect(i.request('room.join', { room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(i.send(room, 'let me in')).rejects.toMatchObject({ code: 'forbidden' });
    const bans = await o.request<{ bans: Array<{ target: string; by: string; reason: string | null }> }>('room.bans', { room });
    expect(bans.bans).toMatchObject([{ target: ivan, by: olga, reason: 'spam' }]);
    expect(await o.request('room.unban', { room, target: ivan })).toEqual({ lifted: true });
    expect(await o.request('room.unban', { room, target: ivan })).toEqual({ lifted: false });
    expect(await i.request('room.join', { room })).toEqual({ role: 'member' });
  });

  it('moderated rooms (XEP-0045 §8.3): a newcomer has no voice until a moderator gives it', async () => {
    const [olga, ivan] = await users('olga', 'ivan');
    const o = await online(olga!);
    const i = await online(ivan!);
    const room = await createRoom(o, 'moderated', false);
    await expect(i.request('room.configure', { room, moderated: true })).rejects.toMatchObject({ code: 'forbidden' });
    await o.request('room.configure', { room, moderated: true });
    await i.request('room.join', { room });
    type Occ = { occupants: Array<{ user: string; voice: boolean }> };
    expect((await o.request<Occ>('room.occupants', { room })).occupants.find((x) => x.user === ivan)).toMatchObject({ voice: false });
    await expect(i.send(room, 'may I?')).rejects.toMatchObject({ code: 'forbidden' });
    await o.request('room.voice', { room, user: ivan, voice: true });
    expect((await i.waitFor('room.member', (d) => d.user === ivan && d.voice === true)).data).toMatchObject({ role: 'member', by: olga });
    await i.send(room, 'thanks');
    await o.request('room.voice', { room, user: ivan, voice: false });
    await expect(i.send(room, 'again?')).rejects.toMatchObject({ code: 'forbidden' });
    await o.request('room.configure', { room, moderated: false });
    await i.send(room, 'unmoderated');
  });

  it('private messages between occupants (XEP-0045 §7.5) reach the member named, not stored', async () => {
    const [olga, ivan, zed] = await users('olga', 'ivan', 'zed');
    const o = await online(olga!);
    const i = await online(ivan!);
    const z = await online(zed!);
    const room = await createRoom(o, 'whisper', false);
    await i.request('room.join', { room });
    await o.request('room.private', { room, user: ivan, body: 'psst' });
    const got = await i.waitFor('room.private', (d) => d.room === room);
    expect(got.data).toMatchObject({ room, from: olga, to: ivan, body: 'psst' });
    await expect(z.request('room.private', { room, user: ivan, body: 'x' })).rejects.toMatchObject({ code: 'not-acceptable' });
    await expect(o.request('room.private', { room, user: zed, body: 'x' })).rejects.toMatchObject({ code: 'item-not-found' });
    const h = await i.request<{ messages: unknown[] }>('history', { with: olga });
    expect(h.messages).toEqual([]);
  });

  it('history pages backwards and forwards through the room conversation', async () => {
    const [olga, ivan] = await users('olga', 'ivan');
    const o = await online(olga!);
    const i = await online(ivan!);
    const room = await createRoom(o, 'paged', false);
    await i.request('room.join', { room });
    for (let k = 0; k < 12; k++) await (k % 2 === 0 ? o : i).send(room, `m${k}`);
    type Page = { messages: Array<{ body: string; seq: number; from: string; type: string }>; more: boolean };

    const last = await i.request<Page>('history', { with: room, limit: 5 });
    expect(last.messages.map((m) => m.body)).toEqual(['m7', 'm8', 'm9', 'm10', 'm11']);
    expect(last.more).toBe(true);
    expect(last.messages[0]).toMatchObject({ type: 'groupchat', from: ivan });
    const mid = await i.request<Page>('history', { with: room, before: last.messages[0]!.seq, limit: 5 });
    expect(mid.messages.map((m) => m.body)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(mid.more).toBe(true);
    const first = await i.request<Page>('history', { with: room, before: mid.messages[0]!.seq, limit: 5 });
    expect(first.messages.map((m) => m.body)).toEqual(['m0', 'm1']);
    expect(first.more).toBe(false);
    const fwd = await o.request<Page>('history', { with: room, after: first.messages[1]!.seq, limit: 4 });
    expect(fwd.messages.map((m) => m.body)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(fwd.more).toBe(true);
    const tail = await o.request<Page>('history', { with: room, after: fwd.messages[3]!.seq, limit: 50 });
    expect(tail.messages.map((m) => m.body)).toEqual(['m6', 'm7', 'm8', 'm9', 'm10', 'm11']);
    expect(tail.more).toBe(false);
  });

  it('a room of 50 members: every session gets every message once, all in the same order', async () => {
    const names = Array.from({ length: 50 }, (_, k) => `p${k}`);
    const addrs = await users(...names);
    const clients = await Promise.all(addrs.map((a) => online(a, 'main')));
    const owner = clients[0]!;
    const room = await createRoom(owner, 'town-hall', false);
    await Promise.all(clients.slice(1).map((c) => c.request('room.join', { room })));
    await until(() => owner.received('room.member').length >= 49, 5000, 'joins announced');
    // Two senders have a second session, which must get their own messages (carbons) but only once.
    const extra = await Promise.all([online(addrs[1]!, 'second'), online(addrs[2]!, 'second')]);
    const senders = clients.slice(1, 9);
    const perSender = 10;

    const acks = await Promise.all(
      senders.map(async (c, s) => {
        const out = [];
        for (let k = 0; k < perSender; k++) out.push(c.send(room, `s${s}-m${k}`));
        return Promise.all(out);
      }),
    );
    const total = senders.length * perSender;
    const allSeqs = acks.flat().map((a) => a.seq).sort((x, y) => x - y);
    expect(new Set(allSeqs).size).toBe(total);

    const everyone = [...clients, ...extra];
    const expected = (c: ParleyClient): number[] => {
      if (!senders.includes(c)) return allSeqs;
      const own = new Set(acks[senders.indexOf(c)]!.map((a) => a.seq));
      return allSeqs.filter((s) => !own.has(s));
    };
    await until(() => everyone.every((c) => roomMessages(c, room).length >= expected(c).length), 10_000, 'all messages delivered');
    await drain(...everyone);
    // The order every session sees: one fan-out puts a message on all sessions at once, so all sessions share
    // it. (Across senders it need not be seq order, docs/protocol.md §6, so seq only proves exactly-once.)
    const reference = roomMessages(clients[20]!, room).map((m) => m.seq as number);
    expect([...reference].sort((x, y) => x - y)).toEqual(allSeqs);
    for (const c of everyone) {
      const seqs = roomMessages(c, room).map((m) => m.seq as number);
      const want = new Set(expected(c));
      // Exactly once each; the sending session never gets its own message back; same relative order as everyone.
      expect([...seqs].sort((x, y) => x - y)).toEqual(expected(c));
      expect(seqs).toEqual(reference.filter((s) => want.has(s)));
    }
    // Per sender, messages arrive in the order sent.
    const seen = roomMessages(clients[20]!, room).map((m) => m.body as string);
    for (let s = 0; s < senders.length; s++) {
      expect(seen.filter((b) => b.startsWith(`s${s}-`))).toEqual(Array.from({ length: perSender }, (_, k) => `s${s}-m${k}`));
    }
    // The second sessions of senders got their own user's messages with the sending resource in `from`.
    const carbon = roomMessages(extra[0]!, room).find((m) => m.body === 's0-m0');
    expect(carbon).toMatchObject({ from: `${addrs[1]}/main`, to: room, type: 'groupchat' });
  });
});
