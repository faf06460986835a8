/**
 * Who gets a notification now: the routing rules (docs/notifications.md#routing). Pure: presence in, a choice
 * out, so the rules are tested without a server.
 *
 * Each candidate's aggregate presence (core/presence.ts) puts it in a tier, or rules it out:
 *  1. available or free to chat, with no busy activity;
 *  2. away, extended away, in a meeting or busy: reachable, but not at their desk or not free;
 *  3. only for critical notifications: do not disturb, presenting, on the phone, out of office or on holiday.
 * Offline people are never chosen (the e-mail fallback reaches them). The best tier that has anyone wins; within
 * it, load is spread by round robin (the next member after the one chosen last for the same target) or by fewest
 * open notifications (ties broken by the round robin order). Ordered targets (a person, a rota) take the first
 * eligible candidate of the best tier in their own order.
 */
import type { UserPresence } from '../../core/types.js';
import type { Severity } from './model.js';

/** How a target spreads load. */
export type Strategy = 'round-robin' | 'fewest-open' | 'ordered';

/** A tier: lower is better. */
export type Tier = 1 | 2 | 3;

/** Activities that keep someone from being interrupted unless it is critical. */
const CRITICAL_ONLY = new Set(['presenting', 'on-the-phone', 'out-of-office', 'on-holiday']);
/** Activities that make someone reachable but not free. */
const BUSY = new Set(['in-meeting', 'busy']);

/** The tier of a person with presence `p` for a notification of `severity`, or null when they must not get it. */
export function tierOf(p: Pick<UserPresence, 'state' | 'availability' | 'activity'>, severity: Severity): Tier | null {
  if (p.state === 'offline' || p.availability === null) return null;
  const critical = severity === 'critical';
  if (p.availability === 'dnd' || (p.activity !== null && CRITICAL_ONLY.has(p.activity))) return critical ? 3 : null;
  if (p.activity !== null && BUSY.has(p.activity)) return 2;
  if (p.availability === 'available' || p.availability === 'chat') return 1;
  return 2;
}

/** One person the target resolved to, in the target's order. */
export interface Candidate {
  address: string;
  /** The tier, or null when ruled out. */
  tier: Tier | null;
  /** Open notifications assigned to them (for fewest-open). */
  open: number;
}

/**
 * Picks one candidate: the best tier, then the strategy. `cursor` is the index (in `candidates`) of the one
 * chosen last for the same target (-1: none). Returns the index chosen, or -1 when nobody is eligible.
 */
export function choose(candidates: readonly Candidate[], strategy: Strategy, cursor: number): number {
  let best: Tier | null = null;
  for (const c of candidates) if (c.tier !== null && (best === null || c.tier < best)) best = c.tier;
  if (best === null) return -1;
  const pool: number[] = [];
  candidates.forEach((c, i) => {
    if (c.tier === best) pool.push(i);
  });
  if (strategy === 'ordered') return pool[0]!;
  // Round robin order: the members after the cursor, then from the start.
  const rr = [...pool.filter((i) => i > cursor), ...pool.filter((i) => i <= cursor)];
  if (strategy === 'round-robin') return rr[0]!;
  let pick = rr[0]!;
  for (const i of rr) if (candidates[i]!.open < candidates[pick]!.open) pick = i;
  return pick;
}
