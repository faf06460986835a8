/**
 * The engine's own iq requests through domain routes (server-iq.ts) and the device states of sessions
 * (device-states.ts): a request goes to the route serving the `to` domain with the account's bare address as
 * `from`; only a result or error with its id, from the address asked, through the same route, to the account
 * that asked answers it (RFC 6120 §8.2.3), and anything else goes on to ordinary delivery; no answer in time is
 * remote-server-timeout, no route remote-server-not-found, a route that cannot take it refuses with its own
 * error; a device state changes only when set, and listeners hear actual changes.
 */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../core/errors.js';
import type { DeviceState } from './device-states.js';
import type { RoutedStanza } from './domain-routes.js';
import type { InboundStanza } from './remote-service.js';
import type { Session } from './session.js';
import { testEngine, testPresence } from './test-engine.js';

const inbound = (s: Omit<InboundStanza, 'stanza' | 'keep' | 'body'>): InboundStanza => ({ ...s, body: null, stanza: '', keep: null });

describe('server iq requests through domain routes', () => {
  it('are answered only by the address asked, through the route asked, for the account that asked', async () => {
    const { engine } = await testEngine(['a@example.com', 'b@example.com']);
    const sent: RoutedStanza[] = [];
    const app = engine.domainRoute({ name: 'app', domains: ['app.example.net'], send: (s) => void sent.push(s) });
    const other = engine.domainRoute({ name: 'other', domains: ['other.example.net'], send: () => undefined });
    const asked = engine.serverIq({ from: 'a@example.com', to: 'app.example.net', type: 'set', xml: `<ping xmlns='urn:xmpp:ping'/>`, timeoutMs: 2000 });
    expect(sent).toHaveLength(1);
    const { id } = sent[0]!;
    expect(sent[0]).toMatchObject({ kind: 'iq', from: 'a@example.com', to: 'app.example.net', type: 'set', xml: `<ping xmlns='urn:xmpp:ping'/>` });
    expect(id).toMatch(/^srv-/);
    // Not the answer: another sender on the domain, another account, another route (refused by its from check).
    await app.deliver(inbound({ kind: 'iq', from: 'x@app.example.net', to: 'a@example.com', type: 'result', id, xml: null }));
    await app.deliver(inbound({ kind: 'iq', from: 'app.example.net', to: 'b@example.com', type: 'result', id, xml: null }));
    await expect(other.deliver(inbound({ kind: 'iq', from: 'app.example.net', to: 'a@example.com', type: 'result', id, xml: null }))).rejects.toMatchObject({ code: 'forbidden' });
    await app.deliver(inbound({ kind: 'iq', from: 'App.Example.net', to: 'a@example.com', type: 'error', id, xml: '<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>' }));
    await expect(asked).resolves.toEqual({ type: 'error', xml: '<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>' });
    // A second answer with the same id is no longer claimed: a result to a bare address is dropped as before.
    await expect(app.deliver(inbound({ kind: 'iq', from: 'app.example.net', to: 'a@example.com', type: 'result', id, xml: null }))).resolves.toBeUndefined();
  });

  it('time out, and are refused when no route serves the domain or the route cannot take them', async () => {
    const { engine } = await testEngine(['a@example.com']);
    engine.domainRoute({ name: 'silent', domains: ['silent.example.net'], send: () => undefined });
    engine.domainRoute({
      name: 'down',
      domains: ['down.example.net'],
      check: () => {
        throw new ParleyError('service-unavailable', 'not connected');
      },
      send: () => undefined,
    });
    const started = Date.now();
    await expect(engine.serverIq({ from: 'a@example.com', to: 'silent.example.net', type: 'get', xml: '<q xmlns="urn:x"/>', timeoutMs: 150 })).rejects.toMatchObject({ code: 'remote-server-timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await expect(engine.serverIq({ from: 'a@example.com', to: 'nowhere.example', type: 'get', xml: '<q xmlns="urn:x"/>' })).rejects.toMatchObject({ code: 'remote-server-not-found' });
    await expect(engine.serverIq({ from: 'a@example.com', to: 'down.example.net', type: 'get', xml: '<q xmlns="urn:x"/>' })).rejects.toMatchObject({ code: 'service-unavailable' });
  });
});

describe('device states', () => {
  it('are live until set, and listeners hear changes only', async () => {
    const { engine } = await testEngine(['a@example.com']);
    const { session } = await engine.openSession('a@example.com', 'phone', { send: () => undefined, close: () => undefined }, testPresence);
    const heard: Array<[Session, DeviceState]> = [];
    engine.devices.onChange((s, state) => heard.push([s, state]));
    expect(engine.devices.of(session)).toBe('live');
    engine.devices.set(session, 'hibernating');
    engine.devices.set(session, 'hibernating');
    expect(engine.devices.of(session)).toBe('hibernating');
    engine.devices.set(session, 'live');
    engine.devices.set(session, 'inactive');
    expect(heard.map(([s, st]) => [s === session, st])).toEqual([[true, 'hibernating'], [true, 'live'], [true, 'inactive']]);
    expect(engine.devices.ofResource('a@example.com', 'phone')).toBe('inactive');
    expect(engine.devices.ofResource('a@example.com', 'laptop')).toBeNull();
    await engine.closeSession(session);
    expect(engine.devices.ofResource('a@example.com', 'phone')).toBeNull();
  });
});
