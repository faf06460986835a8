/** Sessions: one authenticated connection of one user (a device), and the registry of all of them. */
import type { ErrorCode } from '../core/errors.js';
import type { SessionPresence } from '../core/types.js';
import type { Outbound } from './outbound.js';

/** Unsent bytes below which a connection takes the next replay page (each front door's Sink.pressure()). */
export const REPLAY_LOW_WATER = 512 * 1024;

/** What a front door gives the engine to reach one connection. */
export interface Sink {
  /** Queue an event for the connection (the front door flushes once per tick). */
  send(out: Outbound): void;
  /** Close the connection with a reason. */
  close(code: ErrorCode | 'normal' | 'conflict' | 'shutdown', message: string): void;
  /**
   * Flow control for replays: null when the connection can take more now, else a promise that settles when that
   * may have changed (its output drained, the client acknowledged, the connection closed). A replay waits on it
   * before each page, so a client that reads slowly is fed at its own pace instead of being cut off.
   */
  pressure?(): Promise<void> | null;
  /** True for a connection that takes ready XMPP stanzas ('stanza' events); the cluster tells other nodes. */
  readonly relaysStanzas?: boolean;
  /** The front door and transport the session speaks through (session listings, usage figures); absent: 'other'. */
  readonly protocol?: ClientProtocol;
}

/** How a session reaches Parley: the JSON WebSocket, or XMPP over TCP, WebSocket (RFC 7395) or BOSH (XEP-0206). */
export type ClientProtocol = 'json' | 'xmpp-tcp' | 'xmpp-websocket' | 'xmpp-bosh' | 'other';

/** One online session. */
export class Session {
  readonly id: string;
  readonly user: string;
  readonly resource: string;
  /** The connection the session speaks through; stream resumption (XEP-0198) moves it to a new one. */
  sink: Sink;
  readonly openedAt: number;
  presence: SessionPresence;
  /** While catching up after login, live events wait here so none overtakes or duplicates the replay. */
  pending: Outbound[] | null = [];
  /** Seqs already replayed during catch-up (so the same record arriving live is not sent twice). */
  replayed: Set<number> | null = new Set();
  /** Highest seq replayed; live records above it cannot have been replayed. */
  replayedMax = 0;
  /**
   * Whether the session has published presence (RFC 6121 §4.2: an XMPP session is "available" only after its
   * initial presence). Only available sessions count in the user's presence aggregate and receive messages
   * addressed to the bare address; JSON sessions are available from `hello` on.
   */
  available = true;
  private wantsCarbons = false;
  private notifyNodes: ReadonlySet<string> | null = null;
  /** Rooms whose live conversation the session is in (XEP-0045 occupancy; Engine.occupy), or null for none. */
  rooms: Set<string> | null = null;
  /** Told when routing state other nodes keep of the session changed (the cluster's announcement). */
  onChange: ((s: Session) => void) | null = null;
  closed = false;
  constructor(id: string, user: string, resource: string, sink: Sink, presence: SessionPresence, now: number) {
    this.id = id;
    this.user = user;
    this.resource = resource;
    this.sink = sink;
    this.presence = presence;
    this.openedAt = now;
  }
  /** The front door and transport the session speaks through now (its sink's; resumption may move it). */
  get protocol(): ClientProtocol {
    return this.sink.protocol ?? 'other';
  }
  /**
   * XEP-0280: the session wants copies of messages sent to the user's other sessions by full address (the
   * XMPP front door sets it when the client enables carbons; JSON sessions see only their own).
   */
  get carbons(): boolean {
    return this.wantsCarbons;
  }
  set carbons(on: boolean) {
    if (on === this.wantsCarbons) return;
    this.wantsCarbons = on;
    this.onChange?.(this);
  }
  /**
   * Publish-subscribe nodes whose notifications the session asked for (XEP-0163 §4.3: an XMPP client's
   * `<node>+notify` entity capabilities, learnt by its front door), or null for none. Protocol-neutral: the
   * engine sends entities' items (EntityService.item) only to sessions interested in their node.
   */
  get interests(): ReadonlySet<string> | null {
    return this.notifyNodes;
  }
  set interests(nodes: ReadonlySet<string> | null) {
    const next = nodes !== null && nodes.size > 0 ? nodes : null;
    if (sameNodes(next, this.notifyNodes)) return;
    this.notifyNodes = next;
    this.onChange?.(this);
  }
  /** user/resource */
  get full(): string {
    return `${this.user}/${this.resource}`;
  }
  /**
   * RFC 6121 §8.5.2.1.1: a message to the bare address goes to available resources with non-negative
   * priority; a session with negative priority receives only what is addressed to it.
   */
  get takesBare(): boolean {
    return this.available && !this.closed && this.presence.priority >= 0;
  }
}

function sameNodes(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}

/** Index of online sessions by user and resource. */
export class SessionRegistry {
  private readonly byUser = new Map<string, Map<string, Session>>();
  private count = 0;

  /** Adds a session; returns the session it replaces (same user and resource), if any. */
  add(s: Session): Session | undefined {
    let m = this.byUser.get(s.user);
    if (!m) this.byUser.set(s.user, (m = new Map()));
    const old = m.get(s.resource);
    m.set(s.resource, s);
    if (!old) this.count++;
    return old;
  }
  /** Removes the session if it is still the registered one; returns whether it was. */
  remove(s: Session): boolean {
    const m = this.byUser.get(s.user);
    if (!m || m.get(s.resource) !== s) return false;
    m.delete(s.resource);
    this.count--;
    if (m.size === 0) this.byUser.delete(s.user);
    return true;
  }
  /** All sessions of a user (empty iterable when offline). */
  of(user: string): Iterable<Session> {
    return this.byUser.get(user)?.values() ?? [];
  }
  /** Number of sessions of a user. */
  countOf(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }
  get(user: string, resource: string): Session | undefined {
    return this.byUser.get(user)?.get(resource);
  }
  /** Users with at least one session. */
  onlineUsers(): Iterable<string> {
    return this.byUser.keys();
  }
  isOnline(user: string): boolean {
    return this.byUser.has(user);
  }
  /**
   * Whether a message to the user's bare address reaches a session now (RFC 6121 §8.5.2.1.1); when none does,
   * it also goes to the user's offline queue (§8.5.2.2.1).
   */
  reachable(user: string): boolean {
    const m = this.byUser.get(user);
    if (m) for (const s of m.values()) if (s.takesBare) return true;
    return false;
  }
  /** Every session (for shutdown). */
  *all(): Iterable<Session> {
    for (const m of this.byUser.values()) yield* m.values();
  }
  get size(): number {
    return this.count;
  }
  get users(): number {
    return this.byUser.size;
  }
}
