/**
 * Personal eventing (XEP-0163 PEP) delivery, for every owner of publish-subscribe nodes on a bare address: user
 * accounts (the pep module) and presence entities (entities.ts). Modules keep the nodes and decide who may see
 * an item; this file only delivers, through the Router, to the sessions that asked for a node's notifications
 * (Session.interests, an XMPP client's `<node>+notify` capabilities: "filtered notifications", §4.3), and sends
 * the last published items a session is owed when it becomes available or declares new interests (§4.3.2).
 */
import { sessionState } from '../core/presence.js';
import type { SessionPresence } from '../core/types.js';
import type { BlockService } from './block-service.js';
import type { RemoteSession } from './cluster.js';
import type { Ctx } from './context.js';
import type { Session } from './session.js';

/** An item published to (or retracted from) a node (XEP-0060 §7.1.2, §7.2.2), in both forms sessions take. */
export interface PepItem {
  node: string;
  /** The item id (XEP-0060 §7.1.2; a single-item node says `current`). */
  id: string;
  /** The payload for JSON clients. */
  data: Record<string, unknown>;
  /** The payload element, serialised, for XMPP clients (empty for a retraction). */
  xml: string;
  /** A retraction (XEP-0060 §7.2.2.1 `<retract id/>`), not a publication. */
  retract?: boolean;
}

/** An owner's item as a source of last items gives it. */
export interface OwnedItem {
  owner: string;
  item: PepItem;
}

/**
 * A module's nodes, as a source of the last published items (XEP-0163 §4.3.2) a session becoming available is
 * owed: the engine names the owners whose presence the session's user receives (and the user itself).
 */
export interface PepSource {
  /**
   * The last item of each of `nodes` on each of `owners` that `viewer` may have now; owners the source does not
   * know give nothing. `owners` are `viewer` itself and the contacts whose presence it receives (to, both).
   */
  lastItems(viewer: string, owners: readonly string[], nodes: readonly string[]): Promise<OwnedItem[]>;
}

/** A roster item of a node's owner, as an audience predicate sees it. */
export interface PepContact {
  contact: string;
  /** The owner's groups for the contact (XEP-0060 §4.5 roster access model). */
  groups: readonly string[];
}

/**
 * Which of the owner's contacts (roster items with subscription from or both: those receiving its presence, the
 * XEP-0060 §4.5 presence access model) get an item besides the owner's own sessions; null: none of them.
 */
export type PepAudience = ((c: PepContact) => boolean) | null;

/** A session's presence as XEP-0060 §16.4.2 `pubsub#show-values` names it (RFC 6121 §4.7.2.1 show, or online). */
export type PepShow = 'online' | 'chat' | 'away' | 'xa' | 'dnd';

/** The show value of a session's presence: busy (an activity) is dnd, as XMPP shows it to contacts. */
export function showOf(p: SessionPresence): PepShow {
  const state = sessionState(p);
  return state === 'available' ? 'online' : state === 'busy' ? 'dnd' : state;
}

/** An explicit subscriber of a node (XEP-0060 §6.1): a user's bare address (every session) or one resource. */
export interface PepSubscriber {
  user: string;
  resource: string | null;
  /**
   * Subscription option `pubsub#show-values` (XEP-0060 §6.3): only sessions whose presence shows one of these
   * get notifications; absent or null: any.
   */
  show?: ReadonlySet<PepShow> | null;
}

/** Delivery of PEP notifications and of the last items a session is owed. */
export class PepService {
  private readonly sources: PepSource[] = [];

  /** `rosterOf` gives a user's roster (RosterService.list). */
  constructor(
    private readonly ctx: Ctx,
    private readonly blocks: BlockService,
    private readonly rosterOf: (user: string) => Promise<ReadonlyArray<{ contact: string; subscription: string; groups: string[] }>>,
  ) {}

  /** Adds a source of last items (a module's, at setup; the presence entities'). */
  register(source: PepSource): void {
    this.sources.push(source);
  }

  /**
   * A user published (or retracted) an item on one of its nodes (XEP-0163 §4.3.1): its own interested sessions
   * get it, and so do those of its online contacts that `audience` lets see it, unless one side blocks the other
   * (XEP-0191 §3.4: a blocked contact gets nothing of the user's).
   *
   * XEP-0163 §4 gives two grounds for a notification: a subscription (`subscribers`, explicit, XEP-0060 §6.1) and
   * shared presence with an interest shown by +notify (the auto-subscription, §4.1 and XEP-0060 §10.1). Options
   * belong to one subscription (XEP-0060 §6.3), so an explicit subscription's `pubsub#deliver` false or
   * `pubsub#show-values` never hold back what a +notify session takes on the presence ground; the module leaves
   * such a subscription out of `subscribers`, and its user's +notify sessions are served as if it did not exist.
   */
  async notify(owner: string, item: PepItem, audience: PepAudience, subscribers: readonly PepSubscriber[] = []): Promise<void> {
    const users = new Set<string>([owner]);
    if (audience !== null) {
      const { cluster } = this.ctx;
      for (const it of await this.rosterOf(owner)) {
        if (it.subscription !== 'from' && it.subscription !== 'both') continue;
        if (!cluster.isOnline(it.contact) || !audience(it) || (await this.blocked(owner, it.contact))) continue;
        users.add(it.contact);
      }
    }
    this.deliver(owner, item, users);
    if (subscribers.length > 0) await this.toSubscribers(owner, item, subscribers, users);
  }

  /**
   * Sends `owner`'s item to its explicit subscribers (XEP-0060 §6.1), with or without +notify (XEP-0163 §4), once
   * per session, to the sessions whose presence a subscriber's show-values admit (§6.3); the sessions of
   * `notified` users that took it for their +notify interest are skipped. Nothing is copied per session checked.
   */
  async toSubscribers(owner: string, item: PepItem, subscribers: readonly PepSubscriber[], notified: ReadonlySet<string> | null = null): Promise<void> {
    const { router, sessions, cluster } = this.ctx;
    const node = item.node;
    let out: ReturnType<typeof router.outbound> | null = null;
    // Only a user subscribed twice (bare and full address) can meet a session twice.
    const sent = subscribers.length > 1 ? new Set<object>() : null;
    let remote: RemoteSession[] | null = null;
    for (const sub of subscribers) {
      if (await this.blocked(owner, sub.user)) continue;
      const took = notified !== null && notified.has(sub.user);
      for (const s of sessions.of(sub.user)) {
        if (s.closed || !takes(s, sub, node, took) || sent?.has(s) === true) continue;
        sent?.add(s);
        router.toSession(s, (out ??= router.outbound({ ev: 'entity.item', data: { from: owner, ...item } })));
      }
      if (cluster.remoteCount === 0 || !cluster.hasRemote(sub.user)) continue;
      for (const r of cluster.remoteOf(sub.user)) {
        if (!takes(r, sub, node, took) || sent?.has(r) === true) continue;
        sent?.add(r);
        (remote ??= []).push(r);
      }
    }
    if (remote !== null) router.toRemote(remote, (out ??= router.outbound({ ev: 'entity.item', data: { from: owner, ...item } })));
  }

  /**
   * Sends `owner`'s item to the available sessions of `users` interested in its node, on every node of the
   * cluster. The Outbound is built once for all of them; the sessions on other nodes go in one hand-over.
   */
  deliver(owner: string, item: PepItem, users: Iterable<string>): void {
    const { router, sessions, cluster } = this.ctx;
    const out = router.outbound({ ev: 'entity.item', data: { from: owner, ...item } });
    const node = item.node;
    const clustered = cluster.remoteCount > 0;
    let remote: RemoteSession[] | null = null;
    for (const user of users) {
      for (const s of sessions.of(user)) if (notifies(s, node)) router.toSession(s, out);
      if (!clustered || !cluster.hasRemote(user)) continue;
      for (const r of cluster.remoteOf(user)) if (r.available && r.interests !== undefined && r.interests.includes(node)) (remote ??= []).push(r);
    }
    if (remote !== null) router.toRemote(remote, out);
  }

  /** The nodes any session of `user`, on any node of the cluster, asked notifications of. */
  interestsOf(user: string): Set<string> {
    const nodes = new Set<string>();
    for (const s of this.ctx.sessions.of(user)) for (const n of s.interests ?? []) nodes.add(n);
    for (const r of this.ctx.cluster.remoteOf(user)) for (const n of r.interests ?? []) nodes.add(n);
    return nodes;
  }

  /**
   * `user` now receives `owner`'s presence (a subscription was approved): its interested sessions get the last
   * items of `owner` it may have (XEP-0163 §4.3.2, send_last_published_item on subscription).
   */
  async subscribed(user: string, owner: string): Promise<void> {
    const nodes = this.interestsOf(user);
    if (nodes.size === 0 || (await this.blocked(owner, user))) return;
    for (const source of this.sources) {
      for (const found of await source.lastItems(user, [owner], [...nodes])) this.deliver(found.owner, found.item, [user]);
    }
  }

  /**
   * The last items of `nodes` the session is owed (§4.3.2): of its own account's nodes, and of every owner whose
   * presence its user receives, as the sources allow. Sent when it becomes available or declares new interests.
   */
  async lastItems(session: Session, nodes: Iterable<string>): Promise<void> {
    const wanted = [...nodes];
    if (wanted.length === 0 || this.sources.length === 0) return;
    const owners = [session.user];
    for (const it of await this.rosterOf(session.user)) if (it.subscription === 'to' || it.subscription === 'both') owners.push(it.contact);
    const { router } = this.ctx;
    for (const source of this.sources) {
      for (const { owner, item } of await source.lastItems(session.user, owners, wanted)) {
        // Blocks are checked for the owners that have something to send only (most contacts have nothing).
        if (owner !== session.user && (await this.blocked(owner, session.user))) continue;
        if (session.closed) return;
        if (notifies(session, item.node)) router.toSession(session, router.outbound({ ev: 'entity.item', data: { from: owner, ...item } }));
      }
    }
  }

  /** Whether either side blocks the other. */
  private async blocked(a: string, b: string): Promise<boolean> {
    return (await this.blocks.blocks(a, b)) || (await this.blocks.blocks(b, a));
  }
}

/**
 * Whether a subscriber's session (here or on another node) takes an item of `node` for the subscription: it is
 * available, it is the one subscribed (a full address) or any (a bare one), its show is among the subscription's
 * show-values, and it did not take the item already for its +notify interest (`took`: its user was notified so).
 */
function takes(s: Session | RemoteSession, sub: PepSubscriber, node: string, took: boolean): boolean {
  if (!s.available || (sub.resource !== null && s.resource !== sub.resource)) return false;
  if (sub.show != null && !sub.show.has(showOf(s.presence))) return false;
  if (!took) return true;
  const interests = s.interests;
  if (interests === null || interests === undefined) return true;
  return !(Array.isArray(interests) ? interests.includes(node) : (interests as ReadonlySet<string>).has(node));
}

/** Whether a session takes notifications of `node` now. */
export function notifies(s: Session, node: string): boolean {
  return !s.closed && s.available && s.interests !== null && s.interests.has(node);
}
