/**
 * Presence: each session publishes its own; each user has one aggregate (core/presence.ts) that goes only to
 * authorised subscribers — contacts with subscription from/both (RFC 6121 §4.2-4.5) and shared-group peers.
 */
import { ParleyError } from '../core/errors.js';
import { aggregatePresence, presenceEquals } from '../core/presence.js';
import { receivesPresenceOf, sendsPresenceTo } from '../core/roster.js';
import type { RosterItem, UserPresence } from '../core/types.js';
import type { UserSession } from './cluster.js';
import type { Ctx } from './context.js';
import type { EntityPresence, EntityService } from './entities.js';
import { KeyedQueue } from './keyed-queue.js';
import type { Session } from './session.js';

/** Aggregates, caches and fans out presence. */
export class PresenceService {
  private readonly current = new Map<string, UserPresence>();
  /** user → who may see that user's presence; kept for online users, dropped on roster change. */
  private readonly audiences = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly queue = new KeyedQueue();

  /**
   * `rosterOf` gives a user's roster as clients see it, shared-group peers included (RosterService.list, which
   * keeps the rosters of online users in memory), so presence reads no roster of its own. `entities` gives the
   * registry of presence entities (engine/entities.ts), whose presence their modules own.
   */
  constructor(
    private readonly ctx: Ctx,
    private readonly rosterOf: (user: string) => Promise<readonly RosterItem[]>,
    private readonly entities: () => EntityService,
  ) {}

  /** Forgets cached audiences (after roster or shared-group changes). */
  invalidate(...users: string[]): void {
    if (users.length === 0) this.audiences.clear();
    for (const u of users) this.audiences.delete(u);
  }

  /**
   * Forgets a user's presence without announcing or storing anything: its account was removed, and the address
   * may already belong to a new account whose last-seen time and status must not be the old one's.
   */
  forget(user: string): void {
    this.current.delete(user);
    this.audiences.delete(user);
  }

  /** Users allowed to see `user`'s presence. */
  audienceOf(user: string): Promise<ReadonlySet<string>> {
    let p = this.audiences.get(user);
    if (!p) {
      p = this.loadPeers(user, 'out');
      this.audiences.set(user, p);
      p.catch(() => this.audiences.delete(user));
    }
    return p;
  }

  /** Users whose presence `user` may see. */
  visibleTo(user: string): Promise<ReadonlySet<string>> {
    return this.loadPeers(user, 'in');
  }

  private async loadPeers(user: string, dir: 'in' | 'out'): Promise<ReadonlySet<string>> {
    const { store } = this.ctx;
    const [items, blocked, blockers] = await Promise.all([this.rosterOf(user), store.blocks.list(user), store.blocks.blockersOf(user)]);
    // Shared-group peers appear there with subscription both: they exchange presence either way.
    const peers = new Set<string>();
    for (const it of items) if (dir === 'out' ? sendsPresenceTo(it) : receivesPresenceOf(it)) peers.add(it.contact);
    // XEP-0191: no presence either way between a user and someone either of them blocks.
    if (blocked.length > 0 || blockers.length > 0) {
      const mine = new Set(blocked);
      const theirs = new Set(blockers);
      for (const p of peers) if (mine.has(p) || mine.has(p.slice(p.indexOf('@') + 1)) || theirs.has(p)) peers.delete(p);
    }
    // Kept per online user: the many without contacts share one empty Set.
    return peers.size === 0 ? NO_PEERS : peers;
  }

  /** A contact's presence now: a person's aggregate, or a presence entity's presence as its module says. */
  async contactPresence(contact: string): Promise<UserPresence | EntityPresence> {
    const entities = this.entities();
    if (entities.isEntity(contact)) return entities.presenceOf(contact);
    return this.presenceOf(contact);
  }

  /** The user's aggregate now (offline when no session). */
  async presenceOf(user: string): Promise<UserPresence> {
    const online = this.current.get(user);
    if (online) return online;
    const acc = await this.ctx.store.accounts.get(user);
    const p = aggregatePresence(user, [], acc?.lastSeen ?? null);
    return acc?.lastStatus ? { ...p, status: acc.lastStatus } : p;
  }

  /**
   * Recomputes `user`'s aggregate and, when it changed, sends it to the audience and the user's sessions.
   * Runs one at a time per user, so a quick logout/login cannot deliver the states out of order.
   */
  recompute(user: string, startedAt = 0): Promise<void> {
    return this.queue.run(user, () => this.doRecompute(user, startedAt));
  }

  /**
   * Brings `user`'s aggregate up to date after sessions on another node changed, without fanning it out or
   * storing anything: the node where the change happened did (cluster.ts). Queued with recompute().
   */
  refresh(user: string): Promise<void> {
    return this.queue.run(user, async () => {
      const sessions = this.availableSessions(user);
      if (sessions.length === 0) this.current.delete(user);
      else this.current.set(user, aggregatePresence(user, sessions.map((s) => s.presence), null));
    });
  }

  /** The presence of `user`'s available sessions on every node (RFC 6121 §4.2: only those count). */
  private availableSessions(user: string): UserSession[] {
    const sessions: UserSession[] = [];
    for (const s of this.ctx.sessions.of(user)) if (!s.closed && s.available) sessions.push(s);
    for (const r of this.ctx.cluster.remoteOf(user)) if (r.available) sessions.push(r);
    return sessions;
  }

  private async doRecompute(user: string, startedAt: number): Promise<void> {
    const sessions = this.availableSessions(user);
    const before = this.current.get(user);
    let next: UserPresence;
    if (sessions.length === 0) {
      const now = this.ctx.now();
      next = aggregatePresence(user, [], now);
      if (before?.status) next = { ...next, status: before.status };
      this.current.delete(user);
      await this.ctx.store.accounts.setLastSeen(user, now, next.status);
    } else {
      next = aggregatePresence(
        user,
        sessions.map((s) => s.presence),
        null,
      );
      this.current.set(user, next);
    }
    if (before && presenceEquals(before, next)) return;
    if (!before && sessions.length === 0) return;
    const audience = await this.audienceOf(user);
    if (sessions.length === 0) this.audiences.delete(user);
    const { router } = this.ctx;
    const out = router.outbound({ ev: 'presence', data: next as unknown as Record<string, unknown> }, startedAt);
    router.toUsers([user, ...audience], out);
    await this.ctx.events.emit('presence.changed', { user, presence: next });
  }

  /** Sends a new session the presence of everyone it may see, as one snapshot event. */
  async sendSnapshot(session: Session): Promise<void> {
    const peers = await this.visibleTo(session.user);
    const entities = this.entities();
    // An entity the user watches counts only while the user may still see it (its module's rules); a
    // subscription its module no longer allows ends now (EntityService.loggedIn).
    const all = await Promise.all(
      [...peers].map(async (p) => (!entities.isEntity(p) ? this.presenceOf(p) : (await entities.loggedIn(session.user, p)) ? entities.presenceOf(p) : null)),
    );
    const list = all.filter((p) => p !== null);
    list.push(this.current.get(session.user) ?? (await this.presenceOf(session.user)));
    const { router } = this.ctx;
    router.toSession(session, router.outbound({ ev: 'presence.snapshot', data: { presences: list } }));
  }

  /** Presence of one user (or presence entity the asker watches: RFC 6121 §4.3 probe), if the asker may see it. */
  async query(asker: string, target: string): Promise<UserPresence | EntityPresence> {
    const entities = this.entities();
    if (entities.isEntity(target)) {
      if (!(await entities.watchedBy(target, asker))) throw new ParleyError('forbidden', `you are not subscribed to the presence of ${target}`);
      return entities.presenceOf(target);
    }
    if (asker !== target && !(await this.audienceOf(target)).has(asker)) {
      throw new ParleyError('forbidden', `you are not subscribed to the presence of ${target}`);
    }
    return this.presenceOf(target);
  }

  /** Directed presence (RFC 6121 §4.6): only to users allowed to see the sender's presence. */
  async directed(session: Session, to: string): Promise<void> {
    if (!(await this.audienceOf(session.user)).has(to)) {
      throw new ParleyError('forbidden', `${to} is not subscribed to your presence`);
    }
    const p = aggregatePresence(session.user, [session.presence], null);
    const { router } = this.ctx;
    router.toUser(to, router.outbound({ ev: 'presence', data: { ...p, directed: true } }));
  }
}

const NO_PEERS: ReadonlySet<string> = new Set();
