/**
 * Interoperability with xmpp.js (@xmpp/client 0.14, ESM, Node ≥ 20.10): STARTTLS, SASL SCRAM-SHA-1, resource
 * binding, chat with a JSON-API user, and the roster.
 *
 * xmpp.js has no TLS options of its own: its STARTTLS upgrade calls `tls.connect({ socket, host: domain })`.
 * Rather than switching certificate checks off for the whole process (NODE_TLS_REJECT_UNAUTHORIZED=0), this file
 * wraps `tls.connect` while it runs so that connections to the XMPP domain "localhost" trust the server's own
 * self-signed certificate (read from the server's certificate directory): the certificate and the host name are
 * still verified, and nothing else in the process is affected. The wrapper is removed in afterAll.
 */
import type tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { xml, type XmlElement } from '@xmpp/client';
import { freshUsers, onlineAt, startServer, type TestServer, trustServerCertificate } from './harness.js';
import { type Recorded, stopAllXmppjs, stopXmppjs, waitStanza, XMPPJS_DOMAIN as DOMAIN, xmppjs as xmppjsClient } from './xmpp/xmppjs.js';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_ROSTER = 'jabber:iq:roster';

let t: TestServer;
let restoreTls: (() => void) | null = null;

beforeAll(async () => {
  t = await startServer();
  restoreTls = trustServerCertificate(t, DOMAIN);
});
afterEach(stopAllXmppjs);
afterAll(async () => {
  restoreTls?.();
  await t?.close();
});

const xmppjs = (address: string, resource: string): Recorded => xmppjsClient(t, address, resource);
const stop = stopXmppjs;

const isMessageWith = (body: string) => (el: XmlElement) => el.is('message') && el.getChildText('body') === body;

describe('XMPP interop with @xmpp/client (xmpp.js)', () => {
  it('logs in over STARTTLS with SASL SCRAM-SHA-1 and binds its resource', async () => {
    const [alice] = await freshUsers(t, 'alice');
    const r = xmppjs(alice!, 'xmppjs');
    const address = await r.x.start();
    expect(address.toString()).toBe(`${alice}/xmppjs`);
    expect(r.x.isSecure()).toBe(true);

    // The negotiation as the client saw it: STARTTLS first, then SCRAM-SHA-1 (its best mechanism), success.
    const names = r.sent.map((el) => `${el.name} ${el.getNS() ?? ''}`);
    expect(names.indexOf(`starttls ${NS_TLS}`)).toBeGreaterThanOrEqual(0);
    const auth = r.sent.find((el) => el.is('auth', NS_SASL));
    expect(auth?.attrs.mechanism).toBe('SCRAM-SHA-1');
    expect(names.indexOf(`starttls ${NS_TLS}`)).toBeLessThan(names.indexOf(`auth ${NS_SASL}`));
    expect(r.received.some((el) => el.is('proceed', NS_TLS))).toBe(true);
    expect(r.received.some((el) => el.is('success', NS_SASL))).toBe(true);
    expect(r.received.filter((el) => el.is('failure', NS_SASL))).toEqual([]);
    const socket = r.x.socket?.socket as tls.TLSSocket | null | undefined;
    expect(socket?.getProtocol?.()).toMatch(/^TLSv1\.[23]$/);
    expect(socket?.authorized).toBe(true); // the certificate was verified (against itself), not waved through

    await stop(r.x);
    expect(r.errors).toEqual([]);
  });

  it('chats with a JSON-API user both ways', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const r = xmppjs(alice!, 'xmppjs');
    await r.x.start();
    await r.x.send(xml('presence'));
    const j = await onlineAt(t, bob!, 'desk');

    await r.x.send(xml('message', { type: 'chat', to: bob, id: 'xjs-1' }, xml('body', {}, 'hello from xmpp.js')));
    const ev = await j.waitFor('message', (d) => d.body === 'hello from xmpp.js');
    expect(ev.data).toMatchObject({ type: 'chat', from: `${alice}/xmppjs`, to: bob, clientId: 'xjs-1' });

    const ack = await j.request<{ id: string }>('message.send', { to: alice, body: 'hello from json' });
    const m = await waitStanza(r, isMessageWith('hello from json'));
    expect(m.attrs).toMatchObject({ type: 'chat', from: `${bob}/desk` });
    expect(String(m.attrs.to).split('/')[0]).toBe(alice);
    expect(m.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs).toMatchObject({ id: ack.id, by: alice });

    // Nothing twice: an iq round trip, then count.
    await r.x.iqCaller.request(xml('iq', { type: 'get', to: DOMAIN }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    await j.request('ping');
    expect(r.received.filter(isMessageWith('hello from json'))).toHaveLength(1);
    expect(j.received('message').filter((d) => d.body === 'hello from xmpp.js')).toHaveLength(1);
    expect(r.errors).toEqual([]);
  });

  it('gets the roster, with versioning (RFC 6121 §2.1.3, §2.6)', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'alice', 'bob', 'carol');
    // Set up through the JSON API: bob named and grouped, a pending request to carol.
    const j = await onlineAt(t, alice!, 'setup');
    await j.request('roster.set', { contact: bob, name: 'Bob', groups: ['Team', 'Lunch'] });
    await j.request('roster.subscribe', { contact: carol });

    const r = xmppjs(alice!, 'xmppjs');
    await r.x.start();
    const res = await r.x.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })));
    const query = res.getChild('query', NS_ROSTER)!;
    expect(query).toBeDefined();
    const items = query.getChildren('item').map((i) => ({
      jid: i.attrs.jid,
      name: i.attrs.name,
      subscription: i.attrs.subscription,
      ask: i.attrs.ask,
      groups: i.getChildren('group').map((g) => g.text()).sort(),
    }));
    expect(items).toEqual([
      { jid: bob, name: 'Bob', subscription: 'none', ask: undefined, groups: ['Lunch', 'Team'] },
      { jid: carol, name: undefined, subscription: 'none', ask: 'subscribe', groups: [] },
    ]);

    // §2.6.3: asking with the current version gets an empty result.
    const ver = query.attrs.ver;
    expect(ver).toEqual(expect.any(String));
    const again = await r.x.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER, ver })));
    expect(again.attrs.type).toBe('result');
    expect(again.getChild('query', NS_ROSTER)).toBeUndefined();
    expect(r.errors).toEqual([]);
  });
});
