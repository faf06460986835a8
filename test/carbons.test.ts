/**
 * Multi-session delivery: bare and full addresses (RFC 6121 §8.5), carbons of one's own messages (XEP-0280)
 * and resource conflicts (RFC 6120 §7.7.2.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { drain, freshUsers, onlineAt, startServer, until, type TestServer } from './harness.js';

type Data = Record<string, unknown>;

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.close());

const users = (...names: string[]): Promise<string[]> => freshUsers(t, ...names);

const online = (address: string, resource = 'r', presence?: Data): Promise<ParleyClient> => onlineAt(t, address, resource, presence);


function bodies(c: ParleyClient, body: string): Data[] {
  return c.received('message').filter((m) => m.body === body);
}

/** alice with sessions a, b, c and bob with sessions one, two. */
async function setup(): Promise<{ alice: string; bob: string; a: ParleyClient; b: ParleyClient; c: ParleyClient; bob1: ParleyClient; bob2: ParleyClient }> {
  const [alice, bob] = await users('alice', 'bob');
  const [a, b, c, bob1, bob2] = await Promise.all([
    online(alice!, 'a'),
    online(alice!, 'b'),
    online(alice!, 'c'),
    online(bob!, 'one'),
    online(bob!, 'two'),
  ]);
  return { alice: alice!, bob: bob!, a, b, c, bob1, bob2 };
}

describe('carbons and multi-session delivery', () => {
  it('a message to the bare address reaches every session; the sender\'s other sessions get a copy', async () => {
    const { alice, bob, a, b, c, bob1, bob2 } = await setup();
    const ack = await bob1.send(alice, 'to all of you');
    for (const s of [a, b, c, bob2]) {
      const m = await s.waitFor('message', (d) => d.body === 'to all of you');
      expect(m.data).toMatchObject({ id: ack.id, seq: ack.seq, from: `${bob}/one`, to: alice, type: 'chat' });
    }
    await drain(a, b, c, bob1, bob2);
    for (const s of [a, b, c, bob2]) expect(bodies(s, 'to all of you')).toHaveLength(1);
    expect(bodies(bob1, 'to all of you')).toEqual([]);
  });

  it('a message sent from one session is carbon-copied to the user\'s other sessions', async () => {
    const { alice, bob, a, b, c, bob1, bob2 } = await setup();
    const ack = await a.send(bob, 'from my laptop');
    for (const s of [b, c, bob1, bob2]) {
      const m = await s.waitFor('message', (d) => d.body === 'from my laptop');
      expect(m.data).toMatchObject({ id: ack.id, from: `${alice}/a`, to: bob });
    }
    await drain(a, b, c, bob1, bob2);
    expect(bodies(a, 'from my laptop')).toEqual([]);
    for (const s of [b, c, bob1, bob2]) expect(bodies(s, 'from my laptop')).toHaveLength(1);
  });

  it('a message to a full address reaches only that session (plus the sender\'s other sessions)', async () => {
    const { alice, bob, a, b, c, bob1, bob2 } = await setup();
    const ack = await bob1.send(`${alice}/b`, 'just for b');
    const m = await b.waitFor('message', (d) => d.body === 'just for b');
    expect(m.data).toMatchObject({ id: ack.id, from: `${bob}/one`, to: `${alice}/b` });
    await bob2.waitFor('message', (d) => d.body === 'just for b');
    await drain(a, b, c, bob1, bob2);
    expect(bodies(a, 'just for b')).toEqual([]);
    expect(bodies(c, 'just for b')).toEqual([]);
    expect(bodies(b, 'just for b')).toHaveLength(1);
    expect(bodies(bob2, 'just for b')).toHaveLength(1);
    expect(bodies(bob1, 'just for b')).toEqual([]);
  });

  it('a message to a full address whose session is gone goes to every session of the user (RFC 6121 §8.5.3.2.1)', async () => {
    const { alice, bob, a, b, c, bob1, bob2 } = await setup();
    await bob1.send(`${alice}/gone`, 'where are you');
    for (const s of [a, b, c, bob2]) {
      const m = await s.waitFor('message', (d) => d.body === 'where are you');
      expect(m.data).toMatchObject({ from: `${bob}/one`, to: `${alice}/gone` });
    }
    await c.close();
    await until(() => t.server.engine.sessions.get(alice, 'c') === undefined, 2000, 'session c closed');
    await bob1.send(`${alice}/c`, 'c just left');
    for (const s of [a, b]) await s.waitFor('message', (d) => d.body === 'c just left');
    await drain(a, b, bob1, bob2);
    for (const s of [a, b, bob2]) {
      expect(bodies(s, 'where are you')).toHaveLength(1);
    }
    for (const s of [a, b]) expect(bodies(s, 'c just left')).toHaveLength(1);
    // Nothing was queued offline: alice was online.
    const again = await online(alice, 'later');
    expect(bodies(again, 'c just left')).toEqual([]);
  });

  it('a message to one\'s own other session arrives there once and is copied to the rest', async () => {
    const { alice, a, b, c } = await setup();
    await a.send(`${alice}/b`, 'note to self');
    await b.waitFor('message', (d) => d.body === 'note to self');
    await c.waitFor('message', (d) => d.body === 'note to self');
    await drain(a, b, c);
    expect(bodies(b, 'note to self')).toHaveLength(1);
    expect(bodies(c, 'note to self')).toHaveLength(1);
    expect(bodies(a, 'note to self')).toEqual([]);
    await a.send(alice, 'note to all of me');
    await drain(a, b, c);
    await until(() => bodies(b, 'note to all of me').length === 1 && bodies(c, 'note to all of me').length === 1);
    expect(bodies(a, 'note to all of me')).toEqual([]);
  });
});

describe('resource conflict', () => {
  it('a second session with the same resource replaces the first, which is told and closed', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const b = await online(bob!, 'r');
    const first = await online(alice!, 'desk');
    await b.request('roster.subscribe', { contact: alice });
    await first.waitFor('subscription', (d) => d.from === bob);
    await first.request('roster.approve', { contact: bob });
    await b.waitFor('presence', (d) => d.user === alice && d.state === 'available');

    const second = await online(alice!, 'desk');
    expect(second.hello.resource).toBe('desk');
    const closing = await first.waitFor('session.closing');
    expect(closing.data).toMatchObject({ code: 'conflict' });
    const closed = await first.closed;
    expect(closed.code).toBe(1008);
    expect(t.server.engine.sessions.countOf(alice!)).toBe(1);
    expect(t.server.engine.sessions.get(alice!, 'desk')?.id).toBe(second.hello.session);

    // The replacement is seamless: subscribers never see the user go offline, and messages reach the new session.
    await b.send(`${alice}/desk`, 'are you the new one?');
    await second.waitFor('message', (d) => d.body === 'are you the new one?');
    await drain(b);
    expect(b.received('presence').filter((d) => d.user === alice && d.state === 'offline')).toEqual([]);
    expect(await b.request('presence.get', { user: alice })).toMatchObject({ presence: { state: 'available', sessions: 1 } });

    // Closing the replacement is a real logout.
    await second.close();
    await b.waitFor('presence', (d) => d.user === alice && d.state === 'offline');
  });
});
