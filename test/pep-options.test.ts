/**
 * Subscription options and pending subscriptions of users' PEP nodes (XEP-0060 §6.3, §6.1.5, §8.6, §8.8), over
 * real XMPP connections (direct TLS, raw stanzas) to a running server on SQLite.
 *
 * A subscriber reads and changes its options (`pubsub#deliver`, `pubsub#show-values`), subscribes with options,
 * and is notified only as they say; bad requests get XEP-0060's conditions. Under the authorize access model a
 * request is pending, the owner gets the `subscribe_authorization` form, the requests survive a restart of the
 * server, the owner has them sent again (the get-pending ad-hoc command, §8.7) and approves or denies them with
 * the form or with its subscription list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, startServer, until, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

const TUNE = 'http://jabber.org/protocol/tune';
const DIARY = 'urn:example:diary';
const ERRORS = 'http://jabber.org/protocol/pubsub#errors';
const PS = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'>${inner}</pubsub>`;
const OWNER = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>${inner}</pubsub>`;
const form = (type: string, fields: Record<string, string | string[]>, formType = `http://jabber.org/protocol/pubsub#${type}`): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${formType}</value></field>${Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('')}</x>`;
const publish = (node: string, title: string, options = ''): string =>
  PS(`<publish node='${node}'><item id='current'><tune xmlns='${TUNE}'><title>${title}</title></tune></item></publish>${options}`);
/** An error reply with the stanza condition `condition` and XEP-0060's own `pubsub` condition (§7.1.3). */
const failed = (condition: string, pubsub?: string): RegExp =>
  new RegExp(`type="error"[\\s\\S]*<${condition} [\\s\\S]*${pubsub === undefined ? '' : `<${pubsub} xmlns="${ERRORS}"/>`}`);

const dir = mkdtempSync(join(tmpdir(), 'parley-pep-options-'));
const start = (): Promise<TestServer> => startServer({ storage: { sqlite: { path: join(dir, 'parley.db'), synchronous: 'normal' } } as never });
let t: TestServer;
const open: RawXmpp[] = [];

beforeAll(async () => {
  t = await start();
});
afterAll(async () => {
  for (const c of open) c.close();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A logged-in raw XMPP session with initial presence (`show`, RFC 6121 §4.7.2.1), available on the server. */
async function online(user: string, resource = 'desk', show?: string): Promise<RawXmpp> {
  const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  open.push(c);
  await c.login(user, `pw-${user.split('@')[0]}`, resource);
  c.write(show === undefined ? '<presence/>' : `<presence><show>${show}</show></presence>`);
  await until(() => t.server.engine.sessions.get(user, resource)?.available === true, 5000, `${user}/${resource} available`);
  return c;
}

/** Changes the session's presence and waits until the server has it. */
async function show(c: RawXmpp, user: string, resource: string, value: string | null): Promise<void> {
  c.write(value === null ? '<presence/>' : `<presence><show>${value}</show></presence>`);
  const want = value ?? 'available';
  await until(() => t.server.engine.sessions.get(user, resource)?.presence.availability === want, 5000, `${user}/${resource} ${want}`);
}

/** What the connection received from `from` on, after a round trip (everything queued before it has arrived). */
async function since(c: RawXmpp, from: number): Promise<string> {
  await new Promise((r) => setTimeout(r, 30));
  await c.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
  return c.text.slice(from);
}

/** `from` receives `to`'s presence (subscription from on to's side). */
async function sees(from: string, to: string): Promise<void> {
  await t.server.engine.rosters.act(from, to, 'subscribe');
  await t.server.engine.rosters.act(to, from, 'subscribed');
}

describe('subscription options (XEP-0060 §6.3)', () => {
  it('serves the options form, subscribe with options, changes, and notifies only as deliver and show-values say', async () => {
    const [alice, bob, carol] = (await freshUsers(t, 'opta', 'optb', 'optc')) as [string, string, string];
    await sees(bob, alice);
    const a = await online(alice);
    const b = await online(bob);
    await online(carol);
    expect(await a.iq('set', publish(TUNE, 'One'))).toContain('type="result"');

    // §6.3.1: the account and the node say that subscription options are offered.
    const features = (node?: string): Promise<string> => b.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'${node ? ` node='${node}'` : ''}/>`, alice);
    expect(await features()).toContain('<feature var="http://jabber.org/protocol/pubsub#subscription-options"/>');
    expect(await features(TUNE)).toContain('<feature var="http://jabber.org/protocol/pubsub#subscription-options"/>');

    // §6.3.4.2: no subscription yet.
    expect(await b.iq('get', PS(`<options node='${TUNE}' jid='${bob}'/>`), alice)).toMatch(failed('unexpected-request', 'not-subscribed'));
    // §6.3.7: subscribe and configure; a form that does not apply subscribes nothing (§6.3.6).
    const badShow = `<options>${form('subscribe_options', { 'pubsub#show-values': 'sleepy' })}</options>`;
    expect(await b.iq('set', PS(`<subscribe node='${TUNE}' jid='${bob}'/>${badShow}`), alice)).toMatch(failed('bad-request', 'invalid-options'));
    expect(await b.iq('get', PS(`<subscriptions/>`), alice)).not.toContain('<subscription ');
    let mark = b.text.length;
    const withOptions = `<options>${form('subscribe_options', { 'pubsub#deliver': '1', 'pubsub#show-values': ['online', 'chat'] })}</options>`;
    expect(await b.iq('set', PS(`<subscribe node='${TUNE}' jid='${bob}'/>${withOptions}`), alice)).toContain(`<subscription node="${TUNE}" jid="${bob}" subscription="subscribed"/>`);
    await b.until(/<title>One<\/title>/, 5000, mark); // §6.1.7: the last item, bob shows online

    // §6.3.2: the form with the current values.
    const got = await b.iq('get', PS(`<options node='${TUNE}' jid='${bob}'/>`), alice);
    expect(got).toContain(`<options node="${TUNE}" jid="${bob}"><x xmlns="jabber:x:data" type="form">`);
    expect(got).toContain('<field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>');
    expect(got).toMatch(/<field var="pubsub#deliver" type="boolean"[^>]*><value>1<\/value><\/field>/);
    expect(got).toMatch(/<field var="pubsub#show-values" type="list-multi"[^>]*><value>chat<\/value><value>online<\/value><option>/);
    expect(got).not.toContain('pubsub#digest');

    // show-values: online and chat get notifications, away does not.
    mark = b.text.length;
    await a.iq('set', publish(TUNE, 'Two'));
    await b.until(/<title>Two<\/title>/, 5000, mark);
    await show(b, bob, 'desk', 'away');
    mark = b.text.length;
    await a.iq('set', publish(TUNE, 'Three'));
    expect(await since(b, mark)).not.toContain('Three');
    await show(b, bob, 'desk', 'chat');
    mark = b.text.length;
    await a.iq('set', publish(TUNE, 'Four'));
    await b.until(/<title>Four<\/title>/, 5000, mark);

    // §6.3.5: delivery off; the next publication does not come, and the form says so.
    expect(await b.iq('set', PS(`<options node='${TUNE}' jid='${bob}'>${form('subscribe_options', { 'pubsub#deliver': 'false' })}</options>`), alice)).toContain('type="result"');
    mark = b.text.length;
    await a.iq('set', publish(TUNE, 'Five'));
    expect(await since(b, mark)).not.toContain('Five');
    const off = await b.iq('get', PS(`<options node='${TUNE}' jid='${bob}'/>`), alice);
    expect(off).toMatch(/<field var="pubsub#deliver" type="boolean"[^>]*><value>0<\/value><\/field>/);
    expect(off).toMatch(/<field var="pubsub#show-values"[^>]*><value>chat<\/value><value>online<\/value><option>/); // kept
    // On again, any state (every value listed is the same as none given).
    const on = form('subscribe_options', { 'pubsub#deliver': '1', 'pubsub#show-values': ['away', 'chat', 'dnd', 'online', 'xa'] });
    expect(await b.iq('set', PS(`<options node='${TUNE}' jid='${bob}'>${on}</options>`), alice)).toContain('type="result"');
    await show(b, bob, 'desk', 'xa');
    mark = b.text.length;
    await a.iq('set', publish(TUNE, 'Six'));
    await b.until(/<title>Six<\/title>/, 5000, mark);

    // §6.3.4 and §6.3.6: errors, and the connection goes on.
    const opts = (jid: string | null, x = '', node = TUNE): string => PS(`<options node='${node}'${jid === null ? '' : ` jid='${jid}'`}>${x}</options>`);
    expect(await b.iq('get', opts(carol), alice)).toMatch(failed('forbidden'));
    expect(await b.iq('get', opts(null), alice)).toMatch(failed('bad-request', 'jid-required'));
    expect(await b.iq('get', opts('not a jid@@'), alice)).toMatch(failed('bad-request', 'invalid-jid'));
    expect(await b.iq('get', opts(bob, '', 'urn:example:none'), alice)).toMatch(failed('item-not-found'));
    expect(await b.iq('set', opts(bob, form('subscribe_options', { 'pubsub#digest': '1' })), alice)).toMatch(failed('bad-request', 'invalid-options'));
    expect(await b.iq('set', opts(bob, form('subscribe_options', { 'pubsub#deliver': 'maybe' })), alice)).toMatch(failed('bad-request', 'invalid-options'));
    expect(await b.iq('set', opts(bob, form('x', {}, 'urn:example:other-form')), alice)).toMatch(failed('bad-request', 'invalid-options'));
    expect(await b.iq('set', opts(bob), alice)).toMatch(failed('bad-request', 'invalid-options'));
    expect(await b.iq('get', `<ping xmlns='urn:xmpp:ping'/>`)).toContain('type="result"');
  });
});

describe('pending subscriptions (XEP-0060 §6.1.5, §8.6, access model authorize)', () => {
  it('keeps requests pending across a restart until the owner approves or denies them', async () => {
    const [alice, carol, dave, erin] = (await freshUsers(t, 'autha', 'authc', 'authd', 'authe')) as [string, string, string, string];
    let a = await online(alice);
    let c = await online(carol);
    let d = await online(dave);
    // The node is made with the authorize access model (publish-options configure a new node, XEP-0223 §3).
    const authorize = `<publish-options>${form('publish-options', { 'pubsub#access_model': 'authorize' })}</publish-options>`;
    expect(await a.iq('set', publish(DIARY, 'Monday', authorize))).toContain('type="result"');
    expect(await c.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, alice)).toContain('<feature var="http://jabber.org/protocol/pubsub#access-authorize"/>');
    // Not subscribed: no items (§6.5.9).
    expect(await c.iq('get', PS(`<items node='${DIARY}'/>`), alice)).toMatch(failed('not-authorized', 'not-subscribed'));

    // §6.1.5: the request is pending; §8.6.1: the owner gets the authorization form.
    let mark = a.text.length;
    expect(await c.iq('set', PS(`<subscribe node='${DIARY}' jid='${carol}'/>`), alice)).toContain(`<subscription node="${DIARY}" jid="${carol}" subscription="pending"/>`);
    const ask = (await a.until(new RegExp(`<message [^>]*>(?:(?!</message>)[\\s\\S])*${carol}(?:(?!</message>)[\\s\\S])*</message>`), 5000, mark))[0];
    expect(ask).toContain(`from="${alice}"`);
    expect(ask).toContain('<x xmlns="jabber:x:data" type="form">');
    expect(ask).toContain('<value>http://jabber.org/protocol/pubsub#subscribe_authorization</value>');
    expect(ask).toMatch(new RegExp(`<field var="pubsub#node" type="text-single"[^>]*><value>${DIARY}</value>`));
    expect(ask).toMatch(new RegExp(`<field var="pubsub#subscriber_jid" type="jid-single"[^>]*><value>${carol}</value>`));
    expect(ask).toMatch(/<field var="pubsub#allow" type="boolean"[^>]*><value>false<\/value>/);
    expect(await c.iq('get', PS(`<items node='${DIARY}'/>`), alice)).toMatch(failed('not-authorized', 'pending-subscription'));
    expect(await c.iq('get', PS(`<subscriptions/>`), alice)).toContain(`<subscription node="${DIARY}" jid="${carol}" subscription="pending"/>`);
    expect(await d.iq('set', PS(`<subscribe node='${DIARY}' jid='${dave}'/>`), alice)).toContain('subscription="pending"');
    // Nothing is published to a pending subscriber.
    mark = c.text.length;
    await a.iq('set', publish(DIARY, 'Tuesday'));
    expect(await since(c, mark)).not.toContain('Tuesday');

    // The requests are stored: they survive a restart of the server.
    for (const x of [a, c, d]) x.close();
    await t.close();
    t = await start();
    a = await online(alice);
    c = await online(carol);
    d = await online(dave);
    const e = await online(erin);
    const list = (): Promise<string> => a.iq('get', OWNER(`<subscriptions node='${DIARY}'/>`));
    expect(await list()).toContain(`<subscription jid="${carol}" subscription="pending"/>`);
    expect(await list()).toContain(`<subscription jid="${dave}" subscription="pending"/>`);
    // §8.7: the ad-hoc command get-pending offers the node, and sends the authorization forms again.
    const COMMAND = `xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending'`;
    expect(await c.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, alice)).toContain('<feature var="http://jabber.org/protocol/pubsub#get-pending"/>');
    const step = await a.iq('set', `<command ${COMMAND} action='execute'/>`);
    expect(step).toContain('status="executing"');
    expect(step).toMatch(new RegExp(`<field var="pubsub#node" type="list-single"[^>]*><option><value>${DIARY}</value></option></field>`));
    const sessionid = /sessionid="([^"]+)"/.exec(step)![1]!;
    mark = a.text.length;
    const done = await a.iq('set', `<command ${COMMAND} sessionid='${sessionid}'>${form('', { 'pubsub#node': DIARY }, 'http://jabber.org/protocol/pubsub#subscribe_authorization')}</command>`);
    expect(done).toContain('status="completed"');
    await a.until(new RegExp(`<value>${dave}</value>`), 5000, mark);
    await a.until(new RegExp(`<value>${carol}</value>`), 5000, mark);
    // Another's address has no such command.
    expect(await c.iq('set', `<command ${COMMAND} action='execute'/>`, alice)).toContain('type="error"');

    // §8.6.2: the owner approves carol with the form: carol is told, gets the last item, then the next one.
    const answer = (jid: string, allow: string): string =>
      `<message to='${alice}' id='ans-${jid}-${allow}'>${form('', { 'pubsub#node': DIARY, 'pubsub#subscriber_jid': jid, 'pubsub#allow': allow }, 'http://jabber.org/protocol/pubsub#subscribe_authorization')}</message>`;
    mark = c.text.length;
    a.write(answer(carol, 'true'));
    await c.until(new RegExp(`<event xmlns="http://jabber.org/protocol/pubsub#event"><subscription node="${DIARY}" jid="${carol}" subscription="subscribed"/></event>`), 5000, mark);
    await c.until(/<title>Tuesday<\/title>/, 5000, mark);
    expect(await c.iq('get', PS(`<items node='${DIARY}'/>`), alice)).toContain('<title>Tuesday</title>');
    // The owner denies dave: dave is told, and has no subscription.
    mark = d.text.length;
    a.write(answer(dave, 'false'));
    await d.until(new RegExp(`<subscription node="${DIARY}" jid="${dave}" subscription="none"/>`), 5000, mark);
    expect(await d.iq('get', PS(`<subscriptions/>`), alice)).not.toContain('<subscription ');
    expect(await list()).toContain(`<subscription jid="${carol}" subscription="subscribed"/>`);
    expect(await list()).not.toContain(dave);
    // An answer to no pending request is an error (item-not-found), in a message error.
    mark = a.text.length;
    a.write(answer(dave, 'true'));
    expect((await a.until(/<message [^>]*type="error"[\s\S]*?<\/message>/, 5000, mark))[0]).toContain('<item-not-found');

    const cMark = c.text.length;
    const dMark = d.text.length;
    await a.iq('set', publish(DIARY, 'Wednesday'));
    await c.until(/<title>Wednesday<\/title>/, 5000, cMark);
    expect(await since(d, dMark)).not.toContain('Wednesday');

    // §8.8.2: approving a pending request through the owner's subscription list tells the subscriber too.
    expect(await e.iq('set', PS(`<subscribe node='${DIARY}' jid='${erin}'/>`), alice)).toContain('subscription="pending"');
    mark = e.text.length;
    expect(await a.iq('set', OWNER(`<subscriptions node='${DIARY}'><subscription jid='${erin}' subscription='subscribed'/></subscriptions>`))).toContain('type="result"');
    await e.until(new RegExp(`<subscription node="${DIARY}" jid="${erin}" subscription="subscribed"/>`), 5000, mark);
    expect(await e.iq('get', PS(`<items node='${DIARY}'/>`), alice)).toContain('<title>Wednesday</title>');
  });
});
