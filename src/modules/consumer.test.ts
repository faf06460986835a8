/**
 * A module's log consumer: it sees every record once in seq order, off the delivery path; after a restart it
 * resumes from its stored position; a failing batch is retried until it succeeds, and nothing is skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseAddress } from '../core/address.js';
import type { LogRecord } from '../core/types.js';
import { testEngine, testPresence } from '../engine/test-engine.js';
import { createSqliteStore } from '../storage/sqlite/index.js';
import { defineModule } from './api.js';
import { dm } from '../storage/contract/fixtures.js';
import { READ_BUDGET, TrafficPacer, type PacerClock } from './consumer.js';
import { setupModules } from './testing.js';

const presence = testPresence;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A module whose consumer hands each record's body to `seen`, failing while `failing()` says so. */
function follower(seen: (r: LogRecord) => void, failing: () => boolean = () => false, yieldToTraffic = false) {
  return defineModule({
    name: 'follower',
    summary: 'test module following the log',
    options: z.strictObject({ enabled: z.boolean().default(true) }),
    setup(api) {
      api.consume(
        'bodies',
        async (records) => {
          if (failing()) throw new Error('not now');
          for (const r of records) seen(r);
        },
        { batch: 3, yieldToTraffic },
      );
    },
  });
}

/** Waits until `cond` holds (the consumer runs on its own schedule). */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('log consumers', () => {
  it('that yield to traffic pause after a full batch while records keep waiting, and take a lone record at once', async () => {
    const bodies: string[] = [];
    const { engine, store } = await testEngine(['a@example.com', 'b@example.com']);
    const host = await setupModules([follower((r) => void bodies.push(r.body ?? ''), () => false, true)], { engine, store });
    const a = await engine.openSession('a@example.com', 'r', { send: () => undefined, close: () => undefined }, { ...presence });
    engine.goLive(a.session);
    for (let i = 0; i < 7; i++) await engine.messages.send(a.session, parseAddress('b@example.com'), `m-${i}`, null, 0);
    host.start();
    // One full batch, then a pause of about a second (records waited, so traffic is arriving).
    await until(() => bodies.length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(bodies).toEqual(['m-0', 'm-1', 'm-2']);
    // It goes on after the pause, and a batch that is not full ends the pass without one.
    await until(() => bodies.length === 7, 10_000);
    await engine.messages.send(a.session, parseAddress('b@example.com'), 'alone', null, 0);
    await until(() => bodies.length === 8, 500);
    await host.close();
  });

  it('read large records in batches bounded by READ_BUDGET, and a batch the budget cut is not taken for the end', async () => {
    const batches: number[] = [];
    const bodies: string[] = [];
    const { engine, store } = await testEngine(['a@example.com', 'b@example.com']);
    const big = defineModule({
      name: 'follower',
      summary: 'test module following the log',
      options: z.strictObject({ enabled: z.boolean().default(true) }),
      setup(api) {
        api.consume(
          'sizes',
          async (records) => {
            batches.push(records.length);
            for (const r of records) bodies.push(r.body ?? '');
          },
          { batch: 100 },
        );
      },
    });
    const host = await setupModules([big], { engine, store });
    // Ten bodies of a fifth of the budget each (past the engine's body limit: written to the store directly): two
    // batches of five, not one of ten.
    const body = (i: number): string => `${i}`.padEnd(READ_BUDGET / 5, '.');
    await store.messages.append(Array.from({ length: 10 }, (_, i) => dm('a@example.com', 'b@example.com', body(i))));
    host.start();
    await until(() => bodies.length === 10);
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => body(i)));
    expect(batches).toEqual([5, 5]);
    await host.close();
  });

  it('see every record once, in order, resume after a restart and retry a failing batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-consumer-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const bodies: string[] = [];
    const seqs: number[] = [];
    const module = follower((r) => {
      bodies.push(r.body ?? '');
      seqs.push(r.seq);
    });

    // First run: seven messages, all seen.
    let store = createSqliteStore({ path });
    let { engine } = await testEngine(['a@example.com', 'b@example.com'], { store });
    let host = await setupModules([module], { engine, store });
    host.start();
    let a = await engine.openSession('a@example.com', 'r', { send: () => undefined, close: () => undefined }, { ...presence });
    engine.goLive(a.session);
    for (let i = 0; i < 7; i++) await engine.messages.send(a.session, parseAddress('b@example.com'), `one-${i}`, null, 0);
    await until(() => bodies.length === 7);
    await host.close();
    await engine.closeAll('restart');
    await store.close();

    // Messages written while no consumer ran (the server down, or another process writing).
    store = createSqliteStore({ path });
    ({ engine } = await testEngine(['a@example.com', 'b@example.com'], { store }));
    a = await engine.openSession('a@example.com', 'r', { send: () => undefined, close: () => undefined }, { ...presence });
    engine.goLive(a.session);
    for (let i = 0; i < 4; i++) await engine.messages.send(a.session, parseAddress('b@example.com'), `two-${i}`, null, 0);

    // Second run: a consumer that fails for a while, then catches up from its stored position.
    let failing = true;
    const again = follower(
      (r) => {
        bodies.push(r.body ?? '');
        seqs.push(r.seq);
      },
      () => failing,
    );
    host = await setupModules([again], { engine, store });
    host.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(bodies).toHaveLength(7);
    failing = false;
    await until(() => bodies.length === 11, 10_000);
    expect(bodies).toEqual([...Array.from({ length: 7 }, (_, i) => `one-${i}`), ...Array.from({ length: 4 }, (_, i) => `two-${i}`)]);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    // The position is stored right after the batch is handled.
    const last = seqs[seqs.length - 1]!;
    for (let waited = 0; (await store.positions.get('follower.bodies')) !== last && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(await store.positions.get('follower.bodies')).toBe(last);
    await host.close();
    await engine.closeAll('end');
    await store.close();
  });

  it('wake when another process writes to the store, and read nothing while idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-consumer-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    const bodies: string[] = [];
    const store = createSqliteStore({ path });
    const { engine } = await testEngine(['a@example.com', 'b@example.com'], { store, watchMs: 50 });
    const host = await setupModules([follower((r) => bodies.push(r.body ?? ''))], { engine, store });
    host.start();
    await new Promise((r) => setTimeout(r, 100));

    // Idle: the worker read the log once at start, and now waits; no store reads on a timer.
    let reads = 0;
    const after = store.messages.after.bind(store.messages);
    store.messages.after = (...args) => {
      reads++;
      return after(...args);
    };
    await new Promise((r) => setTimeout(r, 1500));
    expect(reads).toBe(0);

    // Another process (a second connection to the same file, as the operator CLI or another server) appends.
    const other = createSqliteStore({ path });
    await other.messages.append([
      { kind: 'message', type: 'chat', conv: 'dm:a@example.com b@example.com', from: 'a@example.com', fromResource: 'r', to: 'b@example.com', toResource: null, clientId: null, body: 'from elsewhere', ref: null, receipt: null, ts: Date.now(), offlineFor: [] },
    ]);
    await other.close();
    await until(() => bodies.length === 1, 3000);
    expect(bodies).toEqual(['from elsewhere']);
    await host.close();
    await engine.closeAll('end');
    await store.close();
  });
});

/** A clock whose sleeps pass at once and move its time on; each sleep is recorded (ms, rounded). */
function fakeClock(): PacerClock & { t: number; sleeps: number[] } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted || ms <= 0) return;
      c.sleeps.push(Math.round(ms));
      c.t += ms;
    },
  };
  return c;
}

describe('the pacing of background work', () => {
  // Batches of 2,000 taking 40 ms each (20 µs a record), as the archive's index takes them.
  const BATCH = 2000;
  const TOOK = 40;

  /** Runs one batch (its time passes) and the pause after it; `pending` what waits after it. */
  async function batchThenPause(pacer: TrafficPacer, c: ReturnType<typeof fakeClock>, pending: number, look: () => Promise<number> = async () => pending, signal = new AbortController().signal): Promise<void> {
    c.t += TOOK;
    await pacer.pause(TOOK, BATCH, pending, look, signal);
  }

  it('takes a seventh when nothing arrives, and one batch a second while records trickle in', async () => {
    for (const waitOutBursts of [false, true]) {
      const c = fakeClock();
      const pacer = new TrafficPacer(BATCH, waitOutBursts, c);
      // The pass's first batch: nothing known yet of what arrives, so one batch a second.
      await batchThenPause(pacer, c, 10_000);
      // Nothing arrived: only its share (six times the batch).
      await batchThenPause(pacer, c, 8000);
      // 140 arrived in the 280 ms since the last look, 500 a second, fewer than a batch a second: one batch a second.
      await batchThenPause(pacer, c, 6000 + 140);
      expect(c.sleeps).toEqual([960, 240, 960]);
    }
  });

  it('waits out a burst when asked to, and starts the next batch when the records stop arriving', async () => {
    const c = fakeClock();
    const pacer = new TrafficPacer(BATCH, true, c);
    // 20 records a millisecond arrive until t = 3,500 ms; what waits is what arrived less what was done.
    let done = 0;
    const waiting = (): number => 10_000 + 20 * Math.min(c.t, 3500) - done;
    const look = async (): Promise<number> => waiting();
    done += BATCH;
    await batchThenPause(pacer, c, waiting(), look);
    expect(c.t).toBe(1000);
    done += BATCH;
    await batchThenPause(pacer, c, waiting(), look);
    // No batch while the burst lasted: a look a second, until one found nothing new (t = 5,040).
    expect(c.sleeps).toEqual([960, 1000, 1000, 1000, 1000]);
    expect(c.t).toBe(5040);
  });

  it('takes its share during a burst once the backlog would take ten seconds of its batches', async () => {
    const c = fakeClock();
    const pacer = new TrafficPacer(BATCH, true, c);
    await batchThenPause(pacer, c, 400_000);
    // 106,000 arrived in the second: a burst, but the 504,000 waiting take over 10 s at 20 µs each.
    await batchThenPause(pacer, c, 504_000);
    await batchThenPause(pacer, c, 504_000 - BATCH + 5000);
    expect(c.sleeps).toEqual([960, 240, 240]);
  });

  it('without waiting out bursts, takes one batch a second during one, and its share beyond 100,000 waiting', async () => {
    const c = fakeClock();
    const pacer = new TrafficPacer(BATCH, false, c);
    await batchThenPause(pacer, c, 10_000);
    await batchThenPause(pacer, c, 30_000);
    await batchThenPause(pacer, c, 120_000);
    expect(c.sleeps).toEqual([960, 960, 240]);
  });

  it('ends a wait when the work is stopped', async () => {
    const c = fakeClock();
    const pacer = new TrafficPacer(BATCH, true, c);
    const stop = new AbortController();
    let looks = 0;
    const look = async (): Promise<number> => {
      if (++looks === 2) stop.abort();
      return 10_000 + 20 * c.t;
    };
    await batchThenPause(pacer, c, 10_000, look, stop.signal);
    await batchThenPause(pacer, c, 10_000 + 20 * c.t, look, stop.signal);
    expect(looks).toBe(2);
    expect(c.sleeps).toEqual([960, 1000, 1000]);
  });
});
