/**
 * The protocol-neutral engine: sessions, presence, rosters, messages, rooms. Front doors (JSON WebSocket,
 * HTTP, later XMPP) translate their frames into calls on this object and get events back through their Sink.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import { domainOf, parseAddress, parseBare } from '../core/address.js';
import { conversationKey, type MessageView, type SessionPresence } from '../core/types.js';
import type { Store } from '../ports/store.js';
import { AuthService, type AuthOptions } from './auth-service.js';
import { BlockService } from './block-service.js';
import { limitOf, type Ctx, type EngineMetrics, type EngineOptions, type Logger } from './context.js';
import { Directory } from './directory.js';
import { MessageService } from './message-service.js';
import { OfflineTracker } from './offline-tracker.js';
import { recordEvent } from './outbound.js';
import { MessagePipeline, type MessageHook } from './pipeline.js';
import { PresenceService } from './presence-service.js';
import { RoomService } from './room-service.js';
import { RosterService } from './roster-service.js';
import { Router, type DeliveryObserver } from './router.js';
import { Session, SessionRegistry, type Sink } from './session.js';

/** What the engine is built from (the composition root supplies it). */
export interface EngineDeps {
  store: Store;
  options: EngineOptions;
  auth: AuthOptions;
  log: Logger;
  metrics: EngineMetrics;
  hooks?: MessageHook[];
  now?: () => number;
  observer?: DeliveryObserver;
}

const REPLAY_PAGE = 500;

/** The engine facade used by every front door. */
export class Engine {
  readonly ctx: Ctx;
  readonly presence: PresenceService;
  readonly rosters: RosterService;
  readonly rooms: RoomService;
  readonly messages: MessageService;
  readonly auth: AuthService;
  readonly blocks: BlockService;
  private readonly offline: OfflineTracker;

  constructor(deps: EngineDeps) {
    const sessions = new SessionRegistry();
    this.offline = new OfflineTracker({
      maxMessages: limitOf(deps.options, 'maxOfflineMessages'),
      maxBytes: limitOf(deps.options, 'maxOfflineBytes'),
    });
    // When another process changed data, cached audiences and member lists may be stale too.
    const directory = new Directory(deps.store, deps.options.roomSubdomain, (external) => {
      this.presence.invalidate();
      this.rosters.invalidate();
      this.rooms.invalidate();
      this.blocks.invalidate();
      this.offline.invalidate();
      // The admin API ends removed users' sessions itself; the operator CLI (another process) cannot.
      if (external) this.dropRemovedAccounts().catch((e: unknown) => deps.log.error({ err: e }, 'session sweep failed'));
    });
    this.ctx = {
      store: deps.store,
      sessions,
      router: new Router(sessions, deps.observer ?? null),
      directory,
      now: deps.now ?? Date.now,
      opts: deps.options,
      log: deps.log,
      metrics: deps.metrics,
    };
    this.presence = new PresenceService(this.ctx, (user) => this.rosters.list(user));
    this.blocks = new BlockService(this.ctx, this.presence);
    this.rosters = new RosterService(this.ctx, this.presence, this.blocks);
    this.rooms = new RoomService(this.ctx, this.presence);
    this.messages = new MessageService(this.ctx, new MessagePipeline(deps.hooks ?? []), this.rooms, this.offline, this.blocks);
    this.auth = new AuthService(this.ctx, deps.auth);
  }

  /** Loads caches and starts watching for changes made by other processes. */
  async start(watchMs = 1000): Promise<void> {
    await this.ctx.directory.refresh();
    this.ctx.directory.watch(watchMs);
  }

  /** The session registry (read-only use by front doors and metrics). */
  get sessions(): SessionRegistry {
    return this.ctx.sessions;
  }

  /**
   * Opens a session for an authenticated user. Live events are held until catchUp() (or goLive()) releases
   * them; the caller replies to the client in between. Returns the log position at opening. A session opened
   * with `available: false` (XMPP before its initial presence, RFC 6121 §4.2) counts neither in the user's
   * presence nor for messages to the bare address until announce().
   */
  async openSession(
    user: string,
    resource: string | null,
    sink: Sink,
    presence: SessionPresence,
    opts: { available?: boolean } = {},
  ): Promise<{ session: Session; position: number }> {
    const { sessions } = this.ctx;
    let res = resource ?? randomBytes(6).toString('base64url');
    if (resource !== null) {
      const a = parseAddress(`${user}/${resource}`);
      res = a.resource!;
    }
    if (sessions.countOf(user) >= this.ctx.opts.maxSessionsPerUser && !sessions.get(user, res)) {
      throw new ParleyError('policy-violation', `at most ${this.ctx.opts.maxSessionsPerUser} sessions per user`);
    }
    const session = new Session(randomBytes(9).toString('base64url'), user, res, sink, this.newest(user, presence), this.ctx.now());
    session.available = opts.available ?? true;
    const old = sessions.add(session);
    this.ctx.metrics.sessions(old ? 0 : 1);
    // Clients ask for their roster right after binding, and the session's presence is fanned out along it: load
    // it now, alongside the rest of the bind, so both come from memory (RosterService keeps it while online).
    this.rosters.list(user).catch(() => undefined);
    if (old) {
      // RFC 6120 §7.7.2.2 (conflict): the newer session with the same resource wins.
      old.closed = true;
      old.sink.close('conflict', 'replaced by a new session with the same resource');
      // The replaced session's presence leaves the aggregate (its connection's own cleanup finds it gone).
      await this.presence.recompute(user);
    }
    const position = await this.ctx.store.messages.lastSeq();
    return { session, position };
  }

  /**
   * Replays what the session missed — everything after `since`, or the offline queue when `since` is null —
   * then releases live events, announces the session's presence and sends the contacts' presence.
   */
  async catchUp(session: Session, since: number | null, position: number): Promise<void> {
    const last = Math.max(position, since !== null ? await this.replaySince(session, since) : await this.replayOffline(session));
    // Entries queued before this server started, or replayed above by position, may still sit in the offline
    // queue: the session's first acknowledgement clears them (one delete), later ones cost nothing.
    this.offline.note(session.user, last);
    const { router } = this.ctx;
    router.finishCatchUp(session);
    await this.presence.recompute(session.user);
    await this.presence.sendSnapshot(session);
    router.toSession(session, router.outbound({ ev: 'synced', data: { position: last } }));
  }

  /** Releases live events to a session opened without a replay (an XMPP session right after binding). */
  goLive(session: Session): void {
    this.ctx.router.finishCatchUp(session);
  }

  /**
   * Publishes (or, with null, withdraws) a session's presence: XMPP initial presence, later updates and
   * unavailable (RFC 6121 §4.2-4.5). When the session starts taking messages for the bare address (available
   * with non-negative priority), the offline queue is replayed to it first (§8.5.2.2.1), with live events held
   * meanwhile so none is lost or repeated. The first time the session becomes available it gets the
   * presence of everyone it may see (§4.2.2, the answer to its probes). Returns the highest seq replayed, or 0.
   */
  async announce(session: Session, p: SessionPresence | null, startedAt = 0): Promise<number> {
    const firstTime = !session.available && p !== null;
    const took = session.takesBare;
    if (p !== null) session.presence = this.newest(session.user, p, session);
    session.available = p !== null;
    let replayed = 0;
    if (!took && session.takesBare) {
      session.pending ??= [];
      session.replayed ??= new Set();
      try {
        replayed = await this.replayOffline(session);
      } finally {
        this.ctx.router.finishCatchUp(session);
      }
      if (replayed > 0) this.offline.note(session.user, replayed);
    }
    await this.presence.recompute(session.user, startedAt);
    if (firstTime) await this.presence.sendSnapshot(session);
    return replayed;
  }

  /** Replays the log after `since` for the user (1:1 and rooms); returns the last seq sent. */
  private async replaySince(session: Session, since: number): Promise<number> {
    const { store, router } = this.ctx;
    const rooms = await store.rooms.roomsOf(session.user);
    let cursor = since;
    for (;;) {
      const page = await store.messages.since(session.user, rooms, cursor, REPLAY_PAGE);
      for (const r of page) router.replay(session, router.outbound(recordEvent(r, true)));
      if (page.length > 0) cursor = page[page.length - 1]!.seq;
      if (page.length < REPLAY_PAGE) return cursor;
    }
  }

  /** Replays the user's offline queue; returns the last seq sent (0 when empty). */
  private async replayOffline(session: Session): Promise<number> {
    const { store, router } = this.ctx;
    let cursor = 0;
    for (;;) {
      const page = await store.messages.offline(session.user, cursor, REPLAY_PAGE);
      for (const r of page) router.replay(session, router.outbound(recordEvent(r, true)));
      if (page.length > 0) cursor = page[page.length - 1]!.seq;
      if (page.length < REPLAY_PAGE) return cursor;
    }
  }

  /** Changes a session's presence and fans out the user's aggregate if it changed. */
  async setPresence(session: Session, p: SessionPresence, startedAt = 0): Promise<void> {
    session.presence = this.newest(session.user, p, session);
    await this.presence.recompute(session.user, startedAt);
  }

  /**
   * `p` stamped later than every other session's presence of the user. Aggregation lets the most recent
   * explicit choice win (core/presence.ts); two changes within one millisecond would otherwise tie and the
   * earlier one could win on rank.
   */
  private newest(user: string, p: SessionPresence, except?: Session): SessionPresence {
    let latest = -Infinity;
    for (const s of this.ctx.sessions.of(user)) if (s !== except) latest = Math.max(latest, s.presence.updatedAt);
    return p.updatedAt > latest ? p : { ...p, updatedAt: latest + 1 };
  }

  /**
   * History of the caller's conversation with a user or in a room (members only), paged by seq cursor. The
   * conversation is always the caller's own, so nobody can read another pair's messages.
   */
  async history(
    user: string,
    p: { with: string; before?: number | undefined; after?: number | undefined; limit?: number | undefined },
  ): Promise<{ messages: MessageView[]; more: boolean }> {
    const other = parseBare(p.with);
    const isRoom = this.ctx.directory.isRoomDomain(domainOf(other));
    if (isRoom) await this.rooms.requireMember(other, user);
    if (p.before !== undefined && p.after !== undefined) throw new ParleyError('bad-request', 'give before or after, not both');
    const limit = Math.min(p.limit ?? 50, this.ctx.opts.historyPageMax);
    const conv = conversationKey(isRoom ? 'groupchat' : 'chat', user, other);
    const rows = await this.ctx.metrics.storage('history', this.ctx.store.messages.history(conv, { before: p.before, after: p.after, limit: limit + 1 }));
    const more = rows.length > limit;
    // The store returns ascending; the extra row is the far end of the page in the paging direction.
    const page = more ? (p.after !== undefined ? rows.slice(0, limit) : rows.slice(1)) : rows;
    return { messages: page, more };
  }

  /** The client has processed everything up to `upTo`: drop it from the offline queue. */
  async ack(session: Session, upTo: number): Promise<void> {
    await this.offline.ack(session.user, upTo, () => this.ctx.store.messages.ackOffline(session.user, upTo));
  }

  /** A connection went away (cleanly or by heartbeat timeout): its session becomes unavailable. */
  async closeSession(session: Session): Promise<void> {
    session.closed = true;
    if (!this.ctx.sessions.remove(session)) return;
    this.ctx.metrics.sessions(-1);
    if (!this.ctx.sessions.isOnline(session.user)) {
      this.blocks.forget(session.user);
      this.rosters.invalidate(session.user);
    }
    await this.presence.recompute(session.user);
  }

  /** Ends the sessions of accounts removed by another process (the operator CLI). */
  private async dropRemovedAccounts(): Promise<void> {
    for (const user of [...this.ctx.sessions.onlineUsers()]) {
      if (await this.ctx.store.accounts.get(user)) continue;
      for (const s of [...this.ctx.sessions.of(user)]) {
        s.sink.close('not-authorized', 'the account was removed');
        await this.closeSession(s);
      }
    }
  }

  /** Closes every session (shutdown). */
  async closeAll(message: string): Promise<void> {
    const all = [...this.ctx.sessions.all()];
    for (const s of all) s.sink.close('shutdown', message);
    await Promise.all(all.map((s) => this.closeSession(s).catch(() => undefined)));
    this.ctx.directory.stop();
  }
}
