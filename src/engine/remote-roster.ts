/**
 * The subscription handshake of RFC 6121 §3 with contacts on routed domains. The local user's item is kept
 * here exactly as for a local contact (Appendix A's tables, core/roster.ts); the contact's side is the remote
 * server's. Outbound (the user sends subscribe, subscribed, unsubscribe, unsubscribed), the user's item gets the
 * outbound rules (A.2) and the stanza goes through the route from the user's bare address (§3.1.2); inbound (the
 * remote contact's stanza, RemoteService), the user's item gets the inbound rules (A.3), the stanza is pushed to
 * the user's sessions when the table says so, a request waits as pending-in while the user is away (§3.1.3) and
 * a request already approved is answered on the user's behalf (§3.1.3, A.3.1). Presence follows the
 * subscription: approving sends the user's presence (§3.1.5), cancelling or being unsubscribed sends unavailable
 * (§3.2.2, §3.3.3), losing `to` forgets the contact's presence (§3.2.3).
 * RosterService calls this inside its per-pair queue, so the changes of one pair run one at a time.
 */
import { ParleyError } from '../core/errors.js';
import { applyInbound, applyOutbound, isEmptyItem, newRosterItem, receivesPresenceOf, sendsPresenceTo, type SubscriptionAction } from '../core/roster.js';
import type { RosterItem } from '../core/types.js';
import type { BlockService } from './block-service.js';
import type { Ctx } from './context.js';
import { domainPart } from './domain-routes.js';
import type { RemotePresence } from './remote-presence.js';

/** What the handshake needs of RosterService. */
export interface RemoteRosterDeps {
  /** Roster pushes of changed items to their owners' sessions (RFC 6121 §2.1.6). */
  push(items: RosterItem[]): Promise<void>;
  /** Forgets the cached roster and presence audience of `user`. */
  invalidate(user: string): void;
  presence: RemotePresence;
  blocks: BlockService;
}

/** Subscription actions between a local user and a contact on a routed domain. */
export class RemoteRoster {
  constructor(
    private readonly ctx: Ctx,
    private readonly deps: RemoteRosterDeps,
  ) {}

  /**
   * The user sends `action` to a remote contact (Appendix A.2). The route's check runs before anything is
   * stored, so a stanza that cannot go (a component that is not connected) leaves the roster as it was.
   */
  async outbound(user: string, contact: string, action: SubscriptionAction): Promise<RosterItem> {
    const route = this.ctx.routes.routeOf(domainPart(contact));
    if (route === null) throw new ParleyError('remote-server-not-found', `domain ${domainPart(contact)} is not served by this server`);
    // XEP-0191: asking or approving someone the user blocks is refused; withdrawing still goes.
    if ((action === 'subscribe' || action === 'subscribed') && (await this.deps.blocks.blocks(user, contact))) {
      throw new ParleyError('not-acceptable', `you have blocked ${contact}; unblock to write`, { blocked: true });
    }
    const mine = await this.ctx.store.rosters.get(user, contact);
    const out = applyOutbound(mine ?? newRosterItem(user, contact), action);
    if (out.forward) route.check?.(contact);
    const next = out.item;
    const changed = await this.commit(mine, next);
    if (out.forward) await route.send({ kind: 'presence', from: user, to: contact, type: action, id: null, body: null, xml: null });
    this.effects(user, contact, mine, next);
    if (changed) await this.ctx.events.emit('subscription.changed', { user, contact, action, item: next });
    return next;
  }

  /**
   * A remote contact's subscription stanza for the user (Appendix A.3): the user's item changes, the stanza
   * reaches the user's sessions when the table delivers it (a request kept as pending-in is delivered again at
   * the next login, §3.1.3), and a subscribe the user already approved is answered `subscribed` at once.
   */
  async inbound(user: string, contact: string, action: SubscriptionAction): Promise<void> {
    const mine = await this.ctx.store.rosters.get(user, contact);
    const inb = applyInbound(mine ?? newRosterItem(user, contact), action);
    const next = inb.item;
    await this.commit(mine, next);
    const { router } = this.ctx;
    if (inb.deliver) router.toUser(user, router.outbound({ ev: 'subscription', data: { from: contact, action } }));
    if (inb.autoReply === 'subscribed') {
      this.deps.presence.send({ kind: 'presence', from: user, to: contact, type: 'subscribed', id: null, body: null, xml: null });
      // §3.1.5: with the approval, the user's presence (the contact's server lost track of it).
      this.deps.presence.sendCurrent(user, contact);
    }
    this.effects(user, contact, mine, next);
  }

  /** Stores and pushes the user's item when its state changed; whether it did. */
  private async commit(before: RosterItem | null, next: RosterItem): Promise<boolean> {
    const changed = before !== null ? !sameState(before, next) : !isEmptyItem(next);
    if (!changed) return false;
    await this.ctx.store.rosters.put([next]);
    this.deps.invalidate(next.owner);
    this.ctx.changed({ rosters: [next.owner] });
    await this.deps.push([next]);
    return true;
  }

  /**
   * Presence after the user's item changed: gaining `from` sends the user's presence to the contact (§3.1.5),
   * losing it sends unavailable (§3.2.2, §3.3.3); losing `to` ends what the user's sessions show of the contact
   * (§3.2.3, §3.3.2).
   */
  private effects(user: string, contact: string, before: RosterItem | null, after: RosterItem): void {
    const sent = before !== null && sendsPresenceTo(before);
    if (!sent && sendsPresenceTo(after)) this.deps.presence.sendCurrent(user, contact);
    else if (sent && !sendsPresenceTo(after)) this.deps.presence.sendUnavailable(user, contact);
    if (before !== null && receivesPresenceOf(before) && !receivesPresenceOf(after)) this.deps.presence.forget(user, contact);
  }
}

function sameState(a: RosterItem, b: RosterItem): boolean {
  return a.subscription === b.subscription && a.pendingIn === b.pendingIn && a.pendingOut === b.pendingOut;
}
