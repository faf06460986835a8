/** What every engine service shares: ports, the session registry and cluster directory, the router and options. */
import type { Store } from '../ports/store.js';
import type { Cluster } from './cluster.js';
import type { Directory } from './directory.js';
import type { DomainRoutes } from './domain-routes.js';
import type { EventHub } from './events.js';
import type { ReadLimiter } from './read-limiter.js';
import type { Router } from './router.js';
import type { SessionRegistry } from './session.js';

/** Minimal structured logger (pino satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Engine options derived from configuration. */
export interface EngineOptions {
  maxBodyBytes: number;
  maxSessionsPerUser: number;
  historyPageMax: number;
  /** Bodies per history page, in UTF-8 bytes (limits.historyPageMaxBytes; default 256 KiB). */
  historyPageMaxBytes?: number;
  /** Heavy reads per user running at once (limits.readsInFlightPerUser; default 4). */
  readsInFlightPerUser?: number;
  /** Heavy reads per user waiting for a turn (limits.readsQueuedPerUser; default 8). */
  readsQueuedPerUser?: number;
  roomSubdomain: string;
  roomMaxMembers: number;
  scramIterations: number;
  tokenTtlMs: number;
  /** Per-user and per-session bounds; one left out is not enforced (the server's configuration sets them all). */
  limits?: Partial<EngineLimits>;
}

/** Bounds on what one user or session may make the server hold (configuration: limits.*, rooms.*). */
export interface EngineLimits {
  /** Entries in a user's offline queue. */
  maxOfflineMessages: number;
  /** UTF-8 body bytes in a user's offline queue. */
  maxOfflineBytes: number;
  /** Bytes of a session's messages accepted and not yet stored (bodies plus a fixed overhead each). */
  maxPendingSendBytes: number;
  /** Rooms a user owns. */
  maxRoomsOwned: number;
  /** Rooms a user is a member of. */
  maxRoomMemberships: number;
  /** Open rooms (of those a user has no relation to) per room.list page, and pending invitations listed. */
  roomListPage: number;
}

/** A bound from the options; Infinity when not set. */
export function limitOf(opts: EngineOptions, key: keyof EngineLimits): number {
  return opts.limits?.[key] ?? Infinity;
}

/** Counters the engine reports; the app maps them onto Prometheus. */
export interface EngineMetrics {
  message(type: 'chat' | 'groupchat', outcome: 'stored' | 'duplicate' | 'refused'): void;
  storage<T>(op: string, p: Promise<T>): Promise<T>;
  login(result: 'ok' | 'failed' | 'locked'): void;
  sessions(delta: number): void;
  /** A request refused by one of the engine's limits (`offline-queue-full`, `pending-sends`, `heavy-reads`, ...). */
  refused(limit: string): void;
}

/**
 * Data that other nodes may hold in their caches changed through this one (the cache.invalidate subject carries
 * it, engine.ts): a room's members, users' rosters (and so presence audiences), users' block lists.
 */
export interface CacheChange {
  rooms?: string[];
  rosters?: string[];
  blocks?: string[];
}

/** The shared context of engine services. */
export interface Ctx {
  readonly store: Store;
  /** This process's sessions. */
  readonly sessions: SessionRegistry;
  /** Other processes' sessions, and questions about a user's sessions on every node (cluster.ts). */
  readonly cluster: Cluster;
  readonly router: Router;
  readonly directory: Directory;
  /** Routes to domains not hosted here (components, later federation): domain-routes.ts. */
  readonly routes: DomainRoutes;
  readonly now: () => number;
  readonly opts: EngineOptions;
  readonly log: Logger;
  readonly metrics: EngineMetrics;
  /** Per-user admission of reads whose cost grows with data (history, MAM, rosters, room lists). */
  readonly reads: ReadLimiter;
  /** The engine's events, which modules hook (events.ts). */
  readonly events: EventHub;
  /** Tells the other nodes that cached data changed here (nothing is sent while no other node is known). */
  readonly changed: (change: CacheChange) => void;
}

/** Metrics that record nothing (unit tests). */
export const noMetrics: EngineMetrics = {
  message: () => undefined,
  storage: (_op, p) => p,
  login: () => undefined,
  sessions: () => undefined,
  refused: () => undefined,
};
