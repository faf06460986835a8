/**
 * Things and processes among the user's contacts (the presentities module, docs/presence.md): one subscription of
 * the contacts per connection (`presentities.subscribe`: a snapshot, then each change) gives their kind and custom
 * fields; their availability also arrives as ordinary presence. Without the module the subscription is refused and
 * the list shows people only.
 */
import { signal } from '@preact/signals';
import type { ParleyEvent } from '../../client/session.js';
import type { BrowserSession } from './connection.js';

/** A thing or process the user may see (the presentities module, docs/presence.md): its kind and custom fields. */
export interface Thing {
  address: string;
  kind: 'thing' | 'process';
  availability: string;
  activity: string | null;
  status: string | null;
  fields: Record<string, string | number | boolean | null>;
}
/** The things and processes among the user's contacts, by address. */
export const things = signal<ReadonlyMap<string, Thing>>(new Map());

/** The session whose `contacts` subscription is open (one per session, renewed with the roster). */
let following: BrowserSession | null = null;

/** Follows the contacts that are things or processes (any contact may be one); renews the subscription. */
export async function followThings(s: BrowserSession, addresses: string[]): Promise<void> {
  if (addresses.length === 0) return;
  try {
    if (following === s) await s.request('presentities.unsubscribe', { subscription: 'contacts' });
    following = s;
    await s.request('presentities.subscribe', { subscription: 'contacts', addresses });
  } catch {
    following = null;
  }
}

function put(list: readonly Record<string, unknown>[], reset: boolean): void {
  const next = new Map(reset ? [] : things.value);
  for (const p of list) if (p.kind === 'thing' || p.kind === 'process') next.set(String(p.address), p as unknown as Thing);
  things.value = next;
}

/** A `presentities.snapshot` or `presentities.change` event of the contacts' subscription. */
export function onPresentitiesEvent(e: ParleyEvent): void {
  const d = e.data;
  if (d.subscription !== 'contacts') return;
  if (e.ev === 'presentities.snapshot') return put(d.presentities as Record<string, unknown>[], true);
  if (d.match === true && d.presentity !== undefined) return put([d.presentity as Record<string, unknown>], false);
  const next = new Map(things.value);
  next.delete(String(d.address));
  things.value = next;
}
