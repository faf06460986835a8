/**
 * XmppConnection over an in-memory Transport with a real Engine on the memory store: negotiation (RFC 6120
 * §4.3 features, §6 SASL PLAIN, §7 bind), initial presence (RFC 6121 §4.2), delivery, the confirmation of
 * offline messages on a stream without stream management (written = confirmed), and a stream error.
 */
import { describe, expect, it, vi } from 'vitest';
import { parseAddress } from '../../../core/address.js';
import type { Engine } from '../../../engine/engine.js';
import { testEngine, testPresence } from '../../../engine/test-engine.js';
import type { Outbound } from '../../../engine/outbound.js';
import type { Sink } from '../../../engine/session.js';
import { NO_EXTENSIONS } from './iq-handlers.js';
import { XmppConnection } from './connection.js';
import { MemoryTransport, testXmppOptions } from './memory-transport.js';

const presence = testPresence;

class NullSink implements Sink {
  send(_out: Outbound): void {}
  close(): void {}
}

const OPTS = testXmppOptions(NO_EXTENSIONS);

async function setup(): Promise<Engine> {
  return (await testEngine(['a@example.com', 'b@example.com'], { password: 'secret-pw' })).engine;
}

/** Waits (on real timers, a few ms at a time) until the output since `from` matches. */
async function waitFor(t: MemoryTransport, re: RegExp, from = 0): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const text = t.text(from);
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${re}; got: ${t.text(from)}`);
}

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`;

/** Opens a stream, authenticates a@example.com with PLAIN and binds resource `phone`. */
async function login(t: MemoryTransport): Promise<void> {
  t.push(HEADER);
  await waitFor(t, /<\/stream:features>/);
  t.push(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\u0000a\u0000secret-pw').toString('base64')}</auth>`);
  await waitFor(t, /<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/);
  let mark = t.out.length;
  t.push(HEADER);
  await waitFor(t, /<\/stream:features>/, mark);
  mark = t.out.length;
  t.push(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>`);
  await waitFor(t, /<jid>a@example\.com\/phone<\/jid>/, mark);
}

describe('XmppConnection over an in-memory transport', () => {
  it('sends the stream header and the features of each stage (RFC 6120 §4.3.2)', async () => {
    const engine = await setup();
    const t = new MemoryTransport();
    const conn = new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    await login(t);
    const all = t.text();
    const first = all.slice(0, all.indexOf('</stream:features>'));
    expect(first).toMatch(/^<\?xml version='1.0'\?><stream:stream /);
    expect(first).toContain('from="example.com"');
    expect(first).toContain('<mechanism>PLAIN</mechanism>');
    expect(first).toContain('<mechanism>SCRAM-SHA-256</mechanism>');
    expect(first).not.toContain('<starttls'); // this transport cannot upgrade
    expect(first).not.toContain('urn:ietf:params:xml:ns:xmpp-bind');
    // After SASL the restarted stream offers binding, stream management and CSI, and no mechanisms.
    const features = all.slice(all.lastIndexOf('<stream:features>'));
    expect(features).toContain('<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>');
    expect(features).toContain('<sm xmlns="urn:xmpp:sm:3"/>');
    expect(features).not.toContain('<mechanisms');
    expect(conn.session?.full).toBe('a@example.com/phone');
    t.close();
  });

  it('checks the stream header: served domain, version 1.0 (RFC 6120 §4.7.2, §4.7.5)', async () => {
    const engine = await setup();
    const unknown = new MemoryTransport();
    new XmppConnection(unknown, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    unknown.push(HEADER.replace("to='example.com'", "to='elsewhere.test'"));
    const refused = await waitFor(unknown, /<\/stream:stream>/);
    expect(refused).toContain('from="example.com"'); // the default domain names the error's header
    expect(refused).toContain('<host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    const old = new MemoryTransport();
    new XmppConnection(old, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    old.push(HEADER.replace(" version='1.0'>", '>'));
    const out = await waitFor(old, /<\/stream:stream>/);
    expect(out).toContain('<unsupported-version xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    expect(out).not.toContain('<stream:features>');
  });

  it('refuses a wrong password with not-authorized and keeps the stream (RFC 6120 §6.4.5)', async () => {
    const engine = await setup();
    const t = new MemoryTransport();
    new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    t.push(HEADER);
    await waitFor(t, /<\/stream:features>/);
    t.push(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\u0000a\u0000wrong-pw').toString('base64')}</auth>`);
    const out = await waitFor(t, /<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized\/>/);
    expect(out).not.toContain('<success');
    expect(t.ended).toBe(false);
    t.close();
  });

  it('delivers a message from another session as a stanza, after initial presence (RFC 6121 §4.2)', async () => {
    const engine = await setup();
    const t = new MemoryTransport();
    const conn = new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    await login(t);
    const mark = t.out.length;
    t.push(`<presence/>`);
    await vi.waitFor(() => expect(conn.available).toBe(true));
    const { session: b } = await engine.openSession('b@example.com', 'desk', new NullSink(), { ...presence });
    await engine.messages.send(b, parseAddress('a@example.com'), 'hello there', 'm-1', Date.now());
    const got = await waitFor(t, /<body>hello there<\/body>/, mark);
    expect(got).toMatch(/<message xmlns="jabber:client" type="chat" id="m-1" from="b@example\.com\/desk" to="a@example\.com"><body>hello there<\/body>/);
    t.close();
  });

  it('without stream management, an offline message is confirmed once the socket wrote it', async () => {
    const engine = await setup();
    // b writes to a while a is offline: the message waits in a's offline queue.
    const { session: b } = await engine.openSession('b@example.com', 'desk', new NullSink(), { ...presence });
    await engine.messages.send(b, parseAddress('a@example.com'), 'while you were away', null, Date.now());
    expect((await engine.ctx.store.messages.offlineSize('a@example.com')).count).toBe(1);
    const t = new MemoryTransport();
    const conn = new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    const ack = vi.spyOn(engine, 'ack');
    await login(t);
    const mark = t.out.length;
    t.push(`<presence/>`);
    // Initial presence replays the offline queue (Engine.announce).
    await waitFor(t, /<body>while you were away<\/body>/, mark);
    await new Promise((r) => setTimeout(r, 20));
    // Written to the transport, but not yet handed to the operating system: nothing is confirmed.
    expect(ack).not.toHaveBeenCalled();
    expect((await engine.ctx.store.messages.offlineSize('a@example.com')).count).toBe(1);
    expect(t.flushWrites()).toBeGreaterThan(0);
    await vi.waitFor(() => expect(ack).toHaveBeenCalledTimes(1));
    expect(ack.mock.calls[0]?.[0]).toBe(conn.session);
    await vi.waitFor(async () => expect((await engine.ctx.store.messages.offlineSize('a@example.com')).count).toBe(0));
    t.close();
  });

  it('paces replays by the transport backlog: pressure() waits until it drained', async () => {
    const engine = await setup();
    const t = new MemoryTransport();
    const conn = new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed: () => undefined });
    await login(t);
    expect(conn.pressure()).toBeNull();
    t.pending = 1 << 20;
    const wait = conn.pressure();
    expect(wait).not.toBeNull();
    let settled = false;
    void wait?.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    t.drain();
    await wait;
    expect(settled).toBe(true);
    expect(conn.pressure()).toBeNull();
    t.close();
  });

  it('ends the stream with unsupported-stanza-type on an unknown top-level element (RFC 6120 §4.9.3.22)', async () => {
    const engine = await setup();
    const t = new MemoryTransport();
    const closed = vi.fn();
    const conn = new XmppConnection(t, engine, OPTS, { opened: () => undefined, closed });
    await login(t);
    const mark = t.out.length;
    t.push(`<foo xmlns='urn:example:unknown'/>`);
    const out = await waitFor(t, /<\/stream:stream>/, mark);
    expect(out).toContain('<stream:error><unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    expect(t.ended).toBe(true);
    expect(conn.isClosing).toBe(true);
    expect(closed).toHaveBeenCalledTimes(1);
    // The session ended with the stream.
    await vi.waitFor(() => expect(engine.sessions.get('a@example.com', 'phone')).toBeUndefined());
  });
});
