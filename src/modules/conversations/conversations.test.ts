/**
 * The conversations module on the memory store (its area is the SQLite code on an in-memory database): the list
 * fed by the log consumer, unread arithmetic around read positions that never move back, mentions, the update
 * pushed to every session of the reader, rooms left, rooms destroyed and accounts removed.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import type { Store } from '../../ports/store.js';
import { consumerCaughtUp, moduleFixture, recordingSession, runOp, TestXmppClient, type ModuleFixture, type Recording } from '../testing.js';
import { conversations, previewOf } from './index.js';
import type { ConversationPage, ConversationSummary } from './sqlite.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';

const open = (engine: Engine, user: string, resource = 'desk'): Promise<Recording> => recordingSession(engine, user, resource);

/** Waits until the module's consumer has applied everything in the log. */
const caughtUp = (store: Store): Promise<void> => consumerCaughtUp(store, 'conversations.log');

type Fixture = ModuleFixture & {
  list(user: string, params?: Record<string, unknown>): Promise<ConversationPage>;
  one(user: string, peer: string): Promise<ConversationSummary | undefined>;
  send(from: Recording, to: string, body: string): Promise<{ id: string; seq: number }>;
};

async function fixture(): Promise<Fixture> {
  const f = await moduleFixture([conversations], { users: [A, B, C] });
  f.host.start();
  const list = async (user: string, params: Record<string, unknown> = {}): Promise<ConversationPage> => {
    await caughtUp(f.store);
    return (await runOp(f.host, f.engine, user, 'conversations', params)) as ConversationPage;
  };
  return {
    ...f,
    list,
    async one(user, peer) {
      return (await list(user)).conversations.find((c) => c.with === peer);
    },
    async send(from, to, body) {
      const ack = await f.engine.messages.send(from.session, parseAddress(to), body, null, Date.now());
      return { id: ack.id, seq: ack.seq };
    },
  };
}

const read = (f: Fixture, user: string, params: Record<string, unknown>) => runOp(f.host, f.engine, user, 'conversation.read', params) as Promise<ConversationSummary & { position: number }>;

describe('conversations module', () => {
  it('lists 1:1 conversations newest first with the last message, unread counts and read positions', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const c = await open(f.engine, C);
    await f.send(a, B, 'first to b');
    await f.send(c, B, 'hello b, from c');
    const m3 = await f.send(c, B, 'are you\n\nthere?');
    const forB = await f.list(B);
    expect(forB.conversations.map((x) => [x.with, x.kind, x.unread, x.readUpTo])).toEqual([
      [C, 'chat', 2, 0],
      [A, 'chat', 1, 0],
    ]);
    expect(forB.conversations[0]!.last).toEqual({ id: m3.id, seq: m3.seq, ts: expect.any(Number) as number, from: C, preview: 'are you there?' });
    expect(forB.position).toBeGreaterThanOrEqual(m3.seq);
    expect(forB.next).toBeNull();
    // The senders have read their own conversations: nothing unread for them.
    expect(await f.one(C, B)).toMatchObject({ unread: 0, readUpTo: m3.seq, mentions: 0 });
    // Paging: one per page, `next` goes on.
    const p1 = await f.list(B, { limit: 1 });
    expect(p1.conversations.map((x) => x.with)).toEqual([C]);
    const p2 = await f.list(B, { limit: 1, before: p1.next });
    expect(p2.conversations.map((x) => x.with)).toEqual([A]);
    expect(p2.next).toBeNull();
  });

  it('counts only what lies after the read position, which never moves back', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const sent = [];
    for (let i = 1; i <= 5; i++) sent.push(await f.send(a, B, `message ${i}`));
    await f.list(B);
    // B reads up to the second message: three remain.
    const r = await read(f, B, { with: A, upTo: sent[1]!.seq });
    expect(r).toMatchObject({ with: A, unread: 3, readUpTo: sent[1]!.seq });
    // An older position changes nothing.
    expect(await read(f, B, { with: A, upTo: sent[0]!.seq })).toMatchObject({ unread: 3, readUpTo: sent[1]!.seq });
    // A read receipt for the fourth (JSON message.receipt read, as XEP-0333 displayed is too) leaves one.
    const b = await open(f.engine, B);
    await f.engine.messages.receipt(b.session, sent[3]!.id, 'read', Date.now());
    expect(await f.one(B, A)).toMatchObject({ unread: 1, readUpTo: sent[3]!.seq });
    // A delivery receipt is not reading.
    await f.engine.messages.receipt(b.session, sent[4]!.id, 'delivered', Date.now());
    expect(await f.one(B, A)).toMatchObject({ unread: 1 });
    // A retracted message no longer counts, and the last message shown is the one before it.
    await f.engine.messages.retract(a.session, sent[4]!.id, null, Date.now());
    expect(await f.one(B, A)).toMatchObject({ unread: 0, last: { id: sent[3]!.id } });
    // B answering reads everything before the answer.
    const more = await f.send(a, B, 'and another');
    expect(await f.one(B, A)).toMatchObject({ unread: 1 });
    const answer = await f.send(b, A, 'got it');
    expect(await f.one(B, A)).toMatchObject({ unread: 0, readUpTo: answer.seq });
    expect(more.seq).toBeLessThan(answer.seq);
    // Without upTo: everything up to the newest message.
    await f.send(a, B, 'x');
    await f.send(a, B, 'y');
    await caughtUp(f.store);
    expect(await read(f, B, { with: A })).toMatchObject({ unread: 0 });
  });

  it('takes a read of a message the list has not reached yet (a first message just in)', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const m = await f.send(a, B, 'brand new');
    // Straight after the send: the consumer runs a moment later (coalesced), so the position is ahead of it.
    const r = await read(f, B, { with: A, upTo: m.seq });
    expect(r.readUpTo).toBe(m.seq);
    expect(await f.one(B, A)).toMatchObject({ unread: 0, readUpTo: m.seq, last: { id: m.id } });
  });

  it('pushes the new counts to every session of the reader when it reads on one of them', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const phone = await open(f.engine, B, 'phone');
    const desk = await open(f.engine, B, 'desk');
    const m = await f.send(a, B, 'hi');
    await f.send(a, B, 'there');
    await f.list(B);
    phone.events.length = 0;
    desk.events.length = 0;
    await read(f, B, { with: A, upTo: m.seq });
    for (const s of [phone, desk]) {
      const ev = s.events.filter((e) => e.ev === 'conversations.update');
      expect(ev.map((e) => e.data)).toEqual([expect.objectContaining({ with: A, unread: 1, readUpTo: m.seq })]);
    }
    // A receipt sent from the phone: the desk hears that nothing is unread any more, from the consumer.
    desk.events.length = 0;
    const last = (await f.one(B, A))!.last!;
    await f.engine.messages.receipt(phone.session, last.id, 'read', Date.now());
    await caughtUp(f.store);
    await new Promise((r) => setTimeout(r, 50));
    expect(desk.events.filter((e) => e.ev === 'conversations.update').map((e) => e.data)).toEqual([expect.objectContaining({ with: A, unread: 0, readUpTo: last.seq })]);
  });

  it('counts room messages and mentions after the read position, and pushes a mention', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const room = (await f.engine.rooms.create(A, 'Board', 'board', true)).address;
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    await f.engine.rooms.invite(room, A, C);
    await f.engine.rooms.join(room, C);
    const b = await open(f.engine, B);
    await f.send(a, room, 'morning all');
    const m2 = await f.send(a, room, '@b can you review?');
    const m3 = await f.send(a, room, 'c and b: lunch?');
    await f.send(a, room, 'bobby is not b-ish');
    const forB = await f.one(B, room);
    expect(forB).toMatchObject({ kind: 'room', unread: 4, mentions: 2, mentionIds: [m3.id, m2.id], left: false });
    expect(await f.one(C, room)).toMatchObject({ unread: 4, mentions: 1, mentionIds: [m3.id] });
    expect(await f.one(A, room)).toMatchObject({ unread: 0, mentions: 0 });
    expect(b.events.filter((e) => e.ev === 'conversations.update').at(-1)?.data).toMatchObject({ with: room, mentions: 2 });
    // An explicit read marker up to the first mention leaves the second.
    expect(await read(f, B, { with: room, upTo: m2.seq })).toMatchObject({ unread: 2, mentions: 1, mentionIds: [m3.id] });
    // A read receipt for a room message moves the room's position too.
    await f.engine.messages.receipt(b.session, m3.id, 'read', Date.now());
    expect(await f.one(B, room)).toMatchObject({ unread: 1, mentions: 0 });
  });

  it('moves read positions with XEP-0333 displayed markers from XMPP clients, in chats and in rooms', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const room = (await f.engine.rooms.create(A, 'Board', 'board', true)).address;
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    const chat1 = await f.send(a, B, 'one');
    await f.send(a, B, 'two');
    const r1 = await f.send(a, room, 'room one, b');
    await f.send(a, room, 'room two');
    const x = await TestXmppClient.login(f.engine, f.host.xmpp, 'b');
    // A 1:1 marker names the id the client saw (the server id when the sender gave none).
    x.send(`<message to='${A}' type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='${chat1.id}'/></message>`);
    // In a room (XEP-0045 §7.2 entered first), the marker names the room's stanza-id.
    const mark = x.mark;
    x.send(`<presence to='${room}/b'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await x.waitFor(/status code="110"/, mark);
    x.send(`<message to='${room}' type='groupchat'><displayed xmlns='urn:xmpp:chat-markers:0' id='${r1.id}'/></message>`);
    // A marker for no known message changes nothing and ends nothing.
    x.send(`<message to='${room}' type='groupchat'><displayed xmlns='urn:xmpp:chat-markers:0' id='nonsense'/></message>`);
    for (let i = 0; i < 100 && (await f.one(B, room))?.readUpTo !== r1.seq; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await f.one(B, A)).toMatchObject({ unread: 1, readUpTo: chat1.seq });
    expect(await f.one(B, room)).toMatchObject({ unread: 1, mentions: 0, readUpTo: r1.seq });
    x.close();
  });

  it('keeps the past of a room left, with no new unread; a room destroyed leaves the list', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const room = (await f.engine.rooms.create(A, 'Board', 'board', true)).address;
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    // Joining lists the room with nothing unread.
    expect(await f.one(B, room)).toMatchObject({ unread: 0, last: null, left: false });
    const one = await f.send(a, room, 'one');
    await caughtUp(f.store);
    await f.engine.rooms.leave(room, B);
    await f.send(a, room, 'two, after b left');
    await f.send(a, room, 'b? three');
    const left = await f.one(B, room);
    // The newest message up to the leaving, how the user left, and no way back in (members-only, not invited).
    expect(left).toMatchObject({ kind: 'room', left: true, unread: 1, mentions: 0, last: { id: one.id }, departure: { how: 'left', by: null, reason: null }, rejoin: false });
    // Reading a room one is not in is refused; an address that is nobody's keeps nothing.
    await expect(read(f, B, { with: room })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(read(f, C, { with: room })).rejects.toMatchObject({ code: 'forbidden' });
    expect(await read(f, B, { with: `nowhere@${room.split('@')[1]!}` })).toMatchObject({ unread: 0, readUpTo: 0, last: null });
    // Joining again: listed again, with what was said meanwhile not counted as unread.
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    expect(await f.one(B, room)).toMatchObject({ left: false, unread: 0 });
    await f.engine.rooms.destroy(room, A);
    expect(await f.one(B, room)).toBeUndefined();
    expect(await f.one(A, room)).toBeUndefined();
  });

  it('a room left stays readable up to the leaving, says why it was left, offers a rejoin when allowed, and can be removed', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const b = await open(f.engine, B);
    const c = await open(f.engine, C);
    // An open room: anyone may join it.
    const room = (await f.engine.rooms.create(A, 'Lobby', 'lobby', false)).address;
    await f.engine.rooms.join(room, B);
    await f.engine.rooms.join(room, C);
    const before = await f.send(a, room, 'before anyone left');
    await caughtUp(f.store);
    b.events.length = 0;
    await f.engine.rooms.leave(room, B);
    // Every device of the user hears that the room was left (and may be joined again).
    expect(b.events.filter((e) => e.ev === 'conversations.update').map((e) => e.data)).toEqual([expect.objectContaining({ with: room, left: true, rejoin: true, departure: { how: 'left', by: null, reason: null } })]);
    const after = await f.send(a, room, 'after b left');
    // History up to the leaving, not after it; a room never joined stays closed.
    const history = await f.engine.history(B, { with: room });
    expect(history.messages.map((m) => m.id)).toEqual([before.id]);
    expect((await f.engine.history(A, { with: room })).messages.map((m) => m.id)).toEqual([before.id, after.id]);
    const outsider = 'nobody@example.com';
    await expect(f.engine.history(outsider, { with: room })).rejects.toMatchObject({ code: 'forbidden' });
    // Removed by a moderator, with a reason: said, and rejoin offered (the room is open, the user not banned).
    await f.engine.rooms.kick(room, A, C, 'off topic');
    expect(await f.one(C, room)).toMatchObject({ left: true, departure: { how: 'removed', by: A, reason: 'off topic' }, rejoin: true });
    // Back in, then banned: said, and no rejoin.
    await f.engine.rooms.join(room, C);
    expect(await f.one(C, room)).toMatchObject({ left: false, departure: null });
    await f.engine.rooms.moderation.ban(room, A, C, 'spam');
    expect(await f.one(C, room)).toMatchObject({ left: true, departure: { how: 'banned', by: A, reason: 'spam' }, rejoin: false });
    expect((await f.engine.history(C, { with: room })).messages.length).toBeGreaterThan(0);
    // Removed from the list: gone on every device, and its history with it.
    c.events.length = 0;
    expect(await runOp(f.host, f.engine, C, 'conversation.remove', { with: room })).toEqual({ removed: room });
    expect(c.events.filter((e) => e.ev === 'conversations.removed').map((e) => e.data)).toEqual([{ with: room }]);
    expect(await f.one(C, room)).toBeUndefined();
    await expect(f.engine.history(C, { with: room })).rejects.toMatchObject({ code: 'forbidden' });
    // Only a room left can be removed; what is not listed is not found.
    await expect(runOp(f.host, f.engine, A, 'conversation.remove', { with: room })).rejects.toMatchObject({ code: 'not-allowed' });
    await expect(runOp(f.host, f.engine, C, 'conversation.remove', { with: room })).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(runOp(f.host, f.engine, C, 'conversation.remove', {})).rejects.toMatchObject({ code: 'bad-request' });
    // Rejoining the room left lists it as before, with the messages since not unread.
    await f.engine.rooms.join(room, B);
    expect(await f.one(B, room)).toMatchObject({ left: false, departure: null, rejoin: false, unread: 0 });
  });

  it('drops a removed account\'s conversations, and others\' with it', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const c = await open(f.engine, C);
    await f.send(a, B, 'to b');
    await f.send(c, B, 'c to b');
    await f.send(a, C, 'a to c');
    await f.list(B);
    await f.engine.admin.removeUser(B);
    expect((await f.list(A)).conversations.map((x) => x.with)).toEqual([C]);
    expect((await f.list(C)).conversations.map((x) => x.with)).toEqual([A]);
    // Created again, the account starts with nothing.
    await f.engine.admin.addUser(B, 'secret-pw', false);
    expect((await f.list(B)).conversations).toEqual([]);
  });

  it('pages through conversations by their newest message, rooms without messages on the last page', async () => {
    const users = Array.from({ length: 5 }, (_, i) => `p${i}@example.com`);
    const f = await moduleFixture([conversations], { users: [A, ...users] });
    f.host.start();
    for (const u of users) {
      const s = await open(f.engine, u);
      await f.engine.messages.send(s.session, parseAddress(A), `from ${u}`, null, Date.now());
    }
    const quiet1 = (await f.engine.rooms.create(A, 'Quiet one', 'quiet1', true)).address;
    const quiet2 = (await f.engine.rooms.create(A, 'Quiet two', 'quiet2', true)).address;
    await caughtUp(f.store);
    const seen: string[] = [];
    let before: number | null = null;
    for (let i = 0; i < 10; i++) {
      const p = (await runOp(f.host, f.engine, A, 'conversations', { limit: 2, ...(before === null ? {} : { before }) })) as ConversationPage;
      seen.push(...p.conversations.map((c) => c.with));
      if (p.next === null) break;
      before = p.next;
    }
    expect(seen).toEqual([...[...users].reverse(), quiet1, quiet2]);
    // A limit above the configured page size is lowered to it.
    const f2 = await moduleFixture([conversations], { users: [A, ...users], options: { conversations: { pageSize: 3 } } });
    f2.host.start();
    for (const u of users) await f2.engine.messages.send((await open(f2.engine, u)).session, parseAddress(A), 'hi', null, Date.now());
    await caughtUp(f2.store);
    const capped = (await runOp(f2.host, f2.engine, A, 'conversations', { limit: 50 })) as ConversationPage;
    expect(capped.conversations).toHaveLength(3);
    expect(capped.next).not.toBeNull();
  });

  it('refuses bad parameters with bad-request', async () => {
    const f = await fixture();
    await expect(runOp(f.host, f.engine, A, 'conversations', { limit: 0 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(runOp(f.host, f.engine, A, 'conversations', { since: 1 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(read(f, A, { with: B, upTo: -1 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(read(f, A, { with: 'not an address' })).rejects.toMatchObject({ code: 'jid-malformed' });
    // Reading a conversation that has no message keeps nothing and lists nothing.
    expect(await read(f, A, { with: 'nobody@example.com' })).toMatchObject({ with: 'nobody@example.com', kind: 'chat', unread: 0, readUpTo: 0, last: null });
    expect((await f.list(A)).conversations).toEqual([]);
  });

  it('makes one-line previews', () => {
    expect(previewOf('  a\n\tb  ')).toBe('a b');
    expect(previewOf('x'.repeat(200))).toBe(`${'x'.repeat(120)}…`);
  });
});
