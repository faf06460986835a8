/**
 * The usage module: the in-memory tally (messages by kind and day, sessions, peaks, what a failed flush puts
 * back), its storage (additive counts, each active user once a day, peaks summed over nodes, message counts
 * never added twice for the same log positions, folding and pruning), and the module on the test engine: sessions
 * and messages counted through the seam, flushed at close.
 */
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../core/types.js';
import { testPresence } from '../../engine/test-engine.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { moduleFixture, runOp } from '../testing.js';
import { usage } from './index.js';
import { dayOf, noSessions, type UsageFlush } from './model.js';
import { dailyReport } from './report.js';
import type { UsageArea } from './sqlite.js';
import { Tally } from './tally.js';

const T = Date.UTC(2026, 2, 10, 12);
const DAY = 86_400_000;

const rec = (seq: number, kind: LogRecord['kind'], type: LogRecord['type'], ts = T): LogRecord => ({
  seq,
  id: `m${seq}`,
  kind,
  type,
  conv: 'c',
  from: 'a@example.com',
  fromResource: 'r',
  to: 'b@example.com',
  toResource: null,
  clientId: null,
  body: 'hi',
  ref: null,
  receipt: null,
  ts,
  xml: null,
});

/** A fresh usage area on the memory store. */
function freshArea(): UsageArea {
  const store = createMemoryStore({ modules: [{ name: 'usage', memory: usage.storage!.memory }] });
  return store.area<UsageArea>('usage');
}

describe('the tally', () => {
  it('counts messages by kind and day, once per log position', () => {
    const t = new Tally();
    t.records([rec(1, 'message', 'chat'), rec(2, 'message', 'groupchat'), rec(3, 'edit', 'chat'), rec(4, 'retract', 'chat'), rec(5, 'receipt', 'chat'), rec(6, 'message', 'chat', T + DAY)], 0);
    // Seen again after a retry: not counted twice; too old for the retention: skipped.
    t.records([rec(5, 'receipt', 'chat'), rec(6, 'message', 'chat', T + DAY), rec(7, 'message', 'chat', T - 500 * DAY)], T - 400 * DAY);
    const f = t.take('n1', T)!;
    expect(f.counts.map((c) => [c.day, c.messages, c.roomMessages])).toEqual([
      ['2026-03-10', 1, 1],
      ['2026-03-11', 1, 0],
    ]);
    expect(f.messages).toEqual({ from: 0, to: 7 });
    expect(t.take('n1', T)).toBeNull();
  });

  it('counts sessions by protocol, each user once a day, and the most open at once', () => {
    const t = new Tally();
    expect(t.opened('s1', 'a@example.com', 'json', T)).toBe(true);
    expect(t.opened('s2', 'a@example.com', 'xmpp-tcp', T)).toBe(false);
    expect(t.opened('s3', 'b@example.com', 'xmpp-bosh', T)).toBe(true);
    t.closed('s1');
    t.closed('s2');
    expect(t.opened('s4', 'c@example.com', 'xmpp-websocket', T)).toBe(true);
    const f = t.take('n1', T)!;
    expect(f.counts[0]!.sessions).toEqual({ ...noSessions(), json: 1, 'xmpp-tcp': 1, 'xmpp-bosh': 1, 'xmpp-websocket': 1 });
    expect(f.peaks).toEqual([{ day: '2026-03-10', node: 'n1', peak: 3 }]);
    // The next day, the sessions still open are its first peak, though nothing happened yet.
    expect(t.take('n1', T + DAY)!.peaks).toEqual([{ day: '2026-03-11', node: 'n1', peak: 2 }]);
    expect(t.take('n1', T + DAY)).toBeNull();
  });

  it('puts back what a failed flush took', () => {
    const t = new Tally();
    t.accountCreated(T);
    t.records([rec(1, 'message', 'chat')], 0);
    const f = t.take('n1', T)!;
    t.accountCreated(T);
    t.restore(f);
    const g = t.take('n1', T)!;
    expect(g.counts).toEqual([{ day: '2026-03-10', messages: 1, roomMessages: 0, newAccounts: 2, sessions: noSessions() }]);
    expect(g.messages).toEqual({ from: 0, to: 1 });
  });
});

describe('the usage storage', () => {
  const flush = (over: Partial<UsageFlush>): UsageFlush => ({ counts: [], active: [], peaks: [], messages: null, ...over });
  const counts = (day: string, messages: number, json = 0) => ({ day, messages, roomMessages: 0, newAccounts: 0, sessions: { ...noSessions(), json } });

  it('adds counts from every node, counts each active user once, sums the nodes\' peaks, and fills missing days', async () => {
    const a = freshArea();
    await a.flush(flush({ counts: [counts('2026-03-10', 2, 1)], active: [{ day: '2026-03-10', user: 'a@example.com', bot: false }], peaks: [{ day: '2026-03-10', node: 'n1', peak: 3 }] }));
    await a.flush(flush({ counts: [counts('2026-03-10', 1, 2)], active: [{ day: '2026-03-10', user: 'a@example.com', bot: false }, { day: '2026-03-10', user: 'bot@example.com', bot: true }], peaks: [{ day: '2026-03-10', node: 'n1', peak: 2 }, { day: '2026-03-10', node: 'n2', peak: 4 }] }));
    const days = await dailyReport(a, 3, '2026-03-11');
    expect(days.map((d) => d.day)).toEqual(['2026-03-09', '2026-03-10', '2026-03-11']);
    expect(days[1]).toEqual({ day: '2026-03-10', messages: 3, roomMessages: 0, activeUsers: 1, activeBots: 1, sessions: { ...noSessions(), json: 3 }, peakConnections: 7, newAccounts: 0 });
    expect(days[0]!.messages + days[2]!.messages + days[2]!.peakConnections).toBe(0);
  });

  it('never adds the messages of the same log positions twice', async () => {
    const a = freshArea();
    expect(await a.flush(flush({ counts: [counts('2026-03-10', 5)], messages: { from: 0, to: 10 } }))).toBe(10);
    // Another node (or this one after a restart) counted up to 10 already.
    expect(await a.flush(flush({ counts: [counts('2026-03-10', 5, 1)], messages: { from: 0, to: 10 } }))).toBe(10);
    expect(await a.flush(flush({ counts: [counts('2026-03-10', 1)], messages: { from: 10, to: 11 } }))).toBe(11);
    expect(await a.position()).toBe(11);
    const [d] = await a.days('2026-03-10', '2026-03-10');
    expect(d).toMatchObject({ messages: 6, sessions: { json: 1 } });
  });

  it('folds past days\' active users into their counts, and prunes days past the retention', async () => {
    const a = freshArea();
    await a.flush(flush({ active: [{ day: '2026-03-01', user: 'a@example.com', bot: false }, { day: '2026-03-09', user: 'a@example.com', bot: false }, { day: '2026-03-09', user: 'b@example.com', bot: true }] }));
    await a.compact('2026-03-10', '2026-03-05');
    await a.flush(flush({ active: [{ day: '2026-03-09', user: 'c@example.com', bot: false }] }));
    expect((await a.days('2026-03-01', '2026-03-10')).map((d) => [d.day, d.activeUsers, d.activeBots])).toEqual([['2026-03-09', 2, 1]]);
  });
});

describe('the usage module', () => {
  it('counts sessions, active users, messages and new accounts through the seam, flushed at close', async () => {
    const { engine, store, host } = await moduleFixture([usage], { options: { usage: { flushSeconds: 300 } } });
    host.start();
    const sink = (protocol: 'json' | 'xmpp-tcp') => ({ send: () => undefined, close: () => undefined, protocol });
    const { session: s1 } = await engine.openSession('a@example.com', 'one', sink('json'), testPresence);
    const { session: s2 } = await engine.openSession('a@example.com', 'two', sink('xmpp-tcp'), testPresence);
    await runOp(host, engine, 'b@example.com', 'message.send', { to: 'a@example.com', body: 'hello' });
    await engine.admin.addUser('bot@example.com', null, false, null, 'bot');
    await engine.openSession('bot@example.com', 'b', sink('json'), testPresence);
    const area = store.area<UsageArea>('usage');
    // The consumer reads the log a little after the message is recorded (its position is stored after).
    for (let i = 0; i < 200 && (await store.positions.get('usage.messages')) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await area.position()).toBe(0);
    await engine.closeSession(s1);
    await engine.closeSession(s2);
    await host.close();
    const [d] = await area.days(dayOf(Date.now()), dayOf(Date.now()));
    // At most three at once: a's two, and b's (closed after sending) or the bot's.
    expect(d).toMatchObject({ messages: 1, roomMessages: 0, activeUsers: 2, activeBots: 1, newAccounts: 1, peakConnections: 3 });
    expect(d!.sessions).toEqual({ ...noSessions(), json: 2, 'xmpp-tcp': 1, other: 1 });
  });
});
