/**
 * Presence entities: addresses whose presence a module owns instead of an account (the presentities module's
 * things and processes). Users subscribe to them like to any contact (RFC 6121 §3) and the engine answers on the
 * entity's behalf; the entity keeps no roster of its own.
 *
 * A module registers a provider (ModuleApi.presenceEntities): which bare addresses it owns, whether a viewer
 * may see one, its presence now in the engine's shape, and, optionally, the last item of each of its
 * publish-subscribe nodes (XEP-0163 PEP; the item comes in both forms, JSON and the XMPP payload, because the
 * engine cannot render a module's payload itself). The module pushes changes (changed(), item()); the engine
 * delivers them, only through the Router, to the users whose roster item for the entity receives its presence
 * (subscription to or both) and who may still see it.
 *
 * Who watches an entity is read from the rosters (RosterStore.watchersOf, over the index on the contact
 * column) and cached per entity until a roster change touches the pair: the subscription state stays in one
 * place, the rosters RFC 6121 already keeps, so nothing can drift, and every node of a cluster reads the same
 * database and hears the same roster invalidations (engine.ts), so any node can fan an entity's change out.
 */
import { aggregatePresence } from '../core/presence.js';
import type { UserPresence } from '../core/types.js';
import type { BlockService } from './block-service.js';
import type { Ctx } from './context.js';
import type { OwnedItem, PepItem, PepService, PepSource } from './pep.js';

/** An entity's presence in the engine's presence shape; an entity's activity is free text (the module's). */
export type EntityPresence = Omit<UserPresence, 'activity'> & { activity: string | null };

/** The last published item of an entity's node (XEP-0163 §4.3.1), as JSON and as the XMPP payload element. */
export type EntityItem = PepItem;

/** What a module tells the engine about the entities it owns. */
export interface PresenceEntityProvider {
  /** Whether the bare address is one of this provider's entities now (asked often: answer from memory). */
  owns(address: string): boolean;
  /** Whether `viewer` (a bare user address) may see the entity (the module's visibility rules). */
  sees(address: string, viewer: string): Promise<boolean>;
  /** The entity's presence now; null when it does not exist (any longer). */
  presenceOf(address: string): EntityPresence | null;
  /** The last item of one of the entity's nodes, or null when it has none. */
  itemOf?(address: string, node: string): EntityItem | null;
}

/** An entity's presence when it shows nothing: unavailable (RFC 6121 §4.5). */
export function unavailableEntity(address: string): EntityPresence {
  return aggregatePresence(address, [], null);
}

/** The registry of presence entities, their watchers, and the delivery of their changes. */
export class EntityService implements PepSource {
  private readonly providers: PresenceEntityProvider[] = [];
  /** entity → users whose item receives its presence (from the rosters; dropped when a roster change touches it). */
  private readonly watching = new Map<string, Promise<ReadonlySet<string>>>();

  /**
   * `revoke` ends a user's subscription to an entity on the entity's behalf (RosterService.revokeEntity);
   * `pep` delivers the entities' items (pep.ts), and asks this service for their last items.
   */
  constructor(
    private readonly ctx: Ctx,
    private readonly blocks: BlockService,
    private readonly revoke: (user: string, entity: string) => Promise<void>,
    private readonly pep: PepService,
  ) {
    pep.register(this);
  }

  /** Adds a provider (a module's, at setup). */
  register(p: PresenceEntityProvider): void {
    this.providers.push(p);
  }

  /** The provider owning `address`, if it is an entity. */
  providerOf(address: string): PresenceEntityProvider | undefined {
    for (const p of this.providers) if (p.owns(address)) return p;
    return undefined;
  }

  /** Whether `address` is a presence entity now. */
  isEntity(address: string): boolean {
    return this.providers.length > 0 && this.providerOf(address) !== undefined;
  }

  /** Whether `viewer` may see the entity: the owner's rules, and no block by the viewer (XEP-0191). */
  async sees(entity: string, viewer: string): Promise<boolean> {
    const p = this.providerOf(entity);
    if (!p) return false;
    if (await this.blocks.blocks(viewer, entity)) return false;
    return p.sees(entity, viewer);
  }

  /** The entity's presence now (unavailable when it is unknown). */
  presenceOf(entity: string): EntityPresence {
    return this.providerOf(entity)?.presenceOf(entity) ?? unavailableEntity(entity);
  }

  /** Users whose roster item for `entity` receives its presence. */
  watchersOf(entity: string): Promise<ReadonlySet<string>> {
    let w = this.watching.get(entity);
    if (!w) {
      w = this.ctx.store.rosters.watchersOf(entity).then((list) => new Set(list));
      this.watching.set(entity, w);
      w.catch(() => this.watching.delete(entity));
    }
    return w;
  }

  /** Forgets cached watchers of the given addresses (a roster change touched them), or of every entity. */
  invalidate(...addresses: string[]): void {
    if (addresses.length === 0) this.watching.clear();
    for (const a of addresses) this.watching.delete(a);
  }

  /** Whether `user` watches `entity` and may see it (a probe, RFC 6121 §4.3). */
  async watchedBy(entity: string, user: string): Promise<boolean> {
    return (await this.watchersOf(entity)).has(user) && (await this.sees(entity, user));
  }

  /**
   * The entity changed (its presence, who may see it, or it is gone: `presence` null). Online watchers who may
   * still see it get the presence; online watchers it no longer lets see it lose their subscription
   * (unsubscribed, then unavailable: RFC 6121 §3.2). Offline watchers are judged when they next log in
   * (loggedIn()), so a change costs nothing per offline watcher; a removed entity ends every subscription now.
   */
  async changed(entity: string, presence: EntityPresence | null): Promise<void> {
    const { live, gone } = await this.split(entity, presence !== null, presence !== null);
    if (live.length > 0) {
      const { router } = this.ctx;
      router.toUsers(live, router.outbound({ ev: 'presence', data: { ...presence } }));
    }
    for (const u of gone) await this.revoke(u, entity);
  }

  /**
   * Whether `user`, logging in with a subscription to `entity`, may see it (for the login's presence snapshot).
   * One the entity's module no longer lets see it loses the subscription now (what changed() left for later).
   */
  async loggedIn(user: string, entity: string): Promise<boolean> {
    const p = this.providerOf(entity);
    if (!p || !(await p.sees(entity, user))) {
      this.revoke(user, entity).catch((e: unknown) => this.ctx.log.error({ err: e, user, entity }, 'ending a subscription to an entity failed'));
      return false;
    }
    return !(await this.blocks.blocks(user, entity));
  }

  /**
   * A new item on one of the entity's nodes (XEP-0163 §4.3): to the watchers' available sessions that asked for
   * the node's notifications (Session.interests), on every node of the cluster.
   */
  async item(entity: string, item: EntityItem): Promise<void> {
    const { live } = await this.split(entity, true, true);
    this.pep.deliver(entity, item, live);
  }

  /**
   * A user's subscription to the entity began: the user's interested sessions get the last item of each node
   * they want (XEP-0163 §4.3.1, "last published item" on a new presence subscription).
   */
  subscribed(user: string, entity: string): void {
    const p = this.providerOf(entity);
    if (!p?.itemOf) return;
    // At once (the provider answers from memory), so the item follows the subscription's presence.
    for (const n of this.pep.interestsOf(user)) {
      const item = p.itemOf(entity, n);
      if (item) this.pep.deliver(entity, item, [user]);
    }
  }

  /**
   * As a PepSource: the last items of `nodes` of the entities among `owners` (those `viewer` watches) that it
   * may see (XEP-0163 §4.3.1), for a session that becomes available or declares new interests.
   */
  async lastItems(viewer: string, owners: readonly string[], nodes: readonly string[]): Promise<OwnedItem[]> {
    const found: OwnedItem[] = [];
    if (this.providers.length === 0) return found;
    for (const owner of owners) {
      const p = this.providerOf(owner);
      if (!p?.itemOf || !(await this.sees(owner, viewer))) continue;
      for (const node of nodes) {
        const item = p.itemOf(owner, node);
        if (item) found.push({ owner, item });
      }
    }
    return found;
  }

  /**
   * The entity's watchers (`online`: only those with a session on some node), split into those who may see it
   * now (`live`) and those its module no longer lets see it (`gone`, or all of them once it is gone). A watcher
   * who blocks the entity is in neither: XEP-0191 withholds the presence but keeps the subscription.
   */
  private async split(entity: string, exists: boolean, online: boolean): Promise<{ live: string[]; gone: string[] }> {
    const { cluster } = this.ctx;
    const watchers = [...(await this.watchersOf(entity))].filter((u) => !online || cluster.isOnline(u));
    const p = exists ? this.providerOf(entity) : undefined;
    const verdicts = await Promise.all(
      watchers.map(async (u) => {
        if (!p || !(await p.sees(entity, u))) return 'gone';
        return (await this.blocks.blocks(u, entity)) ? 'blocked' : 'live';
      }),
    );
    const live: string[] = [];
    const gone: string[] = [];
    watchers.forEach((u, i) => {
      if (verdicts[i] === 'live') live.push(u);
      else if (verdicts[i] === 'gone') gone.push(u);
    });
    return { live, gone };
  }
}
