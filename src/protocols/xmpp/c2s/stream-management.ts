/**
 * XEP-0198 stream management: acknowledgements both ways, and resumption of a session whose connection broke.
 *
 * Inbound, `h` counts the client's stanzas the server has handled since <enable/>; a stanza counts only when its
 * effects are durable (a message once committed: §4 "handled"), and h only moves over a contiguous prefix, so
 * an <a h/> never claims a stanza that a crash could still lose. Outbound, every stanza sent after <enable/> is
 * kept until the client's <a h/> covers it. When the connection breaks, a resumable session hibernates for
 * `resumeTimeoutMs` (its presence stays, XEP-0198 §5); a <resume/> on a new authenticated stream takes it over
 * and resends what the client had not acknowledged. If nobody resumes it, the messages it was sent and never
 * confirmed go (back) into the user's offline queue (§5: treat them as if the user had been offline).
 */
import { randomBytes } from 'node:crypto';
import { el } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import type { Engine } from '../../../engine/engine.js';
import type { Session, Sink } from '../../../engine/session.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { NS } from './ns.js';
import type { Transport } from './transport.js';
import type { XmppOptions } from './types.js';

/**
 * What stream management needs from its connection. On resumption the session, its Sink and this state move
 * from the old connection to the new one (§5), so both sides are this type.
 */
export interface SmConnection extends Sink {
  readonly transport: Transport;
  readonly engine: Engine;
  readonly opts: XmppOptions;
  /** The authenticated user (before binding too: a <resume/> comes instead of a bind). */
  readonly user: string;
  /** The bound session; null once it moved to a resumed stream or ended. */
  session: Session | null;
  readonly sm: StreamManagement;
  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  streamError(condition: StreamErrorCondition, text?: string): void;
  /** The client has the records up to `pos`: they may leave its offline queue. */
  confirmed(pos: number): void;
  /** Ends the engine session (no resumption). */
  endSession(): void;
  /** Takes over a hibernated session and the per-session state of its old connection. */
  adopt(session: Session, from: this): void;
}

/** Hibernating sessions by resumption id (process-wide: a resume arrives on another connection). */
const hibernating = new Map<string, StreamManagement>();

/** Most unacknowledged stanzas kept per session; beyond it the client is not acknowledging and is cut off. */
const MAX_UNACKED = 10_000;
/** Ask for an acknowledgement after this many unacknowledged stanzas. */
const REQUEST_EVERY = 5;
const MOD = 2 ** 32; // h wraps at 2^32 (XEP-0198 §4)

interface Unacked {
  text: string;
  /** A message record addressed to this user: its seq, for the offline queue if never acknowledged. */
  seq: number | null;
  /** Any log record: its seq, so that the client's acknowledgement confirms the user's position (0: none). */
  pos: number;
}

/** The stream-management state of one session (it moves to the new connection on resumption). */
export class StreamManagement {
  enabled = false;
  private resumable = false;
  private id: string | null = null;
  /** Inbound stanzas received (all, since the stream started). */
  private receivedCount = 0;
  /** The count at <enable/>: h counts from there. */
  private base = 0;
  /** Highest contiguous handled stanza number, and handled ones beyond it. */
  private handledUpTo = 0;
  private handledAhead: Set<number> | null = null;
  /** Outbound stanzas sent since <enable/> (mod 2^32) and those not yet acknowledged, oldest first. */
  private sent = 0;
  private unacked: Unacked[] = [];
  /** Characters of the stanzas in `unacked` (bounded by XmppOptions.maxUnackedBytes). */
  unackedBytes = 0;
  private requested = false;
  /** Replays waiting for the client to acknowledge (Sink.pressure). */
  private ackWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  hibernating = false;

  constructor(public conn: SmConnection) {}

  /** An inbound stanza arrived; returns its number for handled(). */
  received(): number {
    return ++this.receivedCount;
  }

  /** Stanza `n` has been handled. */
  handled(n: number): void {
    if (n === this.handledUpTo + 1) {
      this.handledUpTo = n;
      while (this.handledAhead?.delete(this.handledUpTo + 1)) this.handledUpTo++;
    } else if (n > this.handledUpTo) {
      (this.handledAhead ??= new Set()).add(n);
    }
  }

  /** The inbound h to report. */
  private h(): number {
    return Math.max(0, this.handledUpTo - this.base) % MOD;
  }

  /**
   * Notes an outbound stanza. Returns true when it must not be written now (the session hibernates: it waits
   * for the resumed stream).
   */
  track(text: string, seq: number | null = null, pos = 0): boolean {
    if (!this.enabled) return false;
    this.sent = (this.sent + 1) % MOD;
    this.unacked.push({ text, seq, pos });
    this.unackedBytes += text.length;
    // Bounded in count and in bytes: a client that stops acknowledging (or a hibernating session nobody
    // resumes) must not hold the server's memory. Its unacknowledged messages go back to the offline queue.
    if (this.unacked.length > MAX_UNACKED || this.unackedBytes > this.conn.opts.maxUnackedBytes) {
      if (this.hibernating) this.expire();
      else this.conn.streamError('resource-constraint', 'too many unacknowledged stanzas');
      return true;
    }
    if (this.hibernating) return true;
    if (this.unacked.length >= REQUEST_EVERY && !this.requested) {
      this.requested = true;
      // After the stanza itself, in the same burst.
      queueMicrotask(() => this.conn.transport.write(`<r xmlns="${NS.sm}"/>`));
    }
    return false;
  }

  /** <enable/>, <r/>, <a/> on a bound stream. */
  onElement(e: { name: string; attrs: Record<string, string> }): void {
    switch (e.name) {
      case 'enable': {
        if (this.enabled) {
          this.conn.transport.write(serialize(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors }))));
          return;
        }
        this.enabled = true;
        // Stanzas received before <enable/> (itself not a stanza) are not counted (§4).
        this.base = this.receivedCount;
        this.handledUpTo = Math.max(this.handledUpTo, this.base);
        this.resumable = e.attrs.resume === 'true' || e.attrs.resume === '1';
        const attrs: Record<string, string> = { xmlns: NS.sm };
        if (this.resumable) {
          this.id = randomBytes(18).toString('base64url');
          attrs.id = this.id;
          attrs.resume = 'true';
          attrs.max = String(Math.ceil(this.conn.opts.resumeTimeoutMs / 1000));
          live.set(this.id, this);
        }
        this.conn.transport.write(serialize(el('enabled', attrs)));
        return;
      }
      case 'r':
        if (this.enabled) this.conn.transport.write(`<a xmlns="${NS.sm}" h="${this.h()}"/>`);
        return;
      case 'a': {
        if (!this.enabled) return;
        const h = Number(e.attrs.h);
        if (!Number.isInteger(h) || h < 0 || h >= MOD || !this.ack(h)) {
          this.conn.streamError('undefined-condition', 'the acknowledgement covers stanzas that were never sent');
        }
        return;
      }
      default:
        this.conn.streamError('unsupported-stanza-type', `<${e.name}/> is not a stream-management element`);
    }
  }

  /** Drops what `h` acknowledges; false when h claims more than was sent (§4: a protocol error). */
  private ack(h: number): boolean {
    const outstanding = this.unacked.length;
    const acked = (this.sent - h + MOD) % MOD; // how many are NOT yet acknowledged
    if (acked > outstanding) return false;
    const done = this.unacked.splice(0, outstanding - acked);
    let pos = 0;
    for (const u of done) {
      this.unackedBytes -= u.text.length;
      if (u.pos > pos) pos = u.pos;
    }
    this.requested = false;
    // The client has these: its offline queue may drop them (a message leaves it only once acknowledged).
    if (pos > 0) this.conn.confirmed(pos);
    if (this.ackWaiters.length > 0) {
      const w = this.ackWaiters;
      this.ackWaiters = [];
      for (const fn of w) fn();
    }
    return true;
  }

  /**
   * Flow control (Sink.pressure): null when fewer than half the allowed unacknowledged bytes are outstanding,
   * else a promise that settles at the next acknowledgement (or after a second, to look again).
   */
  pressure(): Promise<void> | null {
    if (!this.enabled) return null;
    if (!this.hibernating && this.unackedBytes <= this.conn.opts.maxUnackedBytes / 2) return null;
    if (!this.hibernating && !this.requested) {
      this.requested = true;
      this.conn.transport.write(`<r xmlns="${NS.sm}"/>`);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.ackWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The connection broke: keep the session for resumption when the client asked for it. */
  hibernate(): boolean {
    if (!this.enabled || !this.resumable || this.id === null) return false;
    this.hibernating = true;
    hibernating.set(this.id, this);
    this.timer = setTimeout(() => this.expire(), this.conn.opts.resumeTimeoutMs);
    this.timer.unref?.();
    return true;
  }

  /** The session will not be resumed (closed by the client, or replaced): no hibernation. */
  discard(): void {
    this.resumable = false;
    if (this.id !== null && live.get(this.id) === this) live.delete(this.id);
    if (this.hibernating) this.expire();
  }

  /** Nobody resumed in time: end the session; unacknowledged messages go to the offline queue. */
  private expire(): void {
    this.hibernating = false;
    this.conn.endSession(); // calls end()
  }

  /**
   * The session ends without resumption (expired, closed by either side, a stream error): forget it, and put
   * the messages it was sent but never confirmed (back) into the offline queue (§5), so nothing is lost and no
   * queue outlives its session.
   */
  end(user: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.id !== null) {
      if (hibernating.get(this.id) === this) hibernating.delete(this.id);
      if (live.get(this.id) === this) live.delete(this.id);
    }
    this.hibernating = false;
    this.resumable = false;
    this.requeue(user);
    const w = this.ackWaiters;
    this.ackWaiters = [];
    for (const fn of w) fn();
  }

  /** Messages this session was sent but never confirmed go (back) into the offline queue. */
  requeue(user: string | undefined = this.conn.session?.user): void {
    const seqs = this.unacked.filter((u) => u.seq !== null).map((u) => u.seq!);
    this.unacked = [];
    this.unackedBytes = 0;
    if (seqs.length === 0 || !user) return;
    const engine = this.conn.engine;
    engine.requeueOffline(user, seqs).catch((e: unknown) => engine.ctx.log.error({ err: e }, 'requeue failed'));
  }

  /** <resume previd h/> on a new authenticated stream (§5). */
  async resume(e: { attrs: Record<string, string> }): Promise<void> {
    const conn = this.conn;
    const prev = hibernating.get(e.attrs.previd ?? '') ?? liveById(e.attrs.previd ?? '');
    const h = Number(e.attrs.h);
    const old = prev?.conn;
    if (!prev || !old || !old.session || old.session.user !== conn.user || !Number.isInteger(h)) {
      conn.transport.write(serialize(el('failed', { xmlns: NS.sm, h: String(this.h()) }, el('item-not-found', { xmlns: NS.stanzaErrors }))));
      return;
    }
    if (!prev.hibernating) {
      // The old connection has not noticed it is dead yet: it is replaced now.
      prev.hibernating = true;
      old.transport.destroy();
    }
    if (prev.timer) clearTimeout(prev.timer);
    prev.timer = null;
    hibernating.delete(prev.id!);
    if (!prev.ack(h)) {
      conn.transport.write(serialize(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors }))));
      prev.requeue();
      old.endSession();
      return;
    }
    const session = old.session;
    old.session = null;
    prev.hibernating = false;
    // The state moves to the new connection; the old one is inert.
    conn.adopt(session, old);
    session.sink = conn;
    prev.conn = conn;
    conn.sm.takeOver(prev);
    conn.transport.write(serialize(el('resumed', { xmlns: NS.sm, previd: prev.id!, h: String(prev.h()) })));
    for (const u of this.unacked) conn.transport.write(u.text);
    if (this.unacked.length > 0 && !this.requested) {
      this.requested = true;
      conn.transport.write(`<r xmlns="${NS.sm}"/>`);
    }
  }

  /** Copies a resumed session's counters and queue into this (the new connection's) state. */
  private takeOver(prev: StreamManagement): void {
    this.enabled = true;
    this.resumable = true;
    this.id = prev.id;
    this.receivedCount = prev.handledUpTo; // anything received but unhandled on the old stream is gone
    this.base = prev.base;
    this.handledUpTo = prev.handledUpTo;
    this.handledAhead = null;
    this.sent = prev.sent;
    this.unacked = prev.unacked;
    this.unackedBytes = prev.unackedBytes;
    prev.unacked = [];
    prev.unackedBytes = 0;
    this.requested = false;
    live.set(this.id!, this);
  }

}

/** Live resumable sessions by id, so a resume can replace a connection the server still thinks is up. */
const live = new Map<string, StreamManagement>();

/** What XEP-0198 holds in memory now, for /metrics: resumable sessions, hibernating ones, unacknowledged bytes. */
export function streamManagementStats(): { resumable: number; hibernating: number; unackedBytes: number } {
  let unackedBytes = 0;
  const all = new Set([...live.values(), ...hibernating.values()]);
  for (const sm of all) unackedBytes += sm.unackedBytes;
  return { resumable: live.size, hibernating: hibernating.size, unackedBytes };
}
function liveById(id: string): StreamManagement | undefined {
  const sm = live.get(id);
  return sm && sm.conn.session ? sm : undefined;
}
