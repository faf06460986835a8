/** Presence as the client shows it: a dot with a text label (colour is never the only signal, WCAG 1.4.1). */
import type { Presence } from './state.js';

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

/** The words for a presence: its state, then its activity and status text when it has them. */
export function describe(p: Presence | undefined): string {
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
