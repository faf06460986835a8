/**
 * The inbound side of a client stream. The stanzas of the bound session are processed in the order they arrived
 * (RFC 6120 §10.1), each waiting for the previous one's handler, except that a message only waits until it is
 * queued in the engine (whose per-session queue keeps send order; the handler's Pending covers the commit), so a
 * client can pipeline messages without waiting for each commit. Two things stop the server from reading the
 * socket: too many stanzas received and not yet processed (back-pressure on a fast sender), and the rate every
 * element counts against from the start (§13.12), whose token bucket runs into debt because an element already
 * parsed cannot be refused. Reading resumes only when neither holds it. Stream management gets each stanza's
 * number on arrival and counts it as handled once its effects are durable.
 */
import type { Element } from '../xml/element.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { TokenBucket } from '../../token-bucket.js';
import { StreamFailure } from './errors.js';
import type { Pending } from './types.js';

/** Stanzas received and not yet processed before the server stops reading (back-pressure on a fast sender). */
export const MAX_INFLIGHT = 256;

/** What the queue needs from its stream (the connection, or a fake in tests). */
export interface InputHost {
  /** Stops (true) or resumes (false) reading the socket. */
  readonly transport: { pause(paused: boolean): void };
  /** XEP-0198 counters: a number per stanza received, and which of them are handled. */
  readonly sm: { received(): number; handled(n: number): void };
  /** The stanza handlers (stanzas.ts): handle() resolves when the next stanza may start, `done` when durable. */
  readonly handlers: { handle(stanza: Element, startedAt: number): Promise<Pending | void> };
  /** A handler threw StreamFailure: the stream ends. */
  streamError(condition: StreamErrorCondition, text?: string): void;
  /** A handler failed otherwise: the stanza gets an error reply. */
  replyError(stanza: Element, e: unknown): void;
}

/** In-order stanza processing with back-pressure and the stream's rate limit. */
export class InputQueue {
  /** Stanzas being processed, in arrival order. */
  private chain: Promise<void> = Promise.resolve();
  private inflight = 0;
  /** Reading stopped because too many stanzas are in flight. */
  private paused = false;
  /** Reading stopped until the rate's debt is paid. */
  private throttled = false;
  private readonly rate: TokenBucket;

  /** `stanzasPerSecond` is the rate and the burst; `now` is the clock (tests pass a fake one). */
  constructor(
    private readonly host: InputHost,
    stanzasPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = new TokenBucket(stanzasPerSecond, now());
  }

  /**
   * Counts one element against the rate (negotiation elements and acknowledgements too). Over it, reading
   * stops until refilling has paid for what was read (the sender slows, nobody else does).
   */
  throttle(): void {
    const wait = this.rate.charge(this.now());
    if (wait === 0 || this.throttled) return;
    this.throttled = true;
    this.host.transport.pause(true);
    setTimeout(() => {
      this.throttled = false;
      if (!this.paused) this.host.transport.pause(false);
    }, wait).unref?.();
  }

  /** Queues a stanza behind the ones before it (§10.1 in-order processing). */
  enqueue(stanza: Element): void {
    const { host } = this;
    const seq = host.sm.received();
    this.inflight++;
    if (this.inflight >= MAX_INFLIGHT && !this.paused) {
      this.paused = true;
      host.transport.pause(true);
    }
    const startedAt = this.now();
    this.chain = this.chain.then(async () => {
      let done: Promise<unknown> = Promise.resolve();
      try {
        const pending = await host.handlers.handle(stanza, startedAt);
        if (pending) done = pending.done;
      } catch (e) {
        if (e instanceof StreamFailure) host.streamError(e.condition, e.message);
        else host.replyError(stanza, e);
      }
      // Stream management counts a stanza as handled once its effects are durable (a message: committed).
      done.then(
        () => host.sm.handled(seq),
        () => host.sm.handled(seq),
      );
      this.inflight--;
      if (this.paused && this.inflight < MAX_INFLIGHT / 2 && !this.throttled) {
        this.paused = false;
        host.transport.pause(false);
      }
    });
  }
}
