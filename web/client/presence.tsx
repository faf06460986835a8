/** Presence as the client shows it: a dot with a text label (colour is never the only signal, WCAG 1.4.1). */
import type { Presence } from './state.js';
import type { Thing } from './things.js';

const LABEL: Record<Presence['state'], string> = {
  available: 'Available',
  chat: 'Free to chat',
  busy: 'Busy',
  dnd: 'Do not disturb',
  away: 'Away',
  xa: 'Away for a while',
  offline: 'Offline',
};

const ACTIVITY: Record<string, string> = {
  'on-the-phone': 'On the phone',
  'in-meeting': 'In a meeting',
  presenting: 'Presenting',
  busy: 'Busy',
  'out-of-office': 'Out of office',
  'on-holiday': 'On holiday',
  travelling: 'Travelling',
  'at-lunch': 'At lunch',
  'working-remotely': 'Working remotely',
};

/**
 * One line about someone: availability, and their activity and status text when it has them. For a thing or
 * process (docs/presence.md): its kind first, and its custom fields last.
 */
export function describe(p: Presence | undefined, thing?: Thing): string {
  if (thing !== undefined) return describeThing(thing);
  if (!p) return 'Offline';
  const parts = [LABEL[p.state] ?? p.state];
  if (p.activity) parts.push(ACTIVITY[p.activity] ?? p.activity);
  if (p.status) parts.push(p.status);
  return parts.join(' · ');
}

/** A presence dot, labelled for assistive technology. */
export function Dot({ p }: { p: Presence | undefined }) {
  const state = p?.state ?? 'offline';
  return <span class={`dot ${state}`} role="img" aria-label={LABEL[state]} title={describe(p)} />;
}

/** The activities a person can pick, in menu order. */
export const ACTIVITIES = Object.entries(ACTIVITY);

const THING_AVAILABILITY: Record<string, string> = { available: 'Available', away: 'Away', dnd: 'Busy', xa: 'Away for a while', unavailable: 'Off', unknown: 'Not reporting' };

/** A thing's or process's line: kind, availability, activity, status, then each custom field as "name value". */
function describeThing(t: Thing): string {
  const parts = [t.kind === 'thing' ? 'Thing' : 'Process', THING_AVAILABILITY[t.availability] ?? t.availability];
  if (t.activity) parts.push(t.activity);
  if (t.status) parts.push(t.status);
  const fields = Object.entries(t.fields)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k} ${String(v)}`);
  if (fields.length > 0) parts.push(fields.join(', '));
  return parts.join(' · ');
}
