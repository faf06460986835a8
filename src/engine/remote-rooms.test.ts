/**
 * Occupants from a routed domain in Parley rooms (XEP-0045 over an in-memory route): entering (the others'
 * presence, self-presence with 110, the subject), the local members hearing of it, groupchat both ways with the
 * room's reflection to the remote sender, leaving, members-only rooms and invitations across the route, bans by
 * domain, a nick another member has, voice and the moderated setting's roles as presence to remote occupants, and
 * a remote occupant's no-store payload delivered live; availability changes (§7.7) both ways.
 */
import { describe, expect, it } from 'vitest';
import type { RoutedStanza } from './domain-routes.js';
import type { Engine } from './engine.js';
import type { ServerEvent } from './outbound.js';
import type { InboundStanza } from './remote-service.js';
import type { Session, Sink } from './session.js';
import { testEngine, testPresence } from './test-engine.js';
import { fakeRoute } from './test-routes.js';

const A = 'alice@example.com';
const ROOM = 'lounge@conference.example.com';
const RITA = 'rita@remote.test/phone';

function stanza(kind: InboundStanza['kind'], from: string, to: string, type: string | null, body: string | null = null, xml: string | null = null): InboundStanza {
  return { kind, from, to, type, id: null, body, xml, stanza: '', keep: null };
}

async function open(engine: Engine, user: string): Promise<{ session: Session; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const sink: Sink = { send: (o) => events.push(o.event), close: () => undefined };
  const { session, position } = await engine.openSession(user, 'r', sink, { ...testPresence });
  await engine.catchUp(session, null, position);
  events.length = 0;
  return { session, events };
}

const brief = (s: RoutedStanza) => `${s.kind} ${s.type ?? '-'} ${s.from} -> ${s.to}`;
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('remote occupants in Parley rooms', () => {
  it('enter, talk both ways, leave', async () => {
    const { engine } = await testEngine([A]);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'The Lounge', 'lounge', false);
    const { session, events } = await open(engine, A);
    await engine.occupy(session, ROOM, true, 'owner');
    route.take();
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null, null, '<x xmlns="http://jabber.org/protocol/muc"/>'));
    const entry = route.take();
    expect(entry.map(brief)).toEqual([`presence - ${ROOM}/alice -> ${RITA}`, `presence - ${ROOM}/rita -> ${RITA}`, `message groupchat ${ROOM} -> ${RITA}`]);
    expect(entry[0]!.xml).toContain('affiliation="owner" role="moderator" jid="alice@example.com"');
    expect(entry[1]!.xml).toContain('<status code="110"/>');
    expect(entry[2]!.xml).toBe('<subject>The Lounge</subject>');
    expect(events.find((e) => e.ev === 'room.occupant')).toMatchObject({ data: { room: ROOM, user: 'rita@remote.test', present: true } });
    expect(await engine.rooms.isMember(ROOM, 'rita@remote.test')).toBe(true);
    // A local user's listing shows the remote occupant as present.
    expect((await engine.rooms.occupants(ROOM, A)).map((o) => [o.user, (o.presence as { state: string }).state])).toContainEqual(['rita@remote.test', 'available']);

    // The remote occupant writes: stored, delivered to the members, reflected to the sender with the room's id.
    events.length = 0;
    await route.handle.deliver(stanza('message', RITA, ROOM, 'groupchat', 'hello lounge'));
    await settle();
    expect(events.find((e) => e.ev === 'message')).toMatchObject({ data: { from: RITA, to: ROOM, body: 'hello lounge', type: 'groupchat' } });
    const echo = route.take();
    expect(echo).toMatchObject([{ kind: 'message', type: 'groupchat', from: `${ROOM}/rita`, to: RITA, body: 'hello lounge' }]);
    expect(echo[0]!.xml).toMatch(/<stanza-id xmlns="urn:xmpp:sid:0" id="[^"]+" by="lounge@conference.example.com"\/>/);
    // A local member writes: the remote occupant gets it from room/alice.
    await engine.messages.send(session, { local: 'lounge', domain: 'conference.example.com', resource: null }, 'welcome rita', null, 0);
    await settle();
    expect(route.take()).toMatchObject([{ kind: 'message', type: 'groupchat', from: `${ROOM}/alice`, to: RITA, body: 'welcome rita' }]);
    expect((await engine.history(A, { with: ROOM })).messages.map((m) => m.body)).toEqual(['hello lounge', 'welcome rita']);

    // Private messages between a local and a remote occupant (§7.5), both ways; not stored.
    await engine.rooms.privateMessage(session, ROOM, { nick: 'rita' }, { body: 'psst', type: 'chat', state: null, id: 'pm1', xml: null, noCopies: false });
    const pm = route.take();
    expect(pm).toMatchObject([{ kind: 'message', type: 'chat', from: `${ROOM}/alice`, to: RITA, id: 'pm1', body: 'psst' }]);
    expect(pm[0]!.xml).toBe('<x xmlns="http://jabber.org/protocol/muc#user"/>');
    events.length = 0;
    await route.handle.deliver({ ...stanza('message', RITA, `${ROOM}/alice`, 'chat', 'psst back', '<active xmlns="http://jabber.org/protocol/chatstates"/>'), id: 'pm2' });
    expect(events.filter((e) => e.ev === 'room.private').map((e) => e.data)).toEqual([{ room: ROOM, from: 'rita@remote.test', to: A, body: 'psst back', type: 'chat', state: 'active', id: 'pm2' }]);
    await expect(route.handle.deliver(stanza('message', RITA, `${ROOM}/nobody`, 'chat', 'hello?'))).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(route.handle.deliver(stanza('message', 'eve@remote.test/x', `${ROOM}/alice`, 'chat', 'hi'))).rejects.toMatchObject({ code: 'not-acceptable' });

    // A payload delivered live only (XEP-0334 no-store) reaches the remote occupant too, without a stanza-id.
    const reaction = '<reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction>+</reaction></reactions>';
    await engine.messages.live(session, { local: 'lounge', domain: 'conference.example.com', resource: null }, reaction, 'groupchat', 'l1');
    expect(route.take()).toMatchObject([{ kind: 'message', type: 'groupchat', from: `${ROOM}/alice`, to: RITA, id: 'l1', body: null, xml: reaction }]);
    // The owner makes the room moderated: the remote occupant hears of the change (XEP-0045 §10.2.1, 104).
    await engine.rooms.moderation.setModerated(ROOM, A, true);
    expect(route.take()).toMatchObject([{ kind: 'message', type: 'groupchat', from: ROOM, to: RITA, xml: '<x xmlns="http://jabber.org/protocol/muc#user"><status code="104"/></x>' }]);
    await engine.rooms.moderation.setModerated(ROOM, A, false);
    route.take();

    // The local member leaves the live conversation: the remote occupant sees it.
    await engine.occupy(session, ROOM, false);
    expect(route.take().map(brief)).toEqual([`presence unavailable ${ROOM}/alice -> ${RITA}`]);
    await engine.occupy(session, ROOM, true, 'owner');
    route.take();
    // The remote occupant leaves: its own unavailable with 110, the members hear of it; membership stays.
    events.length = 0;
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, 'unavailable'));
    const exit = route.take();
    expect(exit.map(brief)).toEqual([`presence unavailable ${ROOM}/rita -> ${RITA}`]);
    expect(exit[0]!.xml).toContain('<status code="110"/>');
    expect(events.find((e) => e.ev === 'room.occupant')).toMatchObject({ data: { user: 'rita@remote.test', present: false } });
    // No longer an occupant: writing is refused (§7.4).
    await expect(route.handle.deliver(stanza('message', RITA, ROOM, 'groupchat', 'still here?'))).rejects.toMatchObject({ code: 'not-acceptable' });
    // Another entrant asks for one message of history (§7.2.14): it comes with its delay stamp before the subject.
    await route.handle.deliver(stanza('presence', 'tom@remote.test/pc', `${ROOM}/tom`, null, null, '<x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="1"/></x>'));
    const tom = route.take();
    expect(tom.map(brief)).toEqual([`presence - ${ROOM}/alice -> tom@remote.test/pc`, `presence - ${ROOM}/tom -> tom@remote.test/pc`, `message groupchat ${ROOM}/alice -> tom@remote.test/pc`, `message groupchat ${ROOM} -> tom@remote.test/pc`]);
    expect(tom[2]).toMatchObject({ body: 'welcome rita' });
    expect(tom[2]!.xml).toMatch(/^<delay xmlns="urn:xmpp:delay" from="lounge@conference.example.com" stamp="[^"]+"\/><stanza-id/);
  });

  it('members-only: refused without invitation, the invitation crosses the route, then the entry works', async () => {
    const { engine } = await testEngine([A]);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'Board', 'board', true);
    const board = 'board@conference.example.com';
    await expect(route.handle.deliver(stanza('presence', RITA, `${board}/rita`, null))).rejects.toMatchObject({ code: 'registration-required' });
    await engine.rooms.invite(board, A, 'rita@remote.test');
    const inv = route.take();
    expect(inv).toMatchObject([{ kind: 'message', from: board, to: 'rita@remote.test' }]);
    expect(inv[0]!.xml).toBe('<x xmlns="http://jabber.org/protocol/muc#user"><invite from="alice@example.com"/></x>');
    await route.handle.deliver(stanza('presence', RITA, `${board}/someone`, null));
    const self = route.take().find((s) => s.from === `${board}/rita`)!;
    // The nick is the address's local part: 210 says it is not the one asked for.
    expect(self.xml).toContain('<status code="110"/><status code="210"/>');
    // The room's disco#info is answered (§6.4); the occupant's self-ping too (XEP-0410), a stranger's is not.
    await route.handle.deliver({ ...stanza('iq', RITA, board, 'get', null, '<query xmlns="http://jabber.org/protocol/disco#info"/>'), id: 'd1' });
    const info = route.take();
    expect(info).toMatchObject([{ kind: 'iq', type: 'result', id: 'd1', from: board, to: RITA }]);
    expect(info[0]!.xml).toContain('<identity category="conference" type="text" name="Board"/>');
    expect(info[0]!.xml).toContain('<feature var="muc_membersonly"/>');
    await route.handle.deliver({ ...stanza('iq', RITA, `${board}/rita`, 'get', null, '<ping xmlns="urn:xmpp:ping"/>'), id: 'p1' });
    expect(route.take()).toMatchObject([{ kind: 'iq', type: 'result', id: 'p1', from: `${board}/rita` }]);
    await expect(route.handle.deliver({ ...stanza('iq', 'tom@remote.test/pc', `${board}/tom`, 'get', null, '<ping xmlns="urn:xmpp:ping"/>'), id: 'p2' })).rejects.toMatchObject({ code: 'not-acceptable' });
    await expect(route.handle.deliver({ ...stanza('iq', RITA, board, 'get', null, '<query xmlns="jabber:iq:version"/>'), id: 'v1' })).rejects.toMatchObject({ code: 'service-unavailable' });
    // A room that does not exist is not created by a remote user.
    await expect(route.handle.deliver(stanza('presence', RITA, 'nowhere@conference.example.com/rita', null))).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('a kick removes the remote occupant (307) and the others hear of it; a destroyed room tells it with <destroy/>', async () => {
    const { engine } = await testEngine([A]);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'The Lounge', 'lounge', false);
    const { session, events } = await open(engine, A);
    await engine.occupy(session, ROOM, true, 'owner');
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null));
    await route.handle.deliver(stanza('presence', 'tom@remote.test/pc', `${ROOM}/tom`, null));
    route.take();
    // §7.7: a presence change of one remote occupant reaches the other, with its show and status.
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null, null, '<show>away</show><status>brb</status>'));
    const change = route.take();
    expect(change.map(brief)).toEqual([`presence - ${ROOM}/rita -> ${RITA}`, `presence - ${ROOM}/rita -> tom@remote.test/pc`]);
    expect(change[1]!.xml).toMatch(/^<show>away<\/show><status>brb<\/status><x xmlns="http:\/\/jabber.org\/protocol\/muc#user">/);
    events.length = 0;
    await engine.rooms.kick(ROOM, A, 'rita@remote.test', 'off topic');
    const kicked = route.take();
    expect(kicked.map(brief)).toEqual([`presence unavailable ${ROOM}/rita -> ${RITA}`, `presence unavailable ${ROOM}/rita -> tom@remote.test/pc`]);
    expect(kicked[0]!.xml).toContain('<status code="307"/>');
    expect(events.find((e) => e.ev === 'room.occupant')).toMatchObject({ data: { user: 'rita@remote.test', present: false } });
    expect(await engine.rooms.isMember(ROOM, 'rita@remote.test')).toBe(false);
    await engine.rooms.destroy(ROOM, A, { reason: 'closing' });
    const gone = route.take();
    expect(gone.map(brief)).toEqual([`presence unavailable ${ROOM}/tom -> tom@remote.test/pc`]);
    expect(gone[0]!.xml).toContain('<destroy/>');
  });

  it('availability changes (§7.7) reach every occupant: a local one\'s through the route, a remote one\'s to the local members', async () => {
    const B = 'bob@example.com';
    const C = 'carol@example.com';
    const { engine } = await testEngine([A, B, C]);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'The Lounge', 'lounge', false);
    const alice = await open(engine, A);
    const bob = await open(engine, B);
    const carol = await open(engine, C);
    await engine.occupy(alice.session, ROOM, true, 'owner');
    await engine.rooms.join(ROOM, B);
    await engine.occupy(bob.session, ROOM, true, 'member');
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null));
    route.take();
    for (const x of [alice, bob, carol]) x.events.length = 0;

    // Local → remote and local: alice goes away in the room.
    await engine.roomPresence(alice.session, ROOM, { ...testPresence, availability: 'away', status: 'lunch' });
    const out = route.take();
    expect(out.map(brief)).toEqual([`presence - ${ROOM}/alice -> ${RITA}`]);
    expect(out[0]!.xml).toBe('<show>away</show><status>lunch</status><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator" jid="alice@example.com"/></x>');
    const shown = { ev: 'room.occupant', data: { room: ROOM, user: A, present: true, role: 'owner', presence: { state: 'away', status: 'lunch' } } };
    expect(bob.events).toMatchObject([shown]);
    expect(alice.events).toMatchObject([shown]);
    // Not a member: nothing.
    expect(carol.events).toEqual([]);

    // Remote → local: rita's change reaches the local members' sessions (and her own reflection, §7.7).
    for (const x of [alice, bob]) x.events.length = 0;
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null, null, '<show>dnd</show><status>in a call</status>'));
    expect(route.take().map(brief)).toEqual([`presence - ${ROOM}/rita -> ${RITA}`]);
    for (const x of [alice, bob]) {
      expect(x.events).toMatchObject([{ ev: 'room.occupant', data: { room: ROOM, user: 'rita@remote.test', present: true, role: 'member', presence: { state: 'dnd', status: 'in a call' } } }]);
    }
    expect(carol.events).toEqual([]);

    // A session that did not enter the room changes nothing there.
    await expect(engine.roomPresence(carol.session, ROOM, { ...testPresence, availability: 'away' })).rejects.toMatchObject({ code: 'not-acceptable' });
    expect(route.take()).toEqual([]);
  });

  it('a ban of the domain removes the occupant (301) and refuses it again; a taken nick is a conflict', async () => {
    const { engine } = await testEngine([A, 'rita@example.com']);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'The Lounge', 'lounge', false);
    await route.handle.deliver(stanza('presence', 'tom@remote.test/pc', `${ROOM}/tom`, null));
    route.take();
    await engine.rooms.moderation.ban(ROOM, A, 'remote.test', 'spam');
    const out = route.take();
    expect(out.map(brief)).toEqual([`presence unavailable ${ROOM}/tom -> tom@remote.test/pc`]);
    expect(out[0]!.xml).toContain('<status code="301"/>');
    await expect(route.handle.deliver(stanza('presence', 'tom@remote.test/pc', `${ROOM}/tom`, null))).rejects.toMatchObject({ code: 'forbidden' });
    await engine.rooms.join(ROOM, 'rita@example.com');
    await engine.rooms.moderation.unban(ROOM, A, 'remote.test');
    await expect(route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null))).rejects.toMatchObject({ code: 'conflict' });
  });
  it('voice changes and the moderated setting reach remote occupants as presence; a remote no-store payload is delivered live', async () => {
    const B = 'bob@example.com';
    const TOM = 'tom@remote.test/pc';
    const { engine } = await testEngine([A, B]);
    const route = fakeRoute(engine);
    await engine.rooms.create(A, 'The Lounge', 'lounge', false);
    await engine.rooms.join(ROOM, B);
    const { session, events } = await open(engine, A);
    await engine.occupy(session, ROOM, true, 'owner');
    const bob = await open(engine, B);
    await engine.occupy(bob.session, ROOM, true, 'member');
    await route.handle.deliver(stanza('presence', RITA, `${ROOM}/rita`, null));
    await route.handle.deliver(stanza('presence', TOM, `${ROOM}/tom`, null));
    await engine.rooms.moderation.setModerated(ROOM, A, true);
    route.take();
    events.length = 0;

    // XEP-0045 §8.4: a moderator takes a remote occupant's voice. It gets its own presence as a visitor with 110,
    // the other remote occupant the same without, and the local occupants hear of it as of a local member.
    await engine.rooms.moderation.setVoice(ROOM, A, 'rita@remote.test', false);
    const revoked = route.take();
    expect(revoked.map(brief)).toEqual([`presence - ${ROOM}/rita -> ${RITA}`, `presence - ${ROOM}/rita -> ${TOM}`]);
    expect(revoked[0]!.xml).toContain(`<item affiliation="member" role="visitor" jid="${RITA}"/><status code="110"/></x>`);
    expect(revoked[1]!.xml).toContain('<item affiliation="member" role="visitor" jid="rita@remote.test"/></x>');
    expect(events.find((e) => e.ev === 'room.member')).toMatchObject({ data: { room: ROOM, user: 'rita@remote.test', role: 'member', voice: false } });

    // XEP-0334 §4 from a visitor: refused (§7.4), nothing delivered.
    const reaction = '<reactions xmlns="urn:xmpp:reactions:0" id="x"><reaction>+</reaction></reactions>';
    const noStore = (from: string, id: string): InboundStanza => ({ ...stanza('message', from, ROOM, 'groupchat', null, `${reaction}<no-store xmlns="urn:xmpp:hints"/>`), id, live: reaction });
    await expect(route.handle.deliver(noStore(RITA, 'r1'))).rejects.toMatchObject({ code: 'forbidden' });
    expect(route.take()).toEqual([]);

    // §8.4 for a local occupant: the remote occupants see bob become a visitor.
    await engine.rooms.moderation.setVoice(ROOM, A, B, false);
    const bobOut = route.take();
    expect(bobOut.map(brief)).toEqual([`presence - ${ROOM}/bob -> ${RITA}`, `presence - ${ROOM}/bob -> ${TOM}`]);
    expect(bobOut[0]!.xml).toContain(`<item affiliation="member" role="visitor" jid="${B}"/></x>`);

    // The room made unmoderated: everyone has voice (§5.1), so rita and bob are re-announced as participants to
    // every remote occupant, then the room says its configuration changed (§10.2.1, 104).
    events.length = 0;
    await engine.rooms.moderation.setModerated(ROOM, A, false);
    const toggled = route.take();
    expect(toggled.map((s) => `${brief(s)} ${/role="(\w+)"/.exec(s.xml ?? '')?.[1] ?? ''}${s.xml?.includes('code="104"') ? ' 104' : ''}`).sort()).toEqual(
      [
        `presence - ${ROOM}/rita -> ${RITA} participant`,
        `presence - ${ROOM}/rita -> ${TOM} participant`,
        `presence - ${ROOM}/bob -> ${RITA} participant`,
        `presence - ${ROOM}/bob -> ${TOM} participant`,
        `message groupchat ${ROOM} -> ${RITA}  104`,
        `message groupchat ${ROOM} -> ${TOM}  104`,
      ].sort(),
    );
    expect(toggled.slice(-2).every((s) => s.kind === 'message')).toBe(true); // the roles first, then 104
    expect(events.filter((e) => e.ev === 'room.member').map((e) => (e.data as { user: string }).user).sort()).toEqual([B, 'rita@remote.test']);

    // Now with voice, rita's no-store payload reaches the local members live and every remote occupant, herself
    // included (the room's reflection, §7.4), without a stanza-id; nothing is stored.
    events.length = 0;
    bob.events.length = 0;
    await route.handle.deliver(noStore(RITA, 'r2'));
    const live = { from: RITA, to: ROOM, type: 'groupchat', xml: reaction, id: 'r2' };
    expect(events.filter((e) => e.ev === 'message.live').map((e) => e.data)).toEqual([live]);
    expect(bob.events.filter((e) => e.ev === 'message.live').map((e) => e.data)).toEqual([live]);
    const out = route.take();
    expect(out).toMatchObject([
      { kind: 'message', type: 'groupchat', from: `${ROOM}/rita`, to: RITA, id: 'r2', body: null, xml: reaction },
      { kind: 'message', type: 'groupchat', from: `${ROOM}/rita`, to: TOM, id: 'r2', body: null, xml: reaction },
    ]);
    expect((await engine.history(A, { with: ROOM })).messages).toEqual([]);
    // A body-less message without the hint and nothing worth storing (a chat state) is still not relayed.
    await route.handle.deliver(stanza('message', RITA, ROOM, 'groupchat', null, '<active xmlns="http://jabber.org/protocol/chatstates"/>'));
    expect(route.take()).toEqual([]);
  });
});
