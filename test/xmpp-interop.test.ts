/**
 * Interoperability of the XMPP front door with a client nobody here wrote: slixmpp 1.8.3 (Debian python3-slixmpp),
 * driven through test/xmpp/slix_driver.py. Each test uses fresh users on one server; the server's self-signed
 * certificate is verified by slixmpp against the PEM file the server generated (hostname included).
 *
 * Covered: SCRAM-SHA-256 over STARTTLS and direct TLS (RFC 6120 §5-7, XEP-0368), the roster and the
 * subscription handshake (RFC 6121 §2-3), presence broadcast (§4), chat (§5), offline delivery with
 * <delay/> (XEP-0160, XEP-0203), carbons (XEP-0280), the archive (XEP-0313), stream resumption (XEP-0198),
 * multi-user chat (XEP-0045) and chat between an XMPP user and a JSON-API user.
 *
 * When /usr/bin/python3 cannot import slixmpp, the suite is skipped with a warning (install python3-slixmpp).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { serverForSlixmpp, SlixClient, slixmppUnavailableFor, type SlixEvent, type SlixMessage } from './xmpp/slix.js';

const unavailable = slixmppUnavailableFor('test/xmpp-interop.test.ts');

type Data = Record<string, unknown>;

const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;
const nickOf = (user: string): string => user.split('@')[0]!;

describe.skipIf(unavailable !== null)('XMPP interop with slixmpp', () => {
  let t: TestServer;
  serverForSlixmpp((server) => (t = server));

  const users = (...names: string[]): Promise<string[]> => freshUsers(t, ...names);

  /** A slixmpp client process for `jid` (not connected yet). */
  function client(jid: string, resource: string, mode: 'starttls' | 'directtls' = 'starttls', server: TestServer = t): Promise<SlixClient> {
    const ports = server.server.xmpp!.ports;
    return SlixClient.start({
      port: mode === 'directtls' ? ports.directTls! : ports.starttls!,
      jid,
      resource,
      password: `pw-${nickOf(jid)}`,
      mode,
      cafile: join(server.dir, 'certs', 'localhost.crt'),
    });
  }

  /** A connected client: bound, roster fetched, initial presence sent (unless told otherwise). */
  async function online(jid: string, resource: string, o: Parameters<SlixClient['connect']>[0] = {}): Promise<SlixClient> {
    const c = await client(jid, resource);
    await c.connect(o);
    return c;
  }

  /** Everything the server queued for these clients before now has been received. */
  const settle = (...cs: SlixClient[]): Promise<void[]> => Promise.all(cs.map((c) => c.ping()));

  /** Mutual presence subscription between a and b, set up through the JSON API (not under test here). */
  async function befriend(a: string, b: string, server: TestServer = t): Promise<void> {
    const [ja, jb] = await Promise.all([server.connect(a, { resource: 'setup' }), server.connect(b, { resource: 'setup' })]);
    await ja.request('roster.subscribe', { contact: b });
    await jb.request('roster.approve', { contact: a });
    await jb.request('roster.subscribe', { contact: a });
    const item = await ja.request<{ item: Data }>('roster.approve', { contact: b });
    expect(item.item).toMatchObject({ subscription: 'both' });
    await Promise.all([ja.close(), jb.close()]);
  }

  /** Polls the JSON history of `viewer` until a message with `body` is stored. */
  async function stored(viewer: ParleyClient, peer: string, body: string): Promise<void> {
    const end = Date.now() + 10_000;
    for (;;) {
      const page = await viewer.request<{ messages: Data[] }>('history', { with: peer });
      if (page.messages.some((m) => m.body === body)) return;
      if (Date.now() > end) throw new Error(`"${body}" was never stored`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits until the server has noticed that one of its XMPP connections closed. */
  async function serverNoticed(server: TestServer, openBefore: number): Promise<void> {
    const door = server.server.xmpp!;
    const end = Date.now() + 10_000;
    while (door.size >= openBefore) {
      if (Date.now() > end) throw new Error('the server never noticed the dropped connection');
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  const isPresence = (from: string, type: string) => (e: SlixEvent) => bareOf(e.from) === from && e.type === type;

  // -----------------------------------------------------------------------------------------------------------
  // Authentication
  // -----------------------------------------------------------------------------------------------------------

  it('logs in with SCRAM-SHA-256 over STARTTLS (RFC 6120 §5, §6) and binds the requested resource', async () => {
    const [alice] = await users('alice');
    const a = await client(alice!, 'laptop');
    const r = await a.connect();
    expect(r.jid).toBe(`${alice}/laptop`);
    expect(r.state).toBe('started');
    expect(r.starttls).toBe(true);
    expect(r.mechanism).toBe('SCRAM-SHA-256');
    expect((r.tls as Data | null)?.version).toMatch(/^TLSv1\.[23]$/);
    // slixmpp tries the -PLUS variants with tls-unique first, which TLS 1.3 does not have; those are refused
    // with a reason, and nothing else fails.
    for (const f of a.received('failed_auth')) expect(String(f.mechanism)).toMatch(/-PLUS$/);
    expect(a.received('auth_success')).toEqual([expect.objectContaining({ mechanism: 'SCRAM-SHA-256' })]);
    expect(a.received('stream_error')).toEqual([]);
    await a.ping();
    await a.close();
  });

  it('logs in with SCRAM-SHA-256 over direct TLS (XEP-0368)', async () => {
    const [alice] = await users('alice');
    const a = await client(alice!, 'phone', 'directtls');
    const r = await a.connect();
    expect(r.jid).toBe(`${alice}/phone`);
    expect(r.starttls).toBe(false); // TLS from the first byte: no STARTTLS step
    expect(r.mechanism).toBe('SCRAM-SHA-256');
    expect((r.tls as Data | null)?.version).toMatch(/^TLSv1\.[23]$/);
    expect(a.received('stream_error')).toEqual([]);
    await a.ping();
    await a.close();
  });

  // -----------------------------------------------------------------------------------------------------------
  // Roster and presence
  // -----------------------------------------------------------------------------------------------------------

  it('adds a contact and completes the subscription handshake both ways (RFC 6121 §2, §3)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const push = (c: SlixClient, contact: string, pred: (item: Data) => boolean) =>
      c.waitFor('roster_push', (e) => (e.items as Data[]).some((i) => i.jid === contact && pred(i)));

    // §2.3: roster set, then a push of the new item (no subscription yet).
    await a.request('roster_set', { jid: bob, name: 'Bob', groups: ['Team'] });
    await push(a, bob!, (i) => i.subscription === 'none' && i.name === 'Bob');

    // §3.1.2: alice asks; her item shows the pending request; bob gets the request from alice's bare JID.
    await a.request('presence', { to: bob, type: 'subscribe' });
    await push(a, bob!, (i) => i.subscription === 'none' && i.ask === 'subscribe');
    const request = await b.waitFor('presence', (e) => e.type === 'subscribe');
    expect(request.from).toBe(alice);

    // §3.1.5: bob approves; alice's item becomes "to", bob's "from"; alice is told and sees bob's presence.
    await b.request('presence', { to: alice, type: 'subscribed' });
    await push(b, alice!, (i) => i.subscription === 'from');
    await push(a, bob!, (i) => i.subscription === 'to' && i.ask === null);
    await a.waitFor('presence', isPresence(bob!, 'subscribed'));
    await a.waitFor('presence', isPresence(bob!, 'available'));

    // And the other way round.
    await b.request('presence', { to: alice, type: 'subscribe' });
    await push(b, alice!, (i) => i.subscription === 'from' && i.ask === 'subscribe');
    expect((await a.waitFor('presence', (e) => e.type === 'subscribe')).from).toBe(bob);
    await a.request('presence', { to: bob, type: 'subscribed' });
    await push(a, bob!, (i) => i.subscription === 'both');
    await push(b, alice!, (i) => i.subscription === 'both' && i.ask === null);
    await b.waitFor('presence', isPresence(alice!, 'subscribed'));
    await b.waitFor('presence', isPresence(alice!, 'available'));

    // The stored rosters agree (§2.1.3 roster get).
    const ra = (await a.request('roster_get')) as { items: Data[] };
    const rb = (await b.request('roster_get')) as { items: Data[] };
    expect(ra.items).toEqual([{ jid: bob, name: 'Bob', subscription: 'both', ask: null, groups: ['Team'] }]);
    expect(rb.items).toEqual([expect.objectContaining({ jid: alice, subscription: 'both', ask: null })]);
    // Every push was answered by the client and none was an error.
    expect(a.received('stream_error')).toEqual([]);
    expect(b.received('stream_error')).toEqual([]);
  });

  it('keeps a subscription request for a contact who is offline and delivers it at their initial presence (RFC 6121 §3.1.3)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'a');
    await a.request('presence', { to: bob, type: 'subscribe' });
    await a.waitFor('roster_push', (e) => (e.items as Data[]).some((i) => i.jid === bob && i.ask === 'subscribe'));

    const b = await online(bob!, 'b', { presence: false });
    const roster = (await b.request('roster_get')) as { items: Data[] };
    // A pending inbound request gives alice no subscription yet (Appendix A.2.1: "None + Pending In").
    expect(roster.items.filter((i) => i.jid === alice && i.subscription !== 'none')).toEqual([]);
    await b.ping();
    expect(b.received('presence', (e) => e.type === 'subscribe')).toEqual([]);
    await b.request('presence');
    expect((await b.waitFor('presence', (e) => e.type === 'subscribe')).from).toBe(alice);
    await b.request('presence', { to: alice, type: 'subscribed' });
    await a.waitFor('roster_push', (e) => (e.items as Data[]).some((i) => i.jid === bob && i.subscription === 'to'));
    await a.waitFor('presence', isPresence(bob!, 'available'));
  });

  it('broadcasts availability both ways, and unavailability when a session ends (RFC 6121 §4)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    await befriend(alice!, bob!);
    const b = await online(bob!, 'b');
    const a = await online(alice!, 'a');
    // §4.2: alice's initial presence reaches bob; alice learns bob's current presence: from the full addresses.
    expect((await b.waitFor('presence', isPresence(alice!, 'available'))).from).toBe(`${alice}/a`);
    expect((await a.waitFor('presence', isPresence(bob!, 'available'))).from).toBe(`${bob}/b`);

    // §4.5: alice ends her stream cleanly: bob sees her go.
    const mb = b.mark();
    await a.close();
    expect((await b.waitFor('presence', isPresence(alice!, 'unavailable'), 10_000, mb)).from).toBe(`${alice}/a`);

    // Alice comes back; then bob's TCP connection dies without a closing tag: alice sees him go
    // (RFC 6120 §4.4 / RFC 6121 §4.5.1: the server ends the session and broadcasts unavailable).
    const mb2 = b.mark();
    const a2 = await online(alice!, 'a');
    await b.waitFor('presence', isPresence(alice!, 'available'), 10_000, mb2);
    await a2.waitFor('presence', isPresence(bob!, 'available'));
    const ma = a2.mark();
    await b.request('drop');
    expect((await a2.waitFor('presence', isPresence(bob!, 'unavailable'), 10_000, ma)).from).toBe(`${bob}/b`);
  });

  it('sends each resource\'s presence from its full address with its own caps, and unavailable from the one that left (RFC 6121 §4.2.2, §4.4.2, §4.5.2)', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    await befriend(alice!, bob!);
    await befriend(alice!, carol!);
    const b = await online(bob!, 'watch');
    // XEP-0115 caps the server does not interpret: each resource's travels with that resource's presence.
    const caps = (ver: string): string => `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://client.example/${ver}' ver='${ver}'/>`;
    const capsOf = (e: SlixEvent): string | undefined => (e.caps as Data | undefined)?.ver as string | undefined;
    const from = (full: string, type: string, ver?: string) => (e: SlixEvent) => e.from === full && e.type === type && (ver === undefined || capsOf(e) === ver);
    const phone = await online(alice!, 'phone', { presence: false });
    await phone.request('presence', { extra: [caps('phone-ver=')] });
    await b.waitFor('presence', from(`${alice}/phone`, 'available', 'phone-ver='));
    const desk = await online(alice!, 'desk', { presence: false });
    await desk.request('presence', { show: 'away', priority: 5, extra: [caps('desk-ver=')] });
    const d = await b.waitFor('presence', from(`${alice}/desk`, 'available', 'desk-ver='));
    expect(d.show).toBe('away');
    expect(String(d.xml)).toMatch(/priority>5<\//);
    // Parley's per-person aggregate rides along in its own namespace.
    expect(d.parley).toEqual({ state: 'away', sessions: '2' });
    // §4.2.2: the user's own resources see each other, each with its caps.
    await phone.waitFor('presence', from(`${alice}/desk`, 'available', 'desk-ver='));
    await desk.waitFor('presence', from(`${alice}/phone`, 'available', 'phone-ver='));
    // §4.3.2: a watcher logging in later gets both resources, and nothing from the bare address.
    const c = await online(carol!, 'late');
    await c.waitFor('presence', from(`${alice}/phone`, 'available', 'phone-ver='));
    await c.waitFor('presence', from(`${alice}/desk`, 'available', 'desk-ver='));
    await settle(c);
    expect(c.received('presence', (e) => e.from === alice)).toEqual([]);

    // §4.5.2: the phone goes unavailable; only it goes, the desk stays.
    const mb = b.mark();
    await phone.request('presence', { type: 'unavailable' });
    const gone = await b.waitFor('presence', from(`${alice}/phone`, 'unavailable'), 10_000, mb);
    expect(gone.parley).toEqual({ state: 'away', sessions: '1' });
    await desk.waitFor('presence', from(`${alice}/phone`, 'unavailable'));
    await settle(b);
    expect(b.received('presence', (e) => bareOf(e.from) === alice).slice(-1)[0]).toBe(gone);
    expect(b.events.slice(mb).filter((e) => e.ev === 'presence' && (e.from === alice || e.from === `${alice}/desk`))).toEqual([]);

    // The desk's connection dies without a word: unavailable from its full address all the same.
    const mb2 = b.mark();
    await desk.request('drop');
    const last = await b.waitFor('presence', from(`${alice}/desk`, 'unavailable'), 10_000, mb2);
    expect(last.parley).toEqual({ state: 'offline', sessions: '0' });
    // A login now learns that alice is offline: unavailable from the bare address, with when she was last seen.
    const c2 = await online(carol!, 'later');
    const off = await c2.waitFor('presence', from(alice!, 'unavailable'));
    expect((off.delay as Data | undefined)?.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  // -----------------------------------------------------------------------------------------------------------
  // Messages
  // -----------------------------------------------------------------------------------------------------------

  it('delivers chat messages both ways, once each, stamped with the sender\'s full JID (RFC 6121 §5)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    await a.send(bob!, 'hello bob');
    const m1 = await b.waitMessage('hello bob');
    expect(m1).toMatchObject({ from: `${alice}/a`, type: 'chat' });
    expect(bareOf(m1.to)).toBe(bob);
    expect(m1.stanzaId).toMatchObject({ by: bob });
    expect(m1.delay).toBeNull();

    // A reply to the full JID the message came from.
    await b.send(m1.from!, 'hello alice');
    const m2 = await a.waitMessage('hello alice');
    expect(m2).toMatchObject({ from: `${bob}/b`, to: `${alice}/a`, type: 'chat' });
    expect(m2.stanzaId).toMatchObject({ by: alice });

    await settle(a, b);
    expect(b.messages('hello bob')).toHaveLength(1);
    expect(a.messages('hello alice')).toHaveLength(1);
    expect(a.messages('hello bob')).toEqual([]);
    expect(b.messages('hello alice')).toEqual([]);
  });

  it('keeps messages for a user without a session and delivers them, with <delay/>, after initial presence (XEP-0160)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'a');
    const ja = await t.connect(alice!, { resource: 'json' });
    await a.send(bob!, 'while you were away 1');
    await a.send(bob!, 'while you were away 2');
    await stored(ja, bob!, 'while you were away 2');
    const before = Date.now();

    // Bob binds a resource but stays unavailable: nothing yet (RFC 6121 §8.5.2.1.1: not to a session without
    // initial presence).
    const b = await online(bob!, 'b', { presence: false });
    await b.ping();
    expect(b.messages('while you were away 1')).toEqual([]);

    await b.request('presence');
    const m1 = await b.waitMessage('while you were away 1');
    const m2 = await b.waitMessage('while you were away 2');
    for (const m of [m1, m2]) {
      expect(m).toMatchObject({ from: `${alice}/a`, type: 'chat' });
      expect(m.delay).not.toBeNull();
      const stamp = Date.parse(String(m.delay!.stamp));
      expect(stamp).toBeLessThanOrEqual(before);
      expect(stamp).toBeGreaterThan(before - 60_000);
    }
    const bodies = b.received('message', (e) => String(e.body).startsWith('while you were away')).map((e) => e.body);
    expect(bodies).toEqual(['while you were away 1', 'while you were away 2']);
    await b.ping();
    expect(b.messages('while you were away 1')).toHaveLength(1);
  });

  /** alice with sessions a1, a2 and bob with b1, b2, all with carbons enabled through slixmpp's xep_0280. */
  async function carbonSessions(): Promise<{ alice: string; bob: string; a1: SlixClient; a2: SlixClient; b1: SlixClient; b2: SlixClient }> {
    const [alice, bob] = await users('alice', 'bob');
    const [a1, a2, b1, b2] = await Promise.all([
      online(alice!, 'a1', { carbons: true }),
      online(alice!, 'a2', { carbons: true }),
      online(bob!, 'b1', { carbons: true }),
      online(bob!, 'b2', { carbons: true }),
    ]);
    return { alice: alice!, bob: bob!, a1, a2, b1, b2 };
  }
  /** A carbon as slixmpp's xep_0280 plugin reported it (it checked the wrapper came from the user's bare JID). */
  const carbon = (c: SlixClient, kind: 'sent' | 'received', body: string) =>
    c.waitFor('carbon', (e) => e.kind === kind && (e.inner as Data).body === body, 5000);

  it('copies what one session sends to the sender\'s other carbons-enabled session, wrapped in <sent/> (XEP-0280 §7)', async () => {
    const { alice, bob, a1, a2, b1, b2 } = await carbonSessions();

    // To bob's bare JID: every available session of bob gets the message itself (RFC 6121 §8.5.2.1.1), so
    // none gets a <received/> copy (§6: not to resources that received the original).
    await a1.send(bob, 'to all of bob');
    for (const b of [b1, b2]) expect((await b.waitMessage('to all of bob')).from).toBe(`${alice}/a1`);
    const sc = await carbon(a2, 'sent', 'to all of bob');
    expect(sc.from).toBe(alice); // the wrapper comes from the user's own bare JID
    expect(sc.inner).toMatchObject({ from: `${alice}/a1`, to: bob, type: 'chat' });

    // To bob/b1: the sender's other session is copied all the same.
    await a1.send(`${bob}/b1`, 'to your laptop');
    expect((await b1.waitMessage('to your laptop')).from).toBe(`${alice}/a1`);
    expect((await carbon(a2, 'sent', 'to your laptop')).inner).toMatchObject({ from: `${alice}/a1`, to: `${bob}/b1` });

    await settle(a1, a2, b1, b2);
    expect(a1.received('carbon')).toEqual([]); // §7: not to the sending resource
    expect(a1.received('message', (e) => e.body !== null)).toEqual([]);
    expect(a2.received('carbon')).toHaveLength(2);
    expect(a2.messages('to all of bob')).toEqual([]);
    for (const b of [b1, b2]) {
      expect(b.messages('to all of bob')).toHaveLength(1);
      expect(b.received('carbon', (e) => (e.inner as Data).body === 'to all of bob')).toEqual([]);
    }
    expect(b1.messages('to your laptop')).toHaveLength(1);
  });

  it('copies a message addressed to one full JID to the recipient\'s other carbons-enabled session, wrapped in <received/> (XEP-0280 §6)', async () => {
    const { alice, bob, a1, a2, b1, b2 } = await carbonSessions();
    await a1.send(`${bob}/b1`, 'only for b1');
    expect((await b1.waitMessage('only for b1')).from).toBe(`${alice}/a1`);
    const rc = await carbon(b2, 'received', 'only for b1');
    expect(rc.from).toBe(bob);
    expect(rc.inner).toMatchObject({ from: `${alice}/a1`, to: `${bob}/b1`, type: 'chat' });

    // Both ways: bob/b1 answers alice/a1; alice/a2 gets <received/>, bob/b2 <sent/>.
    await b1.send(`${alice}/a1`, 'answering from b1');
    await a1.waitMessage('answering from b1');
    expect((await carbon(a2, 'received', 'answering from b1')).inner).toMatchObject({ from: `${bob}/b1`, to: `${alice}/a1` });
    expect((await carbon(b2, 'sent', 'answering from b1')).inner).toMatchObject({ from: `${bob}/b1`, to: `${alice}/a1` });

    await settle(a1, a2, b1, b2);
    expect(b1.messages('only for b1')).toHaveLength(1);
    expect(b1.received('carbon', (e) => (e.inner as Data).body === 'only for b1')).toEqual([]); // §6: not to the addressee
    expect(b2.messages('only for b1')).toEqual([]);
    expect(b2.received('carbon')).toHaveLength(2);
    expect(a2.received('carbon')).toHaveLength(2);
  });

  it('answers a MAM query with "with" = the peer with the conversation in order (XEP-0313)', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const script: Array<[SlixClient, string, string]> = [
      [a, bob!, 'archive 1 from alice'],
      [b, alice!, 'archive 2 from bob'],
      [a, bob!, 'archive 3 from alice'],
    ];
    const delivered: SlixMessage[] = [];
    for (const [from, to, body] of script) {
      await from.send(to, body);
      delivered.push(await (from === a ? b : a).waitMessage(body));
    }
    await a.send(carol!, 'not part of it'); // another conversation stays out

    const r = (await a.request('mam', { with: bob })) as { results: Array<Data & { forwarded: SlixMessage }>; complete: string | null };
    expect(r.results.map((x) => x.forwarded.body)).toEqual(script.map(([, , body]) => body));
    expect(r.results.map((x) => x.forwarded.from)).toEqual([`${alice}/a`, `${bob}/b`, `${alice}/a`]);
    expect(r.results.map((x) => bareOf(x.forwarded.to))).toEqual([bob, alice, bob]);
    // The archive id of each result is the stanza-id the live message carried (XEP-0359, XEP-0313 §5.1.2).
    expect(r.results.map((x) => x.id)).toEqual(delivered.map((m) => m.stanzaId!.id));
    for (const x of r.results) {
      expect(x.from).toBe(alice); // results come from the archive: the user's own bare JID
      expect(x.forwarded.forwardDelay).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(r.complete).toBe('true');

    // XEP-0059 paging: <max>2</max> without <before/>/<after/> is the first page from the start (§4.1.2),
    // and the archive says it is not complete.
    const page = (await a.request('mam', { with: bob, max: 2 })) as { results: Array<Data & { forwarded: SlixMessage }>; complete: string | null };
    expect(page.results.map((x) => x.forwarded.body)).toEqual(script.slice(0, 2).map(([, , body]) => body));
    expect(page.complete).not.toBe('true');

    // Bob's archive has the same conversation.
    const rb = (await b.request('mam', { with: alice })) as { results: Array<Data & { forwarded: SlixMessage }> };
    expect(rb.results.map((x) => x.forwarded.body)).toEqual(script.map(([, , body]) => body));

    // XEP-0313 §4.1.1: start and end (inclusive), as slixmpp sends them, from the times the archive gave.
    const times = r.results.map((x) => x.forwarded.forwardDelay!);
    const between = (lo: string, hi: string): string[] => r.results.filter((_, i) => times[i]! >= lo && times[i]! <= hi).map((x) => x.forwarded.body!);
    const fromSecond = (await a.request('mam', { with: bob, start: times[1] })) as { results: Array<Data & { forwarded: SlixMessage }> };
    expect(fromSecond.results.map((x) => x.forwarded.body)).toEqual(between(times[1]!, '9999'));
    expect(fromSecond.results.map((x) => x.forwarded.body)).toContain('archive 3 from alice');
    const upToSecond = (await a.request('mam', { with: bob, end: times[1] })) as { results: Array<Data & { forwarded: SlixMessage }> };
    expect(upToSecond.results.map((x) => x.forwarded.body)).toEqual(between('0', times[1]!));
    expect(upToSecond.results.map((x) => x.forwarded.body)).not.toContain('archive 3 from alice');
  });

  it('resumes a stream after the TCP connection dropped: nothing lost, nothing twice (XEP-0198)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const j = await onlineAt(t, alice!, 'json');
    const b = await client(bob!, 'b');
    const r = await b.connect({ sm: true });
    expect(r.smId).toEqual(expect.any(String));
    expect(b.received('sm_enabled')).toEqual([expect.objectContaining({ resume: true })]);

    await j.send(bob!, 'before the drop');
    await b.waitMessage('before the drop');

    // The connection dies without </stream:stream>; wait until the server noticed (its connection count drops).
    const open = t.server.xmpp!.size;
    await b.request('drop');
    await serverNoticed(t, open);
    // Meanwhile two messages arrive for bob (acknowledged to the sender: stored and routed).
    await j.send(bob!, 'while dropped 1');
    await j.send(bob!, 'while dropped 2');

    const rr = await b.request('reconnect');
    expect(rr.state).toBe('resumed');
    expect(rr.jid).toBe(`${bob}/b`);
    await b.waitMessage('while dropped 1');
    await b.waitMessage('while dropped 2');

    // The resumed session works both ways.
    await j.send(bob!, 'after resuming');
    await b.waitMessage('after resuming');
    await b.send(alice!, 'bob is back');
    await j.waitFor('message', (d) => d.body === 'bob is back');

    await b.ping();
    for (const body of ['before the drop', 'while dropped 1', 'while dropped 2', 'after resuming']) {
      expect(b.messages(body), body).toHaveLength(1);
    }
    const order = b.received('message', (e) => !e.mam && !e.carbon && typeof e.body === 'string').map((e) => e.body);
    expect(order).toEqual(['before the drop', 'while dropped 1', 'while dropped 2', 'after resuming']);
    expect(b.received('session_start')).toHaveLength(1); // resumed, not a new session
    expect(b.received('session_resumed')).toHaveLength(1);
    expect(b.received('sm_failed')).toEqual([]);
    expect(b.received('stream_error')).toEqual([]);
  });

  it('a dropped stream-management session not resumed in time ends; what it never acknowledged comes back at the next login (XEP-0198 §5)', async () => {
    const t2 = await startServer({ xmpp: { resumeSeconds: 0.5 } });
    try {
      const [alice, bob] = await freshUsers(t2, 'alice', 'bob');
      await befriend(alice!, bob!, t2);
      const j = await onlineAt(t2, alice!, 'json');
      const b = await client(bob!, 'b', 'starttls', t2);
      await b.connect({ sm: true });
      await j.waitFor('presence', (d) => d.user === bob && d.state === 'available');
      // An XMPP watcher too: bob's resource stays while it hibernates, and goes from its full address at the end.
      const w = await client(alice!, 'w', 'starttls', t2);
      await w.connect();
      await w.waitFor('presence', (e) => e.from === `${bob}/b` && e.type === 'available');
      const gone = (e: SlixEvent): boolean => bareOf(e.from) === bob && e.type === 'unavailable';

      await j.send(bob!, 'acknowledged');
      await b.waitMessage('acknowledged');
      await b.request('ack'); // <a h/>: bob has handled it
      await b.ping();
      await j.send(bob!, 'received, never acknowledged');
      await b.waitMessage('received, never acknowledged');

      const open = t2.server.xmpp!.size;
      await b.request('drop');
      await serverNoticed(t2, open);
      await j.send(bob!, 'sent while hibernating');
      await w.ping();
      expect(w.received('presence', gone)).toEqual([]);
      // Nobody resumes: after resumeSeconds the session ends and bob's contacts see him go.
      await j.waitFor('presence', (d) => d.user === bob && d.state === 'offline');
      expect((await w.waitFor('presence', gone)).from).toBe(`${bob}/b`);

      // slixmpp tries to resume, is refused, and binds a new session instead.
      const m = b.mark();
      const rr = await b.request('reconnect');
      expect(rr.state).toBe('started');
      expect(b.received('sm_failed', () => true).length).toBeGreaterThanOrEqual(1);
      await b.request('presence');
      const later = (body: string) => b.waitFor('message', (e) => e.body === body && !e.mam && !e.carbon, 10_000, m) as unknown as Promise<SlixMessage>;
      const unacked = await later('received, never acknowledged');
      const hibernated = await later('sent while hibernating');
      expect(unacked.delay).not.toBeNull();
      expect(hibernated.delay).not.toBeNull();
      await b.ping();
      const after = b.events.slice(m).filter((e) => e.ev === 'message' && typeof e.body === 'string' && !e.mam && !e.carbon).map((e) => e.body);
      // What bob acknowledged is not sent again; the rest arrives once, in order.
      expect(after).toEqual(['received, never acknowledged', 'sent while hibernating']);
    } finally {
      await SlixClient.killAll();
      await t2.close();
    }
  });

  it('joins a MUC room; both occupants see each other\'s messages and their own reflection (XEP-0045)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const room = `room-${nickOf(alice!).split('-')[1]}@conference.localhost`;

    const ja = (await a.request('join_muc', { room, nick: nickOf(alice!) })) as { from: string; codes: string[] };
    expect(ja.from).toBe(`${room}/${nickOf(alice!)}`);
    expect(ja.codes).toContain('110'); // §7.2.2 self-presence
    expect(ja.codes).toContain('201'); // §10.1.1 the room was created
    const jb = (await b.request('join_muc', { room, nick: nickOf(bob!) })) as { from: string; codes: string[]; occupants: string[] };
    expect(jb.codes).toContain('110');
    expect(jb.occupants).toContain(`${room}/${nickOf(alice!)}`); // §7.2.3 existing occupants first
    await a.waitFor('presence', (e) => e.from === `${room}/${nickOf(bob!)}` && e.type === 'available');

    const groupchat = (c: SlixClient, body: string) =>
      c.waitFor('message', (e) => e.type === 'groupchat' && e.body === body) as unknown as Promise<SlixMessage>;

    await a.send(room, 'hello room', 'groupchat');
    const atBob = await groupchat(b, 'hello room');
    const echoA = await groupchat(a, 'hello room'); // §7.4: the sender gets its own message back
    for (const m of [atBob, echoA]) {
      expect(m.from).toBe(`${room}/${nickOf(alice!)}`);
      expect(m.stanzaId).toMatchObject({ by: room });
    }
    expect(echoA.stanzaId!.id).toBe(atBob.stanzaId!.id);

    await b.send(room, 'hello alice', 'groupchat');
    const atAlice = await groupchat(a, 'hello alice');
    const echoB = await groupchat(b, 'hello alice');
    expect(atAlice.from).toBe(`${room}/${nickOf(bob!)}`);
    expect(echoB.from).toBe(`${room}/${nickOf(bob!)}`);

    await settle(a, b);
    for (const c of [a, b]) {
      for (const body of ['hello room', 'hello alice']) {
        expect(c.received('message', (e) => e.type === 'groupchat' && e.body === body), body).toHaveLength(1);
      }
    }
  });

  it('tells the other occupants when someone leaves, re-enters, or loses the connection (XEP-0045 §7.14, §7.2.3)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const room = `exits-${nickOf(alice!).split('-')[1]}@conference.localhost`;
    const bobInRoom = `${room}/${nickOf(bob!)}`;
    await a.request('join_muc', { room, nick: nickOf(alice!) });
    await b.request('join_muc', { room, nick: nickOf(bob!) });
    await a.waitFor('presence', (e) => e.from === bobInRoom && e.type === 'available');
    // Each step is checked on its own (soft), so one missing broadcast does not hide the others.
    const seen = (pred: (e: SlixEvent) => boolean, after: number) => a.waitFor('presence', pred, 5000, after).then(() => true, () => false);

    // §7.14: an exit goes to the departing occupant (with 110) and to all remaining occupants.
    let m = a.mark();
    await b.request('leave_muc', { room, nick: nickOf(bob!) });
    await b.waitFor('presence', (e) => e.from === bobInRoom && e.type === 'unavailable');
    expect.soft(await seen((e) => e.from === bobInRoom && e.type === 'unavailable', m), 'alice sees bob leave').toBe(true);

    // §7.2.3: an entering occupant's presence goes to all occupants, also when it is a member already.
    m = a.mark();
    await b.request('join_muc', { room, nick: nickOf(bob!) });
    expect.soft(await seen((e) => e.from === bobInRoom && e.type === 'available', m), 'alice sees bob re-enter').toBe(true);

    // RFC 6121 §4.6.3 / XEP-0045 §7.14: when the stream ends, the occupant leaves every room it was in.
    m = a.mark();
    await b.request('disconnect');
    expect.soft(await seen((e) => e.from === bobInRoom && e.type === 'unavailable', m), 'alice sees bob leave when his stream ends').toBe(true);
  });

  it('keeps bookmarks in private storage across connections (XEP-0048 over XEP-0049)', async () => {
    const [alice] = await users('alice');
    const a = await online(alice!, 'a');
    const conferences = [{ jid: 'team@conference.localhost', nick: 'al', name: 'Team', autojoin: true }];
    await a.request('bookmarks_set', { conferences });
    await a.request('disconnect');
    const again = await online(alice!, 'a2');
    expect(((await again.request('bookmarks_get')) as { conferences: unknown[] }).conferences).toEqual(conferences);
  });

  it('answers a self-ping while joined and not-acceptable after leaving (XEP-0410)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const room = `ping-${nickOf(alice!).split('-')[1]}@conference.localhost`;
    const self = `${room}/${nickOf(alice!)}`;
    // Before entering: not joined.
    await expect(a.request('ping', { to: self })).rejects.toThrow(/not-acceptable/);
    await a.request('join_muc', { room, nick: nickOf(alice!) });
    await b.request('join_muc', { room, nick: nickOf(bob!) });
    await a.request('ping', { to: self });
    // Another occupant's address: not relayed, which XEP-0410 reads as "joined".
    await expect(a.request('ping', { to: `${room}/${nickOf(bob!)}` })).rejects.toThrow(/feature-not-implemented/);
    await a.request('leave_muc', { room, nick: nickOf(alice!) });
    await a.waitFor('presence', (e) => e.from === self && e.type === 'unavailable');
    await expect(a.request('ping', { to: self })).rejects.toThrow(/not-acceptable/);
  });

  it('chats between an XMPP user and a JSON-API user, both ways', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await online(alice!, 'xmpp');
    const j = await onlineAt(t, bob!, 'desk');

    await a.send(bob!, 'from xmpp to json');
    const ev = await j.waitFor('message', (d) => d.body === 'from xmpp to json');
    expect(ev.data).toMatchObject({ type: 'chat', from: `${alice}/xmpp`, to: bob, body: 'from xmpp to json' });

    const ack = await j.request<{ id: string }>('message.send', { to: alice, body: 'from json to xmpp' });
    const m = await a.waitMessage('from json to xmpp');
    expect(m).toMatchObject({ type: 'chat', from: `${bob}/desk`, body: 'from json to xmpp' });
    expect(bareOf(m.to)).toBe(alice);
    expect(m.stanzaId).toMatchObject({ id: ack.id, by: alice });

    await a.ping();
    await j.request('ping');
    expect(a.messages('from json to xmpp')).toHaveLength(1);
    expect(j.received('message').filter((d) => d.body === 'from xmpp to json')).toHaveLength(1);
  });
});
