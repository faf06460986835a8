/**
 * XEP-0357 push notifications end to end, with slixmpp on both sides: slixmpp clients (test/xmpp/slix_driver.py;
 * Debian's python3-slixmpp has no xep_0357 plugin, so <enable/> and <disable/> go as raw iqs) and a slixmpp
 * ComponentXMPP (test/xmpp/slix_component.py) as the app server on push.localhost, an XEP-0114 component.
 *
 * A client enables push with a publish-options form and goes offline; a message from another user reaches the
 * app server as a pubsub publish from the user's bare address to the registered node, with the summary's count
 * and sender and the form as given, and no body (the default); a second message within the coalescing window
 * is not published at once, and the next publish counts both; once disabled nothing is published; an app server
 * answering item-not-found has its registration dropped (§8); a client whose connection drops while its session
 * hibernates (XEP-0198) is woken, and so is a connected one that said it is inactive (XEP-0352, a raw client) until
 * it is active again; registrations survive a restart of the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './harness.js';
import { databaseWithUsers, sqliteAt, componentOnline, stopAll } from './support/components.js';
import { RawXmpp } from './xmpp-raw.js';
import type { SlixComponent } from './xmpp/slix-component.js';
import { SlixClient, slixmppUnavailable, slixOnline, type SlixEvent } from './xmpp/slix.js';
import { freePort } from '../src/modules/testing.js';

const SECRET = 'component-secret-for-push';
const APP = 'push.localhost';
const FORM = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>app-secret-42</value></field></x>";
const why = slixmppUnavailable();
if (why !== null) console.warn(`\n*** SKIPPED: test/xmpp-push.test.ts needs slixmpp (${why}).\n`);

let t: TestServer;
let port = 0;
let dir = '';
let path = '';
let app: SlixComponent;

async function start(): Promise<void> {
  t = await startServer({
    storage: sqliteAt(path),
    modules: {
      apikeys: { enabled: true },
      presentities: { enabled: true },
      components: { enabled: true, port, components: [{ domain: APP, secret: SECRET, owner: 'owner@localhost' }] },
      push: { coalesceSeconds: 2, timeoutSeconds: 3 },
    } as never,
  });
  app = await componentOnline(port, APP, SECRET);
}

/** The publishes the app server received for `node`, oldest first. */
const publishes = (node: string): SlixEvent[] => app.events.filter((e) => e.ev === 'stanza' && new RegExp(`<publish node="${node}"`).test(String(e.xml)));
/** A summary field's value in a publish. */
const field = (e: SlixEvent, name: string): string | null => new RegExp(`<field var="${name}"><value>([^<]*)</value>`).exec(String(e.xml))?.[1] ?? null;

/** The app server answers a publish: a result, or an error with `condition` (RFC 6120 §8.3). */
async function answer(e: SlixEvent, condition: string | null = null): Promise<void> {
  const xml = String(e.xml);
  const id = /\sid="([^"]+)"/.exec(xml)![1]!;
  const from = /\sfrom="([^"]+)"/.exec(xml)![1]!;
  const body = condition === null ? '' : `<error type="cancel"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>`;
  await app.request('raw', { xml: `<iq type="${condition === null ? 'result' : 'error'}" from="${APP}" to="${from}" id="${id}">${body}</iq>` });
}

/** Waits for the `n`th publish to `node` (1-based) and returns it. */
async function nth(node: string, n: number, timeoutMs = 10_000): Promise<SlixEvent> {
  await app.waitFor('stanza', () => publishes(node).length >= n, timeoutMs);
  return publishes(node)[n - 1]!;
}

const enable = (c: SlixClient, node: string, form = FORM): Promise<Record<string, unknown>> =>
  c.request('iq', { to: 'alice@localhost', type: 'set', payload: `<enable xmlns='urn:xmpp:push:0' jid='${APP}' node='${node}'>${form}</enable>` });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  if (why) return;
  ({ dir, path } = await databaseWithUsers('push', ['owner@localhost', 'alice@localhost', 'bob@localhost']));
  port = await freePort();
  await start();
}, 60_000);

afterAll(() => stopAll(t, dir));

describe.skipIf(why !== null)('XEP-0357 push notifications (slixmpp client and app server component)', () => {
  it('publishes to the registered node while the user is offline, coalesces a burst, and stops once disabled', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'phone');
    expect(await enable(alice, 'node-1')).toMatchObject({ type: 'result' });
    // §4: the account says it supports push.
    const info = await alice.request('iq', { to: 'alice@localhost', payload: "<query xmlns='http://jabber.org/protocol/disco#info'/>" });
    expect(String(info.xml)).toMatch(/var="urn:xmpp:push:0"/);
    await alice.close();
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    await bob.send('alice@localhost', 'are you awake?');
    const first = await nth('node-1', 1);
    // §7: from the user's bare address, an iq set to the app server, the summary form and the publish-options.
    expect(String(first.xml)).toMatch(/type="set"/);
    expect(String(first.xml)).toMatch(/from="alice@localhost"/);
    expect(String(first.xml)).toMatch(new RegExp(`to="${APP}"`));
    expect(field(first, 'FORM_TYPE')).toBe('urn:xmpp:push:summary');
    expect(field(first, 'message-count')).toBe('1');
    expect(field(first, 'last-message-sender')).toBe('bob@localhost/desk');
    expect(field(first, 'last-message-body')).toBeNull();
    expect(String(first.xml)).toMatch(/<publish-options><x xmlns="jabber:x:data" type="submit">.*<field var="secret"><value>app-secret-42<\/value><\/field><\/x><\/publish-options>/);
    await answer(first);
    // Within the window: counted, not published at once; the next publish carries both.
    await bob.send('alice@localhost', 'hello?');
    await sleep(1000);
    expect(publishes('node-1')).toHaveLength(1);
    const second = await nth('node-1', 2);
    expect(field(second, 'message-count')).toBe('2');
    await answer(second);
    // Disabled: nothing more reaches the app server.
    const back = await slixOnline(t, 'alice@localhost', 'phone');
    expect(await back.request('iq', { to: 'alice@localhost', type: 'set', payload: `<disable xmlns='urn:xmpp:push:0' jid='${APP}' node='node-1'/>` })).toMatchObject({ type: 'result' });
    await back.close();
    await bob.send('alice@localhost', 'still there?');
    await sleep(3000);
    expect(publishes('node-1')).toHaveLength(2);
    await bob.close();
  }, 90_000);

  it('an app server answering item-not-found loses the registration', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'phone');
    expect(await enable(alice, 'node-gone')).toMatchObject({ type: 'result' });
    await alice.close();
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    await bob.send('alice@localhost', 'first');
    await answer(await nth('node-gone', 1), 'item-not-found');
    // Past the window a message would be published at once, were the registration still there.
    await sleep(2500);
    await bob.send('alice@localhost', 'second');
    await sleep(2500);
    expect(publishes('node-gone')).toHaveLength(1);
    await bob.close();
  }, 60_000);

  it('a client whose connection dropped while its session hibernates (XEP-0198) is woken', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'mobile', { sm: true });
    expect(await enable(alice, 'node-sm')).toMatchObject({ type: 'result' });
    await alice.request('drop');
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    await bob.send('alice@localhost', 'wake up');
    const p = await nth('node-sm', 1);
    expect([field(p, 'message-count'), field(p, 'last-message-sender')]).toEqual(['1', 'bob@localhost/desk']);
    await answer(p);
    // The client resumes and gets the message it missed; the session is live again and nothing more is published.
    const resumed = await alice.request('reconnect');
    expect(resumed.state).toBe('resumed');
    await alice.waitMessage('wake up');
    await sleep(2500);
    await bob.send('alice@localhost', 'you are back');
    await alice.waitMessage('you are back');
    await sleep(1000);
    expect(publishes('node-sm')).toHaveLength(1);
    await alice.request('iq', { to: 'alice@localhost', type: 'set', payload: `<disable xmlns='urn:xmpp:push:0' jid='${APP}'/>` });
    await alice.close();
    await bob.close();
  }, 60_000);

  it('a connected client that said it is inactive (XEP-0352) is woken; once active again it is not', async () => {
    const alice = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    await alice.login('alice@localhost', 'pw-alice', 'tablet');
    alice.write(`<iq type='set' id='en1'><enable xmlns='urn:xmpp:push:0' jid='${APP}' node='node-csi'/></iq>`);
    await alice.until(/<iq[^>]*id="en1"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="en1"/);
    alice.write(`<presence/><inactive xmlns='urn:xmpp:csi:0'/>`);
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    await bob.ping();
    await bob.send('alice@localhost', 'while you look away');
    const p = await nth('node-csi', 1);
    expect(field(p, 'message-count')).toBe('1');
    // The message itself still reached the connected client.
    await alice.until(/while you look away/);
    await answer(p);
    alice.write(`<active xmlns='urn:xmpp:csi:0'/>`);
    await sleep(2500);
    await bob.send('alice@localhost', 'now you see it');
    await alice.until(/now you see it/);
    await sleep(1000);
    expect(publishes('node-csi')).toHaveLength(1);
    alice.write(`<iq type='set' id='dis1'><disable xmlns='urn:xmpp:push:0' jid='${APP}'/></iq>`);
    await alice.until(/id="dis1"/);
    alice.write('</stream:stream>');
    alice.close();
    await bob.close();
  }, 60_000);

  it('registrations survive a restart of the server', async () => {
    const alice = await slixOnline(t, 'alice@localhost', 'phone');
    expect(await enable(alice, 'node-kept')).toMatchObject({ type: 'result' });
    await alice.close();
    await app.kill();
    await t.close();
    await start();
    const bob = await slixOnline(t, 'bob@localhost', 'desk');
    await bob.send('alice@localhost', 'after the restart');
    const p = await nth('node-kept', 1);
    expect([field(p, 'message-count'), field(p, 'last-message-sender')]).toEqual(['1', 'bob@localhost/desk']);
    expect(String(p.xml)).toMatch(/app-secret-42/);
    await answer(p);
    await bob.close();
  }, 90_000);
});
