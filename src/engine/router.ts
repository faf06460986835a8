/**
 * Delivery happens here and only here: every event any session receives passes through Router.
 * It respects catch-up (live events wait until a new session's replay is done) and never sends a log
 * record to a session twice.
 */
import { Outbound, type ServerEvent } from './outbound.js';
import type { Session, SessionRegistry } from './session.js';

/** Live events held for one session during its catch-up before it is disconnected. */
const MAX_PENDING = 20_000;

/** Counts deliveries and observes latency; implemented by the app's metrics. */
export interface DeliveryObserver {
  delivered(out: Outbound, sessions: number): void;
}

/** The single place that puts events onto sessions. */
export class Router {
  constructor(
    private readonly sessions: SessionRegistry,
    private readonly observer: DeliveryObserver | null = null,
  ) {}

  /** Wraps an event for fan-out (encode once). */
  outbound(event: ServerEvent, startedAt = 0): Outbound {
    return new Outbound(event, startedAt);
  }

  /**
   * Delivers to one session. After a catch-up, a live record the replay already sent is dropped; records are
   * delivered in seq order (MessageService), so once a live seq passes the replay's highest, none can repeat.
   */
  toSession(s: Session, out: Outbound): void {
    if (s.closed) return;
    if (s.pending) {
      // A replay paced to a client that reads slowly holds live events meanwhile; a client that falls this far
      // behind is disconnected instead of holding them without bound (what it missed is in the log: it gets it
      // when it comes back, by position or from the offline queue).
      if (s.pending.length >= MAX_PENDING) {
        s.sink.close('policy-violation', 'too many events waiting while catching up; reconnect');
        return;
      }
      s.pending.push(out);
      return;
    }
    const seq = out.event.seq;
    if (seq !== undefined && s.replayed) {
      if (s.replayed.has(seq)) return;
      if (seq > s.replayedMax) s.replayed = null;
    }
    s.sink.send(out);
  }

  /** Delivers to every session of `user` except `except`; returns how many received it. */
  toUser(user: string, out: Outbound, except?: Session): number {
    let n = 0;
    for (const s of this.sessions.of(user)) {
      if (s === except) continue;
      this.toSession(s, out);
      n++;
    }
    return n;
  }

  /** Delivers to every session of every user in `users`; returns the number of sessions. */
  toUsers(users: Iterable<string>, out: Outbound, except?: Session): number {
    let n = 0;
    for (const u of users) n += this.toUser(u, out, except);
    if (this.observer && n > 0) this.observer.delivered(out, n);
    return n;
  }

  /** Sends a replayed record during catch-up and remembers it, so the live copy is dropped. */
  replay(s: Session, out: Outbound): void {
    const seq = out.event.seq;
    if (seq !== undefined && s.replayed) {
      s.replayed.add(seq);
      if (seq > s.replayedMax) s.replayedMax = seq;
    }
    s.sink.send(out);
  }

  /** Ends catch-up: flushes the live events that waited, minus those already replayed. */
  finishCatchUp(s: Session): void {
    const pending = s.pending ?? [];
    s.pending = null;
    if (s.replayed?.size === 0) s.replayed = null;
    for (const out of pending) this.toSession(s, out);
  }
}
