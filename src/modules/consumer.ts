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

/** One pass of a worker: reads and handles what is new. */
type Pass = () => Promise<void>;

/** A worker woken by the log: runs its pass, coalesced, retried on failure. */
export class LogWorker {
  private running = false;
  /** Set by stop(): a pass that pauses between batches ends at its next pause. */
  stopped = false;
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
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.failures === 0) this.schedule(WAKE_DELAY_MS);
  }

  /** Runs a pass in `ms`, unless one is due sooner. */
  private schedule(ms: number): void {
    if (this.stopped || this.running) return;
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
    this.idle = this.pass()
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
        if (this.stopped) return;
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
    this.stopped = true;
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
 */
const YIELD = { share: 6, intervalMs: 1000, catchUp: 100_000 };

/**
 * The pause after one batch of background work that yields to live traffic (YIELD): `took` the batch's time,
 * `done` what it handled and `pending` what still waits after it. Kept across the batches of one pass.
 */
export class TrafficPacer {
  // Pending after the previous batch of this pass (-1: none yet).
  private before = -1;

  /** Starts a pass: nothing is known yet of what arrives. */
  reset(): void {
    this.before = -1;
  }

  /** Waits as long as the batch just done asks: its share, or while work keeps arriving at most one a second. */
  async pause(took: number, done: number, pending: number): Promise<void> {
    const arriving = this.before < 0 || pending > this.before - done;
    this.before = pending;
    const share = YIELD.share * took;
    const ms = arriving && pending < YIELD.catchUp ? Math.max(share, YIELD.intervalMs - took) : share;
    await new Promise((resolve) => setTimeout(resolve, ms).unref());
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
  const pacer = new TrafficPacer();
  const pass = async (): Promise<void> => {
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
      if (opts.yieldToTraffic === true) {
        await pacer.pause(performance.now() - started, records.length, (await store.messages.lastSeq()) - last);
        if (worker.stopped) return;
      }
    }
  };
  const worker = new LogWorker(key, pass, log);
  return worker;
}

/** Builds a worker that runs `work` when the log grows; the work keeps its own position. */
export function follower(key: string, work: () => Promise<void>, log: Logger): LogWorker {
  return new LogWorker(key, work, log);
}

