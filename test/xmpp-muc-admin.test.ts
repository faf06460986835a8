/**
 * XEP-0045 administration with a client nobody here wrote: slixmpp 1.8.3's xep_0045 plugin (set_affiliation,
 * get_affiliation_list, set_role, get_room_config/set_room_config) driven through test/xmpp/slix_driver.py.
 * Covered: bans with status 301 and their list, a banned user's refused entry and its lifting (§9.1-9.2, §7.2.7);
 * a moderated room whose visitor cannot write until given voice, and again once it is taken (§8.3-8.4, §7.4);
 * private messages between occupants from the room/nick address, and an unknown nick (§7.5).
 *
 * When /usr/bin/python3 cannot import slixmpp, the suite is skipped with a warning (install python3-slixmpp).
 */
import { describe, expect, it } from 'vitest';
import { freshUsers, type TestServer } from './harness.js';
import { serverForSlixmpp, SlixClient, slixmppUnavailableFor, slixOnline, type SlixEvent } from './xmpp/slix.js';

const unavailable = slixmppUnavailableFor('test/xmpp-muc-admin.test.ts');

type Muc = { codes: string[]; affiliation: string | null; role: string | null; jid: string | null; reason: string | null };
type Err = { condition: string | null } | null;

const nickOf = (user: string): string => user.split('@')[0]!;
const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

describe.skipIf(unavailable !== null)('XEP-0045 administration with slixmpp', () => {
  let t: TestServer;
  serverForSlixmpp((server) => (t = server));

  /** A connected slixmpp client for `jid`: bound, initial presence sent. */
  const online = (jid: string, resource: string): Promise<SlixClient> => slixOnline(t, jid, resource);

  /** alice creates a room (by entering it) and bob enters it too unless `bobEnters` is false. */
  async function room(prefix: string, bobEnters = true): Promise<{ alice: string; bob: string; a: SlixClient; b: SlixClient; room: string }> {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const r = `${prefix}-${nickOf(alice!).split('-')[1]}@conference.localhost`;
    await a.request('join_muc', { room: r, nick: nickOf(alice!) });
    if (bobEnters) {
      await b.request('join_muc', { room: r, nick: nickOf(bob!) });
      await a.waitFor('presence', (e) => e.from === `${r}/${nickOf(bob!)}` && e.type === 'available');
    }
    return { alice: alice!, bob: bob!, a, b, room: r };
  }

  const muc = (e: SlixEvent): Muc => e.muc as Muc;

  it('bans an occupant (301 to them and the others), refuses their entry, and lets them in once the ban is lifted (§9.1, §7.2.7)', async () => {
    const { bob, a, b, room: r } = await room('ban');
    const bobInRoom = `${r}/${nickOf(bob)}`;
    const banned = (e: SlixEvent): boolean => e.from === bobInRoom && e.type === 'unavailable' && muc(e)?.codes.includes('301');
    const ma = a.mark();
    const mb = b.mark();
    expect(await a.request('muc_affiliation', { room: r, jid: bob, affiliation: 'outcast', reason: 'spam' })).toEqual({ error: null });
    const toBob = await b.waitFor('presence', banned, 10_000, mb);
    expect(muc(toBob)).toMatchObject({ affiliation: 'outcast', role: 'none', reason: 'spam' });
    expect(muc(toBob).codes).toContain('110');
    expect(muc(await a.waitFor('presence', banned, 10_000, ma)).codes).not.toContain('110');

    const list = (await a.request('muc_affiliations', { room: r, affiliation: 'outcast' })) as { jids: string[]; error: Err };
    expect(list).toEqual({ jids: [bob], error: null });

    // §7.2.7: the banned user's entry is refused with forbidden.
    let m = b.mark();
    await b.request('presence', { to: bobInRoom });
    const refused = await b.waitFor('presence', (e) => bareOf(e.from) === r && e.type === 'error', 10_000, m);
    expect(refused.error).toMatchObject({ condition: 'forbidden' });

    // Lifted: bob enters again, and alice sees him come in.
    expect(await a.request('muc_affiliation', { room: r, jid: bob, affiliation: 'none' })).toEqual({ error: null });
    m = a.mark();
    const again = (await b.request('join_muc', { room: r, nick: nickOf(bob) })) as { codes: string[] };
    expect(again.codes).toContain('110');
    await a.waitFor('presence', (e) => e.from === bobInRoom && e.type === 'available', 10_000, m);
  });

  it('in a moderated room a visitor cannot write; voice given lets the message through, taken refuses it again (§8.3-8.4, §7.4)', async () => {
    const { bob, a, b, room: r } = await room('moderated', false);
    expect(await a.request('muc_configure', { room: r, fields: { 'muc#roomconfig_moderatedroom': true } })).toEqual({ error: null });
    const bobInRoom = `${r}/${nickOf(bob)}`;
    let m = b.mark();
    await b.request('join_muc', { room: r, nick: nickOf(bob) });
    const self = await b.waitFor('presence', (e) => e.from === bobInRoom && muc(e)?.codes.includes('110'), 10_000, m);
    expect(muc(self)).toMatchObject({ affiliation: 'member', role: 'visitor' });

    const say = async (body: string): Promise<SlixEvent> => {
      const n = b.mark();
      await b.send(r, body, 'groupchat');
      return b.waitFor('message', (e) => e.body === body || (e.type === 'error' && bareOf(e.from) === r), 10_000, n);
    };
    const refused = await say('may I?');
    expect(refused.type).toBe('error');
    expect(refused.error).toMatchObject({ condition: 'forbidden' });

    m = b.mark();
    expect(await a.request('muc_role', { room: r, nick: nickOf(bob), role: 'participant' })).toEqual({ error: null });
    expect(muc(await b.waitFor('presence', (e) => e.from === bobInRoom && muc(e)?.role === 'participant', 10_000, m))).toMatchObject({ affiliation: 'member' });
    const n = a.mark();
    expect((await say('thank you')).type).toBe('groupchat');
    await a.waitFor('message', (e) => e.type === 'groupchat' && e.body === 'thank you', 10_000, n);

    expect(await a.request('muc_role', { room: r, nick: nickOf(bob), role: 'visitor' })).toEqual({ error: null });
    const again = await say('and now?');
    expect(again.type).toBe('error');
    expect(again.error).toMatchObject({ condition: 'forbidden' });
  });

  it('delivers a private message between occupants from the room/nick address; an unknown nick is item-not-found (§7.5)', async () => {
    const { alice, bob, a, b, room: r } = await room('private');
    await a.send(`${r}/${nickOf(bob)}`, 'psst', 'chat');
    const got = await b.waitFor('message', (e) => e.body === 'psst');
    expect(got).toMatchObject({ from: `${r}/${nickOf(alice)}`, type: 'chat', mucUser: true });
    const m = a.mark();
    await a.send(`${r}/nobody-here`, 'hello?', 'chat');
    const err = await a.waitFor('message', (e) => e.type === 'error' && bareOf(e.from) === r, 10_000, m);
    expect(err.error).toMatchObject({ condition: 'item-not-found' });
  });
});
