/**
 * Explicit subscriptions to a user's PEP node with a client nobody here wrote: slixmpp 1.8.3 (Debian
 * python3-slixmpp) and its xep_0060 plugin, through test/xmpp/slix_driver.py.
 *
 * A contact whose session has no `+notify` caps subscribes (XEP-0060 §6.1), gets the last item (§6.1.7) and the
 * next publication (XEP-0163 §4), lists its subscriptions (§5.6) and unsubscribes (§6.2); the owner lists its
 * affiliations (§5.7), and lists and sets the node's subscriptions (§8.8); a stranger is refused as the presence
 * access model says (§6.1.3.2).
 * slixmpp subscribes with subscription options (§6.3.7) and reads them back (§6.3.2), and asks for a subscription to
 * a node with the authorize access model, which stays pending until the owner approves it (§6.1.5, §8.6).
 * XEP-0048 bookmarks that slixmpp stores in the PEP node `storage:bookmarks` (its xep_0223) show as XEP-0402
 * items and in private storage, and back (XEP-0402 §5 #compat-pep).
 */
import { describe, expect, it } from 'vitest';
import { freshUsers, mutualSubscription, type TestServer } from './harness.js';
import { serverForSlixmpp, SlixClient, slixmppUnavailableFor, slixOnline, type SlixEvent } from './xmpp/slix.js';

const unavailable = slixmppUnavailableFor('test/pep-subscriptions.test.ts');

const TUNE = 'http://jabber.org/protocol/tune';
const ERRORS = 'http://jabber.org/protocol/pubsub#errors';
const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;
/** Whether an error stanza (as ElementTree writes it, with prefixes) carries XEP-0060's condition `name` (§7.1.3). */
const hasCondition = (xml: string, name: string): boolean => {
  const prefix = new RegExp(`xmlns:(\\w+)="${ERRORS}"`).exec(xml)?.[1];
  return prefix !== undefined && xml.includes(`<${prefix}:${name} `);
};
const tune = (title: string): string => `<tune xmlns='${TUNE}'><title>${title}</title></tune>`;

let t: TestServer;

describe.skipIf(unavailable !== null)('explicit PEP subscriptions with slixmpp', () => {
  serverForSlixmpp((server) => (t = server));

  /** Makes the two users see each other's presence (subscription both). */
  const friends = (a: string, b: string): Promise<void> => mutualSubscription(t, a, b);

  /** A call of slixmpp's xep_0060 plugin: the reply's XML, or the error. */
  const pubsub = (c: SlixClient, call: string, args: Record<string, unknown>): Promise<{ xml: string; error: { condition: string } | null }> =>
    c.request('pubsub', { call, args }) as Promise<{ xml: string; error: { condition: string } | null }>;

  const tuneFrom = (owner: string, title: string) => (e: SlixEvent) => bareOf(e.from) === owner && (e.pep as { node?: string } | undefined)?.node === TUNE && String(e.xml).includes(title);

  it('subscribes a contact without +notify, notifies it, lists, manages and ends the subscription; refuses a stranger', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'suba', 'subb', 'subc');
    await friends(alice!, bob!);
    const a = await slixOnline(t, alice!, 'desk');
    const b = await slixOnline(t, bob!, 'desk'); // no caps with +notify: only the subscription brings events
    const c = await slixOnline(t, carol!, 'desk');
    expect(await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune('Heroes') })).toMatchObject({ error: null });
    await b.ping();
    expect(b.received('message', tuneFrom(alice!, 'Heroes'))).toEqual([]);

    // §6.1: the subscription, then the last item (§6.1.7).
    const sub = await pubsub(b, 'subscribe', { jid: alice, node: TUNE });
    expect(sub.error).toBeNull();
    expect(sub.xml).toMatch(new RegExp(`<[^>]*subscription [^>]*subscription="subscribed"`));
    expect(sub.xml).toContain(`jid="${bob}"`);
    await b.waitFor('message', tuneFrom(alice!, 'Heroes'));
    // The next publication reaches the subscriber (XEP-0163 §4), once.
    const mark = b.mark();
    await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune('Changes') });
    await b.waitFor('message', tuneFrom(alice!, 'Changes'), 10_000, mark);
    await b.ping();
    expect(b.received('message', tuneFrom(alice!, 'Changes'))).toHaveLength(1);

    // §5.6 the subscriber's own subscriptions; §8.8.1 the owner's view of the node.
    const mine = await pubsub(b, 'get_subscriptions', { jid: alice });
    expect(mine.error).toBeNull();
    expect(mine.xml).toContain(`node="${TUNE}"`);
    expect(mine.xml).toContain(`jid="${bob}"`);
    const ofNode = await pubsub(a, 'get_node_subscriptions', { jid: alice, node: TUNE });
    expect(ofNode.error).toBeNull();
    expect(ofNode.xml).toContain(`jid="${bob}"`);
    // §5.7 the owner's affiliations.
    const owned = await pubsub(a, 'get_affiliations', { jid: alice });
    expect(owned.error).toBeNull();
    expect(owned.xml).toMatch(new RegExp(`node="${TUNE}"[^>]*affiliation="owner"|affiliation="owner"[^>]*node="${TUNE}"`));
    // A non-owner may not read them.
    expect((await pubsub(b, 'get_node_subscriptions', { jid: alice, node: TUNE })).error).toMatchObject({ condition: 'forbidden' });

    // §8.8.2: the owner ends bob's subscription, and gives it back.
    expect((await pubsub(a, 'modify_subscriptions', { jid: alice, node: TUNE, subscriptions: [[bob, 'none']] })).error).toBeNull();
    expect((await pubsub(b, 'get_subscriptions', { jid: alice })).xml).not.toContain(`jid="${bob}"`);
    expect((await pubsub(a, 'modify_subscriptions', { jid: alice, node: TUNE, subscriptions: [[bob, 'subscribed']] })).error).toBeNull();
    expect((await pubsub(b, 'get_subscriptions', { jid: alice, node: TUNE })).xml).toContain(`jid="${bob}"`);
    // …but not to someone the access model keeps out.
    expect((await pubsub(a, 'modify_subscriptions', { jid: alice, node: TUNE, subscriptions: [[carol, 'subscribed']] })).error).toMatchObject({ condition: 'not-acceptable' });

    // §6.2: bob unsubscribes; no more events; a second unsubscribe is not-subscribed.
    expect((await pubsub(b, 'unsubscribe', { jid: alice, node: TUNE })).error).toBeNull();
    const again = await pubsub(b, 'unsubscribe', { jid: alice, node: TUNE });
    expect(again.error).toMatchObject({ condition: 'unexpected-request' });
    expect(hasCondition(again.xml, 'not-subscribed')).toBe(true);
    await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune('Ashes') });
    await b.ping();
    await a.ping();
    expect(b.received('message', tuneFrom(alice!, 'Ashes'))).toEqual([]);

    // §6.1.3.2: carol does not receive alice's presence: not-authorized + presence-subscription-required.
    const refused = await pubsub(c, 'subscribe', { jid: alice, node: TUNE });
    expect(refused.error).toMatchObject({ condition: 'not-authorized' });
    expect(hasCondition(refused.xml, 'presence-subscription-required')).toBe(true);
    // A node that does not exist: item-not-found (§6.1.3.12); the connection goes on.
    expect((await pubsub(b, 'subscribe', { jid: alice, node: 'urn:example:none' })).error).toMatchObject({ condition: 'item-not-found' });
    await c.ping();
  });

  it('subscribes with options and reads them back; a request to an authorize node is pending until the owner approves', async () => {
    const [alice, bob, dan] = await freshUsers(t, 'opta', 'optb', 'optd');
    await friends(alice!, bob!);
    const a = await slixOnline(t, alice!, 'desk');
    const b = await slixOnline(t, bob!, 'desk');
    const d = await slixOnline(t, dan!, 'desk');
    await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune('Quiet') });
    // §6.3.7: delivery off from the start, so not even the last item comes (§6.1.7).
    const sub = await pubsub(b, 'subscribe', { jid: alice, node: TUNE, options: { 'pubsub#deliver': '0' } });
    expect(sub.error).toBeNull();
    expect(sub.xml).toMatch(/subscription="subscribed"/);
    // §6.3.2: slixmpp's get_subscription_options shows the form with the value given.
    const opts = await pubsub(b, 'get_subscription_options', { jid: alice, node: TUNE, user_jid: bob });
    expect(opts.error).toBeNull();
    expect(opts.xml).toContain('http://jabber.org/protocol/pubsub#subscribe_options');
    expect(opts.xml).toMatch(/var="pubsub#deliver"[^>]*>\s*<[^>]*value>0</);
    await a.request('pep_publish', { node: TUNE, item: 'current', payload: tune('Still quiet') });
    await b.ping();
    await a.ping();
    expect(b.received('message', tuneFrom(alice!, 'uiet'))).toEqual([]);

    // §6.1.5: dan, a stranger, asks for a subscription to an authorize node: pending; alice gets the form (§8.6.1).
    const diary = 'urn:example:diary';
    const options = { 'pubsub#access_model': 'authorize' };
    expect(await a.request('pep_publish', { node: diary, item: 'current', payload: `<entry xmlns='${diary}'>Monday</entry>`, options })).toMatchObject({ error: null });
    const asked = await pubsub(d, 'subscribe', { jid: alice, node: diary });
    expect(asked.error).toBeNull();
    expect(asked.xml).toMatch(/subscription="pending"/);
    const isRequest = (e: SlixEvent): boolean => String(e.xml).includes('pubsub#subscribe_authorization') && String(e.xml).includes(String(dan));
    await a.waitFor('message', isRequest);
    expect((await d.request('pep_items', { jid: alice, node: diary })).error).toMatchObject({ condition: 'not-authorized' });
    // The owner approves through its subscription list (§8.8.2); dan is told and gets the last item.
    expect((await pubsub(a, 'modify_subscriptions', { jid: alice, node: diary, subscriptions: [[dan, 'subscribed']] })).error).toBeNull();
    await d.waitFor('message', (e) => String(e.xml).includes('subscription="subscribed"') && bareOf(e.from) === alice);
    await d.waitFor('message', (e) => String(e.xml).includes('Monday'));
    expect(JSON.stringify((await d.request('pep_items', { jid: alice, node: diary })).items)).toContain('Monday');
  });

  it('keeps XEP-0048 bookmarks in the PEP node storage:bookmarks in step with XEP-0402 (#compat-pep)', async () => {
    const [dave] = await freshUsers(t, 'compatpep');
    const d = await slixOnline(t, dave!, 'desk');
    const info = await d.request('iq', { to: dave, payload: `<query xmlns='http://jabber.org/protocol/disco#info'/>` });
    expect(String(info.xml)).toContain('urn:xmpp:bookmarks:1#compat-pep');
    // slixmpp's XEP-0048 over XEP-0223: a publication to storage:bookmarks with publish-options.
    await d.request('bookmarks_set', { method: 'xep_0223', conferences: [{ jid: 'lobby@conference.localhost', nick: 'dd', name: 'Lobby', autojoin: true }] });
    const items = await d.request('pep_items', { jid: dave, node: 'urn:xmpp:bookmarks:1' });
    expect((items.items as Array<{ id: string }>).map((i) => i.id)).toEqual(['lobby@conference.localhost']);
    expect((await d.request('bookmarks_get')).conferences).toEqual([{ jid: 'lobby@conference.localhost', nick: 'dd', name: 'Lobby', autojoin: true }]);
    // An XEP-0402 publication shows in the legacy PEP node.
    const conference = `<conference xmlns='urn:xmpp:bookmarks:1' name='Ops' autojoin='false'><nick>dd</nick></conference>`;
    const options = { 'pubsub#persist_items': 'true', 'pubsub#max_items': 'max', 'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist' };
    expect(await d.request('pep_publish', { node: 'urn:xmpp:bookmarks:1', item: 'ops@conference.localhost', payload: conference, options })).toMatchObject({ error: null });
    const legacy = JSON.stringify((await d.request('pep_items', { jid: dave, node: 'storage:bookmarks' })).items);
    expect(legacy).toContain('lobby@conference.localhost');
    expect(legacy).toContain('ops@conference.localhost');
  });
});
