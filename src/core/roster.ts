/**
 * The presence subscription state machine of RFC 6121 §3, as tabulated in RFC 6121 Appendix A.
 *
 * A roster item's state is its `subscription` plus the pendingOut/pendingIn flags. Of the 16 combinations only
 * the nine "defined states" of Appendix A.1 are meaningful: "To" and "Both" already have the subscription a
 * pending-out would ask for, and "From" and "Both" have already approved what a pending-in asks for. Items
 * carrying such an impossible flag are read as the defined state without it.
 *
 * The owner's server applies applyOutbound() to stanzas the owner sends (Appendix A.2) and applyInbound() to
 * stanzas that arrive for the owner (Appendix A.3). Pre-approval (RFC 6121 §3.4) is not supported.
 *
 * Pure: no I/O, no node:* imports.
 */
import type { RosterItem, Subscription } from './types.js';

/** The four presence subscription stanza types (RFC 6121 §3). */
export type SubscriptionAction = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

/** All subscription actions, in RFC order. */
export const SUBSCRIPTION_ACTIONS: readonly SubscriptionAction[] = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'];

/** RFC 6121 Appendix A.1 defined states ("None + Pending Out/In" is spelled 'none+out+in'). */
type DefinedState = 'none' | 'none+out' | 'none+in' | 'none+out+in' | 'to' | 'to+in' | 'from' | 'from+out' | 'both';

/** One table cell: whether the stanza goes on (ROUTE? / DELIVER?) and the new state (null: no state change). */
type Cell = readonly [pass: boolean, next: DefinedState | null];
type Table = Readonly<Record<SubscriptionAction, Readonly<Record<DefinedState, Cell>>>>;

const Y = true;
const N = false;

/**
 * The contact's side of the subscription ends: the owner sends "unsubscribed" (A.2.4) or the contact sends
 * "unsubscribe" (A.3.2). Appendix A gives both the same row: the contact's subscription ("From") and its
 * pending request (pending-in) go; the owner's side ("To", pending-out) stays. It passes only when it changes
 * something.
 */
const CONTACT_SIDE_ENDS: Table[SubscriptionAction] = {
  none: [N, null],
  'none+out': [N, null],
  'none+in': [Y, 'none'],
  'none+out+in': [Y, 'none+out'],
  to: [N, null],
  'to+in': [Y, 'to'],
  from: [Y, 'none'],
  'from+out': [Y, 'none+out'],
  both: [Y, 'to'],
};

/**
 * RFC 6121 Appendix A.2: server processing of outbound subscription stanzas (the owner sends them).
 * subscribe and unsubscribe are always routed (A.2.1, A.2.2; §3.1.2, §3.3.2) so the contact's server can
 * resynchronise; subscribed and unsubscribed only when they change something (A.2.3, A.2.4; §3.1.5, §3.2.2).
 */
const OUTBOUND: Table = {
  // A.2.1 Subscribe
  subscribe: {
    none: [Y, 'none+out'],
    'none+out': [Y, null],
    'none+in': [Y, 'none+out+in'],
    'none+out+in': [Y, null],
    to: [Y, null],
    'to+in': [Y, null],
    from: [Y, 'from+out'],
    'from+out': [Y, null],
    both: [Y, null],
  },
  // A.2.3 Subscribed: only approving a pending-in changes state; in "None", "None + Pending Out" and "To"
  // it would be a pre-approval (§3.4), which Parley does not support, so it is dropped.
  subscribed: {
    none: [N, null],
    'none+out': [N, null],
    'none+in': [Y, 'from'],
    'none+out+in': [Y, 'from+out'],
    to: [N, null],
    'to+in': [Y, 'both'],
    from: [N, null],
    'from+out': [N, null],
    both: [N, null],
  },
  // A.2.2 Unsubscribe
  unsubscribe: {
    none: [Y, null],
    'none+out': [Y, 'none'],
    'none+in': [Y, null],
    'none+out+in': [Y, 'none+in'],
    to: [Y, 'none'],
    'to+in': [Y, 'none+in'],
    from: [Y, null],
    'from+out': [Y, 'from'],
    both: [Y, 'from'],
  },
  // A.2.4 Unsubscribed: cancels or denies what the contact has or asks for.
  unsubscribed: CONTACT_SIDE_ENDS,
};

/**
 * RFC 6121 Appendix A.3: server processing of inbound subscription stanzas (they arrive for the owner).
 * A stanza that would not change anything is not delivered to the owner's clients (§3.1.3, §3.1.6, §3.2.3,
 * §3.3.3), except where the table says otherwise.
 */
const INBOUND: Table = {
  // A.3.1 Subscribe. In "From", "From + Pending Out" and "Both" the owner has already approved: the server
  // answers "subscribed" on the owner's behalf instead of delivering (§3.1.3 step 2).
  subscribe: {
    none: [Y, 'none+in'],
    'none+out': [Y, 'none+out+in'],
    'none+in': [N, null],
    'none+out+in': [N, null],
    to: [Y, 'to+in'],
    'to+in': [N, null],
    from: [N, null],
    'from+out': [N, null],
    both: [N, null],
  },
  // A.3.3 Subscribed: only meaningful while the owner's request is pending (§3.1.6).
  subscribed: {
    none: [N, null],
    'none+out': [Y, 'to'],
    'none+in': [N, null],
    'none+out+in': [Y, 'to+in'],
    to: [N, null],
    'to+in': [N, null],
    from: [N, null],
    'from+out': [Y, 'both'],
    both: [N, null],
  },
  // A.3.2 Unsubscribe: the contact stops receiving the owner's presence or withdraws its request.
  // When delivered, the owner's server also sends unavailable presence to the contact (§3.3.3).
  unsubscribe: CONTACT_SIDE_ENDS,
  // A.3.4 Unsubscribed: the contact denies the owner's request or revokes the owner's subscription.
  unsubscribed: {
    none: [N, null],
    'none+out': [Y, 'none'],
    'none+in': [N, null],
    'none+out+in': [Y, 'none+in'],
    to: [Y, 'none'],
    'to+in': [Y, 'none+in'],
    from: [N, null],
    'from+out': [Y, 'from'],
    both: [Y, 'from'],
  },
};

/** Reads an item's defined state, ignoring flags that the subscription makes impossible (see file comment). */
function stateOf(item: RosterItem): DefinedState {
  switch (item.subscription) {
    case 'both':
      return 'both';
    case 'to':
      return item.pendingIn ? 'to+in' : 'to';
    case 'from':
      return item.pendingOut ? 'from+out' : 'from';
    case 'none':
      if (item.pendingOut) return item.pendingIn ? 'none+out+in' : 'none+out';
      return item.pendingIn ? 'none+in' : 'none';
  }
}

const STATE_FIELDS: Readonly<Record<DefinedState, readonly [Subscription, boolean, boolean]>> = {
  none: ['none', false, false],
  'none+out': ['none', true, false],
  'none+in': ['none', false, true],
  'none+out+in': ['none', true, true],
  to: ['to', false, false],
  'to+in': ['to', false, true],
  from: ['from', false, false],
  'from+out': ['from', true, false],
  both: ['both', false, false],
};

/** The item in `state`: the same object when nothing changes, so callers can test `result.item === item`. */
function withState(item: RosterItem, state: DefinedState): RosterItem {
  const [subscription, pendingOut, pendingIn] = STATE_FIELDS[state];
  if (item.subscription === subscription && item.pendingOut === pendingOut && item.pendingIn === pendingIn) return item;
  return { ...item, subscription, pendingOut, pendingIn };
}

/** A fresh roster item: subscription "none", nothing pending, no name, no groups. */
export function newRosterItem(owner: string, contact: string): RosterItem {
  return { owner, contact, name: null, groups: [], subscription: 'none', pendingOut: false, pendingIn: false };
}

/**
 * The owner sends `action` to the contact (RFC 6121 Appendix A.2). Returns the owner's updated item (the same
 * object if unchanged) and whether the stanza is routed on to the contact.
 */
export function applyOutbound(item: RosterItem, action: SubscriptionAction): { item: RosterItem; forward: boolean } {
  const current = stateOf(item);
  const [forward, next] = OUTBOUND[action][current];
  return { item: withState(item, next ?? current), forward };
}

/**
 * The contact's `action` arrives for the owner (RFC 6121 Appendix A.3). Returns the owner's updated item (the
 * same object if unchanged), whether to deliver the stanza to the owner's clients, and `autoReply`: the
 * stanza the owner's server sends back to the contact on the owner's behalf — "subscribed" when a subscribe
 * arrives that the owner has already approved (A.3.1, §3.1.3), otherwise null.
 */
export function applyInbound(
  item: RosterItem,
  action: SubscriptionAction,
): { item: RosterItem; deliver: boolean; autoReply: 'subscribed' | null } {
  const current = stateOf(item);
  const [deliver, next] = INBOUND[action][current];
  const autoReply = action === 'subscribe' && sendsPresenceTo(item) ? 'subscribed' : null;
  return { item: withState(item, next ?? current), deliver, autoReply };
}

/** Whether the owner receives the contact's presence (subscription "to" or "both", RFC 6121 §3). */
export function receivesPresenceOf(item: RosterItem): boolean {
  return item.subscription === 'to' || item.subscription === 'both';
}

/** Whether the contact receives the owner's presence (subscription "from" or "both", RFC 6121 §3). */
export function sendsPresenceTo(item: RosterItem): boolean {
  return item.subscription === 'from' || item.subscription === 'both';
}

/** Whether the item carries no information (state "None", no name, no groups) and may be deleted. */
export function isEmptyItem(item: RosterItem): boolean {
  return (
    item.subscription === 'none' && !item.pendingOut && !item.pendingIn && item.name === null && item.groups.length === 0
  );
}
