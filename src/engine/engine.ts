/**
 * The protocol-neutral engine: sessions, presence, rosters, messages, rooms. Front doors (JSON WebSocket,
 * HTTP, later XMPP) translate their frames into calls on this object and get events back through their Sink.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import { parseAddress } from '../core/address.js';
import { aggregatePresence } from '../core/presence.js';
import type { MessageView, RoomRole, SessionPresence } from '../core/types.js';
import type { Bus } from '../ports/bus.js';
import type { ReadMarker, Store } from '../ports/store.js';
import { AdminService } from './admin-service.js';
import { AuthService, type AuthOptions } from './auth-service.js';
import { BlockService } from './block-service.js';
import { Cluster, type ClusterOptions, type UserSession } from './cluster.js';
import { ClusterRoutes } from './cluster-routes.js';
import { limitOf, type CacheChange, type Ctx, type EngineMetrics, type EngineOptions, type Logger } from './context.js';
import { Directory } from './directory.js';
import { DomainRoutes, type DomainRoute, type RoutedStanza } from './domain-routes.js';
import { EntityService, type EntityItem, type EntityPresence, type PresenceEntityProvider } from './entities.js';
import { EventHub } from './events.js';
import { PepService, type PepAudience, type PepItem, type PepSource, type PepSubscriber } from './pep.js';
import { LocalBus } from './local-bus.js';
import { MessageService } from './message-service.js';
import { OfflineTracker } from './offline-tracker.js';
import type { ModuleEventName, Outbound } from './outbound.js';
import { PresenceService } from './presence-service.js';
import { ProfileService } from './profile-service.js';
import { ReadLimiter } from './read-limiter.js';
import { HistoryReads, type HistoryPaging, type LeftRooms, type ReadScope } from './history-reads.js';
import { LogReplay } from './replay.js';
import { SessionEnds } from './session-ends.js';
import { RemotePresence } from './remote-presence.js';
import { RemoteRooms } from './remote-rooms.js';
import { HANDLED, RemoteService, type Accepted, type AccountIqAnswerer, type InboundStanza, type RouteHandle } from './remote-service.js';
import { ServerIqs, type ServerIqReply, type ServerIqRequest } from './server-iq.js';
import { DeviceStates } from './device-states.js';
import { RoomService } from './room-service.js';
import { RosterService } from './roster-service.js';
import { Router, type DeliveryObserver } from './router.js';
import { Session, SessionRegistry, type ClientProtocol, type Sink } from './session.js';

/** What the engine is built from (the composition root supplies it). */
export interface EngineDeps {
  store: Store;
  options: EngineOptions;
  auth: AuthOptions;
  log: Logger;
  metrics: EngineMetrics;
  now?: () => number;
  observer?: DeliveryObserver;
  /** What crosses processes (ports/bus.ts); the in-process LocalBus when not given. */
  bus?: Bus;
  /** Heartbeat timing of the cluster layer (cluster.ts), when several processes share the bus. */
  cluster?: ClusterOptions;
}

/** The bus subject on which a server tells the others that data changed under their caches. */
const INVALIDATE = 'cache.invalidate';

/** Defaults of the limits.* options of the same names (src/app/config.ts), for engines built without them. */
const READS_IN_FLIGHT = 4;
const READS_QUEUED = 8;
/** What is connected now across the cluster (Engine.liveCounts). */
export interface LiveCounts {
  sessions: number;
  byProtocol: Record<ClientProtocol, number>;
  onlineUsers: number;
}

/** The engine facade used by every front door. */
export class Engine {
  readonly ctx: Ctx;
  readonly presence: PresenceService;
  readonly rosters: RosterService;
  readonly rooms: RoomService;
  readonly messages: MessageService;
  readonly auth: AuthService;
  readonly blocks: BlockService;
  readonly profiles: ProfileService;
  readonly admin: AdminService;
  /** Presence entities owned by modules (things, processes): registry, watchers, delivery (entities.ts). */
  readonly entities: EntityService;
  /** PEP delivery (XEP-0163) for accounts' and entities' nodes (pep.ts). */
  readonly pep: PepService;
  /** Stanzas to and from domains served by routes (remote-service.ts, domain-routes.ts). */
  private readonly remote: RemoteService;
  /** Modules' iq requests to routed domains and their answers (server-iq.ts). */
  private readonly serverIqs: ServerIqs;
  /** Whether sessions' devices are reachable live: XEP-0198 hibernation, XEP-0352 inactivity (device-states.ts). */
  readonly devices: DeviceStates;
  /** Presence with contacts on routed domains and directed presence to them (remote-presence.ts). */
  private readonly remotePresence: RemotePresence;
  /** Occupants on routed domains in this server's rooms (remote-rooms.ts). */
  private readonly remoteRooms: RemoteRooms;
  /** Routes of other nodes served here, and this node's told to them (cluster-routes.ts). */
  private readonly clusterRoutes: ClusterRoutes;
  private readonly offline: OfflineTracker;
  /** Sessions' accounts and credentials, and the ending of those that lost them (session-ends.ts). */
  private readonly ends: SessionEnds;
  /** Replays of the log to sessions that (re)connect (replay.ts). */
  private readonly replays: LogReplay;
  /** History pages and read scopes (history-reads.ts). */
  private readonly reads: HistoryReads;

  /**
   * The bus port: cache invalidation, and through the cluster layer (cluster.ts) sessions, delivery and presence
   * of users connected to other processes.
   */
  readonly bus: Bus;
  /**
   * This engine's id on the bus, its cluster node id (it ignores its own invalidations, which it applied at
   * once). Letters and digits only, since it is a word of bus subjects.
   */
  private readonly busId = randomBytes(9).toString('hex');
  /** Tells the other nodes that a session's routing state changed (Session.onChange). */
  private readonly announceChange = (s: Session): void => this.ctx.cluster.updated(s);

  constructor(deps: EngineDeps) {
    const sessions = new SessionRegistry();
    this.bus = deps.bus ?? new LocalBus(deps.log);
    const now = deps.now ?? Date.now;
    const cluster = new Cluster(this.busId, this.bus, sessions, deps.log, now, deps.cluster);
    this.offline = new OfflineTracker({
      maxMessages: limitOf(deps.options, 'maxOfflineMessages'),
      maxBytes: limitOf(deps.options, 'maxOfflineBytes'),
    }, () => deps.metrics.refused('offline-queue-full'));
    // When another process changed data, cached audiences and member lists may be stale too.
    const invalidate = (external: boolean): void => {
      this.presence.invalidate();
      this.rosters.invalidate();
      this.entities.invalidate();
      this.rooms.invalidate();
      this.blocks.invalidate();
      this.offline.invalidate();
      // The admin API ends removed users' sessions itself; the operator CLI (another process) cannot.
      if (external) {
        this.ends.sweepAccounts().catch((e: unknown) => deps.log.error({ err: e }, 'session sweep failed'));
        void this.ctx.events.emit('store.changed', {});
      }
    };
    // Applied here at once (callers rely on fresh caches when the change returns), and told to the other
    // servers on the bus; with the in-process bus nobody else listens.
    const directory = new Directory(deps.store, deps.options.roomSubdomain, (external) => {
      invalidate(external);
      if (!external) this.bus.publish(INVALIDATE, { from: this.busId });
    });
    // A message naming what changed (CacheChange, from another node's engine) drops just that; one without
    // (another server's admin API) drops every cache and sweeps the sessions.
    this.bus.subscribe(INVALIDATE, (m) => {
      const c = m as CacheChange & { from?: string };
      if (c.from === this.busId) return;
      if (c.rooms === undefined && c.rosters === undefined && c.blocks === undefined) {
        invalidate(true);
        return;
      }
      for (const room of c.rooms ?? []) this.rooms.dropMembers(room);
      if (c.rosters) {
        this.rosters.invalidate(...c.rosters);
        this.presence.invalidate(...c.rosters);
        this.entities.invalidate(...c.rosters);
      }
      if (c.blocks) {
        for (const u of c.blocks) this.blocks.forget(u);
        this.presence.invalidate();
      }
    });
    this.ctx = {
      store: deps.store,
      sessions,
      cluster,
      router: new Router(sessions, deps.observer ?? null, cluster),
      directory,
      routes: new DomainRoutes((d) => directory.hostsDomain(d) || directory.isRoomDomain(d)),
      now,
      opts: deps.options,
      log: deps.log,
      metrics: deps.metrics,
      reads: new ReadLimiter(deps.options.readsInFlightPerUser ?? READS_IN_FLIGHT, deps.options.readsQueuedPerUser ?? READS_QUEUED, () =>
        deps.metrics.refused('heavy-reads'),
      ),
      events: new EventHub(deps.log),
      changed: (change) => {
        if (cluster.peerCount > 0) this.bus.publish(INVALIDATE, { from: this.busId, ...change });
      },
    };
    this.clusterRoutes = new ClusterRoutes(cluster, this.bus, this.ctx.routes, deps.log);
    this.remotePresence = new RemotePresence(this.ctx, {
      rosterOf: (user) => this.rosters.list(user),
      audienceOf: (user) => this.presence.audienceOf(user),
      resourcesOf: (user) => this.presence.resourcesOf(user),
      blocks: (owner, other) => this.blocks.blocks(owner, other),
    });
    this.presence = new PresenceService(this.ctx, (user) => this.rosters.list(user), () => this.entities, this.remotePresence);
    this.blocks = new BlockService(this.ctx, this.presence);
    this.pep = new PepService(this.ctx, this.blocks, (user) => this.rosters.list(user));
    this.entities = new EntityService(this.ctx, this.blocks, (user, entity) => this.rosters.revokeEntity(user, entity), this.pep);
    this.rosters = new RosterService(this.ctx, this.presence, this.blocks, this.entities, this.remotePresence);
    this.rooms = new RoomService(this.ctx, this.presence, this.blocks);
    this.reads = new HistoryReads(this.ctx, this.rooms);
    this.replays = new LogReplay(this.ctx);
    this.ends = new SessionEnds(this.ctx, {
      close: (s) => this.closeSession(s),
      forget: (user) => {
        this.presence.forget(user);
        this.blocks.forget(user);
        this.rosters.invalidate(user);
      },
      recompute: (user) => this.presence.recompute(user),
    });
    this.messages = new MessageService(this.ctx, this.rooms, this.offline, this.blocks, (s) =>
      this.ends.createdSeqOf(s),
    );
    this.blocks.remoteChanged = (user, entries, blocked) => this.remotePresence.blockChanged(user, entries, blocked);
    this.remoteRooms = new RemoteRooms(this.ctx, this.rooms, this.messages, this.remotePresence, async (user, room, limit) => (await this.history(user, { with: room, limit })).messages);
    this.messages.roomFanout = (r) => this.remoteRooms.fanout(r);
    this.messages.roomLiveFanout = (room, from, id, xml) => this.remoteRooms.liveFanout(room, from, id, xml);
    this.rooms.remoteOccupants = (room) => this.remoteRooms.occupantsOf(room);
    this.rooms.remotePrivate = (room, from, to, msg) => this.remoteRooms.privateFromLocal(room, from, to, msg);
    this.rooms.remoteRole = (room, user, role, voice) => this.remoteRooms.roleChanged(room, user, role, voice);
    this.remoteRooms.listen(this.ctx.events);
    this.remote = new RemoteService(this.ctx, this.messages, this.blocks, this.rosters, this.remotePresence, this.remoteRooms);
    this.serverIqs = new ServerIqs(this.ctx);
    this.clusterRoutes.answered = (route, s) => this.serverIqs.take(route, s);
    this.devices = new DeviceStates(sessions);
    this.auth = new AuthService(this.ctx, deps.auth);
    this.profiles = new ProfileService(this.ctx);
    this.admin = new AdminService(this.ctx, deps.options.scramIterations, {
      endSessions: (users, message, code) => this.ends.endSessionsOf(users, message, null, true, code),
      endSession: (user, resource, message) => this.ends.endResource(user, resource, message),
      rooms: this.rooms,
    });
  }

  /** Loads caches, starts watching for changes made by other processes and joins the other nodes on the bus. */
  async start(watchMs = 1000): Promise<void> {
    this.joinCluster();
    await this.auth.start();
    await this.ctx.directory.refresh();
    this.ctx.directory.watch(watchMs);
  }

  /**
   * Subscribes to the cluster's subjects. What other nodes report changes this node's view: their users'
   * presence aggregates are recomputed without fan-out (the node where the change happened fans it out), except
   * when a node dies, when the alive node with the smallest id fans out for it (Cluster.speaksForTheDead).
   */
  private joinCluster(): void {
    const { cluster, router, log } = this.ctx;
    const failed = (what: string) => (e: unknown) => log.error({ err: e }, what);
    this.clusterRoutes.start();
    cluster.start({
      deliver: (m) => router.deliverFromNode(m),
      changed: (user, takeOver) => {
        (takeOver ? this.presence.recompute(user) : this.presence.refresh(user)).catch(failed('presence after a cluster change failed'));
      },
      conflict: (local) => {
        // RFC 6120 §7.7.2.2: the newer session with the same resource, here on another node, wins.
        local.sink.close('conflict', 'replaced by a new session with the same resource');
        this.closeSession(local).catch(failed('closing a replaced session failed'));
      },
      end: (r) => {
        const ending =
          r.credential !== undefined
            ? this.ends.endLocalCredentialSessions(r.credential, r.reason)
            : this.ends.endSessionsOf(r.users, r.reason, r.keep, false, r.code ?? 'not-authorized', r.resource);
        ending.catch(failed('ending sessions for another node failed'));
      },
    });
  }

  /**
   * The sessions of `user` on every node, this node's first: routing state only (resource, presence,
   * availability, carbons), whichever process holds them.
   */
  sessionsOf(user: string): UserSession[] {
    return this.ctx.cluster.sessionsOf(user);
  }

  /** Whether `user` has a session on any node. */
  isOnline(user: string): boolean {
    return this.ctx.cluster.isOnline(user);
  }

  /** The most messages one history page holds (limits.historyPageMax): MAM pages by it too. */
  get historyPageMax(): number {
    return this.ctx.opts.historyPageMax;
  }

  /** The engine's events (events.ts): modules hook them. */
  get events(): EventHub {
    return this.ctx.events;
  }

  /** Whether this engine is a node of a cluster: its bus reaches other processes (Bus.shared). */
  get clustered(): boolean {
    return this.bus.shared === true;
  }

  /** This node's id in the cluster (a word of bus subjects; new at every start). */
  get nodeId(): string {
    return this.ctx.cluster.node;
  }

  /**
   * What is connected now on every node: sessions, the same by front door and transport (a session announced by a
   * node that predates protocols counts as `other`) and users with at least one session. Read-only, from memory.
   */
  liveCounts(): LiveCounts {
    const byProtocol: Record<ClientProtocol, number> = { json: 0, 'xmpp-tcp': 0, 'xmpp-websocket': 0, 'xmpp-bosh': 0, other: 0 };
    let sessions = 0;
    for (const s of this.ctx.sessions.all()) {
      byProtocol[s.protocol]++;
      sessions++;
    }
    for (const r of this.ctx.cluster.remoteSessions()) {
      byProtocol[r.protocol ?? 'other']++;
      sessions++;
    }
    return { sessions, byProtocol, onlineUsers: this.ctx.cluster.onlineUserCount() };
  }

  /** This process's sessions (read-only use by front doors and metrics); sessionsOf() covers every node. */
  get sessions(): SessionRegistry {
    return this.ctx.sessions;
  }

  /**
   * Opens a session for an authenticated user. Live events are held until catchUp() (or goLive()) releases
   * them; the caller replies to the client in between. Returns the log position at opening. A session opened
   * with `available: false` (XMPP before its initial presence, RFC 6121 §4.2) counts neither in the user's
   * presence nor for messages to the bare address until announce().
   *
   * `credentials` is the fingerprint the front door's authentication returned (AuthService.authenticate,
   * resolveSession, a SCRAM exchange's finish): a session authenticated before a password change is refused.
   */
  async openSession(
    user: string,
    resource: string | null,
    sink: Sink,
    presence: SessionPresence,
    opts: { available?: boolean; credentials?: string; credentialRef?: string } = {},
  ): Promise<{ session: Session; position: number }> {
    const { sessions } = this.ctx;
    // Read from the store, not a cache: the session is bound to the account as it is now (see sweepAccounts).
    // Before the checks below, so nothing is awaited between checking the session count and adding the session.
    const account = await this.ctx.store.accounts.get(user);
    if (!account) throw new ParleyError('not-authorized', 'the account was removed');
    // Every way in ends here, so a disabled account opens no session whatever authenticated it.
    if (account.disabled) throw new ParleyError('account-disabled', 'this account is disabled; an administrator can enable it');
    await this.ends.checkCredentials(user, account, opts.credentials);
    let res = resource ?? randomBytes(6).toString('base64url');
    if (resource !== null) {
      const a = parseAddress(`${user}/${resource}`);
      res = a.resource!;
    }
    const { cluster } = this.ctx;
    // The same resource bound on another node is replaced too: the new session is stamped later than it, and
    // that node, told of the opening, ends its own (Cluster: the later opening wins, RFC 6120 §7.7.2.2).
    const elsewhere = cluster.remoteCount > 0 ? cluster.remoteSession(user, res) : undefined;
    if (cluster.countOf(user) >= this.ctx.opts.maxSessionsPerUser && !sessions.get(user, res) && !elsewhere) {
      throw new ParleyError('policy-violation', `at most ${this.ctx.opts.maxSessionsPerUser} sessions per user`);
    }
    const openedAt = elsewhere ? Math.max(this.ctx.now(), elsewhere.openedAt + 1) : this.ctx.now();
    const session = new Session(randomBytes(9).toString('base64url'), user, res, sink, this.newest(user, this.presence.extend(user, presence)), openedAt);
    this.ends.opened(session, account, opts.credentialRef);
    session.available = opts.available ?? true;
    session.onChange = this.announceChange;
    const old = sessions.add(session);
    cluster.opened(session);
    if (old) cluster.closed(old);
    this.ctx.metrics.sessions(old ? 0 : 1);
    await this.ctx.events.emit('session.opened', { user, resource: res, id: session.id, protocol: session.protocol });
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
    const last = Math.max(position, since !== null ? await this.replays.since(session, since) : await this.replays.offline(session));
    // Entries queued before this server started, or replayed above by position, may still sit in the offline
    // queue: the session's first acknowledgement clears them (one delete), later ones cost nothing.
    this.offline.note(session.user, last);
    const { router } = this.ctx;
    router.finishCatchUp(session);
    await this.presence.recompute(session.user);
    // RFC 6121 §4.3.1: the user's first available resource probes the remote contacts.
    if (session.available && !this.presence.resourcesOf(session.user).some((r) => r.resource !== session.resource)) await this.remotePresence.probe(session.user);
    await this.presence.sendSnapshot(session);
    if (session.interests) await this.pep.lastItems(session, session.interests);
    router.toSession(session, router.outbound({ ev: 'synced', data: { position: last } }));
  }

  /**
   * Adds a module's presence entities (entities.ts): addresses that are not accounts, whose presence the module
   * owns. Users subscribe to them like to any contact; the engine answers for them.
   */
  presenceEntities(provider: PresenceEntityProvider): void {
    this.entities.register(provider);
  }

  /**
   * A presence entity changed (its presence, who may see it, or it is gone: null). Its watchers who may still
   * see it get the presence through the Router; the others lose their subscription (RFC 6121 §3.2).
   */
  entityChanged(address: string, presence: EntityPresence | null): Promise<void> {
    return this.entities.changed(address, presence);
  }

  /** A new item on a presence entity's node: to its watchers' sessions interested in the node (XEP-0163 §4.3). */
  entityItem(address: string, item: EntityItem): Promise<void> {
    return this.entities.item(address, item);
  }

  /** Adds a module's source of last PEP items (pep.ts), sent to sessions that become available (XEP-0163 §4.3.2). */
  pepSource(source: PepSource): void {
    this.pep.register(source);
  }

  /**
   * A user's new (or retracted) item on one of its nodes: to its own sessions and the contacts `audience` lets
   * see it, those interested in the node (XEP-0163 §4.3), through the Router.
   */
  pepNotify(owner: string, item: PepItem, audience: PepAudience, subscribers?: readonly PepSubscriber[]): Promise<void> {
    return this.pep.notify(owner, item, audience, subscribers);
  }

  /**
   * The publish-subscribe nodes whose notifications a session wants (XEP-0163 §4.3: an XMPP client's
   * `+notify` capabilities). Nodes new to an available session get their last items at once (§4.3.1).
   */
  async setInterests(session: Session, nodes: ReadonlySet<string>): Promise<void> {
    const before = session.interests;
    session.interests = nodes;
    const added = [...nodes].filter((n) => !before?.has(n));
    if (session.available && added.length > 0) await this.pep.lastItems(session, added);
  }

  /**
   * Sends a ready XMPP stanza a module made (a publish-subscribe service's message from the user's own bare
   * address: XEP-0060 §8.6.1 authorization requests, §8.6.2 their outcome) to every XMPP session of `user`, on
   * every node of the cluster, through the Router; JSON sessions skip it.
   */
  stanzaToUser(user: string, xml: string): void {
    const { router } = this.ctx;
    router.toUser(user, router.outbound({ ev: 'stanza', data: { xml }, stanzasOnly: true }));
  }

  /**
   * Relays a ready stanza to the session `bare`/`resource` (an XMPP iq to another user's full address, RFC 6121
   * §8.5.3.1), through the Router like every delivery. `takes` says whether a session's connection speaks the
   * stanza's codec. Returns false, delivering nothing, when there is no such session or it cannot take it.
   */
  relayStanza(bare: string, resource: string, xml: string, takes: (sink: Sink) => boolean): boolean {
    const { router, cluster } = this.ctx;
    const target = this.ctx.sessions.get(bare, resource);
    if (!target) {
      // On another node: relayed if its connection takes ready stanzas (what `takes` asks here).
      const remote = cluster.remoteCount > 0 ? cluster.remoteSession(bare, resource) : undefined;
      if (!remote?.stanzas) return false;
      router.toRemote([remote], router.outbound({ ev: 'stanza', data: { xml } }), true);
      return true;
    }
    if (!takes(target.sink)) return false;
    router.toSession(target, router.outbound({ ev: 'stanza', data: { xml } }));
    return true;
  }

  /**
   * Adds a route for domains this server does not host (domain-routes.ts): a component's domain, later every
   * other domain for federation. Stanzas of local users to those domains are handed to `route.send` with their
   * `from` stamped; what the route's owner receives it hands in through the returned handle, whose `from` must
   * be on a domain this route serves. In a cluster, the exact domains it serves now are told to the other nodes,
   * whose users' stanzas for them are handed here (cluster-routes.ts); the owner calls `changed` when what it
   * serves changes (a component connected or left: DomainRoute.serves).
   */
  domainRoute(route: DomainRoute): RouteHandle {
    const handle = this.remote.register(route);
    const changed = (): void => this.clusterRoutes.changed();
    changed();
    // Answers to the server's own requests (serverIq), this node's or another's, are claimed before delivery.
    const accept = (s: InboundStanza, startedAt?: number): Promise<Accepted> => (this.serverIqs.take(route, s) || this.clusterRoutes.claim(s) ? Promise.resolve(HANDLED) : handle.accept(s, startedAt));
    return {
      accept,
      deliver: async (s, startedAt) => (await accept(s, startedAt)).done,
      remove: () => {
        handle.remove();
        changed();
      },
      changed,
    };
  }

  /**
   * Sets who answers iq gets routed domains send to accounts' bare addresses (RFC 6121 §8.5.1): the XMPP front
   * door, with the handlers a local client's iq to that address gets (remote-service.ts, AccountIq).
   */
  answerAccountIqs(fn: AccountIqAnswerer): void {
    this.remote.answerAccountIqs(fn);
  }

  /**
   * Sends an iq from a local account's bare address to an address on a routed domain, without a session (an
   * XEP-0357 §7 push publish to an app server), and resolves with its answer (server-iq.ts).
   */
  serverIq(request: ServerIqRequest): Promise<ServerIqReply> {
    return this.serverIqs.request(request);
  }

  /** Whether stanzas to `domain` go to a route (it is not hosted here and a route serves it). */
  isRouted(domain: string): boolean {
    return this.ctx.routes.routeOf(domain) !== null;
  }

  /**
   * Hands a session's stanza (presence, iq, a message that is not stored) to the route serving its `to`, with
   * `from` stamped (RFC 6120 §8.1.2.1); remote-server-not-found when no route serves the domain. Messages with a
   * body go through `messages.send`, which stores them and routes them alike.
   */
  routeRemote(session: Session, stanza: Omit<RoutedStanza, 'from'>): Promise<void> {
    return this.remote.toRemote(session, stanza);
  }

  /** The routed services under `domain` to list in its disco#items (XEP-0030 §4): connected components. */
  remoteServices(domain: string): Array<{ jid: string; name?: string }> {
    return this.ctx.routes.services(domain);
  }

  /**
   * The session enters (`present`) or leaves the live conversation of `room` (XEP-0045 §7.2, §7.14). The room's
   * other members hear of it once per user, on whichever node the user's sessions are: a second session
   * entering, or one of two leaving, changes nothing for them.
   */
  async occupy(session: Session, room: string, present: boolean, role?: string): Promise<void> {
    if (present) (session.rooms ??= new Set()).add(room);
    else if (session.rooms?.delete(room) && session.rooms.size === 0) session.rooms = null;
    const { cluster } = this.ctx;
    cluster.updated(session);
    for (const s of this.ctx.sessions.of(session.user)) if (s !== session && !s.closed && s.rooms?.has(room)) return;
    for (const r of cluster.remoteOf(session.user)) if (r.rooms.includes(room)) return;
    await this.rooms.announceOccupant(room, session.user, present, role);
    await this.remoteRooms.occupantChanged(room, session.user, present, role as RoomRole | undefined);
  }

  /**
   * XEP-0045 §7.7: an occupant already in `room` (this session entered it) changed its availability there by
   * sending presence to room/nick. Every occupant hears of it once: the room's members' sessions (room.occupant
   * with `presence`, the sender's own included) and the remote occupants through their routes, from room/nick
   * with the show and status sent and the occupant's item. Nothing is stored: the room's occupant list keeps the
   * person's aggregate presence. A session not in the room is not-acceptable (enter first, §7.2).
   */
  async roomPresence(session: Session, room: string, presence: SessionPresence): Promise<void> {
    if (session.rooms?.has(room) !== true) throw new ParleyError('not-acceptable', `enter ${room} before changing your presence there (XEP-0045 §7.7)`);
    const role = await this.rooms.requireMember(room, session.user);
    const { state, status } = aggregatePresence(session.user, [presence], null);
    await this.rooms.announceOccupant(room, session.user, true, role, { state, status });
    await this.remoteRooms.presenceChanged(room, session.user, role, { state, status });
  }

  /**
   * Delivers a module's own event (ModuleApi.push, named `<module>.<event>`) to one session, through the Router
   * like every delivery (held during catch-up, dropped once the session closed). Returns false when it is closed.
   * The same `data` object pushed to many sessions (same event) is one Outbound, encoded once for all of them:
   * a presence change to 5,000 JSON subscriptions was otherwise serialised 5,000 times.
   */
  pushToSession(session: Session, ev: ModuleEventName, data: Record<string, unknown>, startedAt = 0): boolean {
    if (session.closed) return false;
    const { router } = this.ctx;
    let out = this.pushed.get(data);
    if (out === undefined || out.event.ev !== ev || out.startedAt !== startedAt) {
      out = router.outbound({ ev, data }, startedAt);
      this.pushed.set(data, out);
    }
    router.toSession(session, out);
    return true;
  }

  /**
   * Delivers a module's own event to every session of `user` on every node (ModuleApi.pushToUser): the Router
   * hands it to this node's sessions and sends it once to each other node holding sessions of the user, whose
   * Router delivers it there (cluster.ts). Returns how many sessions of this node received it.
   */
  pushToUser(user: string, ev: ModuleEventName, data: Record<string, unknown>): number {
    const { router } = this.ctx;
    return router.toUser(user, router.outbound({ ev, data }));
  }

  /** The Outbound of each data object pushed (pushToSession). */
  private readonly pushed = new WeakMap<Record<string, unknown>, Outbound>();

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
    if (p !== null) session.presence = this.newest(session.user, this.presence.extend(session.user, p), session);
    session.available = p !== null;
    this.ctx.cluster.updated(session);
    let replayed = 0;
    if (!took && session.takesBare) {
      session.pending ??= [];
      session.replayed ??= new Set();
      try {
        replayed = await this.replays.offline(session);
      } finally {
        this.ctx.router.finishCatchUp(session);
      }
      if (replayed > 0) this.offline.note(session.user, replayed);
    }
    await this.presence.recompute(session.user, startedAt);
    // RFC 6121 §4.6.3: a session going unavailable withdraws the directed presence it sent across routes.
    if (p === null) this.remotePresence.endDirected(session);
    if (firstTime) {
      // §4.3.1: the user's first available resource probes the remote contacts (the answers arrive as presence).
      if (!this.presence.resourcesOf(session.user).some((r) => r.resource !== session.resource)) await this.remotePresence.probe(session.user);
      await this.presence.sendSnapshot(session);
      // XEP-0163 §4.3.1: a session becoming available gets the last item of the nodes it is interested in.
      if (session.interests) await this.pep.lastItems(session, session.interests);
    }
    return replayed;
  }

  /**
   * Runs the presence extenders again on a user's sessions here, because what they add changed (the user's
   * avatar hash, XEP-0153), and broadcasts the resources whose presence changed. Only `added` changes: the
   * stamps stay, so the aggregate's precedence (core/presence.ts) is what it was.
   */
  async refreshPresence(user: string): Promise<void> {
    let changed = false;
    for (const s of this.ctx.sessions.of(user)) {
      const p = this.presence.extend(user, s.presence);
      if (p === s.presence) continue;
      s.presence = p;
      this.ctx.cluster.updated(s);
      changed = true;
    }
    if (changed) await this.presence.recompute(user);
  }

  /** Changes a session's presence and fans out the user's aggregate if it changed. */
  async setPresence(session: Session, p: SessionPresence, startedAt = 0): Promise<void> {
    session.presence = this.newest(session.user, this.presence.extend(session.user, p), session);
    this.ctx.cluster.updated(session);
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
    for (const r of this.ctx.cluster.remoteOf(user)) latest = Math.max(latest, r.presence.updatedAt);
    return p.updatedAt > latest ? p : { ...p, updatedAt: latest + 1 };
  }

  /** History of the caller's conversation with a user or in a room (history-reads.ts). */
  history(user: string, p: HistoryPaging & { with: string }): Promise<{ messages: MessageView[]; more: boolean; read?: ReadMarker | null }> {
    return this.reads.history(user, p);
  }

  /** The newest position of the message log (what a record stored now comes after). */
  logPosition(): Promise<number> {
    return this.ctx.store.messages.lastSeq();
  }

  /**
   * Lets users read rooms they left up to where they left (history-reads.ts, LeftRooms), in history and in
   * readScope (so indexes such as search's find them up to there too): the module that remembers it
   * (conversations) registers the provider; without one, a former member reads nothing.
   */
  readLeftRooms(provider: LeftRooms): void {
    this.reads.readLeftRooms(provider);
  }

  /** The user's 1:1 messages of every conversation (XEP-0313 without "with"; history-reads.ts). */
  archive(user: string, p: HistoryPaging): Promise<{ messages: MessageView[]; more: boolean }> {
    return this.reads.archive(user, p);
  }

  /**
   * What `user` may read of the log now, by history's rules (history-reads.ts), for modules' indexes. `withLeft`
   * false skips the rooms the user left (`left` stays empty): for a caller that asks only about membership now.
   */
  readScope(user: string, withLeft = true): Promise<ReadScope> {
    return this.reads.readScope(user, withLeft);
  }

  /** The createdSeq of an account (cached), null when it does not exist: where its 1:1 history starts. */
  accountFloor(user: string): Promise<number | null> {
    return this.ctx.directory.createdSeq(user);
  }

  /**
   * Runs a module's read whose cost grows with the data (a search) within the user's heavy-read allowance, as
   * history pages run (ReadLimiter): past it, rate-limited.
   */
  heavyRead<T>(user: string, read: () => Promise<T>): Promise<T> {
    return this.ctx.reads.run(user, read);
  }

  /** The client has processed everything up to `upTo`: drop it from the offline queue. */
  async ack(session: Session, upTo: number): Promise<void> {
    await this.offline.ack(session.user, upTo, () => this.ctx.store.messages.ackOffline(session.user, upTo));
  }

  /**
   * Puts records already in the log (back) into the user's offline queue: messages sent to a session that ended
   * before the client confirmed them (XEP-0198 §5). Later acknowledgements clear them again.
   */
  requeueOffline(user: string, seqs: number[]): Promise<void> {
    return this.messages.requeueOffline(user, seqs);
  }

  /** A connection went away (cleanly or by heartbeat timeout): its session becomes unavailable. */
  async closeSession(session: Session): Promise<void> {
    session.closed = true;
    if (!this.ctx.sessions.remove(session)) return;
    this.ctx.cluster.closed(session);
    this.ctx.metrics.sessions(-1);
    await this.ctx.events.emit('session.closed', { user: session.user, resource: session.resource, id: session.id, protocol: session.protocol });
    if (!this.ctx.sessions.isOnline(session.user)) {
      this.blocks.forget(session.user);
      this.rosters.invalidate(session.user);
      this.ends.userGone(session.user);
    }
    await this.presence.recompute(session.user);
    this.remotePresence.endDirected(session);
  }

  /**
   * Changes a user's password (new SCRAM keys, every token revoked) and ends the user's other sessions: they
   * may run on the old password or on a stolen token. `keep`, the session that asked (XEP-0077 §3.3), stays.
   * The change passes the change.check gate first (events.ts): refused there, the old password stays.
   */
  async changePassword(user: string, password: string, keep: Session | null = null): Promise<void> {
    if ((await this.admin.kindOf(user)) === 'bot') throw new ParleyError('not-acceptable', `${user} is a bot: it has no password and logs in with an API key (docs/bots.md)`);
    const mark = await this.ctx.events.change({ type: 'account.changed', address: user, change: 'password', by: user }, () => this.auth.setPassword(user, password));
    this.ends.passwordChanged(user, mark);
    await this.ends.endSessionsOf([user], 'the password was changed', keep, true);
    await this.ctx.events.emit('account.changed', { address: user, change: 'password', by: user });
  }

  /**
   * Ends the sessions opened with a credential that was just revoked (an API key), on every node; returns how
   * many this node ended (session-ends.ts).
   */
  endCredentialSessions(ref: string, message: string): Promise<number> {
    return this.ends.endCredentialSessions(ref, message);
  }

  /**
   * Closes every session (shutdown). The other nodes are told first that this one leaves, so they drop its
   * sessions at once (the alive node with the smallest id fans out their users' presence).
   */
  async closeAll(message: string): Promise<void> {
    this.ctx.cluster.stop();
    this.clusterRoutes.stop();
    const all = [...this.ctx.sessions.all()];
    for (const s of all) s.sink.close('shutdown', message);
    await Promise.all(all.map((s) => this.closeSession(s).catch(() => undefined)));
    this.ctx.directory.stop();
  }
}


export type { HistoryPaging, ReadScope } from './history-reads.js';
