/**
 * Which users may have entries in their offline queue, up to which seq, and how much the queue holds.
 *
 * Clients acknowledge often (the SDK every 50 ms while messages flow); with nothing queued, an acknowledgement
 * then costs no storage call. Entries come from messages stored for a user without sessions; each login also
 * marks the user, for entries queued before this server started.
 *
 * Sizes bound the queue (RFC 6121 §8.5.2.2.1: a server with a limit on offline storage refuses with
 * <service-unavailable/> once it is reached). A user's queue is counted in the store once, when a message first
 * needs it, and then kept here: a message reserves its entry before it is stored, an acknowledgement subtracts
 * what the store dropped. Only the offline path touches sizes; a message to a reachable user never does.
 */
import { ParleyError } from '../core/errors.js';
import type { OfflineSize } from '../ports/store.js';

/** Bounds of one user's offline queue. */
export interface OfflineLimits {
  /** Entries (messages, edits, retractions). */
  maxMessages: number;
  /** UTF-8 bytes of their bodies. */
  maxBytes: number;
}

interface Known extends OfflineSize {
  /** Reservations not yet settled (their messages are being stored). */
  inflight: number;
}

/** Tracks offline queues so acknowledgements and the size limit cost no storage call on the common path. */
export class OfflineTracker {
  private readonly pending = new Map<string, number>();
  private readonly sizes = new Map<string, Known>();
  private readonly loading = new Map<string, Promise<Known>>();

  constructor(
    private readonly limits: OfflineLimits = { maxMessages: Infinity, maxBytes: Infinity },
    /** Told of each message refused because a queue is full (for /metrics). */
    private readonly onFull: () => void = () => undefined,
  ) {}

  /** The user's queue may hold entries up to `seq`. */
  note(user: string, seq: number): void {
    if (seq > (this.pending.get(user) ?? 0)) this.pending.set(user, seq);
  }

  /** Throws at once when the user's queue is known to be full (a flood is refused without a storage call). */
  check(user: string): void {
    const k = this.sizes.get(user);
    if (k && (k.count >= this.limits.maxMessages || k.bytes >= this.limits.maxBytes)) this.full(user, k);
  }

  /**
   * Reserves room for one entry of `bytes` body bytes, or throws service-unavailable when the queue is full.
   * The first reservation for a user counts the queue with `measure` (one storage read); settle() ends it.
   */
  async reserve(user: string, bytes: number, measure: () => Promise<OfflineSize>): Promise<void> {
    let k = this.sizes.get(user);
    if (!k) {
      k = await this.load(user, measure);
      // An acknowledgement may have dropped the entry meanwhile; this reservation must still be counted.
      if (!this.sizes.has(user)) this.sizes.set(user, k);
    }
    if (k.count >= this.limits.maxMessages || (k.count > 0 && k.bytes + bytes > this.limits.maxBytes)) this.full(user, k);
    k.count += 1;
    k.bytes += bytes;
    k.inflight += 1;
  }

  /** Ends a reservation: the entry was stored, or (stored = false) it was not and its room is freed. */
  settle(user: string, bytes: number, stored: boolean): void {
    const k = this.sizes.get(user);
    if (!k) return;
    k.inflight = Math.max(0, k.inflight - 1);
    if (stored) return;
    k.count = Math.max(0, k.count - 1);
    k.bytes = Math.max(0, k.bytes - bytes);
  }

  /**
   * Runs `drop` only when something may be queued and subtracts what it dropped; forgets the user once the
   * ack covers all of it (a later message counts the queue afresh).
   */
  async ack(user: string, upTo: number, drop: () => Promise<OfflineSize>): Promise<void> {
    const max = this.pending.get(user);
    if (max === undefined) return;
    const dropped = await drop();
    // The count (if any) was read either before this delete (it includes the rows: subtract them) or after
    // it (then the store answered it later, so it was not known yet when this line runs).
    const k = this.sizes.get(user);
    if (k) {
      k.count = Math.max(0, k.count - dropped.count);
      k.bytes = Math.max(0, k.bytes - dropped.bytes);
    }
    if (upTo >= max && this.pending.get(user) === max) {
      this.pending.delete(user);
      if (k && k.inflight === 0 && this.sizes.get(user) === k) this.sizes.delete(user);
    }
  }

  /**
   * Entries up to `seq` were put (back) into the user's queue outside a reservation (messages a session never
   * confirmed, XEP-0198 §5): they were accepted already, so they are not refused, but the queue is counted afresh
   * from the store when a message next needs its size.
   */
  requeued(user: string, seq: number): void {
    this.note(user, seq);
    const k = this.sizes.get(user);
    if (k && k.inflight === 0) this.sizes.delete(user);
  }

  /** Forgets every count (another process changed the data, e.g. removed an account with its queue). */
  invalidate(): void {
    this.sizes.clear();
  }

  /** Number of users whose queue size is kept in memory (tests and metrics). */
  get tracked(): number {
    return this.sizes.size;
  }

  private load(user: string, measure: () => Promise<OfflineSize>): Promise<Known> {
    let p = this.loading.get(user);
    if (!p) {
      p = measure().then(
        (s) => {
          this.loading.delete(user);
          const k: Known = { count: s.count, bytes: s.bytes, inflight: 0 };
          this.sizes.set(user, k);
          return k;
        },
        (e: unknown) => {
          this.loading.delete(user);
          throw e;
        },
      );
      this.loading.set(user, p);
    }
    return p;
  }

  private full(user: string, k: OfflineSize): never {
    this.onFull();
    const { maxMessages, maxBytes } = this.limits;
    throw new ParleyError(
      'service-unavailable',
      `${user} is offline and their offline queue is full (${k.count} messages, ${k.bytes} bytes; the limit is ${maxMessages} messages, ${maxBytes} bytes)`,
      { reason: 'offline-queue-full', maxMessages, maxBytes },
    );
  }
}
