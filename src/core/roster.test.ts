import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyInbound,
  applyOutbound,
  isEmptyItem,
  newRosterItem,
  receivesPresenceOf,
  sendsPresenceTo,
  SUBSCRIPTION_ACTIONS,
  type SubscriptionAction,
} from './roster.js';
import type { RosterItem, Subscription } from './types.js';

/** The nine defined states of RFC 6121 Appendix A.1, spelled as in the RFC. */
type RfcState =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out/In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';

const STATES: readonly RfcState[] = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out/In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
];

function itemIn(state: RfcState, extra: Partial<RosterItem> = {}): RosterItem {
  const subscription = state.split(' ')[0]?.toLowerCase() as Subscription;
  return {
    ...newRosterItem('romeo@example.net', 'juliet@example.com'),
    subscription,
    pendingOut: state.includes('Out'),
    pendingIn: state.endsWith('In'),
    ...extra,
  };
}

function stateName(item: RosterItem): RfcState {
  const base = (item.subscription.charAt(0).toUpperCase() + item.subscription.slice(1)) as 'None' | 'To' | 'From' | 'Both';
  const pending = item.pendingOut && item.pendingIn ? ' + Pending Out/In' : item.pendingOut ? ' + Pending Out' : item.pendingIn ? ' + Pending In' : '';
  return (base + pending) as RfcState;
}

/** One table row: existing state, ROUTE?/DELIVER?, new state ('no state change' as in the RFC). */
type Row = readonly [RfcState, 'yes' | 'no', RfcState | 'no state change'];

// RFC 6121 Appendix A.2: Server Processing of Outbound Presence Subscription Stanzas.
// ("subscribed" in None / None + Pending Out / To would be a pre-approval, §3.4, which Parley does not support:
// no route, no state change.)
const OUTBOUND: Record<SubscriptionAction, readonly Row[]> = {
  // A.2.1 Subscribe
  subscribe: [
    ['None', 'yes', 'None + Pending Out'],
    ['None + Pending Out', 'yes', 'no state change'],
    ['None + Pending In', 'yes', 'None + Pending Out/In'],
    ['None + Pending Out/In', 'yes', 'no state change'],
    ['To', 'yes', 'no state change'],
    ['To + Pending In', 'yes', 'no state change'],
    ['From', 'yes', 'From + Pending Out'],
    ['From + Pending Out', 'yes', 'no state change'],
    ['Both', 'yes', 'no state change'],
  ],
  // A.2.2 Unsubscribe
  unsubscribe: [
    ['None', 'yes', 'no state change'],
    ['None + Pending Out', 'yes', 'None'],
    ['None + Pending In', 'yes', 'no state change'],
    ['None + Pending Out/In', 'yes', 'None + Pending In'],
    ['To', 'yes', 'None'],
    ['To + Pending In', 'yes', 'None + Pending In'],
    ['From', 'yes', 'no state change'],
    ['From + Pending Out', 'yes', 'From'],
    ['Both', 'yes', 'From'],
  ],
  // A.2.3 Subscribed
  subscribed: [
    ['None', 'no', 'no state change'],
    ['None + Pending Out', 'no', 'no state change'],
    ['None + Pending In', 'yes', 'From'],
    ['None + Pending Out/In', 'yes', 'From + Pending Out'],
    ['To', 'no', 'no state change'],
    ['To + Pending In', 'yes', 'Both'],
    ['From', 'no', 'no state change'],
    ['From + Pending Out', 'no', 'no state change'],
    ['Both', 'no', 'no state change'],
  ],
  // A.2.4 Unsubscribed
  unsubscribed: [
    ['None', 'no', 'no state change'],
    ['None + Pending Out', 'no', 'no state change'],
    ['None + Pending In', 'yes', 'None'],
    ['None + Pending Out/In', 'yes', 'None + Pending Out'],
    ['To', 'no', 'no state change'],
    ['To + Pending In', 'yes', 'To'],
    ['From', 'yes', 'None'],
    ['From + Pending Out', 'yes', 'None + Pending Out'],
    ['Both', 'yes', 'To'],
  ],
};

// RFC 6121 Appendix A.3: Server Processing of Inbound Presence Subscription Stanzas.
const INBOUND: Record<SubscriptionAction, readonly Row[]> = {
  // A.3.1 Subscribe ("no *": the server auto-replies "subscribed")
  subscribe: [
    ['None', 'yes', 'None + Pending In'],
    ['None + Pending Out', 'yes', 'None + Pending Out/In'],
    ['None + Pending In', 'no', 'no state change'],
    ['None + Pending Out/In', 'no', 'no state change'],
    ['To', 'yes', 'To + Pending In'],
    ['To + Pending In', 'no', 'no state change'],
    ['From', 'no', 'no state change'],
    ['From + Pending Out', 'no', 'no state change'],
    ['Both', 'no', 'no state change'],
  ],
  // A.3.2 Unsubscribe
  unsubscribe: [
    ['None', 'no', 'no state change'],
    ['None + Pending Out', 'no', 'no state change'],
    ['None + Pending In', 'yes', 'None'],
    ['None + Pending Out/In', 'yes', 'None + Pending Out'],
    ['To', 'no', 'no state change'],
    ['To + Pending In', 'yes', 'To'],
    ['From', 'yes', 'None'],
    ['From + Pending Out', 'yes', 'None + Pending Out'],
    ['Both', 'yes', 'To'],
  ],
  // A.3.3 Subscribed
  subscribed: [
    ['None', 'no', 'no state change'],
    ['None + Pending Out', 'yes', 'To'],
    ['None + Pending In', 'no', 'no state change'],
    ['None + Pending Out/In', 'yes', 'To + Pending In'],
    ['To', 'no', 'no state change'],
    ['To + Pending In', 'no', 'no state change'],
    ['From', 'no', 'no state change'],
    ['From + Pending Out', 'yes', 'Both'],
    ['Both', 'no', 'no state change'],
  ],
  // A.3.4 Unsubscribed
  unsubscribed: [
    ['None', 'no', 'no state change'],
    ['None + Pending Out', 'yes', 'None'],
    ['None + Pending In', 'no', 'no state change'],
    ['None + Pending Out/In', 'yes', 'None + Pending In'],
    ['To', 'yes', 'None'],
    ['To + Pending In', 'yes', 'None + Pending In'],
    ['From', 'no', 'no state change'],
    ['From + Pending Out', 'yes', 'From'],
    ['Both', 'yes', 'From'],
  ],
};

const cells = (table: Record<SubscriptionAction, readonly Row[]>): Array<[SubscriptionAction, RfcState, 'yes' | 'no', RfcState | 'no state change']> =>
  SUBSCRIPTION_ACTIONS.flatMap((action) => table[action].map(([s, pass, next]) => [action, s, pass, next] as [SubscriptionAction, RfcState, 'yes' | 'no', RfcState | 'no state change']));

describe('the tables cover every cell', () => {
  it('9 states × 4 actions × 2 directions', () => {
    for (const table of [OUTBOUND, INBOUND]) {
      for (const action of SUBSCRIPTION_ACTIONS) expect(table[action].map((r) => r[0])).toEqual(STATES);
    }
    expect(cells(OUTBOUND).length + cells(INBOUND).length).toBe(72);
  });
});

describe('applyOutbound: RFC 6121 Appendix A.2', () => {
  it.each(cells(OUTBOUND))('%s in "%s" → route %s, %s', (action, state, route, next) => {
    const item = itemIn(state, { name: 'Juliet', groups: ['Friends'] });
    const r = applyOutbound(item, action);
    expect(r.forward).toBe(route === 'yes');
    if (next === 'no state change') {
      expect(r.item).toBe(item);
    } else {
      expect(stateName(r.item)).toBe(next);
      expect(r.item).not.toBe(item);
      // Only the subscription fields change.
      expect({ ...r.item, subscription: item.subscription, pendingOut: item.pendingOut, pendingIn: item.pendingIn }).toEqual(item);
    }
    expect(stateName(item)).toBe(state); // the input is not mutated
  });
});

describe('applyInbound: RFC 6121 Appendix A.3', () => {
  it.each(cells(INBOUND))('%s in "%s" → deliver %s, %s', (action, state, deliver, next) => {
    const item = itemIn(state, { name: 'Juliet', groups: ['Friends'] });
    const r = applyInbound(item, action);
    expect(r.deliver).toBe(deliver === 'yes');
    if (next === 'no state change') {
      expect(r.item).toBe(item);
    } else {
      expect(stateName(r.item)).toBe(next);
      expect({ ...r.item, subscription: item.subscription, pendingOut: item.pendingOut, pendingIn: item.pendingIn }).toEqual(item);
    }
    // A.3.1 "no *": a subscribe the owner already approved is answered with "subscribed" by the server.
    const approved = state === 'From' || state === 'From + Pending Out' || state === 'Both';
    expect(r.autoReply).toBe(action === 'subscribe' && approved ? 'subscribed' : null);
  });
});

describe('impossible flag combinations read as the defined state without the flag', () => {
  it.each<[Subscription, boolean, boolean, RfcState]>([
    ['to', true, false, 'To'],
    ['to', true, true, 'To + Pending In'],
    ['from', false, true, 'From'],
    ['from', true, true, 'From + Pending Out'],
    ['both', true, true, 'Both'],
  ])('%s out=%s in=%s behaves as "%s"', (subscription, pendingOut, pendingIn, as) => {
    const odd: RosterItem = { ...newRosterItem('a@x', 'b@x'), subscription, pendingOut, pendingIn };
    for (const action of SUBSCRIPTION_ACTIONS) {
      const clean = itemIn(as);
      const o = applyOutbound(odd, action);
      const oc = applyOutbound(clean, action);
      expect(o.forward).toBe(oc.forward);
      expect(stateName(o.item)).toBe(stateName(oc.item));
      const i = applyInbound(odd, action);
      const ic = applyInbound(clean, action);
      expect(i.deliver).toBe(ic.deliver);
      expect(stateName(i.item)).toBe(stateName(ic.item));
    }
  });
});

describe('helpers', () => {
  it('newRosterItem', () => {
    expect(newRosterItem('a@x', 'b@x')).toEqual({
      owner: 'a@x',
      contact: 'b@x',
      name: null,
      groups: [],
      subscription: 'none',
      pendingOut: false,
      pendingIn: false,
    });
  });

  it.each<[RfcState, boolean, boolean]>([
    ['None', false, false],
    ['None + Pending Out/In', false, false],
    ['To', true, false],
    ['To + Pending In', true, false],
    ['From', false, true],
    ['From + Pending Out', false, true],
    ['Both', true, true],
  ])('"%s": receivesPresenceOf=%s sendsPresenceTo=%s', (state, receives, sends) => {
    expect(receivesPresenceOf(itemIn(state))).toBe(receives);
    expect(sendsPresenceTo(itemIn(state))).toBe(sends);
  });

  it('isEmptyItem', () => {
    expect(isEmptyItem(newRosterItem('a@x', 'b@x'))).toBe(true);
    expect(isEmptyItem(itemIn('None + Pending Out'))).toBe(false);
    expect(isEmptyItem(itemIn('None + Pending In'))).toBe(false);
    expect(isEmptyItem(itemIn('To'))).toBe(false);
    expect(isEmptyItem(itemIn('From'))).toBe(false);
    expect(isEmptyItem(itemIn('None', { name: 'B' }))).toBe(false);
    expect(isEmptyItem(itemIn('None', { groups: ['G'] }))).toBe(false);
  });
});

describe('a full exchange (RFC 6121 §3.1)', () => {
  it('subscribe, approve, mutual, then unsubscribe and revoke', () => {
    let romeo = newRosterItem('romeo@x', 'juliet@x');
    let juliet = newRosterItem('juliet@x', 'romeo@x');
    const send = (fromRomeo: boolean, action: SubscriptionAction): boolean => {
      const out = applyOutbound(fromRomeo ? romeo : juliet, action);
      if (fromRomeo) romeo = out.item;
      else juliet = out.item;
      if (!out.forward) return false;
      const inb = applyInbound(fromRomeo ? juliet : romeo, action);
      if (fromRomeo) juliet = inb.item;
      else romeo = inb.item;
      return inb.deliver;
    };
    expect(send(true, 'subscribe')).toBe(true);
    expect([stateName(romeo), stateName(juliet)]).toEqual(['None + Pending Out', 'None + Pending In']);
    expect(send(false, 'subscribed')).toBe(true);
    expect([stateName(romeo), stateName(juliet)]).toEqual(['To', 'From']);
    expect(receivesPresenceOf(romeo) && sendsPresenceTo(juliet)).toBe(true);
    expect(send(false, 'subscribe')).toBe(true);
    expect(send(true, 'subscribed')).toBe(true);
    expect([stateName(romeo), stateName(juliet)]).toEqual(['Both', 'Both']);
    expect(send(true, 'subscribed')).toBe(false); // nothing pending: not routed
    expect(send(true, 'unsubscribe')).toBe(true);
    expect([stateName(romeo), stateName(juliet)]).toEqual(['From', 'To']);
    expect(send(true, 'unsubscribed')).toBe(true);
    expect([stateName(romeo), stateName(juliet)]).toEqual(['None', 'None']);
  });
});

describe('property: two rosters stay mutually consistent', () => {
  const step = fc.record({ fromA: fc.boolean(), action: fc.constantFrom(...SUBSCRIPTION_ACTIONS) });

  it('for random sequences of actions between A and B', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const items = { a: newRosterItem('a@x', 'b@x'), b: newRosterItem('b@x', 'a@x') };
        const consistent = (): void => {
          const { a, b } = items;
          expect(receivesPresenceOf(a)).toBe(sendsPresenceTo(b));
          expect(receivesPresenceOf(b)).toBe(sendsPresenceTo(a));
          expect(a.pendingOut).toBe(b.pendingIn);
          expect(b.pendingOut).toBe(a.pendingIn);
        };
        consistent();
        for (const { fromA, action } of steps) {
          const [sender, receiver] = fromA ? (['a', 'b'] as const) : (['b', 'a'] as const);
          const out = applyOutbound(items[sender], action);
          items[sender] = out.item;
          if (out.forward) {
            const inb = applyInbound(items[receiver], action);
            items[receiver] = inb.item;
            // The receiver's server answers on its user's behalf; that "subscribed" arrives at the sender.
            if (inb.autoReply !== null) items[sender] = applyInbound(items[sender], inb.autoReply).item;
          }
          consistent();
          // Every reachable item is one of the nine defined states.
          for (const it of [items.a, items.b]) {
            expect(STATES).toContain(stateName(it));
            if (it.subscription === 'to' || it.subscription === 'both') expect(it.pendingOut).toBe(false);
            if (it.subscription === 'from' || it.subscription === 'both') expect(it.pendingIn).toBe(false);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('applying the same stanza twice changes nothing the second time', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STATES), fc.constantFrom(...SUBSCRIPTION_ACTIONS), (state, action) => {
        const once = applyOutbound(itemIn(state), action).item;
        expect(applyOutbound(once, action).item).toBe(once);
        const onceIn = applyInbound(itemIn(state), action).item;
        expect(applyInbound(onceIn, action).item).toBe(onceIn);
      }),
    );
  });
});
