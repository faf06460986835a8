/**
 * Two engines over one store and one bus, as two server processes will share PostgreSQL and NATS: a change made
 * through one drops the other's caches through the bus, without waiting for the data-version poll.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../storage/memory/index.js';
import { LocalBus } from './local-bus.js';
import { silentLog, testEngine, testPresence } from './test-engine.js';

const presence = testPresence;

describe('cache invalidation over the bus', () => {
  it('a shared group changed through one engine shows in the other engine\'s cached roster', async () => {
    const store = createMemoryStore();
    const bus = new LocalBus(silentLog);
    const users = ['a@example.com', 'b@example.com'];
    const one = (await testEngine(users, { store, bus })).engine;
    const two = (await testEngine(users, { store, bus })).engine;
    // a is online on engine two, which therefore keeps a's roster in memory.
    const session = await two.openSession('a@example.com', 'r', { send: () => undefined, close: () => undefined }, presence);
    two.goLive(session.session);
    expect(await two.rosters.list('a@example.com')).toEqual([]);
    await one.admin.addGroupMember('team', 'a@example.com');
    await one.admin.addGroupMember('team', 'b@example.com');
    await bus.close();
    const contacts = (await two.rosters.list('a@example.com')).map((i) => i.contact);
    expect(contacts).toEqual(['b@example.com']);
  });
});
