/**
 * The engine's room moderation (XEP-0045 §8-9) and private messages between occupants (§7.5), with the memory
 * store and recording sinks: the rules hold whatever front door asks.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../core/address.js';
import { createMemoryStore } from '../storage/memory/index.js';
import type { Engine } from './engine.js';
import type { Outbound } from './outbound.js';
import type { Session, Sink } from './session.js';
import { testEngine, testPresence } from './test-engine.js';

const ROOM = 'team@conference.example.com';
const [A, B, C, D] = ['a@example.com', 'b@example.com', 'c@example.com', 'd@other.test'];

class RecordingSink implements Sink {
  readonly got: Outbound[] = [];
  send(out: Outbound): void {
    this.got.push(out);
  }
  close(): void {}
  events(ev: string): Array<Record<string, unknown>> {
    return this.got.filter((o) => o.event.ev === ev).map((o) => o.event.data);
  }
}

async function open(engine: Engine, user: string): Promise<{ s: Session; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const { session, position } = await engine.openSession(user, 'r', sink, { ...testPresence });
  await engine.catchUp(session, null, position);
  return { s: session, sink };
}

/** a owns an open room that b and c joined; all three online. */
async function setup(): Promise<{ e: Engine; a: Awaited<ReturnType<typeof open>>; b: Awaited<ReturnType<typeof open>>; c: Awaited<ReturnType<typeof open>> }> {
  const { engine: e } = await testEngine([A, B, C]);
  await e.rooms.create(A, 'Team', 'team', false);
  await e.rooms.join(ROOM, B);
  await e.rooms.join(ROOM, C);
  return { e, a: await open(e, A), b: await open(e, B), c: await open(e, C) };
}

const send = (e: Engine, s: Session, body: string): Promise<unknown> => e.messages.send(s, parseAddress(ROOM), body, null, 0);

describe('room moderation (XEP-0045 §8-9)', () => {
  it('a ban removes the member, tells the room, keeps them out until lifted; admins cannot ban owners', async () => {
    const { e, b, c } = await setup();
    await e.rooms.setRole(ROOM, A, B, 'admin');
    await expect(e.rooms.moderation.ban(ROOM, B, A, null)).rejects.toMatchObject({ code: 'not-allowed' });
    await expect(e.rooms.moderation.ban(ROOM, C, B, null)).rejects.toMatchObject({ code: 'forbidden' });
    await e.rooms.moderation.ban(ROOM, B, C, 'spam');
    expect(c.sink.events('room.member')).toContainEqual({ room: ROOM, user: C, role: null, by: B, reason: 'spam', banned: true });
    expect(b.sink.events('room.member')).toContainEqual(expect.objectContaining({ user: C, banned: true }));
    expect(await e.rooms.isMember(ROOM, C)).toBe(false);
    await expect(e.rooms.join(ROOM, C)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(send(e, c.s, 'hi')).rejects.toMatchObject({ code: 'forbidden' });
    expect((await e.rooms.moderation.bans(ROOM, A)).map((x) => [x.target, x.by, x.reason])).toEqual([[C, B, 'spam']]);
    await expect(e.rooms.moderation.bans(ROOM, C)).rejects.toMatchObject({ code: 'forbidden' });
    expect(await e.rooms.moderation.unban(ROOM, B, C)).toBe(true);
    expect(await e.rooms.join(ROOM, C)).toBe('member');
  });

  it('a domain ban keeps out everyone of it', async () => {
    const store = createMemoryStore();
    await store.domains.add('other.test', 0);
    const { engine: e } = await testEngine([A, D], { store });
    await e.rooms.create(A, 'Team', 'team', false);
    await e.rooms.join(ROOM, D);
    // A ban of the caller's own domain would name the caller: not-allowed.
    await expect(e.rooms.moderation.ban(ROOM, A, 'example.com', null)).rejects.toMatchObject({ code: 'not-allowed' });
    await e.rooms.moderation.ban(ROOM, A, 'other.test', null);
    expect(await e.rooms.isMember(ROOM, D)).toBe(false);
    await expect(e.rooms.join(ROOM, D)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('in a moderated room a newcomer is a visitor: the engine refuses its room messages until it has voice', async () => {
    const { engine: e } = await testEngine([A, B, C]);
    await e.rooms.create(A, 'Team', 'team', false);
    await expect(e.rooms.moderation.setModerated(ROOM, B, true)).rejects.toMatchObject({ code: 'forbidden' });
    await e.rooms.moderation.setModerated(ROOM, A, true);
    await e.rooms.join(ROOM, B);
    await e.rooms.invite(ROOM, A, C);
    await e.rooms.join(ROOM, C);
    const b = await open(e, B);
    const c = await open(e, C);
    expect(await e.rooms.moderation.hasVoice(ROOM, B)).toBe(false);
    expect(await e.rooms.moderation.hasVoice(ROOM, C)).toBe(true); // invited: a member, so a participant
    await expect(send(e, b.s, 'may I?')).rejects.toMatchObject({ code: 'forbidden' });
    await send(e, c.s, 'invited may');
    await expect(e.rooms.moderation.setVoice(ROOM, C, B, true)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(e.rooms.moderation.setVoice(ROOM, A, A, false)).rejects.toMatchObject({ code: 'not-allowed' });
    await e.rooms.moderation.setVoice(ROOM, A, B, true);
    expect(b.sink.events('room.member')).toContainEqual({ room: ROOM, user: B, role: 'member', by: A, reason: null, voice: true });
    await send(e, b.s, 'thanks');
    await e.rooms.moderation.setVoice(ROOM, A, B, false);
    await expect(send(e, b.s, 'again')).rejects.toMatchObject({ code: 'forbidden' });
    // Unmoderated again: everyone speaks.
    await e.rooms.moderation.setModerated(ROOM, A, false);
    await send(e, b.s, 'free');
  });
});

describe('the moderated setting (XEP-0045 §10.2.1)', () => {
  it('announces only the voices it changes, then room.configured to every member', async () => {
    const { e, a, b, c } = await setup();
    await e.rooms.moderation.setModerated(ROOM, A, true);
    // b and c joined before: participants stay participants.
    expect(a.sink.events('room.member')).toEqual([]);
    expect(c.sink.events('room.configured')).toEqual([{ room: ROOM, by: A, moderated: true }]);
    await e.rooms.moderation.setVoice(ROOM, A, B, false);
    a.sink.got.length = 0;
    await e.rooms.moderation.setModerated(ROOM, A, false);
    expect(a.sink.events('room.member')).toEqual([{ room: ROOM, user: B, role: 'member', by: A, reason: null, voice: true }]);
    expect(b.sink.events('room.configured')).toContainEqual({ room: ROOM, by: A, moderated: false });
    expect(await e.rooms.moderation.hasVoice(ROOM, B)).toBe(true);
    a.sink.got.length = 0;
    await e.rooms.moderation.setModerated(ROOM, A, true);
    expect(a.sink.events('room.member')).toEqual([{ room: ROOM, user: B, role: 'member', by: A, reason: null, voice: false }]);
    expect(await e.rooms.moderation.hasVoice(ROOM, B)).toBe(false);
    // The same value again changes nothing and tells nobody.
    a.sink.got.length = 0;
    await e.rooms.moderation.setModerated(ROOM, A, true);
    expect(a.sink.got).toEqual([]);
  });
});

describe('private messages between occupants (XEP-0045 §7.5)', () => {
  it('go through the Router to the member named, from a member only, and are not stored', async () => {
    const { e, a, b } = await setup();
    await e.rooms.privateMessage(a.s, ROOM, { nick: 'b' }, { body: 'psst', type: 'chat', state: null, id: 'p1', xml: null, noCopies: false });
    expect(b.sink.events('room.private')).toEqual([{ room: ROOM, from: A, to: B, body: 'psst', type: 'chat', id: 'p1', fromResource: a.s.resource }]);
    expect(a.sink.events('room.private')).toEqual([]);
    await expect(e.rooms.privateMessage(a.s, ROOM, { nick: 'nobody' }, { body: 'x', type: 'chat', state: null, id: null, xml: null, noCopies: false })).rejects.toMatchObject({ code: 'item-not-found' });
    const outsider = await testEngine([A, B, 'z@example.com']);
    await outsider.engine.rooms.create(A, 'Team', 'team', false);
    const z = await open(outsider.engine, 'z@example.com');
    await expect(outsider.engine.rooms.privateMessage(z.s, ROOM, { nick: 'a' }, { body: 'x', type: 'chat', state: null, id: null, xml: null, noCopies: false })).rejects.toMatchObject({ code: 'not-acceptable' });
    expect((await e.history(B, { with: A, limit: 10 })).messages).toEqual([]);
  });

  it('carry their elements, go to the sender\'s other sessions unless it asked for none, and follow the block lists', async () => {
    const { e, a, b } = await setup();
    const sink = new RecordingSink();
    const { session: a2, position } = await e.openSession(A, 'r2', sink, { ...testPresence });
    await e.catchUp(a2, null, position);
    const xml = '<x xmlns="jabber:x:oob"><url>u</url></x>';
    await e.rooms.privateMessage(a.s, ROOM, { nick: 'b' }, { body: null, type: 'chat', state: null, id: 'p2', xml, noCopies: false });
    expect(b.sink.events('room.private')).toEqual([{ room: ROOM, from: A, to: B, body: null, type: 'chat', id: 'p2', xml, fromResource: 'r' }]);
    expect(sink.events('room.private')).toHaveLength(1);
    expect(a.sink.events('room.private')).toEqual([]);
    await e.rooms.privateMessage(a.s, ROOM, { nick: 'b' }, { body: 'quiet', type: 'chat', state: null, id: null, xml: null, noCopies: true });
    expect(sink.events('room.private')).toHaveLength(1);
    expect(b.sink.events('room.private')).toHaveLength(2);

    await e.blocks.block(B, [A]);
    await expect(e.rooms.privateMessage(a.s, ROOM, { nick: 'b' }, { body: 'x', type: 'chat', state: null, id: null, xml: null, noCopies: false })).rejects.toMatchObject({ code: 'service-unavailable' });
    await expect(e.rooms.privateMessage(b.s, ROOM, { nick: 'a' }, { body: 'x', type: 'chat', state: null, id: null, xml: null, noCopies: false })).rejects.toMatchObject({ code: 'not-acceptable' });
    expect(b.sink.events('room.private')).toHaveLength(2);
    expect(a.sink.events('room.private')).toEqual([]);
  });
});
