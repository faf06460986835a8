/**
 * Module work that follows the message log outside the delivery path (indexing, review, notifications).
 *
 * A LogConsumer reads from its stored position in seq order, hands each batch to its handler and then stores the
 * new position, so after a restart it resumes where it stopped and a batch may be seen twice, never skipped. A
 * follower (`follow`) only runs its work when the log grows: the work keeps its own position in the module's
 * storage (an index over the module's own tables needs no records handed to it).
 *
 * Both wake when the engine records a message, but run at most once per WAKE_DELAY_MS: under load one pass then
 * takes hundreds of records, instead of a pass (and its store calls) per message. Other processes' writes wake
 * them through the engine's `store.changed` event (its one watch of the store), so an idle worker reads
 * nothing; a failing pass is retried with a growing pause.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogRecord } from '../core/types.js';
import type { Logger } from '../engine/context.js';
import { recordBytes, type Store } from '../ports/store.js';

/** First pause before retrying a failing pass; it doubles with each failure. */
const RETRY_MS = 1000;
/** Longest pause between retries of a failing pass. */
const MAX_BACKOFF_MS = 30_000;
/**
 * Delay between a wake-up and the pass it starts. Measured: a pass per recorded message made two consumers cost
 * the server's thread more than the journal itself under the message benchmark (docs/PERFORMANCE.md).
 */
const WAKE_DELAY_MS = 50;

/** One pass of a worker: reads and handles what is new; `signal` aborts when the worker stops. */
type Pass = (signal: AbortSignal) => Promise<void>;

/** A worker woken by the log: runs its pass, coalesced, retried on failure. */
export class LogWorker {
  private running = false;
  /** Aborted by stop(): a pass that pauses between batches ends at its next pause. */
  private readonly stopping = new AbortController();
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private due = 0;
  private failures = 0;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    readonly key: string,
    private readonly pass: Pass,
    private readonly log: Logger,
  ) {}

  /** Starts at once (what accumulated while the server was down). */
  start(): void {
    this.schedule(0);
  }

  /** The log grew: run a pass soon (coalesced). */
  wake(): void {
    if (this.stopping.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.failures === 0) this.schedule(WAKE_DELAY_MS);
  }

  /** Runs a pass in `ms`, unless one is due sooner. */
  private schedule(ms: number): void {
    if (this.stopping.signal.aborted || this.running) return;
    const at = Date.now() + ms;
    if (this.timer !== null) {
      if (this.due <= at) return;
      clearTimeout(this.timer);
    }
    this.due = at;
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    this.running = true;
    this.idle = this.pass(this.stopping.signal)
      .then(
        () => {
          this.failures = 0;
        },
        (e: unknown) => {
          this.failures++;
          this.log.error({ err: e, consumer: this.key, failures: this.failures }, 'a log consumer failed; it will retry');
        },
      )
      .finally(() => {
        this.running = false;
        if (this.stopping.signal.aborted) return;
        if (this.again && this.failures === 0) {
          this.again = false;
          this.schedule(WAKE_DELAY_MS);
          return;
        }
        this.again = false;
        if (this.failures > 0) this.schedule(Math.min(MAX_BACKOFF_MS, RETRY_MS * 2 ** this.failures));
      });
  }

  /** Stops after the pass in hand. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.idle;
  }
}

/**
 * Pacing of a consumer that yields to live traffic (RecordConsumerOptions.yieldToTraffic), as the archive's own
 * index does: after a full batch it pauses six times as long as the batch took, so it takes at most a seventh
 * of the threads it uses; while messages keep arriving it also starts at most one batch a second, unless more
 * than CATCH_UP records wait. Measured: the search index and the usage count reading every record at once cost
 * the message benchmark's peak rate about a tenth (docs/PERFORMANCE.md).
 *
 * Work that waits out bursts (RecordConsumerOptions.waitOutBursts) starts no batch at all while records arrive
 * faster than one batch a second, until they slow down or what waits would take `lagMs` of its own batches (as
 * timed during the burst) to clear; then it takes its share again, so the lag stays bounded unless the overload
 * lasts. Measured (docs/PERFORMANCE.md): the archive's index taking one batch a second during the burst was all
 * the archive still cost the message benchmark; waiting it out until 5 s of backlog gave back part of that, until
 * 10 s most of it (what the search that follows a burst waits for the index to catch up).
 */
const YIELD = { share: 6, intervalMs: 1000, catchUp: 100_000, lagMs: 10_000 };

/** How a pacer waits and reads the clock (a test's own, to run without real time). */
export interface PacerClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  // An abort ends the wait early; it is not an error here.
  sleep: (ms, signal) => (ms > 0 ? sleep(ms, undefined, { signal, ref: false }).catch(() => undefined) : Promise.resolve()),
};

/**
 * The pause after one batch of background work that yields to live traffic (YIELD). Kept across the batches of
 * one pass: it compares what waits after each batch with what waited after the one before, so it knows how fast
 * records arrive.
 */
export class TrafficPacer {
  // What waited at the last look, and when (null: none yet in this pass).
  private last: { pending: number; at: number } | null = null;

  /**
   * `batch` the most records one batch takes; `waitOutBursts` whether the work waits while records arrive faster
   * than one batch a second.
   */
  constructor(
    private readonly batch: number,
    private readonly waitOutBursts = false,
    private readonly clock: PacerClock = realClock,
  ) {}

  /** Starts a pass: nothing is known yet of what arrives. */
  reset(): void {
    this.last = null;
  }

  /** Records arrived per second since the last look (null at a pass's first), `done` of them handled since. */
  private rate(pending: number, done: number): number | null {
    const at = this.clock.now();
    const before = this.last;
    this.last = { pending, at };
    if (before === null) return null;
    return (Math.max(0, pending - (before.pending - done)) * 1000) / Math.max(1, at - before.at);
  }

  /**
   * Waits as long as the batch just done asks: `took` its time in ms, `done` what it handled, `pending` what waits
   * after it. `look` reads what waits now (while a burst is waited out); an abort of `signal` ends the wait.
   */
  async pause(took: number, done: number, pending: number, look: () => Promise<number>, signal: AbortSignal): Promise<void> {
    const since = this.clock.now();
    const perRecord = took / Math.max(1, done);
    let rate = this.rate(pending, done);
    for (;;) {
      if (signal.aborted) return;
      const arriving = rate === null || rate > 0;
      const behind = this.waitOutBursts ? pending * perRecord >= YIELD.lagMs : pending >= YIELD.catchUp;
      const burst = rate !== null && rate * (YIELD.intervalMs / 1000) > this.batch;
      if (this.waitOutBursts && burst && !behind) {
        // A batch now would cost the same after the burst, and live traffic keeps the threads meanwhile.
        await this.clock.sleep(YIELD.intervalMs, signal);
        pending = await look();
        rate = this.rate(pending, 0);
        continue;
      }
      const ms = arriving && !behind ? Math.max(YIELD.share * took, YIELD.intervalMs - took) : YIELD.share * took;
      await this.clock.sleep(ms - (this.clock.now() - since), signal);
      return;
    }
  }
}

/**
 * The text a consumer's read takes off the store's thread at most (MessageStore.after's budget, in UTF-16 code
 * units): a batch of 256 records of 60 KB bodies would otherwise be 15 MB copied in one call while messages wait
 * behind it on that thread.
 */
export const READ_BUDGET = 1 << 20;

/** What a consumer of records is told besides its handler. */
export interface RecordConsumerOptions {
  /** Most records per batch (fewer when their text reaches READ_BUDGET). */
  batch: number;
  /**
   * Work that may lag behind the log under load (an index, usage figures): after each full batch the consumer
   * pauses (YIELD), so live traffic keeps the threads; it catches up when the load falls.
   */
  yieldToTraffic?: boolean;
  /**
   * Work nobody waits on while messages arrive (the archive's supervision review): besides yielding, it starts
   * no batch while records arrive faster than one batch a second, until they slow down or its backlog would take
   * about ten seconds of its batches to clear (TrafficPacer).
   */
  waitOutBursts?: boolean;
  /**
   * Whether the consumer wants records now. When it says no, the consumer moves its position to the end of the
   * log without reading anything (work that is off, like review without a lexicon or sampling).
   */
  wants?: () => boolean | Promise<boolean>;
}

/** Builds a worker that hands batches of records to `handler` and stores its position under `key`. */
export function recordConsumer(
  key: string,
  store: Store,
  handler: (records: readonly LogRecord[]) => Promise<void>,
  opts: RecordConsumerOptions,
  log: Logger,
): LogWorker {
  // Read once: only this consumer moves its position.
  let position: number | null = null;
  const pacer = new TrafficPacer(opts.batch, opts.waitOutBursts === true);
  const pass = async (signal: AbortSignal): Promise<void> => {
    pacer.reset();
    position ??= await store.positions.get(key);
    if (opts.wants && !(await opts.wants())) {
      const last = await store.messages.lastSeq();
      if (last > position) {
        await store.positions.set(key, last);
        position = last;
      }
      return;
    }
    for (;;) {
      const started = performance.now();
      const records = await store.messages.after(position, opts.batch, READ_BUDGET);
      if (records.length === 0) return;
      await handler(records);
      const last = records[records.length - 1]!.seq;
      await store.positions.set(key, last);
      position = last;
      // A short batch is the log's end, unless the byte budget cut it.
      if (records.length < opts.batch && records.reduce((n, r) => n + recordBytes(r), 0) < READ_BUDGET) return;
      if (opts.yieldToTraffic === true || opts.waitOutBursts === true) {
        const waiting = async (): Promise<number> => (await store.messages.lastSeq()) - last;
        await pacer.pause(performance.now() - started, records.length, await waiting(), waiting, signal);
        if (signal.aborted) return;
      }
    }
  };
  return new LogWorker(key, pass, log);
}

/**
 * Builds a worker that runs `work` when the log grows; the work keeps its own position, and ends its pass soon
 * after `signal` aborts (the server stops).
 */
export function follower(key: string, work: (signal: AbortSignal) => Promise<void>, log: Logger): LogWorker {
  return new LogWorker(key, work, log);
}

