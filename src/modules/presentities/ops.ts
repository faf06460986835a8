/**
 * The JSON WebSocket operations (README.md): reads, queries and subscriptions for the logged-in user, whose
 * events are pushed to the subscribing session through the engine's Router (ModuleApi.push):
 * `presentities.snapshot`, `presentities.resumed` and `presentities.change`, each naming the subscription.
 */
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { Session } from '../../engine/session.js';
import { op, type OpDef } from '../../protocols/json-ws/ops.js';
import type { PresentityHub, Subscription, SubscriptionOut } from './hub.js';
import { targetBody, targetShape, type Presentity, type Target } from './model.js';

const name = z.string().min(1).max(64);
const subscribeParams = z
  .strictObject({ subscription: name, ...targetShape, since: z.number().int().min(0).optional() })
  .refine((t) => t.addresses !== undefined || t.group !== undefined, 'name addresses, a group, or both');

/** Most subscriptions one session holds at once (each may follow any number of presentities). */
export const SUBSCRIPTIONS_PER_SESSION = 64;

/** The operations, and what ends a session's subscriptions. */
export function presentitiesOps(hub: PresentityHub, push: (s: Session, ev: string, data: Record<string, unknown>) => boolean): { ops: Record<string, OpDef>; sessionClosed(id: string): void } {
  /** session id → subscription name → subscription. */
  const bySession = new Map<string, Map<string, Subscription>>();

  /**
   * The event data of a matching change per state and subscription name: every session whose subscription of
   * that name gets the state is pushed the same object, so the frame is encoded once for all of them (push).
   */
  const changes = new WeakMap<Presentity, Map<string, Record<string, unknown>>>();
  const changeData = (subscription: string, position: number, address: string, presentity: Presentity): Record<string, unknown> => {
    let byName = changes.get(presentity);
    if (byName === undefined) changes.set(presentity, (byName = new Map()));
    let data = byName.get(subscription);
    if (data === undefined) byName.set(subscription, (data = { subscription, position, address, match: true, presentity }));
    return data;
  };

  const outFor = (session: Session, subscription: string): SubscriptionOut => ({
    snapshot: (position: number, presentities: Presentity[], reset: boolean) => push(session, 'snapshot', { subscription, position, reset, presentities }),
    resumed: (from: number, position: number) => push(session, 'resumed', { subscription, from, position }),
    change: (position: number, address: string, presentity: Presentity | null, match: boolean) =>
      push(session, 'change', match && presentity !== null ? changeData(subscription, position, address, presentity) : { subscription, position, address, match: false }),
  });

  const ops: Record<string, OpDef> = {
    'presentities.get': op(z.strictObject({ addresses: z.array(z.string().min(1).max(3071)).min(1).max(100_000) }), async ({ session }, p) => ({
      position: hub.position,
      ...(await hub.read(await hub.viewerOf(session.user), p.addresses)),
    })),
    'presentities.query': op(targetBody, async ({ session }, p) => hub.query(await hub.viewerOf(session.user), p)),
    'presentities.subscribe': op(subscribeParams, async ({ session }, p) => {
      const { subscription, since, ...target } = p;
      let mine = bySession.get(session.id);
      if (!mine) bySession.set(session.id, (mine = new Map()));
      if (mine.has(subscription)) throw new ParleyError('conflict', `this session already has a subscription ${subscription}`);
      if (mine.size >= SUBSCRIPTIONS_PER_SESSION) throw new ParleyError('policy-violation', `at most ${SUBSCRIPTIONS_PER_SESSION} subscriptions per session; one subscription may follow any number of presentities`);
      const sub = await hub.subscribe(session.user, target as Target, since ?? null, outFor(session, subscription));
      if (session.closed) {
        hub.unsubscribe(sub);
        return { subscription, position: hub.position };
      }
      mine.set(subscription, sub);
      return { subscription, position: hub.position };
    }),
    'presentities.unsubscribe': op(z.strictObject({ subscription: name }), async ({ session }, p) => {
      const sub = bySession.get(session.id)?.get(p.subscription);
      if (!sub) throw new ParleyError('item-not-found', `no subscription ${p.subscription}`);
      hub.unsubscribe(sub);
      bySession.get(session.id)!.delete(p.subscription);
      return {};
    }),
  };
  return {
    ops,
    sessionClosed(id) {
      const mine = bySession.get(id);
      if (!mine) return;
      bySession.delete(id);
      for (const sub of mine.values()) hub.unsubscribe(sub);
    },
  };
}
