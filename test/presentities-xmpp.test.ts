/**
 * The XMPP face of presentities end to end, with a client nobody here wrote: slixmpp 1.8.3 (Debian
 * python3-slixmpp) through test/xmpp/slix_driver.py, and the owner's updates over the HTTP API with an API key.
 *
 * Covered: a subscription to a thing the user has a grant for is approved on the thing's behalf (RFC 6121
 * §3.1.5-3.1.6) and one without a grant refused (§3.2); the thing's presence follows its owner's updates and
 * shows unavailable with "heartbeat lapsed" once its heartbeat lapses; its fields arrive as a PEP notification
 * (XEP-0163 §4.3) to a client whose entity capabilities (XEP-0115) carry the +notify feature, and a pubsub
 * items retrieval (XEP-0060 §6.5) returns them; bad input (an unknown address, malformed retrievals). The same
 * subscription from a JSON client, whose fields items follow `presentities.notify`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { PYTHON, SlixClient, slixmppUnavailable, slixOnline, type SlixEvent } from './xmpp/slix.js';

const unavailable = slixmppUnavailable();
if (unavailable !== null) console.warn(`\n*** SKIPPED: test/presentities-xmpp.test.ts needs slixmpp importable by ${PYTHON} (${unavailable}).\n`);

const NODE = 'urn:xmpp:parley:presentity:0';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

let t: TestServer;

beforeAll(async () => {
  t = await startServer({ modules: { apikeys: { enabled: true, requestsPerSecond: 50 }, presentities: { enabled: true } } as never });
});
afterAll(async () => {
  await t?.close();
});

/** An HTTP call with a bearer token; the status and the JSON body. */
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** An API key of `owner` that may define and update things. */
async function ownerKey(owner: string): Promise<string> {
  const session = (await login(t.url, owner, `pw-${owner.split('@')[0]}`)).token;
  const r = await call('POST', '/apikeys/keys', session, { name: 'things', scopes: ['presence:read', 'presence:write:things'] });
  expect(r.status).toBe(201);
  return String(r.body.token);
}

describe('things on the JSON roster', () => {
  it('a JSON user subscribes to a thing, gets its presence, and its fields after presentities.notify', async () => {
    const [owner, user] = await freshUsers(t, 'jowner', 'juser');
    const key = await ownerKey(owner!);
    const fan = 'fan-1@localhost';
    await call('PUT', `/presentities/things/${fan}`, key, { kind: 'thing', fields: { rpm: 'number' }, grants: { users: [user] } });
    await call('POST', `/presentities/things/${fan}/presence`, key, { availability: 'available', activity: 'spinning', fields: { rpm: 900 } });
    const c = await t.connect(user!);
    try {
      await c.request('roster.subscribe', { contact: fan });
      await c.waitFor('subscription', (d) => d.from === fan && d.action === 'subscribed');
      const p = await c.waitFor('presence', (d) => d.user === fan);
      expect(p.data).toMatchObject({ state: 'available', activity: 'spinning' });
      expect(await c.request('presentities.notify', { fields: true })).toMatchObject({ nodes: [NODE] });
      const last = await c.waitFor('entity.item', (d) => d.from === fan);
      expect(last.data).toMatchObject({ node: NODE, id: 'current', data: { fields: { rpm: 900 } } });
      await call('POST', `/presentities/things/${fan}/presence`, key, { fields: { rpm: 1200 } });
      await c.waitFor('entity.item', (d) => d.from === fan && (d.data as { fields: { rpm: number } }).fields.rpm === 1200);
    } finally {
      await c.close();
    }
  });
});

describe.skipIf(unavailable !== null)('presentities over XMPP with slixmpp', () => {
  afterEach(() => SlixClient.killAll());
  afterAll(() => SlixClient.killAll());

  /** A connected slixmpp client (roster fetched, initial presence sent). */
  const online = (jid: string, o: Parameters<SlixClient['connect']>[0] = {}, resource = 'desk'): Promise<SlixClient> => slixOnline(t, jid, resource, o);

  const from = (address: string, type?: string) => (e: SlixEvent) => bareOf(e.from) === address && (type === undefined || e.type === type);

  it('approves a granted subscriber, follows the owner\'s updates and the heartbeat lapse, notifies the fields over PEP', async () => {
    const [owner, watcher, stranger] = await freshUsers(t, 'owner', 'watcher', 'stranger');
    const key = await ownerKey(owner!);
    const boiler = 'boiler-1@localhost';
    const defined = await call('PUT', `/presentities/things/${boiler}`, key, {
      kind: 'thing',
      heartbeatSeconds: 2,
      fields: { temperature: 'number', mode: 'string' },
      grants: { users: [watcher] },
    });
    expect(defined.status).toBe(200);
    expect((await call('POST', `/presentities/things/${boiler}/presence`, key, { availability: 'available', status: 'idle', fields: { temperature: 20 } })).status).toBe(200);

    const w = await online(watcher!, { notify: [NODE] });
    // The server asked the client's disco#info for its caps and learnt the +notify interest; then the subscription.
    let mark = w.mark();
    await w.request('presence', { to: boiler, type: 'subscribe' });
    await w.waitFor('presence', from(boiler, 'subscribed'), 10_000, mark);
    const first = await w.waitFor('presence', from(boiler, 'available'), 10_000, mark);
    expect(first).toMatchObject({ status: 'idle', show: null });
    const roster = await w.request('roster_get');
    expect(roster.items).toEqual(expect.arrayContaining([expect.objectContaining({ jid: boiler, subscription: 'to' })]));
    // The last item arrives once the interest is known (XEP-0163 §4.3.1).
    const last = await w.waitFor('message', (e) => bareOf(e.from) === boiler && e.pep !== undefined, 10_000);
    expect(last.pep).toMatchObject({ node: NODE, id: 'current', fields: [{ name: 'temperature', type: 'number', value: '20' }] });
    const caps = String((await w.waitFor('disco_get')).node);
    expect(caps).toMatch(/#.+=$/);
    // slixmpp's caps verified (XEP-0115 §5.4): a second session with the same ver is not asked, and gets the item.
    const w2 = await online(watcher!, { notify: [NODE] }, 'tablet');
    await w2.waitFor('message', (e) => bareOf(e.from) === boiler && e.pep !== undefined, 10_000);
    expect(w2.received('disco_get')).toEqual([]);
    await w2.close();

    // The owner updates it over HTTP: presence and a PEP notification.
    mark = w.mark();
    await call('POST', `/presentities/things/${boiler}/presence`, key, { availability: 'dnd', activity: 'heating', status: 'heating up', fields: { temperature: 71.5, mode: 'eco' } });
    const busy = await w.waitFor('presence', (e) => from(boiler)(e) && e.show === 'dnd', 10_000, mark);
    expect(busy).toMatchObject({ status: 'heating up' });
    expect(String(busy.xml)).toContain('activity="heating"');
    const pep = await w.waitFor('message', (e) => bareOf(e.from) === boiler && e.pep !== undefined, 10_000, mark);
    expect(pep).toMatchObject({ type: 'headline', pep: { node: NODE, id: 'current' } });
    expect((pep.pep as { fields: unknown[] }).fields).toEqual([
      { name: 'mode', type: 'string', value: 'eco' },
      { name: 'temperature', type: 'number', value: '71.5' },
    ]);

    // A pubsub retrieval returns the same item (XEP-0060 §6.5).
    const items = await w.request('iq', { to: boiler, payload: `<pubsub xmlns='${PUBSUB}'><items node='${NODE}'/></pubsub>` });
    expect(items.type).toBe('result');
    expect(String(items.xml)).toContain('71.5');
    // Malformed retrievals are bad requests; an unknown node is not found.
    for (const payload of [`<pubsub xmlns='${PUBSUB}'/>`, `<pubsub xmlns='${PUBSUB}'><items/></pubsub>`]) {
      expect((await w.request('iq', { to: boiler, payload })).error).toMatchObject({ condition: 'bad-request' });
    }
    expect((await w.request('iq', { to: boiler, payload: `<pubsub xmlns='${PUBSUB}'><items node='urn:other'/></pubsub>` })).error).toMatchObject({ condition: 'item-not-found' });
    // disco#info of the thing: a PEP service with the node's feature.
    const info = await w.request('iq', { to: boiler, payload: `<query xmlns='http://jabber.org/protocol/disco#info'/>` });
    expect(String(info.xml)).toMatch(/category="pubsub"[^>]*type="pep"|type="pep"[^>]*category="pubsub"/);

    // No update within the heartbeat: unavailable, saying why.
    mark = w.mark();
    const lapsed = await w.waitFor('presence', from(boiler, 'unavailable'), 8000, mark);
    expect(lapsed.status).toBe('heartbeat lapsed');

    // Someone without a grant is refused, and cannot read the fields.
    const s = await online(stranger!);
    mark = s.mark();
    await s.request('presence', { to: boiler, type: 'subscribe' });
    await s.waitFor('presence', from(boiler, 'unsubscribed'), 10_000, mark);
    expect((await s.request('iq', { to: boiler, payload: `<pubsub xmlns='${PUBSUB}'><items node='${NODE}'/></pubsub>` })).error).toMatchObject({ condition: 'item-not-found' });
    expect(s.received('presence', from(boiler, 'available'))).toEqual([]);
  });

  it('a subscribe to a thing address that does not exist is treated like any unknown local address', async () => {
    const [user] = await freshUsers(t, 'lonely');
    const c = await online(user!);
    const mark = c.mark();
    await c.request('presence', { to: 'no-such-thing@localhost', type: 'subscribe' });
    const err = await c.waitFor('presence', (e) => e.type === 'error', 10_000, mark);
    expect(err.error).toMatchObject({ condition: 'item-not-found' });
  });

  it('a withdrawn grant ends the subscription: unsubscribed, then unavailable', async () => {
    const [owner, watcher] = await freshUsers(t, 'owner2', 'watcher2');
    const key = await ownerKey(owner!);
    const lamp = 'lamp-1@localhost';
    await call('PUT', `/presentities/things/${lamp}`, key, { kind: 'thing', grants: { users: [watcher] } });
    await call('POST', `/presentities/things/${lamp}/presence`, key, { availability: 'available' });
    const w = await online(watcher!);
    let mark = w.mark();
    await w.request('presence', { to: lamp, type: 'subscribe' });
    await w.waitFor('presence', from(lamp, 'available'), 10_000, mark);
    mark = w.mark();
    await call('PUT', `/presentities/things/${lamp}`, key, { kind: 'thing' });
    await w.waitFor('presence', from(lamp, 'unsubscribed'), 10_000, mark);
    await w.waitFor('presence', from(lamp, 'unavailable'), 10_000, mark);
  });
});
