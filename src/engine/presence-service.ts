/**
 * Presence: each session publishes its own; each user has one aggregate (core/presence.ts). Both go only to
 * authorised subscribers — contacts with subscription from/both (RFC 6121 §4.2-4.5) and shared-group peers —
 * and to the user's own sessions, in one event per change: the aggregate as its data (all a JSON session sees)
 * and each resource whose presence changed alongside (ServerEvent.resources), which XMPP sends from the
 * resource's full address (§4.2.2, §4.4.2, §4.5.2). Everything here is in memory, on every node.
 */
import { ParleyError } from '../core/errors.js';
import { aggregatePresence, aggregateResources, presenceEquals, resourceChanges } from '../core/presence.js';
import { receivesPresenceOf, sendsPresenceTo } from '../core/roster.js';
import type { ResourcePresence, RosterItem, SessionPresence, UserPresence } from '../core/types.js';
import type { UserSession } from './cluster.js';
import type { Ctx } from './context.js';
import type { EntityPresence, EntityService } from './entities.js';
import { KeyedQueue } from './keyed-queue.js';
import type { ServerEvent } from './outbound.js';
import type { RemotePresence } from './remote-presence.js';
import type { Session } from './session.js';

/**
 * Adds to a user's outgoing presence: serialised XML appended to the extensions of each presence a resource of
 * `user` publishes (e.g. XEP-0153 §4.3: the server's `vcard-temp:x:update` with the avatar hash), or null for
 * nothing. Called once per published presence, not per recipient.
 */
export type PresenceExtender = (user: string, presence: SessionPresence) => string | null;

/** An online user as last broadcast: the aggregate and each available resource's presence. */
interface Known {
  aggregate: UserPresence;
  resources: ReadonlyMap<string, SessionPresence>;
}

/** Aggregates, caches and fans out presence. */
export class PresenceService {
  private readonly current = new Map<string, Known>();
  private readonly extenders: PresenceExtender[] = [];
  /** user → who may see that user's presence; kept for online users, dropped on roster change. */
  private readonly audiences = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly queue = new KeyedQueue();

  /**
   * `rosterOf` gives a user's roster as clients see it, shared-group peers included (RosterService.list, which
   * keeps the rosters of online users in memory), so presence reads no roster of its own. `entities` gives the
   * registry of presence entities (engine/entities.ts), whose presence their modules own; `remote`, presence
   * across routes (remote-presence.ts): contacts on routed domains, whose presence their servers send.
   */
  constructor(
    private readonly ctx: Ctx,
    private readonly rosterOf: (user: string) => Promise<readonly RosterItem[]>,
    private readonly entities: () => EntityService,
    private readonly remote: RemotePresence,
  ) {}

  /**
   * Adds a presence extender (the hook point for modules that add an element to users' presence, such as an
   * avatar-hash module for XEP-0153/XEP-0398). Extenders run in the order added.
   */
  addExtender(fn: PresenceExtender): void {
    this.extenders.push(fn);
  }

  /**
   * `p` with what the extenders add now as its `added` (replacing what they added before); the same object when
   * that did not change.
   */
  extend(user: string, p: SessionPresence): SessionPresence {
    if (this.extenders.length === 0) return p;
    let text = '';
    for (const fn of this.extenders) text += fn(user, p) ?? '';
    const added = text === '' ? undefined : text;
    if (added === p.added) return p;
    const next = { ...p, added };
    if (added === undefined) delete next.added;
    return next;
  }

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
    this.remote.drop(user);
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
    if (online) return online.aggregate;
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
      else this.current.set(user, known(user, sessions));
    });
  }

  /** The presence of each of `user`'s available resources, on every node (none for a presence entity). */
  resourcesOf(user: string): ResourcePresence[] {
    return this.availableSessions(user).map((s) => ({ resource: s.resource, presence: s.presence }));
  }

  /**
   * The event telling someone newly allowed to see `contact` (or still allowed after an unblock) its presence
   * now: a person's aggregate with each available resource (none: unavailable), a presence entity's presence.
   */
  async eventOf(contact: string): Promise<ServerEvent> {
    const p = await this.contactPresence(contact);
    const data = p as unknown as Record<string, unknown>;
    return this.entities().isEntity(contact) ? { ev: 'presence', data } : { ev: 'presence', data, resources: { [contact]: this.resourcesOf(contact) } };
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
    const was = this.current.get(user);
    const before = was?.aggregate;
    const changes = resourceChanges(was?.resources, sessions);
    let next: UserPresence;
    if (sessions.length === 0) {
      const now = this.ctx.now();
      next = aggregatePresence(user, [], now);
      if (before?.status) next = { ...next, status: before.status };
      this.current.delete(user);
      await this.ctx.store.accounts.setLastSeen(user, now, next.status);
    } else {
      const k = known(user, sessions);
      next = k.aggregate;
      this.current.set(user, k);
    }
    const changed = before ? !presenceEquals(before, next) : sessions.length > 0;
    if (!changed && changes.length === 0) return;
    const audience = await this.audienceOf(user);
    if (sessions.length === 0) this.audiences.delete(user);
    const { router } = this.ctx;
    // One event for every recipient, encoded once per codec: a change of one resource that leaves the aggregate
    // as it was (new caps, a presence sent again) concerns the XMPP sessions only.
    const event: ServerEvent = { ev: 'presence', data: next as unknown as Record<string, unknown>, resources: { [user]: changes } };
    if (!changed) event.stanzasOnly = true;
    router.toUsers([user, ...audience], router.outbound(event, startedAt));
    // Subscribers on routed domains get each changed resource through their route (RFC 6121 §4.2.2, §4.4.2, §4.5.2).
    this.remote.broadcast(user, changes, audience);
    // Modules (presentities, webhooks) follow the person: a resource's own state alone is no change to them.
    if (changed && !(before && presenceEquals(before, next, false))) await this.ctx.events.emit('presence.changed', { user, presence: next });
  }

  /** Sends a new session the presence of everyone it may see, as one snapshot event. */
  async sendSnapshot(session: Session): Promise<void> {
    const peers = await this.visibleTo(session.user);
    const entities = this.entities();
    // An entity the user watches counts only while the user may still see it (its module's rules); a
    // subscription its module no longer allows ends now (EntityService.loggedIn).
    // A contact on a routed domain: what its server last sent (remote-presence.ts), offline when nothing yet.
    const remote = new Map<string, ResourcePresence[]>();
    const all = await Promise.all(
      [...peers].map(async (p) => {
        if (entities.isEntity(p)) return (await entities.loggedIn(session.user, p)) ? entities.presenceOf(p) : null;
        if (!this.remote.isRemote(p)) return this.presenceOf(p);
        const view = this.remote.viewOf(session.user, p);
        remote.set(p, view.resources);
        return view.aggregate;
      }),
    );
    const list = all.filter((p) => p !== null);
    list.push(await this.presenceOf(session.user));
    const event: ServerEvent = { ev: 'presence.snapshot', data: { presences: list } };
    if (session.sink.relaysStanzas === true) {
      // §4.2.2 / §4.3.2: each available resource of each person (the user's own included), for XMPP only.
      const resources: Record<string, ResourcePresence[]> = {};
      for (const p of list) if (!entities.isEntity(p.user)) resources[p.user] = remote.get(p.user) ?? this.resourcesOf(p.user);
      event.resources = resources;
    }
    const { router } = this.ctx;
    router.toSession(session, router.outbound(event));
  }

  /** Presence of one user (or presence entity the asker watches: RFC 6121 §4.3 probe), if the asker may see it. */
  async query(asker: string, target: string): Promise<UserPresence | EntityPresence> {
    const entities = this.entities();
    if (entities.isEntity(target)) {
      if (!(await entities.watchedBy(target, asker))) throw new ParleyError('forbidden', `you are not subscribed to the presence of ${target}`);
      return entities.presenceOf(target);
    }
    if (this.remote.isRemote(target)) {
      if (!(await this.visibleTo(asker)).has(target)) throw new ParleyError('forbidden', `you are not subscribed to the presence of ${target}`);
      return this.remote.viewOf(asker, target).aggregate;
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
    // To a contact on a routed domain: through its route, and withdrawn when the session ends (§4.6.3).
    if (this.remote.isRemote(to)) return this.remote.directedTo(session, to);
    const p = aggregatePresence(session.user, [session.presence], null);
    const { router } = this.ctx;
    // From the session's full address, with its extensions, for XMPP (§4.6.2).
    const resources = { [session.user]: [{ resource: session.resource, presence: session.presence }] };
    router.toUser(to, router.outbound({ ev: 'presence', data: { ...p, directed: true }, resources }));
  }
}

/** The aggregate and per-resource presence of a user with available sessions. */
function known(user: string, sessions: readonly UserSession[]): Known {
  const resources = new Map<string, SessionPresence>();
  for (const s of sessions) resources.set(s.resource, s.presence);
  return { aggregate: aggregateResources(user, sessions), resources };
}

const NO_PEERS: ReadonlySet<string> = new Set();
