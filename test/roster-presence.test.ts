/**
 * Rosters, the RFC 6121 subscription handshake and presence, driven end to end over real sockets.
 * Every test uses its own users, so tests do not see each other's rosters or presence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient, ParleyEvent } from '../client/index.js';
import { addGroupMember } from '../src/engine/admin-service.js';
import { drain, freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';

type Data = Record<string, unknown>;

let t: TestServer;
let counter = 0;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.close());

const users = (...names: string[]): Promise<string[]> => freshUsers(t, ...names);

const online = (address: string, resource = 'r', presence?: Data): Promise<ParleyClient> => onlineAt(t, address, resource, presence);


/** Roster pushes of one contact (or removals of it) received so far. */
function rosterPushes(c: ParleyClient, contact: string): Data[] {
  return c.received('roster').filter((d) => (d.item as Data | undefined)?.contact === contact || d.removed === contact);
}

/** Presence events about `user` received so far (not counting snapshots). */
function presencesOf(c: ParleyClient, user: string): Data[] {
  return c.received('presence').filter((d) => d.user === user);
}

function waitRoster(c: ParleyClient, contact: string, match: Data): Promise<ParleyEvent> {
  return c.waitFor('roster', (d) => {
    const item = d.item as Data | undefined;
    return item?.contact === contact && Object.entries(match).every(([k, v]) => JSON.stringify(item[k]) === JSON.stringify(v));
  });
}

/**
 * Waits for a presence event about `user` in `state`, received after the `from`-th event of the client
 * (default: any so far). On timeout the error lists what did arrive, which names the failing step.
 */
async function waitPresence(c: ParleyClient, user: string, state: string, extra: (d: Data) => boolean = () => true, from = 0): Promise<ParleyEvent> {
  const match = (e: ParleyEvent): boolean => e.ev === 'presence' && e.data.user === user && e.data.state === state && extra(e.data);
  try {
    await until(() => c.events.slice(from).some(match), 5000, `presence ${user} ${state}`);
  } catch {
    const got = c.events.slice(from).filter((e) => e.ev === 'presence' && e.data.user === user).map((e) => JSON.stringify(e.data));
    throw new Error(`no presence ${state} of ${user}; got:\n${got.join('\n')}`);
  }
  return c.events.slice(from).find(match)!;
}

async function rosterItem(c: ParleyClient, contact: string): Promise<Data | undefined> {
  const r = await c.request<{ items: Data[] }>('roster.get');
  return r.items.find((i) => i.contact === contact);
}

/** a subscribes to b and b approves: a then receives b's presence (subscription to, or both when mutual). */
async function subscribeApproved(a: ParleyClient, b: ParleyClient, aAddr: string, bAddr: string): Promise<void> {
  await a.request('roster.subscribe', { contact: bAddr });
  await b.waitFor('subscription', (d) => d.from === aAddr && d.action === 'subscribe');
  const r = await b.request<{ item: Data }>('roster.approve', { contact: aAddr });
  await waitRoster(a, bAddr, { subscription: r.item.subscription === 'both' ? 'both' : 'to', pendingOut: false });
}

describe('roster hygiene', () => {
  it('unsubscribing from or cancelling a stranger leaves no empty item in either roster', async () => {
    const [ida, jon] = await users('ida', 'jon');
    const i = await online(ida!, 'r');
    const j = await online(jon!, 'r');
    await i.request('roster.unsubscribe', { contact: jon });
    await i.request('roster.cancel', { contact: jon });
    const mine = await i.request<{ items: Array<{ contact: string }> }>('roster.get');
    const theirs = await j.request<{ items: Array<{ contact: string }> }>('roster.get');
    expect(mine.items.map((x) => x.contact)).not.toContain(jon);
    expect(theirs.items.map((x) => x.contact)).not.toContain(ida);
  });
});

describe('subscription handshake (RFC 6121 §3)', () => {
  it('subscribe → pending-in push → approve → both rosters on every session → presence flows one way', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a1 = await online(alice!, 'one');
    const a2 = await online(alice!, 'two');
    const b1 = await online(bob!, 'one', { availability: 'away', status: 'at the desk' });
    const b2 = await online(bob!, 'two', { availability: 'away', status: 'at the desk' });

    const sub = await a1.request<{ item: Data }>('roster.subscribe', { contact: bob });
    expect(sub.item).toMatchObject({ owner: alice, contact: bob, subscription: 'none', pendingOut: true, pendingIn: false });

    // The contact is asked on every session and sees a pending-in roster item there.
    for (const b of [b1, b2]) {
      const ev = await b.waitFor('subscription', (d) => d.from === alice);
      expect(ev.data).toEqual({ from: alice, action: 'subscribe' });
      await waitRoster(b, alice!, { subscription: 'none', pendingIn: true, pendingOut: false });
    }
    // The subscriber's own sessions get the pending-out push (RFC 6121 §3.1.2).
    for (const a of [a1, a2]) await waitRoster(a, bob!, { subscription: 'none', pendingOut: true });
    // Nothing flows yet: alice does not see bob.
    await expect(a1.request('presence.get', { user: bob })).rejects.toMatchObject({ code: 'forbidden' });

    const ok = await b2.request<{ item: Data }>('roster.approve', { contact: alice });
    expect(ok.item).toMatchObject({ owner: bob, contact: alice, subscription: 'from', pendingIn: false, pendingOut: false });

    for (const a of [a1, a2]) {
      await waitRoster(a, bob!, { subscription: 'to', pendingOut: false, pendingIn: false });
      await a.waitFor('subscription', (d) => d.from === bob && d.action === 'subscribed');
      // RFC 6121 §3.1.6: the subscriber now gets the contact's current presence.
      const p = await waitPresence(a, bob!, 'away');
      expect(p.data).toMatchObject({ status: 'at the desk', sessions: 2, lastSeen: null });
    }
    for (const b of [b1, b2]) await waitRoster(b, alice!, { subscription: 'from', pendingIn: false, pendingOut: false });

    expect(await rosterItem(a1, bob!)).toMatchObject({ subscription: 'to', pendingOut: false, pendingIn: false, shared: [] });
    expect(await rosterItem(b1, alice!)).toMatchObject({ subscription: 'from', pendingOut: false, pendingIn: false, shared: [] });
    expect(await a1.request('presence.get', { user: bob })).toMatchObject({ presence: { user: bob, state: 'away' } });

    // Presence goes one way only: bob's changes reach alice, alice's never reach bob.
    await b1.request('presence.set', { availability: 'chat' });
    for (const a of [a1, a2]) await waitPresence(a, bob!, 'chat');
    await a1.request('presence.set', { availability: 'dnd' });
    await waitPresence(a2, alice!, 'dnd'); // alice's other session sees her own aggregate
    await drain(b1, b2);
    expect(presencesOf(b1, alice!)).toEqual([]);
    expect(presencesOf(b2, alice!)).toEqual([]);
    await expect(b1.request('presence.get', { user: alice })).rejects.toMatchObject({ code: 'forbidden' });

    // The reverse direction makes it mutual: both.
    await b1.request('roster.subscribe', { contact: alice });
    await a2.waitFor('subscription', (d) => d.from === bob && d.action === 'subscribe');
    await waitRoster(a1, bob!, { subscription: 'to', pendingIn: true });
    await a2.request('roster.approve', { contact: bob });
    for (const a of [a1, a2]) await waitRoster(a, bob!, { subscription: 'both', pendingIn: false });
    for (const b of [b1, b2]) {
      await waitRoster(b, alice!, { subscription: 'both', pendingOut: false });
      await waitPresence(b, alice!, 'dnd');
    }
  });

  it('deny: the request is dropped on both sides and nothing flows', async () => {
    const [alice, carol] = await users('alice', 'carol');
    const a = await online(alice!, 'r');
    const c = await online(carol!, 'r');
    await a.request('roster.subscribe', { contact: carol });
    await c.waitFor('subscription', (d) => d.from === alice && d.action === 'subscribe');
    const denied = await c.request<{ item: Data }>('roster.deny', { contact: alice });
    expect(denied.item).toMatchObject({ subscription: 'none', pendingIn: false, pendingOut: false });
    await a.waitFor('subscription', (d) => d.from === carol && d.action === 'unsubscribed');
    await waitRoster(a, carol!, { subscription: 'none', pendingOut: false, pendingIn: false });
    await waitRoster(c, alice!, { subscription: 'none', pendingIn: false });
    await c.request('presence.set', { availability: 'away' });
    await drain(a);
    expect(presencesOf(a, carol!)).toEqual([]);
    await expect(a.request('presence.get', { user: carol })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('cancel: the contact revokes an approved subscription; the subscriber gets unavailable and nothing after', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    await subscribeApproved(a, b, alice!, bob!);
    await waitPresence(a, bob!, 'available');

    await b.request('roster.cancel', { contact: alice });
    await a.waitFor('subscription', (d) => d.from === bob && d.action === 'unsubscribed');
    // (The earlier pushes had a pending flag set, so these match only the new state.)
    await waitRoster(a, bob!, { subscription: 'none', pendingOut: false, pendingIn: false });
    await waitRoster(b, alice!, { subscription: 'none', pendingOut: false, pendingIn: false });
    // RFC 6121 §3.2.3: the former subscriber is told the contact is unavailable.
    await waitPresence(a, bob!, 'offline');
    const before = presencesOf(a, bob!).length;
    await b.request('presence.set', { availability: 'xa' });
    await drain(a);
    expect(presencesOf(a, bob!)).toHaveLength(before);
    await expect(a.request('presence.get', { user: bob })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('unsubscribe: the subscriber stops; the contact is told and its roster updated', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    await subscribeApproved(a, b, alice!, bob!);

    const r = await a.request<{ item: Data }>('roster.unsubscribe', { contact: bob });
    expect(r.item).toMatchObject({ subscription: 'none', pendingOut: false });
    await b.waitFor('subscription', (d) => d.from === alice && d.action === 'unsubscribe');
    await waitRoster(b, alice!, { subscription: 'none', pendingIn: false });
    await waitPresence(a, bob!, 'offline');
    const before = presencesOf(a, bob!).length;
    await b.request('presence.set', { availability: 'dnd' });
    await drain(a);
    expect(presencesOf(a, bob!)).toHaveLength(before);
  });

  it('crossing requests: both ask, both approve, both end with subscription both', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    await Promise.all([a.request('roster.subscribe', { contact: bob }), b.request('roster.subscribe', { contact: alice })]);
    expect(await rosterItem(a, bob!)).toMatchObject({ subscription: 'none', pendingOut: true, pendingIn: true });
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'none', pendingOut: true, pendingIn: true });
    await b.request('roster.approve', { contact: alice });
    expect(await rosterItem(a, bob!)).toMatchObject({ subscription: 'to', pendingOut: false, pendingIn: true });
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'from', pendingOut: true, pendingIn: false });
    await a.request('roster.approve', { contact: bob });
    expect(await rosterItem(a, bob!)).toMatchObject({ subscription: 'both', pendingOut: false, pendingIn: false });
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'both', pendingOut: false, pendingIn: false });
    await waitPresence(a, bob!, 'available');
    await waitPresence(b, alice!, 'available');
  });

  it('a request to an offline contact waits as pendingIn and can be approved at next login', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r', { availability: 'chat' });
    await a.request('roster.subscribe', { contact: bob });
    const b = await online(bob!, 'r');
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'none', pendingIn: true });
    await b.request('roster.approve', { contact: alice });
    await waitPresence(a, bob!, 'available');
    await waitRoster(a, bob!, { subscription: 'to', pendingOut: false });
    await b.close();
    await waitPresence(a, bob!, 'offline');
  });

  it('a repeated subscribe to an approved contact changes nothing and asks no one', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    await subscribeApproved(a, b, alice!, bob!);
    const asked = b.received('subscription').length;
    const r = await a.request<{ item: Data }>('roster.subscribe', { contact: bob });
    expect(r.item).toMatchObject({ subscription: 'to', pendingOut: false });
    await drain(b);
    expect(b.received('subscription')).toHaveLength(asked);
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'from', pendingIn: false });
  });

  it('roster.set edits name and groups without touching the subscription; roster.remove cancels both ways', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a1 = await online(alice!, 'one');
    const a2 = await online(alice!, 'two');
    const b = await online(bob!, 'r');

    const set = await a1.request<{ item: Data }>('roster.set', { contact: bob, name: 'Bobby', groups: ['Work', ' Work ', '', 'Friends'] });
    expect(set.item).toMatchObject({ contact: bob, name: 'Bobby', groups: ['Work', 'Friends'], subscription: 'none', pendingOut: false });
    for (const a of [a1, a2]) await waitRoster(a, bob!, { name: 'Bobby', groups: ['Work', 'Friends'] });
    await drain(b);
    expect(rosterPushes(b, alice!)).toEqual([]); // a name is private to its owner
    await expect(a1.request('roster.set', { contact: alice })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(a1.request('roster.set', { contact: 'nobody@localhost' })).rejects.toMatchObject({ code: 'item-not-found' });

    // Mutual subscription, then the name survives the handshake.
    await subscribeApproved(a1, b, alice!, bob!);
    await subscribeApproved(b, a1, bob!, alice!);
    await waitRoster(a2, bob!, { subscription: 'both' });
    expect(await rosterItem(a1, bob!)).toMatchObject({ name: 'Bobby', groups: ['Work', 'Friends'], subscription: 'both' });
    await a1.request('roster.set', { contact: bob, name: null, groups: ['Team'] });
    expect(await rosterItem(a2, bob!)).toMatchObject({ name: null, groups: ['Team'], subscription: 'both' });

    // RFC 6121 §2.5.2: removing the contact cancels the subscription in both directions.
    await a1.request('roster.remove', { contact: bob });
    for (const a of [a1, a2]) {
      await a.waitFor('roster', (d) => d.removed === bob);
      await waitPresence(a, bob!, 'offline');
    }
    await waitRoster(b, alice!, { subscription: 'none', pendingIn: false, pendingOut: false });
    await waitPresence(b, alice!, 'offline');
    await b.waitFor('subscription', (d) => d.from === alice && d.action === 'unsubscribe');
    await b.waitFor('subscription', (d) => d.from === alice && d.action === 'unsubscribed');
    expect(await rosterItem(a1, bob!)).toBeUndefined();
    expect(await rosterItem(b, alice!)).toMatchObject({ subscription: 'none' });
    await expect(a1.request('presence.get', { user: bob })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(b.request('presence.get', { user: alice })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a1.request('roster.remove', { contact: bob })).rejects.toMatchObject({ code: 'item-not-found' });
  });
});

describe('presence', () => {
  it('reaches only authorised subscribers; get and directed presence are refused for others', async () => {
    const [alice, bob, eve] = await users('alice', 'bob', 'eve');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    const e = await online(eve!, 'r');
    await subscribeApproved(b, a, bob!, alice!); // bob sees alice

    await a.request('presence.set', { availability: 'away', status: 'lunch' });
    await waitPresence(b, alice!, 'away', (d) => d.status === 'lunch');
    await drain(e);
    expect(presencesOf(e, alice!)).toEqual([]);
    const snap = e.received('presence.snapshot')[0]!.presences as Data[];
    expect(snap.map((p) => p.user)).toEqual([eve]);

    await expect(e.request('presence.get', { user: alice })).rejects.toMatchObject({ code: 'forbidden' });
    expect(await b.request('presence.get', { user: alice })).toMatchObject({ presence: { state: 'away', status: 'lunch' } });
    expect(await a.request('presence.get', { user: alice })).toMatchObject({ presence: { state: 'away' } });

    await expect(a.request('presence.direct', { to: eve })).rejects.toMatchObject({ code: 'forbidden' });
    await a.request('presence.direct', { to: bob });
    await waitPresence(b, alice!, 'away', (d) => d.directed === true);
    await drain(e);
    expect(presencesOf(e, alice!)).toEqual([]);
  });

  it('the login snapshot holds the current presence of every contact, online or not', async () => {
    const [alice, bob, carol, dave] = await users('alice', 'bob', 'carol', 'dave');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r', { availability: 'dnd', status: 'focus' });
    const c = await online(carol!, 'r');
    await online(dave!, 'r');
    await subscribeApproved(a, b, alice!, bob!);
    await subscribeApproved(a, c, alice!, carol!);
    await c.close();
    await waitPresence(a, carol!, 'offline');
    await a.close();

    const again = await online(alice!, 'again');
    const snaps = again.received('presence.snapshot');
    expect(snaps).toHaveLength(1);
    const byUser = new Map((snaps[0]!.presences as Data[]).map((p) => [p.user, p]));
    expect([...byUser.keys()].sort()).toEqual([alice, bob, carol].sort());
    expect(byUser.get(bob!)).toMatchObject({ state: 'dnd', status: 'focus', sessions: 1, lastSeen: null });
    expect(byUser.get(carol!)).toMatchObject({ state: 'offline', sessions: 0 });
    expect(byUser.get(carol!)!.lastSeen).toEqual(expect.any(Number));
    expect(byUser.get(alice!)).toMatchObject({ state: 'available', sessions: 1 });
    // The snapshot comes before synced.
    const names = again.events.map((x) => x.ev);
    expect(names.indexOf('presence.snapshot')).toBeLessThan(names.indexOf('synced'));
  });

  it('aggregates a user\'s sessions by the documented precedence', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b1 = await online(bob!, 'desk');
    await subscribeApproved(a, b1, alice!, bob!);

    // Rule 2: the more restrictive state wins: dnd beats available.
    let mark = a.events.length;
    await b1.request('presence.set', { availability: 'dnd' });
    await waitPresence(a, bob!, 'dnd', (d) => d.sessions === 1, mark);
    const b2 = await online(bob!, 'phone');
    await waitPresence(a, bob!, 'dnd', (d) => d.sessions === 2, mark);
    expect(await a.request('presence.get', { user: bob })).toMatchObject({ presence: { state: 'dnd', availability: 'dnd', sessions: 2 } });

    // Rule 1: an explicit choice wins whatever its rank.
    mark = a.events.length;
    await b2.request('presence.set', { availability: 'away', status: 'gone fishing', explicit: true });
    await waitPresence(a, bob!, 'away', (d) => d.status === 'gone fishing', mark);
    // ... and the newest explicit choice wins among explicit ones.
    mark = a.events.length;
    await b1.request('presence.set', { availability: 'xa', explicit: true });
    await waitPresence(a, bob!, 'xa', undefined, mark);

    // Busy-class activity on an available session is "busy" (and busy outranks available).
    mark = a.events.length;
    await b1.request('presence.set', { availability: 'available', activity: 'on-the-phone' });
    await b2.request('presence.set', { availability: 'available' });
    await waitPresence(a, bob!, 'busy', (d) => d.activity === 'on-the-phone', mark);
    expect(await a.request('presence.get', { user: bob })).toMatchObject({ presence: { state: 'busy', availability: 'available' } });

    await expect(b1.request('presence.set', { availability: 'sleeping' })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(b1.request('presence.set', { show: 'away' })).rejects.toMatchObject({ code: 'bad-request' });

    // One session leaves: the other decides alone; the last one leaves: offline with lastSeen.
    mark = a.events.length;
    await b1.close();
    await waitPresence(a, bob!, 'available', (d) => d.sessions === 1, mark);
    const before = Date.now();
    mark = a.events.length;
    await b2.close();
    const off = await waitPresence(a, bob!, 'offline', undefined, mark);
    expect(off.data).toMatchObject({ sessions: 0, availability: null });
    expect(off.data.lastSeen).toBeGreaterThanOrEqual(before - 1000);
    expect(await a.request('presence.get', { user: bob })).toMatchObject({ presence: { state: 'offline', lastSeen: off.data.lastSeen } });
  });

  it('the latest explicit choice wins even when two sessions choose within the same millisecond', async () => {
    const [bob] = await users('bob');
    const b1 = await online(bob!, 'desk');
    const b2 = await online(bob!, 'phone');
    for (let i = 0; i < 20; i++) {
      // No wait in between: the two changes often carry the same millisecond.
      await b2.request('presence.set', { availability: 'away', explicit: true });
      await b1.request('presence.set', { availability: 'xa', explicit: true });
      expect(await b1.request('presence.get', { user: bob })).toMatchObject({ presence: { state: 'xa' } });
      await b1.request('presence.set', { availability: 'xa', explicit: true });
      await b2.request('presence.set', { availability: 'away', explicit: true });
      expect(await b1.request('presence.get', { user: bob })).toMatchObject({ presence: { state: 'away' } });
    }
  });

  it('an unclean disconnect (socket destroyed, no close frame) is seen as offline', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'r');
    const b = await online(bob!, 'r');
    await subscribeApproved(a, b, alice!, bob!);
    await waitPresence(a, bob!, 'available');
    (b.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    const off = await waitPresence(a, bob!, 'offline');
    expect(off.data.lastSeen).toEqual(expect.any(Number));
  });

  it('shared groups: members see each other in roster.get and each other\'s presence without a handshake', async () => {
    const [sam, sue, out] = await users('sam', 'sue', 'out');
    const group = `sales${counter}`;
    await addGroupMember(t.server.store, group, sam!);
    await addGroupMember(t.server.store, group, sue!);
    const s2 = await online(sue!, 'r', { availability: 'away' });
    const s1 = await online(sam!, 'r');
    const o = await online(out!, 'r');

    const snap = s1.received('presence.snapshot')[0]!.presences as Data[];
    expect(snap.find((p) => p.user === sue)).toMatchObject({ state: 'away' });
    await waitPresence(s2, sam!, 'available'); // sam's login reached sue
    expect(await rosterItem(s1, sue!)).toMatchObject({ subscription: 'both', shared: [group], pendingIn: false, pendingOut: false });
    expect(await rosterItem(s2, sam!)).toMatchObject({ subscription: 'both', shared: [group] });
    expect(await rosterItem(o, sam!)).toBeUndefined();

    await s2.request('presence.set', { availability: 'dnd' });
    await waitPresence(s1, sue!, 'dnd');
    expect(await s1.request('presence.get', { user: sue })).toMatchObject({ presence: { state: 'dnd' } });
    await drain(o);
    expect(presencesOf(o, sue!)).toEqual([]);

    // A personal roster entry for a group peer keeps the group and its name, in the push as in roster.get.
    await s1.request('roster.set', { contact: sue, name: 'Sue' });
    await waitRoster(s1, sue!, { name: 'Sue', shared: [group], subscription: 'both' });
    expect(await rosterItem(s1, sue!)).toMatchObject({ name: 'Sue', shared: [group], subscription: 'both' });
    // Removing the personal entry leaves the group entry, and the push says so instead of "removed".
    await s1.request('roster.remove', { contact: sue });
    await waitRoster(s1, sue!, { name: null, shared: [group], subscription: 'both' });
    expect(s1.received('roster').some((d) => d.removed === sue)).toBe(false);
    expect(await rosterItem(s1, sue!)).toMatchObject({ name: null, shared: [group], subscription: 'both' });
    await s2.request('presence.set', { availability: 'xa' });
    await waitPresence(s1, sue!, 'xa');
  });

  it('shared groups changed while both are online take effect at once', async () => {
    const [kim, lee] = await users('kim', 'lee');
    const k = await online(kim!, 'r');
    const l = await online(lee!, 'r');
    // Make the server cache who sees kim and lee (nobody yet).
    await k.request('presence.set', { availability: 'away' });
    await l.request('presence.set', { availability: 'away' });
    expect(await rosterItem(k, lee!)).toBeUndefined(); // and kim's roster
    const group = `support${counter}`;
    await addGroupMember(t.server.store, group, kim!);
    await addGroupMember(t.server.store, group, lee!);
    await t.server.engine.ctx.directory.refresh(); // what the admin API does after a change
    expect(await rosterItem(k, lee!)).toMatchObject({ subscription: 'both', shared: [group] });
    await k.request('presence.set', { availability: 'dnd' });
    await waitPresence(l, kim!, 'dnd');
    expect(await l.request('presence.get', { user: kim })).toMatchObject({ presence: { state: 'dnd' } });
  });
});

describe('heartbeat', () => {
  let h: TestServer;
  beforeAll(async () => {
    h = await startServer({ sessions: { heartbeatSeconds: 0.2 } });
    await h.users('hal@localhost', 'ida@localhost');
  });
  afterAll(() => h.close());

  it('a client that stops answering pings is dropped, and subscribers see it offline', async () => {
    const ida = await h.connect('ida@localhost', { resource: 'r' });
    const hal = await h.connect('hal@localhost', { resource: 'r' });
    await Promise.all([ida.waitFor('synced'), hal.waitFor('synced')]);
    await ida.request('roster.subscribe', { contact: 'hal@localhost' });
    await hal.waitFor('subscription', (d) => d.action === 'subscribe');
    await hal.request('roster.approve', { contact: 'ida@localhost' });
    await waitPresence(ida, 'hal@localhost', 'available');

    // Healthy clients answer pings by themselves: several intervals pass without a drop.
    await new Promise((r) => setTimeout(r, 700));
    expect(presencesOf(ida, 'hal@localhost').some((p) => p.state === 'offline')).toBe(false);

    // hal's socket stops reading: no pongs any more, but no close frame or FIN either.
    const started = Date.now();
    hal.ws.pause();
    const off = await waitPresence(ida, 'hal@localhost', 'offline');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(off.data.lastSeen).toEqual(expect.any(Number));
    await until(() => h.server.engine.sessions.countOf('hal@localhost') === 0, 2000, 'hal session gone');
    hal.ws.resume();
  });
});
