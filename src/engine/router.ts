/**
 * Delivery happens here and only here: every event any session receives passes through Router.
 * It respects catch-up (live events wait until a new session's replay is done) and never sends a log
 * record to a session twice.
 *
 * Sessions of this process get an event directly and synchronously. When other nodes hold sessions of the
 * recipients (cluster.ts), each such node gets one message on its own subject for the whole call, and its
 * Router delivers it to its sessions (deliverFromNode), never forwarding again. With no other node the only
 * added cost is one comparison per call.
 */
import type { Cluster, DeliverMessage, RemoteSession } from './cluster.js';
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
    /** Other nodes' sessions; null for a router that only ever delivers in this process. */
    private readonly cluster: Cluster | null = null,
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
    if (s.closed || (out.event.stanzasOnly === true && s.sink.relaysStanzas !== true)) return;
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

  /**
   * Delivers to every session of `user` except `except` (a local session); returns how many sessions of this
   * node received it. Sessions of the user on other nodes get it through their node.
   */
  toUser(user: string, out: Outbound, except?: Session): number {
    const n = this.toLocalUser(user, out, except);
    const cluster = this.cluster;
    if (cluster !== null && cluster.remoteCount > 0 && cluster.hasRemote(user)) this.forward([user], out);
    return n;
  }

  /**
   * Delivers to every session of every user in `users` (iterated once); returns the number of sessions of this
   * node. Other nodes holding sessions of these users get one message each.
   */
  toUsers(users: Iterable<string>, out: Outbound, except?: Session): number {
    let n = 0;
    const cluster = this.cluster;
    if (cluster === null || cluster.remoteCount === 0) {
      for (const u of users) n += this.toLocalUser(u, out, except);
    } else {
      let remote: string[] | null = null;
      for (const u of users) {
        n += this.toLocalUser(u, out, except);
        if (cluster.hasRemote(u)) (remote ??= []).push(u);
      }
      if (remote !== null) this.forward(remote, out);
    }
    if (this.observer && n > 0) this.observer.delivered(out, n);
    return n;
  }

  /**
   * Delivers to single sessions of other nodes (a full address, carbons); `stanzas`: only to those whose
   * connection takes ready stanzas. One message per node.
   */
  toRemote(targets: Iterable<RemoteSession>, out: Outbound, stanzas = false): void {
    const cluster = this.cluster;
    if (cluster === null) return;
    const byNode = new Map<string, Array<[string, string]>>();
    for (const r of targets) {
      let l = byNode.get(r.node);
      if (!l) byNode.set(r.node, (l = []));
      l.push([r.user, r.resource]);
    }
    for (const [node, sessions] of byNode) {
      const m: DeliverMessage = { event: out.event, startedAt: out.startedAt, sessions };
      if (stanzas) m.stanzas = true;
      cluster.send(node, m);
    }
  }

  /** Delivers what another node sent for this node's sessions (never forwarded again). */
  deliverFromNode(m: DeliverMessage): void {
    const out = new Outbound(m.event, m.startedAt);
    let n = 0;
    if (m.users) for (const u of m.users) n += this.toLocalUser(u, out);
    if (m.sessions) {
      for (const [user, resource] of m.sessions) {
        const s = this.sessions.get(user, resource);
        if (!s || (m.stanzas === true && s.sink.relaysStanzas !== true)) continue;
        this.toSession(s, out);
        n++;
      }
    }
    if (this.observer && n > 0) this.observer.delivered(out, n);
  }

  /** Every session of `user` in this process except `except`. */
  private toLocalUser(user: string, out: Outbound, except?: Session): number {
    let n = 0;
    for (const s of this.sessions.of(user)) {
      if (s === except) continue;
      this.toSession(s, out);
      n++;
    }
    return n;
  }

  /** One message per node holding sessions of `users`, naming the users it holds. */
  private forward(users: string[], out: Outbound): void {
    const cluster = this.cluster!;
    const byNode = new Map<string, string[]>();
    for (const u of users) {
      for (const r of cluster.remoteOf(u)) {
        let l = byNode.get(r.node);
        if (!l) byNode.set(r.node, (l = []));
        if (l[l.length - 1] !== u) l.push(u);
      }
    }
    for (const [node, list] of byNode) cluster.send(node, { event: out.event, startedAt: out.startedAt, users: list });
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
