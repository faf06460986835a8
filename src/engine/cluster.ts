/**
 * The cluster layer: what one engine knows of the sessions other Parley processes hold, and how it tells them of
 * its own. Several processes share one database and one bus (ports/bus.ts); each is a node with an id. A node
 * announces its sessions on the bus (opened, changed, closed), keeps a directory of the others' (user -> remote
 * sessions), answers a starting node's request for its state, and sends heartbeats; a node silent for a few
 * heartbeats is dropped, its sessions vanishing as if closed. Delivery to a remote session is a message to its
 * node's own subject, which that node hands to its own Router (never forwarding again).
 *
 * Subjects and messages (every message is plain JSON; docs/ARCHITECTURE.md, "The bus and the cluster"):
 *   parley.cluster                 ClusterMessage: hello, state, open, update, close, beat, bye, end, share
 *   parley.node.<id>.deliver       DeliverMessage: an event for some of that node's sessions
 *
 * Besides sessions, the engine keeps other state alike on every node through named shared parts (Cluster.share):
 * each part's changes are announced (`share`), its whole state rides in the answer to a hello, and a part hears
 * when a node is gone (cluster-routes.ts: which node serves which routed domain; remote-presence.ts and
 * remote-rooms.ts: what routes carried in).
 *
 * A node that knows no other node publishes nothing but its hello at start: one process alone pays one
 * subscription and nothing per session, message or presence change.
 */
import type { SessionPresence } from '../core/types.js';
import type { Bus } from '../ports/bus.js';
import type { Logger } from './context.js';
import type { ServerEvent } from './outbound.js';
import type { ClientProtocol, Session, SessionRegistry } from './session.js';

/** The subject every node announces its sessions and its liveness on. */
export const CLUSTER_SUBJECT = 'parley.cluster';
/** The subject on which node `node` takes events for its sessions. */
export const deliverSubject = (node: string): string => `parley.node.${node}.deliver`;

/** Default interval between heartbeats (EngineDeps.cluster.heartbeatMs). */
const HEARTBEAT_MS = 2_000;
/** Heartbeats a node may miss before the others drop it (EngineDeps.cluster.missedBeats). */
const MISSED_BEATS = 3;

/** What the cluster needs to know of a session to route to it, as announced on the bus. */
export interface SessionInfo {
  id: string;
  user: string;
  resource: string;
  presence: SessionPresence;
  /** RFC 6121 §4.2: counts in presence and takes bare-address messages only once available. */
  available: boolean;
  /** XEP-0280: wants copies of messages to the user's other sessions. */
  carbons: boolean;
  /** Its connection takes ready XMPP stanzas ('stanza' events, RFC 6121 §8.5.3.1 iq relays). */
  stanzas: boolean;
  /** Rooms whose live conversation the session is in (XEP-0045 occupancy). */
  rooms: string[];
  /** Publish-subscribe nodes whose notifications it asked for (Session.interests); absent: none. */
  interests?: string[];
  /** Epoch ms of opening, on its node's clock: the newer of two sessions with one resource wins. */
  openedAt: number;
  /** The front door and transport it speaks through (absent from a node that predates it). */
  protocol?: ClientProtocol;
}

/** A session held by another node. */
export interface RemoteSession extends SessionInfo {
  node: string;
}

/** A session of a user as routing sees it, on this node (a Session) or another (a RemoteSession). */
export interface UserSession {
  readonly user: string;
  readonly resource: string;
  readonly presence: SessionPresence;
  readonly available: boolean;
  readonly carbons: boolean;
}

/** Messages on parley.cluster; `node` is always the sender. */
export type ClusterMessage =
  /** A node starts (or met an unknown node, then `to` names it): nodes answer with their state. */
  | { t: 'hello'; node: string; to?: string }
  /**
   * Every session of the sender; replaces what the receiver knew of it. `to`: the node it answers. `shared`: the
   * sender's state of each shared part (Cluster.share), by name (absent from a node that predates them).
   */
  | { t: 'state'; node: string; to: string; sessions: SessionInfo[]; shared?: Record<string, unknown> }
  | { t: 'open'; node: string; session: SessionInfo }
  | { t: 'update'; node: string; session: SessionInfo }
  | { t: 'close'; node: string; id: string }
  | { t: 'beat'; node: string }
  /** The sender stops: its sessions are gone. */
  | { t: 'bye'; node: string }
  /**
   * End every session of `users` (but session `keep`): a password change, removed or disabled accounts, an
   * administrator's kick. With `credential`, instead every session opened with that credential (a revoked API
   * key), whoever's it is. `resource`: only that resource of the (one) user. `code`: the close code the client is
   * told (not-authorized when absent: nodes that predate it sent none).
   */
  | { t: 'end'; node: string; users: string[]; keep: string | null; reason: string; credential?: string; resource?: string; code?: EndCode }
  /** A change of the shared part `part` (Cluster.share), as that part defines it. */
  | { t: 'share'; node: string; part: string; data: unknown };

/**
 * State the engine keeps alike on every node besides sessions (Cluster.share): what a node tells the others of
 * it, and what it does with what they tell.
 */
export interface SharedPart {
  /** This node's state of the part, sent in its answer to a hello (undefined: nothing to tell). */
  snapshot(): unknown;
  /** Another node's state of the part, from its answer to a hello (or its answer to this node's). */
  state(node: string, data: unknown): void;
  /** A change another node announced. */
  change(node: string, data: unknown): void;
  /** The node is gone (it said bye or missed its heartbeats). */
  dropped?(node: string): void;
}

/** The close codes with which sessions are ended on every node (Sink.close). */
export type EndCode = 'not-authorized' | 'account-disabled' | 'policy-violation';

/** What ending sessions on every node names (ClusterMessage 'end' without its sender). */
export interface EndRequest {
  users: string[];
  keep: string | null;
  reason: string;
  credential?: string;
  resource?: string;
  code?: EndCode;
}

/** A session on some node, with the node's id, as the administrators' listings show it. */
export type NodeSession = SessionInfo & { node: string };

/** An event for sessions of the receiving node: every session of `users`, and the sessions named by `sessions`. */
export interface DeliverMessage {
  event: ServerEvent;
  startedAt: number;
  users?: string[];
  /** [user, resource] of single sessions. */
  sessions?: Array<[string, string]>;
  /** Only sessions whose connection takes ready stanzas (a relayed iq). */
  stanzas?: boolean;
}

/** What the engine does when the directory changes or another node asks something of it. */
export interface ClusterHandlers {
  /** Delivers an event another node sent to this node's sessions (the Router's local half). */
  deliver(m: DeliverMessage): void;
  /** Sessions of `user` on other nodes appeared, changed or vanished. `takeOver`: this node speaks for the dead. */
  changed(user: string, takeOver: boolean): void;
  /** Another node bound `remote`, a resource a local session holds: the newer session wins (RFC 6120 §7.7.2.2). */
  conflict(local: Session, remote: RemoteSession): void;
  /** Another node asks to end the local sessions of `users` but `keep`, or (`credential`) those opened with it. */
  end(request: EndRequest): void;
}

/** Timing of heartbeats. */
export interface ClusterOptions {
  heartbeatMs?: number;
  missedBeats?: number;
}

interface Peer {
  lastSeen: number;
  sessions: Map<string, RemoteSession>;
}

/** This node's view of the others, and its announcements to them. */
export class Cluster {
  private readonly peers = new Map<string, Peer>();
  /** user -> that user's sessions on other nodes, by session id. */
  private readonly byUser = new Map<string, Map<string, RemoteSession>>();
  private count = 0;
  private handlers: ClusterHandlers | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly beatMs: number;
  private readonly deadMs: number;
  /** Shared parts by name (Cluster.share). */
  private readonly parts = new Map<string, SharedPart>();

  constructor(
    /** This node's id (a bus subject word). */
    readonly node: string,
    private readonly bus: Bus,
    private readonly local: SessionRegistry,
    private readonly log: Logger,
    private readonly now: () => number,
    opts: ClusterOptions = {},
  ) {
    this.beatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.deadMs = this.beatMs * (opts.missedBeats ?? MISSED_BEATS);
  }

  /** Sessions on other nodes (0 when this node is alone: the Router's fast path tests this). */
  get remoteCount(): number {
    return this.count;
  }

  /** How many other nodes are known alive. */
  get peerCount(): number {
    return this.peers.size;
  }

  /** Other nodes known alive. */
  get nodes(): string[] {
    return [...this.peers.keys()];
  }

  /** Subscribes, asks the running nodes for their sessions and starts the heartbeat. */
  start(handlers: ClusterHandlers): void {
    this.handlers = handlers;
    this.unsubscribe.push(
      this.bus.subscribe(CLUSTER_SUBJECT, (m) => this.receive(m as ClusterMessage)),
      this.bus.subscribe(deliverSubject(this.node), (m) => handlers.deliver(m as DeliverMessage)),
    );
    this.bus.publish(CLUSTER_SUBJECT, { t: 'hello', node: this.node } satisfies ClusterMessage);
    this.timer = setInterval(() => this.tick(), this.beatMs);
    this.timer.unref();
  }

  /** Announces the departure and stops listening: the other nodes forget this node's sessions at once. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.peers.size > 0) this.bus.publish(CLUSTER_SUBJECT, { t: 'bye', node: this.node } satisfies ClusterMessage);
    for (const u of this.unsubscribe) u();
    this.peers.clear();
    this.byUser.clear();
    this.count = 0;
  }

  /** The heartbeat timer's work: a beat, then the drop of nodes that missed too many. */
  tick(): void {
    this.beat();
    this.sweep();
  }

  /** Tells the other nodes this one is alive (nothing while it knows none). */
  beat(): void {
    if (!this.stopped && this.peers.size > 0) this.publish({ t: 'beat', node: this.node });
  }

  /** Drops the nodes silent for longer than the allowance (missedBeats heartbeats); `now` for tests. */
  sweep(now = this.now()): void {
    if (this.stopped) return;
    for (const [node, peer] of this.peers) {
      if (now - peer.lastSeen > this.deadMs) {
        this.log.warn({ node }, 'a cluster node stopped sending heartbeats; its sessions are dropped');
        this.dropNode(node, true);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Announcements of this node's sessions (nothing is published while no other node is known)
  // -------------------------------------------------------------------------------------------------------------

  opened(s: Session): void {
    if (this.peers.size > 0) this.publish({ t: 'open', node: this.node, session: infoOf(s) });
  }

  /** The session's presence, availability, carbons or rooms changed. */
  updated(s: Session): void {
    if (this.peers.size > 0 && !s.closed) this.publish({ t: 'update', node: this.node, session: infoOf(s) });
  }

  closed(s: Session): void {
    if (this.peers.size > 0) this.publish({ t: 'close', node: this.node, id: s.id });
  }

  /** Asks the other nodes to end the sessions of `users` (but `keep`; only `resource`, when given). */
  endEverywhere(users: string[], keep: string | null, reason: string, opts: { code?: EndCode; resource?: string } = {}): void {
    if (this.peers.size > 0) this.publish({ t: 'end', node: this.node, users, keep, reason, ...opts });
  }

  /** Asks the other nodes to end the sessions opened with `credential` (CredentialVerifier's ref). */
  endCredentialEverywhere(credential: string, reason: string): void {
    if (this.peers.size > 0) this.publish({ t: 'end', node: this.node, users: [], keep: null, reason, credential });
  }

  /**
   * Keeps the part `name` alike on every node: `part` answers for it; the returned function announces a change
   * (nothing is published while no other node is known, so one process alone pays nothing for it).
   */
  share(name: string, part: SharedPart): (data: unknown) => void {
    this.parts.set(name, part);
    return (data) => {
      if (!this.stopped && this.peers.size > 0) this.publish({ t: 'share', node: this.node, part: name, data });
    };
  }

  /** Sends an event to sessions of another node. */
  send(node: string, m: DeliverMessage): void {
    this.bus.publish(deliverSubject(node), m);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Questions about a user's sessions on every node (this one first: alone, the answer costs what it did)
  // -------------------------------------------------------------------------------------------------------------

  /** Whether `user` has a session on any node. */
  isOnline(user: string): boolean {
    return this.local.isOnline(user) || (this.count > 0 && this.byUser.has(user));
  }

  /**
   * Whether a message to `user`'s bare address reaches a session on some node now (RFC 6121 §8.5.2.1.1); when
   * none does it goes to the offline queue (§8.5.2.2.1).
   */
  reachable(user: string): boolean {
    return this.local.reachable(user) || (this.count > 0 && this.remoteReachable(user));
  }

  /** Sessions of `user` on every node. */
  countOf(user: string): number {
    return this.local.countOf(user) + (this.count > 0 ? this.remoteCountOf(user) : 0);
  }

  /** `user`'s sessions on every node: this node's, then the others'. */
  sessionsOf(user: string): UserSession[] {
    return [...this.local.of(user), ...this.remoteOf(user)];
  }

  /** `user`'s sessions on every node with their ids, front doors and nodes (administrators' listings). */
  detailsOf(user: string): NodeSession[] {
    const local = [...this.local.of(user)].filter((s) => !s.closed).map((s) => ({ ...infoOf(s), node: this.node }));
    return [...local, ...[...this.remoteOf(user)].map((r) => ({ ...r }))];
  }

  /** Every session on every node, this node's first (administrators' overview). */
  *allDetails(): Iterable<NodeSession> {
    for (const s of this.local.all()) if (!s.closed) yield { ...infoOf(s), node: this.node };
    for (const sessions of this.byUser.values()) yield* sessions.values();
  }

  /** Users with a session on some node (each once). */
  *onlineUsers(): Iterable<string> {
    yield* this.local.onlineUsers();
    if (this.count === 0) return;
    for (const u of this.byUser.keys()) if (!this.local.isOnline(u)) yield u;
  }

  /** How many users have a session on some node. */
  onlineUserCount(): number {
    let n = this.local.users;
    if (this.count > 0) for (const u of this.byUser.keys()) if (!this.local.isOnline(u)) n++;
    return n;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The directory of other nodes' sessions
  // -------------------------------------------------------------------------------------------------------------

  /** `user`'s sessions on other nodes (empty when none). */
  remoteOf(user: string): Iterable<RemoteSession> {
    return this.byUser.get(user)?.values() ?? [];
  }

  /** Whether another node holds a session of `user`. */
  hasRemote(user: string): boolean {
    return this.byUser.has(user);
  }

  /** Sessions of `user` on other nodes. */
  remoteCountOf(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }

  /** The remote session `user`/`resource` (the newest, should two nodes briefly hold one). */
  remoteSession(user: string, resource: string): RemoteSession | undefined {
    let found: RemoteSession | undefined;
    for (const r of this.remoteOf(user)) if (r.resource === resource && (!found || newer(r, found))) found = r;
    return found;
  }

  /** Every session other nodes hold (the usage figures count them by protocol). */
  *remoteSessions(): Iterable<RemoteSession> {
    if (this.count === 0) return;
    for (const peer of this.peers.values()) yield* peer.sessions.values();
  }

  /** Users with a session on another node. */
  remoteUsers(): Iterable<string> {
    return this.byUser.keys();
  }

  /** Whether a bare-address message reaches a session of `user` on another node (RFC 6121 §8.5.2.1.1). */
  remoteReachable(user: string): boolean {
    const m = this.byUser.get(user);
    if (m) for (const r of m.values()) if (takesBare(r)) return true;
    return false;
  }

  /**
   * Whether this node speaks for sessions of a node that died: the alive node with the smallest id does, so
   * exactly one node fans out their users' presence once they vanish.
   */
  private speaksForTheDead(): boolean {
    for (const n of this.peers.keys()) if (n < this.node) return false;
    return true;
  }

  private publish(m: ClusterMessage): void {
    this.bus.publish(CLUSTER_SUBJECT, m);
  }

  private receive(m: ClusterMessage): void {
    if (this.stopped || m.node === this.node) return;
    if (m.t === 'bye') {
      this.dropNode(m.node, true);
      return;
    }
    let peer = this.peers.get(m.node);
    const known = peer !== undefined;
    if (!peer) {
      peer = { lastSeen: this.now(), sessions: new Map() };
      this.peers.set(m.node, peer);
    }
    peer.lastSeen = this.now();
    switch (m.t) {
      case 'hello':
        if (m.to === undefined || m.to === this.node) this.sendState(m.node);
        return;
      case 'state':
        if (m.to !== this.node) {
          // Another node's answer to someone else: it tells this node of a node it may not know.
          if (!known) this.publish({ t: 'hello', node: this.node, to: m.node });
          return;
        }
        this.replace(m.node, peer, m.sessions);
        for (const [name, data] of Object.entries(m.shared ?? {})) this.parts.get(name)?.state(m.node, data);
        // A node met for the first time by its answer may hold sessions it opened before knowing this one.
        if (!known) this.sendState(m.node);
        return;
      case 'open':
      case 'update':
        this.put(m.node, peer, m.session);
        break;
      case 'close':
        this.remove(peer, m.id);
        break;
      case 'end': {
        const { t: _t, node: _n, ...request } = m;
        this.handlers?.end(request);
        break;
      }
      case 'share':
        this.parts.get(m.part)?.change(m.node, m.data);
        break;
      case 'beat':
        break;
    }
    // A node heard of without its state (a lost hello or answer): ask it for its sessions.
    if (!known) this.publish({ t: 'hello', node: this.node, to: m.node });
  }

  private sendState(to: string): void {
    const sessions: SessionInfo[] = [];
    for (const s of this.local.all()) if (!s.closed) sessions.push(infoOf(s));
    const shared: Record<string, unknown> = {};
    for (const [name, part] of this.parts) {
      const data = part.snapshot();
      if (data !== undefined) shared[name] = data;
    }
    this.publish({ t: 'state', node: this.node, to, sessions, shared });
  }

  private replace(node: string, peer: Peer, sessions: SessionInfo[]): void {
    const ids = new Set(sessions.map((s) => s.id));
    for (const id of [...peer.sessions.keys()]) if (!ids.has(id)) this.remove(peer, id);
    for (const s of sessions) this.put(node, peer, s);
  }

  private put(node: string, peer: Peer, info: SessionInfo): void {
    const r: RemoteSession = { ...info, node };
    if (!peer.sessions.has(r.id)) this.count++;
    peer.sessions.set(r.id, r);
    let m = this.byUser.get(r.user);
    if (!m) this.byUser.set(r.user, (m = new Map()));
    m.set(r.id, r);
    const mine = this.local.get(r.user, r.resource);
    if (mine && !mine.closed && newer(r, mine)) this.handlers?.conflict(mine, r);
    this.handlers?.changed(r.user, false);
  }

  private remove(peer: Peer, id: string, takeOver = false): void {
    const r = peer.sessions.get(id);
    if (!r) return;
    peer.sessions.delete(id);
    this.count--;
    const m = this.byUser.get(r.user);
    m?.delete(id);
    if (m?.size === 0) this.byUser.delete(r.user);
    this.handlers?.changed(r.user, takeOver);
  }

  private dropNode(node: string, gone: boolean): void {
    const peer = this.peers.get(node);
    if (!peer) return;
    this.peers.delete(node);
    const takeOver = gone && this.speaksForTheDead();
    for (const id of [...peer.sessions.keys()]) this.remove(peer, id, takeOver);
    for (const part of this.parts.values()) part.dropped?.(node);
  }
}

/** What the other nodes are told of a local session. */
export function infoOf(s: Session): SessionInfo {
  return {
    id: s.id,
    user: s.user,
    resource: s.resource,
    presence: s.presence,
    available: s.available,
    carbons: s.carbons,
    stanzas: s.sink.relaysStanzas === true,
    rooms: s.rooms ? [...s.rooms] : [],
    ...(s.interests ? { interests: [...s.interests] } : {}),
    openedAt: s.openedAt,
    protocol: s.protocol,
  };
}

/** RFC 6121 §8.5.2.1.1, as Session.takesBare: available with non-negative priority. */
export function takesBare(s: UserSession): boolean {
  return s.available && s.presence.priority >= 0;
}

/**
 * The order between two sessions with one resource: the later opening wins (RFC 6120 §7.7.2.2 lets the server
 * end the existing session); equal times are settled by session id, so both nodes decide alike.
 */
function newer(a: { openedAt: number; id: string }, b: { openedAt: number; id: string }): boolean {
  return a.openedAt !== b.openedAt ? a.openedAt > b.openedAt : a.id > b.id;
}
