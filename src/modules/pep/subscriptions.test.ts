/**
 * Explicit subscriptions to users' PEP nodes through the seam (XEP-0060 §6.1, §6.2, §5.6, §8.8; XEP-0163 §4):
 * a subscriber is notified without +notify and once with it, its subscription options leave +notify delivery
 * alone, the access model decides who may subscribe and who
 * stays subscribed, the owner lists and sets subscriptions, and the account's disco#info names what is served.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { pep } from './index.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';
const TUNE = 'http://jabber.org/protocol/tune';
const PS = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'>${inner}</pubsub>`;
const OWNER = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>${inner}</pubsub>`;
const tune = (title: string): string => PS(`<publish node='${TUNE}'><item id='current'><tune xmlns='${TUNE}'><title>${title}</title></tune></item></publish>`);
const subscribe = (jid: string, node = TUNE): string => PS(`<subscribe node='${node}' jid='${jid}'/>`);
const unsubscribe = (jid: string, node = TUNE): string => PS(`<unsubscribe node='${node}' jid='${jid}'/>`);
const ERRORS = 'http://jabber.org/protocol/pubsub#errors';

/** `from` receives `to`'s presence (subscription from on to's side). */
async function sees(engine: Engine, from: string, to: string): Promise<void> {
  await engine.rosters.act(from, to, 'subscribe');
  await engine.rosters.act(to, from, 'subscribed');
}

/** Logs in with the given +notify interests and sends initial presence. */
async function online(engine: Engine, ext: Parameters<typeof TestXmppClient.login>[1], local: string, resource: string, nodes: string[] = []): Promise<TestXmppClient> {
  const c = await TestXmppClient.login(engine, ext, local, resource);
  const s = engine.sessions.get(`${local}@example.com`, resource)!;
  await engine.setInterests(s, new Set(nodes));
  c.send('<presence/>');
  for (let i = 0; i < 100 && !s.available; i++) await new Promise((r) => setTimeout(r, 5));
  return c;
}

/** Lets pending deliveries land, then the output since `mark` (a ping's answer orders it after them). */
async function since(c: TestXmppClient, mark: number): Promise<string> {
  await new Promise((r) => setTimeout(r, 20));
  await c.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
  return c.waitFor(/[\s\S]*/, mark);
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe('pep explicit subscriptions (XEP-0060 §6.1)', () => {
  it('notifies a subscriber without +notify, once with it, gives the last item, lists and ends the subscription', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, C] });
    await sees(engine, B, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    await a.iq('set', tune('First'));
    const b = await online(engine, host.xmpp, 'b', 'desk');
    let mark = b.mark;
    // §6.1.2 the result names the subscription; §6.1.7 the last item follows.
    const res = (await b.iq('set', subscribe(B), A)).reply;
    expect(res).toContain(`<subscription node="${TUNE}" jid="${B}" subscription="subscribed"/>`);
    expect(await b.waitFor(/<title>First<\/title>/, mark)).toContain(`from="${A}"`);
    // A publication reaches the subscriber although its session never said +notify (XEP-0163 §4).
    mark = b.mark;
    await a.iq('set', tune('Second'));
    expect(count(await since(b, mark), /<title>Second<\/title>/)).toBe(1);
    // Subscribing again keeps one subscription (§6.1.6); §5.6 lists it.
    await b.iq('set', subscribe(B), A);
    const mine = (await b.iq('get', PS(`<subscriptions/>`), A)).reply;
    expect(count(mine, /<subscription /)).toBe(1);
    expect(mine).toContain(`<subscription node="${TUNE}" jid="${B}" subscription="subscribed"/>`);
    // A second session of b with +notify is notified once, not once per way (no duplicates).
    const b2 = await online(engine, host.xmpp, 'b', 'tablet', [TUNE]);
    mark = b2.mark;
    const deskMark = b.mark;
    await a.iq('set', tune('Third'));
    expect(count(await since(b2, mark), /<title>Third<\/title>/)).toBe(1);
    expect(count(await since(b, deskMark), /<title>Third<\/title>/)).toBe(1);
    // §6.2: unsubscribe; a second time is unexpected-request + not-subscribed; another's address is forbidden.
    expect((await b.iq('set', unsubscribe(B), A)).reply).toContain('type="result"');
    expect((await b.iq('set', unsubscribe(B), A)).reply).toMatch(new RegExp(`<unexpected-request[\\s\\S]*<not-subscribed xmlns="${ERRORS}"/>`));
    expect((await b.iq('set', unsubscribe(C), A)).reply).toContain('<forbidden');
    mark = b.mark;
    await a.iq('set', tune('Fourth'));
    expect(await since(b, mark)).not.toContain('Fourth');
    expect((await b.iq('get', PS(`<subscriptions node='${TUNE}'/>`), A)).reply).not.toContain('<subscription ');
    for (const x of [a, b, b2]) x.close();
  });

  it('the options of an explicit subscription govern it alone: a +notify session of the subscriber still gets the item', async () => {
    // XEP-0163 §4 names two grounds for a notification: a subscription (explicit, XEP-0060 §6.1), and shared
    // presence with an interest shown by +notify (the auto-subscription of §4.1, XEP-0060 §10.1). Subscription
    // options (XEP-0060 §6.3) belong to one subscription, so deliver false or show-values stop only what the
    // explicit one brings; a +notify session is served by the other ground, as if there were no explicit one.
    const { engine, host } = await moduleFixture([pep], { users: [A, B] });
    await sees(engine, B, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const notify = await online(engine, host.xmpp, 'b', 'notify', [TUNE]);
    const plain = await online(engine, host.xmpp, 'b', 'plain');
    await a.iq('set', tune('First'));
    expect((await plain.iq('set', subscribe(B), A)).reply).toContain('subscription="subscribed"');
    const form = (fields: string): string =>
      PS(`<options node='${TUNE}' jid='${B}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>${fields}</x></options>`);
    const publish = async (title: string): Promise<[number, number]> => {
      const marks: [number, number] = [notify.mark, plain.mark];
      await a.iq('set', tune(title));
      const re = new RegExp(`<title>${title}</title>`);
      return [count(await since(notify, marks[0]), re), count(await since(plain, marks[1]), re)];
    };
    // deliver false: the session without +notify gets nothing, the +notify one gets the item once.
    expect((await plain.iq('set', form(`<field var='pubsub#deliver'><value>0</value></field>`), A)).reply).toContain('type="result"');
    expect(await publish('Quiet')).toEqual([1, 0]);
    // show-values xa while both sessions show online: the same.
    expect((await plain.iq('set', form(`<field var='pubsub#deliver'><value>1</value></field><field var='pubsub#show-values'><value>xa</value></field>`), A)).reply).toContain('type="result"');
    expect(await publish('Online')).toEqual([1, 0]);
    // Once the plain session shows xa the subscription brings it the item; the +notify session still gets one.
    plain.send('<presence><show>xa</show></presence>');
    const s = engine.sessions.get(B, 'plain')!;
    for (let i = 0; i < 100 && s.presence.availability !== 'xa'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await publish('Away')).toEqual([1, 1]);
    for (const x of [a, notify, plain]) x.close();
  });

  it('refuses subscriptions as XEP-0060 §6.1.3 says, and subscribes one full address only', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, C] });
    await sees(engine, B, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const b = await online(engine, host.xmpp, 'b', 'desk');
    const bPhone = await online(engine, host.xmpp, 'b', 'phone');
    const c = await online(engine, host.xmpp, 'c', 'desk');
    await a.iq('set', tune('Hidden'));
    const secret = PS(
      `<publish node='urn:secret'><item id='1'><s xmlns='urn:secret'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'>` +
        `<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>`,
    );
    await a.iq('set', secret);
    expect((await c.iq('set', subscribe(C), A)).reply).toMatch(new RegExp(`<not-authorized[\\s\\S]*<presence-subscription-required xmlns="${ERRORS}"/>`));
    expect((await b.iq('set', subscribe(B, 'urn:secret'), A)).reply).toMatch(new RegExp(`<not-allowed[\\s\\S]*<closed-node xmlns="${ERRORS}"/>`));
    expect((await b.iq('set', subscribe(B, 'urn:none'), A)).reply).toContain('<item-not-found');
    expect((await b.iq('set', subscribe(C), A)).reply).toMatch(new RegExp(`<bad-request[\\s\\S]*<invalid-jid xmlns="${ERRORS}"/>`));
    expect((await b.iq('set', subscribe('not a jid@@'), A)).reply).toMatch(/<bad-request[\s\S]*<invalid-jid/);
    expect((await b.iq('set', PS(`<subscribe jid='${B}'/>`), A)).reply).toMatch(/<bad-request[\s\S]*<nodeid-required/);
    expect((await b.iq('get', PS(`<options node='${TUNE}' jid='${B}'/>`), A)).reply).toMatch(new RegExp(`<unexpected-request[\\s\\S]*<not-subscribed xmlns="${ERRORS}"/>`));
    // A full address: that session alone is notified.
    expect((await b.iq('set', subscribe(`${B}/phone`), A)).reply).toContain(`jid="${B}/phone"`);
    const deskMark = b.mark;
    const phoneMark = bPhone.mark;
    await a.iq('set', tune('Full'));
    expect(await since(bPhone, phoneMark)).toContain('<title>Full</title>');
    expect(await since(b, deskMark)).not.toContain('Full');
    // The connection goes on after each refusal.
    expect((await c.iq('get', `<ping xmlns='urn:xmpp:ping'/>`)).reply).toContain('type="result"');
    for (const x of [a, b, bPhone, c]) x.close();
  });

  it('ends a subscription when its subscriber loses access: roster removed, node made whitelist, a block', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, C] });
    await sees(engine, B, A);
    await sees(engine, C, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const b = await online(engine, host.xmpp, 'b', 'desk');
    const c = await online(engine, host.xmpp, 'c', 'desk');
    await a.iq('set', tune('One'));
    await a.iq('set', PS(`<publish node='urn:other'><item id='1'><o xmlns='urn:other'/></item></publish>`));
    await b.iq('set', subscribe(B), A);
    await c.iq('set', subscribe(C), A);
    await c.iq('set', subscribe(C, 'urn:other'), A);
    const list = (): Promise<string> => a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`)).then((r) => r.reply);
    expect(await list()).toMatch(new RegExp(`jid="${B}"[\\s\\S]*jid="${C}"|jid="${C}"[\\s\\S]*jid="${B}"`));
    // The owner removes b from its roster: b's subscription ends.
    await engine.rosters.remove(A, B);
    expect(await list()).not.toContain(`jid="${B}"`);
    const mark = b.mark;
    await a.iq('set', tune('Two'));
    expect(await since(b, mark)).not.toContain('Two');
    // The node made whitelist: the subscription to it ends.
    expect((await c.iq('get', PS(`<subscriptions/>`), A)).reply).toContain('node="urn:other"');
    const whitelist = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x>`;
    await a.iq('set', OWNER(`<configure node='urn:other'>${whitelist}</configure>`));
    expect((await a.iq('get', OWNER(`<subscriptions node='urn:other'/>`))).reply).not.toContain(`jid="${C}"`);
    // A block: c, still subscribed to the tune, is not notified and loses its subscription.
    expect(await list()).toContain(`jid="${C}"`);
    await engine.blocks.block(A, [C]);
    const cMark = c.mark;
    await a.iq('set', tune('Three'));
    expect(await since(c, cMark)).not.toContain('Three');
    expect(await list()).not.toContain(`jid="${C}"`);
    for (const x of [a, b, c]) x.close();
  });

  it('lets the owner list and set subscriptions (§8.8), all or nothing, and no one else', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, C] });
    await sees(engine, B, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const b = await online(engine, host.xmpp, 'b', 'desk');
    await a.iq('set', tune('Owned'));
    const set = (entries: string): string => OWNER(`<subscriptions node='${TUNE}'>${entries}</subscriptions>`);
    expect((await a.iq('set', set(`<subscription jid='${B}' subscription='subscribed'/>`))).reply).toContain('type="result"');
    expect((await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply).toContain(`<subscription jid="${B}" subscription="subscribed"/>`);
    const mark = b.mark;
    await a.iq('set', tune('Pushed'));
    expect(await since(b, mark)).toContain('<title>Pushed</title>');
    // c may not see the node: the whole request is refused and b stays subscribed.
    const refused = (await a.iq('set', set(`<subscription jid='${B}' subscription='none'/><subscription jid='${C}' subscription='subscribed'/>`))).reply;
    expect(refused).toContain('<not-acceptable');
    expect((await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply).toContain(`jid="${B}"`);
    expect((await a.iq('set', set(`<subscription jid='${B}' subscription='pending'/>`))).reply).toContain('<not-acceptable');
    expect((await a.iq('set', set(`<subscription jid='${B}' subscription='none'/>`))).reply).toContain('type="result"');
    expect((await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply).not.toContain('<subscription ');
    expect((await b.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`), A)).reply).toContain('<forbidden');
    expect((await a.iq('get', OWNER(`<subscriptions node='urn:none'/>`))).reply).toContain('<item-not-found');
    for (const x of [a, b]) x.close();
  });

  it('holds maxSubscriptionsPerNode, for subscribers and for the owner\'s changes', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, C], options: { pep: { maxSubscriptionsPerNode: 1 } } });
    await sees(engine, B, A);
    await sees(engine, C, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const b = await online(engine, host.xmpp, 'b', 'desk');
    const c = await online(engine, host.xmpp, 'c', 'desk');
    await a.iq('set', tune('Full'));
    expect((await b.iq('set', subscribe(B), A)).reply).toContain('type="result"');
    expect((await b.iq('set', subscribe(B), A)).reply).toContain('type="result"'); // the same one again
    expect((await c.iq('set', subscribe(C), A)).reply).toMatch(/<resource-constraint[\s\S]*at most 1 subscriptions/);
    const set = (entries: string): string => OWNER(`<subscriptions node='${TUNE}'>${entries}</subscriptions>`);
    expect((await a.iq('set', set(`<subscription jid='${C}' subscription='subscribed'/>`))).reply).toContain('<resource-constraint');
    // Ending b and adding c in one request fits.
    expect((await a.iq('set', set(`<subscription jid='${C}' subscription='subscribed'/><subscription jid='${B}' subscription='none'/>`))).reply).toContain('type="result"');
    const list = (await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply;
    expect(list).toContain(`jid="${C}"`);
    expect(list).not.toContain(`jid="${B}"`);
    for (const x of [a, b, c]) x.close();
  });

  it('announces exactly the served pubsub features on the account, and subscriptions go with the node and the account', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B] });
    await sees(engine, B, A);
    const a = await online(engine, host.xmpp, 'a', 'phone');
    const b = await online(engine, host.xmpp, 'b', 'desk');
    const info = (await b.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, A)).reply;
    const features = [...info.matchAll(/<feature var="http:\/\/jabber.org\/protocol\/pubsub#([^"]+)"\/>/g)].map((m) => m[1]).sort();
    expect(features).toEqual(
      [
        'access-authorize', 'access-open', 'access-presence', 'access-roster', 'access-whitelist', 'auto-create', 'config-node', 'config-node-max', 'create-and-configure', 'create-nodes',
        'delete-items', 'delete-nodes', 'filtered-notifications', 'get-pending', 'item-ids', 'last-published', 'manage-subscriptions', 'persistent-items',
        'presence-notifications', 'publish', 'publish-options', 'retract-items', 'retrieve-affiliations', 'retrieve-items', 'retrieve-subscriptions', 'subscribe', 'subscription-options',
      ].sort(),
    );
    await a.iq('set', tune('Gone'));
    // §5.7: the owner owns its nodes; a contact has no affiliation.
    expect((await a.iq('get', PS(`<affiliations/>`))).reply).toContain(`<affiliations><affiliation node="${TUNE}" affiliation="owner"/></affiliations>`);
    expect((await b.iq('get', PS(`<affiliations/>`), A)).reply).toContain('<affiliations/>');
    expect((await a.iq('get', PS(`<affiliations node='urn:none'/>`))).reply).toContain('<item-not-found');
    await b.iq('set', subscribe(B), A);
    await a.iq('set', OWNER(`<delete node='${TUNE}'/>`));
    await a.iq('set', tune('Again'));
    expect((await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply).not.toContain('<subscription ');
    await b.iq('set', subscribe(B), A);
    await engine.admin.removeUser(B);
    expect((await a.iq('get', OWNER(`<subscriptions node='${TUNE}'/>`))).reply).not.toContain('<subscription ');
    a.close();
  });
});
