/**
 * Bounds on what one user or session may make the server hold: the offline queue (RFC 6121 §8.5.2.2.1), a
 * session's messages waiting to be stored, and rooms (owned, joined, listed). The hostile suite (test/hostile/limits.test.ts) floods the same
 * paths from another process; these cases check the errors each front door reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyApiError } from '../client/index.js';
import { drain, freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
const raws: RawXmpp[] = [];

beforeAll(async () => {
  t = await startServer({
    limits: { maxOfflineMessages: 5, maxOfflineBytes: 65_536, maxPendingSendBytes: 65_536 },
    rooms: { maxOwnedPerUser: 3, maxMembershipsPerUser: 5, listPageSize: 2 },
  });
});
afterAll(async () => {
  for (const r of raws) r.close();
  await t.close();
});

const refusal = async (p: Promise<unknown>): Promise<ParleyApiError> => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof ParleyApiError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
};

describe('offline queue limit', () => {
  it('refuses a message to a full queue with service-unavailable and stores nothing; acknowledging makes room', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await onlineAt(t, alice!);
    for (let i = 1; i <= 5; i++) await a.send(bob!, `m${i}`, `c${i}`);
    // A resend of a stored message is still answered with the first version, not refused.
    expect(await a.send(bob!, 'm5', 'c5')).toMatchObject({ duplicate: true });
    const e = await refusal(a.send(bob!, 'one too many'));
    expect(e.code).toBe('service-unavailable');
    expect(e.message).toMatch(/offline queue is full/);
    expect(e.details).toMatchObject({ reason: 'offline-queue-full', maxMessages: 5 });
    // The operator sees it on /metrics.
    const scraped = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/^parley_refused_total\{limit="offline-queue-full"\} (\d+)/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(1);
    // Edits of queued messages would be queued too: refused alike.
    expect((await refusal(a.request('message.edit', { id: (await a.request<{ messages: Array<{ id: string }> }>('history', { with: bob! })).messages[0]!.id, body: 'x' }))).code).toBe('service-unavailable');
    const history = await a.request<{ messages: Array<{ body: string }> }>('history', { with: bob! });
    expect(history.messages.map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    // The recipient logs in: the queue is replayed and acknowledged (the SDK acks), so there is room again.
    const b = await onlineAt(t, bob!);
    expect(b.received('message').map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await b.request('sync.ack', { upTo: b.position });
    await b.close();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 6; i <= 10; i++) await a.send(bob!, `m${i}`);
    expect((await refusal(a.send(bob!, 'full again'))).code).toBe('service-unavailable');
  });

  it('counts a queue left from before (read once from the store), and bounds its bytes', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'alice', 'bob', 'carol');
    const a = await onlineAt(t, alice!);
    // 40,000 + 30,000 bytes exceed the 65,536-byte bound: the second is refused.
    await a.send(bob!, 'x'.repeat(40_000));
    const e = await refusal(a.send(bob!, 'y'.repeat(30_000)));
    expect(e.code).toBe('service-unavailable');
    expect(e.details).toMatchObject({ reason: 'offline-queue-full', maxBytes: 65_536 });
    await a.send(bob!, 'small');
    // Another sender sees the same queue.
    const c = await onlineAt(t, carol!);
    await c.send(bob!, 'from carol');
    await c.send(bob!, 'from carol 2');
    await c.send(bob!, 'from carol 3');
    expect((await refusal(c.send(bob!, 'from carol 4'))).code).toBe('service-unavailable');
    await drain(a, c);
  });

  it('does not limit messages to a reachable user, nor room messages', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await onlineAt(t, alice!);
    const b = await onlineAt(t, bob!);
    for (let i = 0; i < 12; i++) await a.send(bob!, `live ${i}`);
    await drain(b);
    expect(b.received('message')).toHaveLength(12);
  });

  it('reports the full queue to an XMPP sender as <service-unavailable/> (RFC 6121 §8.5.2.2.1)', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const x = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    raws.push(x);
    await x.login(alice!, `pw-${alice!.split('@')[0]}`, 'x');
    x.write('<presence/>');
    for (let i = 1; i <= 6; i++) x.write(`<message to='${bob}' type='chat' id='m${i}'><body>n${i}</body></message>`);
    const err = await x.until(/<message[^>]*id="m6"[^>]*type="error"[^>]*>.*?<\/message>|<message[^>]*type="error"[^>]*id="m6"[^>]*>.*?<\/message>/s);
    expect(err[0]).toContain('<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(err[0]).toMatch(/offline queue is full/);
    expect(x.text).not.toMatch(/id="m5"[^>]*type="error"|type="error"[^>]*id="m5"/);
  });
});

describe('pending sends of one session', () => {
  it('refuses with rate-limited while too much of a session waits to be stored, and recovers', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await onlineAt(t, alice!);
    const b = await onlineAt(t, bob!);
    // 200 × ~9 KiB sent at once: far more than 64 KiB can wait to be stored at a time.
    const body = 'z'.repeat(8192);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => a.send(bob!, `${i} ${body}`).then(() => 'ok', (e: ParleyApiError) => e.code)));
    const refused = results.filter((r) => r === 'rate-limited').length;
    expect(refused).toBeGreaterThan(0);
    expect(results.filter((r) => r !== 'ok' && r !== 'rate-limited')).toEqual([]);
    await drain(b);
    expect(b.received('message')).toHaveLength(200 - refused);
    // Once they are stored, the session sends again.
    await a.send(bob!, 'after');
  });
});

describe('room limits', () => {
  type Listed = { rooms: Array<{ address: string; role: string | null; invitedBy: string | null }>; next: string | null };

  it('caps the rooms a user owns, also when ownership is handed over; destroying one makes room', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await onlineAt(t, alice!);
    const b = await onlineAt(t, bob!);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await a.request<{ room: { address: string } }>('room.create', { name: `own ${alice} ${i}`, membersOnly: false })).room.address);
    const e = await refusal(a.request('room.create', { name: `own ${alice} 3` }));
    expect(e.code).toBe('not-allowed');
    expect(e.details).toMatchObject({ limit: 'rooms.maxOwnedPerUser', max: 3 });
    // Bob owns three too; alice cannot make him owner of a fourth.
    for (let i = 0; i < 3; i++) await b.request('room.create', { name: `own ${bob} ${i}` });
    await b.request('room.join', { room: made[0]! });
    expect((await refusal(a.request('room.role', { room: made[0]!, user: bob!, role: 'owner' }))).code).toBe('not-allowed');
    await a.request('room.role', { room: made[0]!, user: bob!, role: 'admin' });
    await a.request('room.destroy', { room: made[1]! });
    await a.request('room.create', { name: `own ${alice} again` });
  });

  it('refuses a burst of creations past the cap, not just sequential ones', async () => {
    const [carol] = await freshUsers(t, 'carol');
    const c = await onlineAt(t, carol!);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        c.request('room.create', { name: `burst ${carol} ${i}` }).then(
          () => 'ok',
          (e: ParleyApiError) => e.code,
        ),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    expect(results.filter((r) => r === 'not-allowed')).toHaveLength(7);
  });

  it('caps memberships per user', async () => {
    const [owner, joiner] = await freshUsers(t, 'owner', 'joiner');
    const o = await onlineAt(t, owner!);
    const j = await onlineAt(t, joiner!);
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push((await o.request<{ room: { address: string } }>('room.create', { name: `m ${owner} ${i}`, membersOnly: false })).room.address);
    for (let i = 0; i < 3; i++) await j.request('room.create', { name: `m ${joiner} ${i}` });
    await j.request('room.join', { room: rooms[0]! });
    await j.request('room.join', { room: rooms[1]! });
    const e = await refusal(j.request('room.join', { room: rooms[2]! }));
    expect(e.code).toBe('not-allowed');
    expect(e.details).toMatchObject({ limit: 'rooms.maxMembershipsPerUser', max: 5 });
    await j.request('room.leave', { room: rooms[0]! });
    await j.request('room.join', { room: rooms[2]! });
  });

  it("lists a user's own rooms and invitations, and the open rooms of others one page at a time", async () => {
    const [dave, erin, frank] = await freshUsers(t, 'dave', 'erin', 'frank');
    const d = await onlineAt(t, dave!);
    const e = await onlineAt(t, erin!);
    const f = await onlineAt(t, frank!);
    const open: string[] = [];
    for (let i = 0; i < 3; i++) open.push((await e.request<{ room: { address: string } }>('room.create', { name: `open ${erin} ${i}`, membersOnly: false })).room.address);
    for (let i = 0; i < 2; i++) open.push((await f.request<{ room: { address: string } }>('room.create', { name: `open ${frank} ${i}`, membersOnly: false })).room.address);
    const own = (await d.request<{ room: { address: string } }>('room.create', { name: `closed ${dave}` })).room.address;
    const hidden = (await f.request<{ room: { address: string } }>('room.create', { name: `closed ${frank}` })).room.address;
    await f.request('room.invite', { room: hidden, user: dave! });
    // Every open room of the domain, paged by 2 (other tests' rooms are in the same domain too).
    const seen: Listed['rooms'] = [];
    let page = await d.request<Listed>('room.list');
    expect(page.rooms.find((r) => r.address === own)).toMatchObject({ role: 'owner', invitedBy: null });
    expect(page.rooms.find((r) => r.address === hidden)).toMatchObject({ role: null, invitedBy: frank });
    for (let pages = 1; ; pages++) {
      const strangers = page.rooms.filter((r) => r.role === null && r.invitedBy === null);
      expect(strangers.length).toBeLessThanOrEqual(2);
      seen.push(...strangers);
      if (page.next === null) break;
      expect(pages).toBeLessThan(100);
      page = await d.request<Listed>('room.list', { after: page.next });
    }
    for (const r of open) expect(seen.map((x) => x.address)).toContain(r);
    expect(seen.map((x) => x.address)).not.toContain(hidden);
    expect(new Set(seen.map((x) => x.address)).size).toBe(seen.length);
  });
});
