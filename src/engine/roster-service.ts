/**
 * Rosters (contact lists) and the subscription handshake of RFC 6121 §3, between two local users; with a contact
 * on a routed domain the user's side is kept here and the contact's is its server's (remote-roster.ts).
 * Every change is pushed to all sessions of the users it touches (roster push, RFC 6121 §2.1.6).
 */
import { createHash } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import { applyInbound, applyOutbound, isEmptyItem, newRosterItem, receivesPresenceOf, type SubscriptionAction } from '../core/roster.js';
import { aggregatePresence } from '../core/presence.js';
import type { RosterItem } from '../core/types.js';
import { domainOf } from '../core/address.js';
import type { Ctx } from './context.js';
import { KeyedQueue } from './keyed-queue.js';
import type { BlockService } from './block-service.js';
import type { EntityService } from './entities.js';
import type { PresenceService } from './presence-service.js';
import type { RemotePresence } from './remote-presence.js';
import { RemoteRoster } from './remote-roster.js';

/** A roster item as clients see it: personal items plus shared-group peers. */
export interface RosterEntry extends RosterItem {
  /** Names of admin-defined shared groups through which this contact is visible. */
  shared: string[];
}

const MAX_GROUPS = 64;
const MAX_NAME = 256;

/** Roster reads, edits and subscription actions. */
export class RosterService {
  /** Changes touching both rosters of a pair run one at a time (read both items, then write). */
  private readonly pairs = new KeyedQueue();
  /**
   * Rosters of users with a session, as list() returns them: a client asks for its roster right after binding
   * and the JSON API after login, so this saves a trip to the store on every login. Dropped on any change to
   * the user's items, on a refresh (shared groups, another process's changes) and when the last session ends.
   */
  private readonly cached = new Map<string, Promise<RosterEntry[]>>();
  /** The handshake with contacts on routed domains (remote-roster.ts). */
  private readonly remote: RemoteRoster;

  constructor(
    private readonly ctx: Ctx,
    private readonly presence: PresenceService,
    private readonly blocks: BlockService,
    private readonly entities: EntityService,
    remotePresence: RemotePresence,
  ) {
    this.remote = new RemoteRoster(ctx, {
      push: (items) => this.push(items),
      invalidate: (user) => {
        this.invalidate(user);
        this.presence.invalidate(user);
      },
      presence: remotePresence,
      blocks,
    });
  }

  /** Whether `contact` is on a routed domain (and not a presence entity Parley answers for). */
  private isRemote(contact: string): boolean {
    return !this.entities.isEntity(contact) && this.ctx.routes.routeOf(domainOf(contact)) !== null;
  }

  /**
   * A subscription stanza from a contact on a routed domain for `user` (RemoteService checked both addresses):
   * RFC 6121 Appendix A.3 on the user's item, in the pair's turn (remote-roster.ts).
   */
  inboundRemote(user: string, contact: string, action: SubscriptionAction): Promise<void> {
    return this.pairs.run(pairKey(user, contact), () => this.remote.inbound(user, contact, action));
  }

  /**
   * The contacts whose subscription requests to `user` wait for an answer (RFC 6121 §3.1.3: delivered again when
   * the user comes online). Read from the store, not the cache, so a request stored a moment ago is included.
   */
  async pendingIn(user: string): Promise<string[]> {
    return (await this.ctx.store.rosters.list(user)).filter((item) => item.pendingIn).map((item) => item.contact);
  }

  /** The user's roster, including shared-group peers (who appear with subscription both). */
  async list(user: string): Promise<RosterEntry[]> {
    let p = this.cached.get(user);
    if (!p) {
      p = this.load(user);
      if (!this.ctx.sessions.isOnline(user)) return p;
      this.cached.set(user, p);
      p.catch(() => {
        if (this.cached.get(user) === p) this.cached.delete(user);
      });
    }
    return [...(await p)];
  }

  /**
   * The roster a client asked for (roster.get, GET /api/v1/roster, the XMPP roster get): list(), counted against
   * the user's heavy reads, since its cost grows with the roster (ReadLimiter).
   */
  get(user: string): Promise<RosterEntry[]> {
    return this.ctx.reads.run(user, () => this.list(user));
  }

  /** Forgets cached rosters: of the given users, or all of them. */
  invalidate(...users: string[]): void {
    if (users.length === 0) this.cached.clear();
    for (const u of users) this.cached.delete(u);
  }

  private async load(user: string): Promise<RosterEntry[]> {
    const { store } = this.ctx;
    const [items, groups] = await Promise.all([store.rosters.list(user), store.sharedGroups.groupsOf(user)]);
    const shared = new Map<string, string[]>();
    for (const g of groups) {
      for (const m of await store.sharedGroups.members(g.name)) {
        if (m === user) continue;
        const names = shared.get(m);
        if (names) names.push(g.displayName);
        else shared.set(m, [g.displayName]);
      }
    }
    const byContact = new Map<string, RosterEntry>(items.map((i) => [i.contact, withShared(i, shared.get(i.contact) ?? [])]));
    for (const [m, names] of shared) if (!byContact.has(m)) byContact.set(m, withShared(newRosterItem(user, m), names));
    return [...byContact.values()].sort((a, b) => (a.contact < b.contact ? -1 : 1));
  }

  /** Adds or updates a contact's name and groups (RFC 6121 §2.3); subscription is untouched. */
  set(user: string, contact: string, name: string | null, groups: string[]): Promise<RosterItem> {
    return this.pairs.run(pairKey(user, contact), () => this.doSet(user, contact, name, groups));
  }

  private async doSet(user: string, contact: string, name: string | null, groups: string[]): Promise<RosterItem> {
    if (contact === user) throw new ParleyError('bad-request', 'you cannot add yourself to your roster');
    if (name !== null && name.length > MAX_NAME) throw new ParleyError('bad-request', `name longer than ${MAX_NAME}`);
    if (groups.length > MAX_GROUPS) throw new ParleyError('bad-request', `more than ${MAX_GROUPS} groups`);
    const uniq = [...new Set(groups.map((g) => g.trim()).filter((g) => g.length > 0))];
    // A contact on a routed domain is its server's to know (RFC 6121 §2.3: the roster may hold any address).
    if (!this.entities.isEntity(contact) && !this.isRemote(contact)) await this.ctx.directory.requireUser(contact, domainOf(contact));
    const item = (await this.ctx.store.rosters.get(user, contact)) ?? newRosterItem(user, contact);
    const next: RosterItem = { ...item, name, groups: uniq };
    await this.ctx.store.rosters.put([next]);
    this.invalidate(user);
    this.ctx.changed({ rosters: [user] });
    await this.push([next]);
    await this.ctx.events.emit('roster.changed', { user, contact, item: next });
    return next;
  }

  /** Removes a contact, cancelling subscriptions both ways first (RFC 6121 §2.5.2). */
  remove(user: string, contact: string): Promise<void> {
    return this.pairs.run(pairKey(user, contact), () => this.doRemove(user, contact));
  }

  private async doRemove(user: string, contact: string): Promise<void> {
    const item = await this.ctx.store.rosters.get(user, contact);
    if (!item) throw new ParleyError('item-not-found', `${contact} is not in your roster`);
    if (item.subscription === 'to' || item.subscription === 'both' || item.pendingOut) {
      await this.doAct(user, contact, 'unsubscribe');
    }
    const now = await this.ctx.store.rosters.get(user, contact);
    if (now && (now.subscription === 'from' || now.subscription === 'both' || now.pendingIn)) {
      await this.doAct(user, contact, 'unsubscribed');
    }
    await this.ctx.store.rosters.remove(user, contact);
    this.invalidate(user, contact);
    this.presence.invalidate(user, contact);
    this.entities.invalidate(contact);
    this.ctx.changed({ rosters: [user, contact] });
    // A shared-group peer stays in the roster (roster.get still lists it), so clients get its group entry.
    if ((await this.sharedBetween(user, contact)).length > 0) await this.push([newRosterItem(user, contact)]);
    else await this.pushRemoved(user, contact);
    await this.ctx.events.emit('roster.changed', { user, contact, item: null });
  }

  /**
   * The user sends a subscription stanza to the contact: subscribe (ask to see their presence), subscribed
   * (approve theirs), unsubscribe (stop seeing theirs), unsubscribed (deny a request or cancel theirs).
   * Outbound processing on the user's item, inbound on the contact's (RFC 6121 Appendix A).
   */
  act(user: string, contact: string, action: SubscriptionAction): Promise<RosterItem> {
    return this.pairs.run(pairKey(user, contact), () => this.doAct(user, contact, action));
  }

  private async doAct(user: string, contact: string, action: SubscriptionAction): Promise<RosterItem> {
    if (contact === user) throw new ParleyError('bad-request', 'you cannot subscribe to yourself');
    if (this.entities.isEntity(contact)) return this.actOnEntity(user, contact, action);
    if (this.isRemote(contact)) return this.remote.outbound(user, contact, action);
    await this.ctx.directory.requireUser(contact, domainOf(contact));
    const { store } = this.ctx;
    const [mine, theirs] = await Promise.all([store.rosters.get(user, contact), store.rosters.get(contact, user)]);
    const out = applyOutbound(mine ?? newRosterItem(user, contact), action);
    // XEP-0191: subscription stanzas from someone the contact blocks never reach the contact.
    if (out.forward && (await this.blocks.blocks(contact, user))) out.forward = false;
    let myNext = out.item;
    let delivered = false;
    let theirNext = theirs;
    const changed: RosterItem[] = [];
    if (out.forward) {
      const inb = applyInbound(theirs ?? newRosterItem(contact, user), action);
      delivered = inb.deliver;
      // RFC 6121 §3.1.3: a subscribe the contact already approved is answered on the contact's behalf.
      if (inb.autoReply === 'subscribed') myNext = applyInbound(myNext, 'subscribed').item;
      if (!theirs || !sameState(theirs, inb.item)) {
        theirNext = inb.item;
        // An inbound request sits as pending-in on an item the contact may not have had yet; keep it.
        if (!(theirs === null && isEmptyItem(inb.item))) changed.push(inb.item);
      }
    }
    // An action that leaves a stranger's item empty (unsubscribe from someone never added) stores nothing.
    if (mine ? !sameState(mine, myNext) : !isEmptyItem(myNext)) changed.unshift(myNext);
    if (changed.length > 0) await store.rosters.put(changed);
    this.invalidate(user, contact);
    this.presence.invalidate(user, contact);
    // The contact may have been a presence entity whose provider forgot it since: its watchers change too.
    this.entities.invalidate(contact);
    this.ctx.changed({ rosters: [user, contact] });
    await this.push(changed);
    const { router } = this.ctx;
    if (delivered) {
      router.toUser(contact, router.outbound({ ev: 'subscription', data: { from: user, action } }));
    }
    await this.presenceEffects(user, contact, mine, myNext);
    if (theirNext) await this.presenceEffects(contact, user, theirs, theirNext);
    if (changed.length > 0) await this.ctx.events.emit('subscription.changed', { user, contact, action, item: myNext });
    return myNext;
  }

  /**
   * A subscription stanza to a presence entity (engine/entities.ts), answered on the entity's behalf, which
   * keeps no roster: a subscribe is approved (`subscribed`, RFC 6121 §3.1.5) when the user may see the entity,
   * then its presence follows (§3.1.6), else refused (`unsubscribed`, §3.2); an unsubscribe ends it (§3.3,
   * unavailable follows). `subscribed` and `unsubscribed` sent to an entity are accepted and change nothing:
   * an entity never asks to see anyone.
   */
  private async actOnEntity(user: string, entity: string, action: SubscriptionAction): Promise<RosterItem> {
    const mine = await this.ctx.store.rosters.get(user, entity);
    const item = mine ?? newRosterItem(user, entity);
    if (action === 'subscribed' || action === 'unsubscribed') return item;
    const out = applyOutbound(item, action);
    let next = out.item;
    let answer: SubscriptionAction | null = null;
    if (action === 'subscribe') {
      answer = (await this.entities.sees(entity, user)) ? 'subscribed' : 'unsubscribed';
      next = applyInbound(next, answer).item;
    }
    return this.commitEntityItem(user, entity, mine, next, action, answer);
  }

  /**
   * Ends `user`'s subscription to `entity` on the entity's behalf: the user may no longer see it (a grant
   * withdrawn, the entity removed). RFC 6121 §3.2: the item loses `to`, the user is told `unsubscribed`, then
   * gets unavailable.
   */
  revokeEntity(user: string, entity: string): Promise<void> {
    return this.pairs.run(pairKey(user, entity), async () => {
      const mine = await this.ctx.store.rosters.get(user, entity);
      if (!mine || (!receivesPresenceOf(mine) && !mine.pendingOut)) return;
      await this.commitEntityItem(user, entity, mine, applyInbound(mine, 'unsubscribed').item, 'unsubscribed', 'unsubscribed');
    });
  }

  /** Stores the user's item for an entity, pushes it, tells the user the entity's answer, then presence. */
  private async commitEntityItem(user: string, entity: string, mine: RosterItem | null, next: RosterItem, action: SubscriptionAction, answer: SubscriptionAction | null): Promise<RosterItem> {
    const changed = mine ? !sameState(mine, next) : !isEmptyItem(next);
    if (changed) {
      await this.ctx.store.rosters.put([next]);
      this.invalidate(user);
      this.presence.invalidate(user);
      this.entities.invalidate(entity);
      this.ctx.changed({ rosters: [user, entity] });
      await this.push([next]);
    }
    const { router } = this.ctx;
    if (answer !== null) router.toUser(user, router.outbound({ ev: 'subscription', data: { from: entity, action: answer } }));
    await this.presenceEffects(user, entity, mine, next);
    if (receivesPresenceOf(next) && !(mine !== null && receivesPresenceOf(mine))) this.entities.subscribed(user, entity);
    if (changed) await this.ctx.events.emit('subscription.changed', { user, contact: entity, action, item: next });
    return next;
  }

  /**
   * When `owner` starts receiving `contact`'s presence, send the contact's current presence to the owner's
   * sessions (RFC 6121 §3.1.6); when it stops, send unavailable (§3.3.3).
   */
  private async presenceEffects(owner: string, contact: string, before: RosterItem | null, after: RosterItem): Promise<void> {
    const was = before !== null && receivesPresenceOf(before);
    const is = receivesPresenceOf(after);
    if (was === is) return;
    if (!is && (await this.presence.visibleTo(owner)).has(contact)) return; // still a shared-group peer
    // Receiving: each available resource's presence (XMPP: from its full address); no longer: unavailable.
    const event = is ? await this.presence.eventOf(contact) : { ev: 'presence' as const, data: aggregatePresence(contact, [], null) as unknown as Record<string, unknown> };
    const { router } = this.ctx;
    router.toUser(owner, router.outbound(event));
  }

  /** Roster pushes, each item shown as roster.get shows it (shared-group peers included), with the new version. */
  private async push(items: RosterItem[]): Promise<void> {
    const entries = await Promise.all(items.map(async (it) => withShared(it, await this.sharedBetween(it.owner, it.contact))));
    const { router } = this.ctx;
    for (const e of entries) {
      const ver = rosterVersion(await this.list(e.owner));
      router.toUser(e.owner, router.outbound({ ev: 'roster', data: { item: e, ver } }));
    }
  }

  /** Display names of the shared groups `owner` and `contact` are both in. */
  private async sharedBetween(owner: string, contact: string): Promise<string[]> {
    const { sharedGroups } = this.ctx.store;
    const [mine, theirs] = await Promise.all([sharedGroups.groupsOf(owner), sharedGroups.groupsOf(contact)]);
    const common = new Set(theirs.map((g) => g.name));
    return mine.filter((g) => common.has(g.name)).map((g) => g.displayName);
  }

  private async pushRemoved(owner: string, contact: string): Promise<void> {
    const ver = rosterVersion(await this.list(owner));
    const { router } = this.ctx;
    router.toUser(owner, router.outbound({ ev: 'roster', data: { removed: contact, ver } }));
  }
}

/**
 * The roster version (RFC 6121 §2.6): a digest of the roster exactly as the client sees it, so any change —
 * personal or through a shared group — gives a new version, and an unchanged roster keeps its version across
 * restarts and servers without storing a counter.
 */
export function rosterVersion(entries: RosterEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(JSON.stringify([e.contact, e.name, e.groups, e.subscription, e.pendingOut, e.pendingIn, e.shared]));
    h.update('\n');
  }
  return h.digest('base64url').slice(0, 22);
}

/**
 * The entry clients see. Shared-group peers exchange presence whatever the personal item says, so such an
 * entry shows subscription both with nothing pending, like a group peer without a personal item.
 */
function withShared(item: RosterItem, shared: string[]): RosterEntry {
  if (shared.length === 0) return { ...item, shared };
  return { ...item, subscription: 'both', pendingOut: false, pendingIn: false, shared };
}

function sameState(a: RosterItem, b: RosterItem): boolean {
  return a.subscription === b.subscription && a.pendingIn === b.pendingIn && a.pendingOut === b.pendingOut;
}

/** The order-independent key of a pair of users. */
function pairKey(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}
