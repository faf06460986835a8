/** The usage figures: one UTC day's counts as stored, flushed and reported. */
import type { ClientProtocol } from '../../engine/session.js';

/** Every protocol a session may speak, in the order reports list them. */
export const PROTOCOLS: readonly ClientProtocol[] = ['json', 'xmpp-tcp', 'xmpp-websocket', 'xmpp-bosh', 'other'];

/** Sessions opened, per protocol. */
export type ProtocolCounts = Record<ClientProtocol, number>;

/** No sessions. */
export const noSessions = (): ProtocolCounts => ({ json: 0, 'xmpp-tcp': 0, 'xmpp-websocket': 0, 'xmpp-bosh': 0, other: 0 });

/** The UTC day (YYYY-MM-DD) of an epoch ms. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The day `n` days before `day`. */
export const daysBefore = (day: string, n: number): string => dayOf(Date.parse(`${day}T00:00:00Z`) - n * 86_400_000);

/** Counts one node adds to a day (additive: every node adds its own). */
export interface DayCounts {
  day: string;
  messages: number;
  roomMessages: number;
  newAccounts: number;
  sessions: ProtocolCounts;
}

/** What one flush writes, in one transaction. */
export interface UsageFlush {
  counts: DayCounts[];
  /** Users seen opening a session, by day (kept per user until the day is folded, so each counts once). */
  active: Array<{ day: string; user: string; bot: boolean }>;
  /** This node's most sessions open at once, by day (the stored figure keeps the larger). */
  peaks: Array<{ day: string; node: string; peak: number }>;
  /**
   * The log positions whose messages `counts` includes: (from, to]. When the stored position already reaches
   * `to` (another node counted them, or this one before a restart), the messages are not added again.
   */
  messages: { from: number; to: number } | null;
}

/** One day as reported (the HTTP API and the CLI). */
export interface DayReport {
  day: string;
  messages: number;
  roomMessages: number;
  /** People who opened a session that day (bots apart). */
  activeUsers: number;
  activeBots: number;
  sessions: ProtocolCounts;
  /** The sum of each node's peak: an upper bound of the sessions open at once in the cluster. */
  peakConnections: number;
  newAccounts: number;
}

/** A day with nothing in it. */
export const emptyDay = (day: string): DayReport => ({ day, messages: 0, roomMessages: 0, activeUsers: 0, activeBots: 0, sessions: noSessions(), peakConnections: 0, newAccounts: 0 });
