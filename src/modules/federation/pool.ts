/**
 * Outgoing streams, one per (local domain, remote domain) pair (RFC 6120 §3.3, §13.7: each pair authenticates
 * on its own), reused for every stanza of that pair. While a pair's stream is set up its stanzas wait in a
 * bounded queue; when the setup fails they are bounced to their senders (remote-server-not-found, or
 * remote-server-timeout when they waited too long, RFC 6120 §8.3.3.16-17), and the pair waits before the next
 * attempt, the wait doubling per failure up to a maximum. Streams idle for a while are closed (§4.4) and set up
 * again on demand. Stanzas a stream never wrote to its socket when it ended (the peer's closing tag, a local
 * close, a stream error, a lost socket) come back to the front of the queue for a new stream; nothing is
 * dropped silently (README.md, "Delivery guarantees").
 */
import { ParleyError, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { Established, OutgoingStream } from './outgoing.js';
import { OutgoingFailure } from './outgoing.js';

/** A stanza waiting for its stream. */
export interface Queued {
  text: string;
  at: number;
  /** Tells its sender it could not be sent (null: a reply of the server's own, nothing to bounce). */
  bounce: ((error: ParleyError) => void) | null;
  /** Streams that ended before writing it (it went back to the queue each time); past MAX_RESENDS it bounces. */
  resends?: number;
}

/** How many times a stanza goes back to the queue when its stream ends before writing it, before it bounces. */
export const MAX_RESENDS = 3;

/** One pair's link. */
export interface Link {
  readonly local: string;
  readonly remote: string;
  stream: OutgoingStream | null;
  state: 'connecting' | 'ready' | 'backoff' | 'idle';
  queue: Queued[];
  failures: number;
  retryAt: number;
  lastError: string | null;
  since: number;
  established: Established | null;
}

/** What the pool needs. */
export interface PoolDeps {
  /** Sets up a stream to `remote` for `local` (resolution, connect, authentication), or throws OutgoingFailure. */
  open(local: string, remote: string): Promise<{ stream: OutgoingStream; established: Established }>;
  readonly log: Logger;
  limits(): { maxQueued: number; queueMs: number; idleMs: number; backoffMs: number; backoffMaxMs: number };
  now?: () => number;
}

/** The pool of outgoing links. */
export class Pool {
  private readonly links = new Map<string, Link>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private closing = false;

  constructor(private readonly deps: PoolDeps) {
    this.now = deps.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  /** Every link, for the listing. */
  all(): Link[] {
    return [...this.links.values()];
  }

  /** Throws when stanzas for the pair would bounce at once: its last attempt failed and the wait is not over. */
  check(local: string, remote: string): void {
    const l = this.links.get(`${local}|${remote}`);
    if (l !== undefined && l.state === 'backoff' && this.now() < l.retryAt) {
      throw new ParleyError('remote-server-not-found', `${remote} could not be reached (${l.lastError ?? 'error'}); next attempt in ${Math.ceil((l.retryAt - this.now()) / 1000)} s`);
    }
  }

  /** Sends over the pair's stream, or queues until it is up (starting it). */
  send(local: string, remote: string, item: Omit<Queued, 'at'>): void {
    if (this.closing) throw new ParleyError('service-unavailable', 'the server is shutting down');
    const key = `${local}|${remote}`;
    let l = this.links.get(key);
    if (l === undefined) {
      l = { local, remote, stream: null, state: 'idle', queue: [], failures: 0, retryAt: 0, lastError: null, since: this.now(), established: null };
      this.links.set(key, l);
    }
    const queued: Queued = { ...item, at: this.now() };
    // A ready stream takes it unless it is closing (RFC 6120 §4.4: the peer's closing tag read, or the socket
    // ending); then the stanza waits for a new stream like any other.
    if (l.state === 'ready' && l.stream !== null && l.stream.sendStanza(queued)) return;
    this.check(local, remote);
    const lim = this.deps.limits();
    if (l.queue.length >= lim.maxQueued) throw new ParleyError('rate-limited', `too many stanzas wait for ${remote}`);
    l.queue.push(queued);
    // A ready link whose stream refused it is closing: its end (streamEnded) starts the next stream.
    if (l.state !== 'connecting' && l.state !== 'ready') this.connect(l);
  }

  /**
   * A link's stream ended (or closed before it was ready: `stream` null): the stanzas it never wrote go back to
   * the front of the queue, in order, for the link's next stream; one given back MAX_RESENDS times bounces.
   */
  private streamEnded(l: Link, stream: OutgoingStream | null, unsent: Queued[]): void {
    if (stream === null || l.stream === stream) {
      l.stream = null;
      l.established = null;
      l.state = 'idle';
      l.since = this.now();
    }
    if (this.closing) {
      for (const q of unsent) q.bounce?.(new ParleyError('service-unavailable', 'the server is shutting down'));
      return;
    }
    const back: Queued[] = [];
    for (const q of unsent) {
      const resends = (q.resends ?? 0) + 1;
      if (resends <= MAX_RESENDS) back.push({ ...q, resends, at: this.now() });
      else if (q.bounce !== null) q.bounce(new ParleyError('remote-server-timeout', `the streams to ${l.remote} kept closing before the stanza could be sent`));
      // A reply of the server's own has no sender to tell (RFC 6120 §8.3.1: no error about an error): logged.
      else this.deps.log.warn({ local: l.local, remote: l.remote }, 'federation: a reply was not sent, the streams kept closing');
    }
    if (back.length > 0) this.deps.log.info({ local: l.local, remote: l.remote, stanzas: back.length }, 'federation: a stream closed before writing stanzas; they wait for a new stream');
    l.queue = [...back, ...l.queue];
    if (l.queue.length === 0) return;
    // The link may already have another stream (the ended one was replaced): it takes them; else a new one.
    if (l.state === 'ready' && l.stream !== null) this.drain(l, l.stream);
    else if (l.state !== 'connecting') this.connect(l);
  }

  /** Hands a link's queue to its stream, in order; what the stream refuses (it is closing) waits for the next. */
  private drain(l: Link, stream: OutgoingStream): void {
    const queued = l.queue;
    l.queue = [];
    for (let i = 0; i < queued.length; i++) {
      if (!stream.sendStanza(queued[i]!)) {
        l.queue = [...queued.slice(i), ...l.queue];
        break;
      }
    }
  }

  private connect(l: Link): void {
    l.state = 'connecting';
    this.deps
      .open(l.local, l.remote)
      .then(({ stream, established }) => {
        if (this.closing) return stream.close();
        // The stream may have ended between its authentication and now (the peer closed right after it, or the
        // socket dropped): it is never marked ready then, and what waits goes to a new attempt, after a pause.
        if (!stream.writable) {
          this.deps.log.info({ local: l.local, remote: l.remote }, 'federation: the stream closed right after it was set up');
          const waiting = l.queue;
          l.queue = [];
          return this.streamEnded(l, null, waiting);
        }
        l.stream = stream;
        l.state = 'ready';
        l.failures = 0;
        l.lastError = null;
        l.since = this.now();
        l.established = established;
        stream.onClose = (unsent) => this.streamEnded(l, stream, unsent);
        this.drain(l, stream);
      })
      .catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : 'error';
        const policy = err instanceof OutgoingFailure && err.policy;
        l.failures++;
        const lim = this.deps.limits();
        l.retryAt = this.now() + Math.min(lim.backoffMaxMs, lim.backoffMs * 2 ** (l.failures - 1));
        l.state = 'backoff';
        l.lastError = reason;
        this.deps.log.info({ local: l.local, remote: l.remote, reason, failures: l.failures }, 'federation: outgoing stream failed');
        this.bounceAll(l, policy ? 'policy-violation' : 'remote-server-not-found', `${l.remote} could not be reached: ${reason}`);
      });
  }

  private bounceAll(l: Link, code: ErrorCode, text: string): void {
    const queued = l.queue;
    l.queue = [];
    for (const q of queued) q.bounce?.(new ParleyError(code, text));
  }

  /** Bounces what waited too long; closes idle streams. */
  private sweep(): void {
    const lim = this.deps.limits();
    const now = this.now();
    for (const l of this.links.values()) {
      if (l.queue.length > 0 && now - l.queue[0]!.at > lim.queueMs) {
        const late = l.queue.filter((q) => now - q.at > lim.queueMs);
        l.queue = l.queue.filter((q) => now - q.at <= lim.queueMs);
        for (const q of late) q.bounce?.(new ParleyError('remote-server-timeout', `${l.remote} did not accept the stream in ${Math.round(lim.queueMs / 1000)} s`));
      }
      if (l.state === 'ready' && l.stream !== null && now - l.stream.lastActive > lim.idleMs) {
        this.deps.log.debug({ local: l.local, remote: l.remote }, 'federation: closing an idle stream');
        l.stream.close();
      }
      if (l.state === 'idle' && l.queue.length === 0 && now - l.since > lim.idleMs) this.links.delete(`${l.local}|${l.remote}`);
    }
  }

  /** Closes every stream (server stop). */
  close(): void {
    this.closing = true;
    clearInterval(this.timer);
    for (const l of this.links.values()) {
      this.bounceAll(l, 'service-unavailable', 'the server is shutting down');
      l.stream?.fail('system-shutdown', 'the server is shutting down');
    }
  }
}
