/**
 * Users' PEP end to end with a client nobody here wrote: slixmpp 1.8.3 (Debian python3-slixmpp) through
 * test/xmpp/slix_driver.py, its xep_0060/0163/0223/0084/0048/0054 plugins.
 *
 * Two users subscribed to each other: one publishes (user tune, XEP-0118) and the other's session whose caps
 * (XEP-0115) say `+notify` for the node gets the event, a session without it does not, and a session coming
 * later gets the last item (XEP-0163 §4.3); XEP-0223 private data stays the owner's; XEP-0402 bookmarks are seen
 * through XEP-0048 legacy bookmarks in private storage and back (#compat); an XEP-0084 avatar becomes the
 * vCard PHOTO (XEP-0398).
 */
import { describe, expect, it } from 'vitest';
import { freshUsers, mutualSubscription, type TestServer } from './harness.js';
import { serverForSlixmpp, SlixClient, slixmppUnavailableFor, slixOnline, type SlixEvent } from './xmpp/slix.js';

const unavailable = slixmppUnavailableFor('test/pep.test.ts');

const TUNE = 'http://jabber.org/protocol/tune';
const BOOKMARKS = 'urn:xmpp:bookmarks:1';
const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

let t: TestServer;

describe.skipIf(unavailable !== null)('users\' PEP with slixmpp', () => {
  serverForSlixmpp((server) => (t = server));

  /** A connected slixmpp client (roster fetched, initial presence sent), with +notify caps for `notify`. */
  const online = (jid: string, notify: string[] = [], resource = 'desk'): Promise<SlixClient> => slixOnline(t, jid, resource, notify.length > 0 ? { notify } : {});

  /** Makes the two users see each other's presence (subscription both). */
  const friends = (a: string, b: string): Promise<void> => mutualSubscription(t, a, b);

  /** Waits until the server learnt the session's +notify interests from its caps. */
  async function interested(user: string, resource: string, node: string): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (t.server.engine.sessions.get(user, resource)?.interests?.has(node)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${user}/${resource} never declared +notify for ${node}`);
  }

  const pepFrom = (owner: string, node: string) => (e: SlixEvent) => bareOf(e.from) === owner && (e.pep as { node?: string } | undefined)?.node === node;

  it('notifies a contact\'s +notify session of a publication, not one without, and gives the last item to a later one', async () => {
    const [alice, bob] = await freshUsers(t, 'tunea', 'tuneb');
    await friends(alice!, bob!);
    const a = await online(alice!);
    const listening = await online(bob!, [TUNE], 'phone');
    const quiet = await online(bob!, [], 'desk');
    await interested(bob!, 'phone', TUNE);
    const tune = `<tune xmlns='${TUNE}'><artist>Yes</artist><title>Roundabout</title></tune>`;
    expect(await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune })).toMatchObject({ id: 'current', error: null });
    const ev = await listening.waitFor('message', pepFrom(alice!, TUNE));
    expect(ev.pep).toMatchObject({ node: TUNE, id: 'current' });
    expect(String(ev.xml)).toContain('Roundabout');
    await quiet.ping();
    await listening.ping();
    expect(quiet.received('message', pepFrom(alice!, TUNE))).toEqual([]);
    // The contact retrieves it too (XEP-0060 §6.5).
    const got = await quiet.request('pep_items', { jid: alice, node: TUNE });
    expect(got.error).toBeNull();
    expect(JSON.stringify(got.items)).toContain('Roundabout');
    // A session coming online later with +notify gets the last item (§4.3.2).
    const later = await online(bob!, [TUNE], 'tablet');
    expect(String((await later.waitFor('message', pepFrom(alice!, TUNE), 15_000)).xml)).toContain('Roundabout');
  });

  it('keeps XEP-0223 private data from contacts; keeps XEP-0402 bookmarks and XEP-0048 private bookmarks in step', async () => {
    const [alice, bob] = await freshUsers(t, 'priva', 'privb');
    await friends(alice!, bob!);
    const a = await online(alice!, [BOOKMARKS]);
    const b = await online(bob!, ['urn:example:secret']);
    await interested(alice!, 'desk', BOOKMARKS);
    expect(await a.request('private_pep_store', { node: 'urn:example:secret', item: 'current', payload: `<secret xmlns='urn:example:secret'>42</secret>` })).toEqual({ error: null });
    expect((await a.request('pep_items', { jid: alice, node: 'urn:example:secret' })).items).toHaveLength(1);
    expect((await b.request('pep_items', { jid: alice, node: 'urn:example:secret' })).error).toMatchObject({ condition: 'not-allowed' });
    await b.ping();
    expect(b.received('message', pepFrom(alice!, 'urn:example:secret'))).toEqual([]);

    // XEP-0402 publication → XEP-0048 in private storage.
    const options = { 'pubsub#persist_items': 'true', 'pubsub#max_items': 'max', 'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist' };
    const conference = `<conference xmlns='${BOOKMARKS}' name='Team' autojoin='true'><nick>al</nick></conference>`;
    const mark = a.mark();
    expect(await a.request('pep_publish', { node: BOOKMARKS, item: 'team@conference.localhost', payload: conference, options })).toMatchObject({ error: null });
    await a.waitFor('message', pepFrom(alice!, BOOKMARKS), 10_000, mark);
    expect((await a.request('bookmarks_get')).conferences).toEqual([{ jid: 'team@conference.localhost', nick: 'al', name: 'Team', autojoin: true }]);
    // XEP-0048 set → XEP-0402 items.
    await a.request('bookmarks_set', { conferences: [{ jid: 'ops@conference.localhost', nick: 'al2', name: 'Ops', autojoin: false }] });
    const items = await a.request('pep_items', { jid: alice, node: BOOKMARKS });
    expect((items.items as Array<{ id: string }>).map((i) => i.id)).toEqual(['ops@conference.localhost']);
    expect(JSON.stringify(items.items)).toContain('al2');
    expect((await b.request('pep_items', { jid: alice, node: BOOKMARKS })).error).toMatchObject({ condition: 'not-allowed' });
  });

  it('turns an XEP-0084 avatar into the vCard PHOTO (XEP-0398), and its hash goes into the owner\'s presence (XEP-0153)', async () => {
    const [alice, bob] = await freshUsers(t, 'avatara', 'avatarb');
    await friends(alice!, bob!);
    const b = await online(bob!, ['urn:xmpp:avatar:metadata']);
    await interested(bob!, 'desk', 'urn:xmpp:avatar:metadata');
    const a = await online(alice!);
    const data = Buffer.from('not really a PNG, but bytes all the same').toString('base64');
    const info = await a.request('avatar_publish', { data, type: 'image/png' });
    const ev = await b.waitFor('message', pepFrom(alice!, 'urn:xmpp:avatar:metadata'));
    expect(ev.pep).toMatchObject({ id: info.id });
    expect(await b.request('vcard_get', { jid: alice })).toEqual({ photo: { type: 'image/png', binval: data } });
    // XEP-0153 §4.3: the server puts the new hash into alice's presence, for clients that know avatars by vCard,
    // and into her presence when she logs in again.
    const withHash = (e: SlixEvent): boolean => e.from === `${alice!}/desk` && e.type === 'available' && String(e.xml).includes('vcard-temp:x:update') && String(e.xml).includes(String(info.id));
    expect(String((await b.waitFor('presence', withHash)).xml)).toMatch(/vcard-temp:x:update/);
    await a.close();
    await b.waitFor('presence', (e) => e.from === `${alice!}/desk` && e.type === 'unavailable');
    const seen = b.events.length;
    const again = await online(alice!, [], 'desk');
    await b.waitFor('presence', (e) => b.events.indexOf(e) >= seen && withHash(e));
    await again.close();
  });
});
