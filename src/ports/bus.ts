/**
 * The message bus port: what crosses sessions, and once Parley runs as several processes crosses processes.
 * Cache invalidation (`cache.invalidate`), the cluster layer (engine/cluster.ts: `parley.cluster` for sessions
 * opened, changed and closed, state exchanges, heartbeats and departures; `parley.node.<id>.deliver` for events
 * to one node's sessions), live options administrators changed (`parley.settings`, modules/live-settings.ts) and
 * modules' events use it. The in-process adapter (engine/local-bus.ts) is the single
 * process; a NATS adapter implements the same interface, so nothing above it changes.
 *
 * Messages are structured-clonable values (JSON in practice): an adapter may serialise them, so a subscriber
 * never relies on getting the publisher's object. Delivery is at most once and in publication order per subject
 * (and per publisher: two publishers' messages on one subject interleave); there is no order between subjects.
 * A subscriber that needs every item reads the log instead; the cluster layer tolerates loss by heartbeats and
 * state exchanges (a lost delivery is a lost live copy: the record is in the log and replayed by position).
 */
/** A subscriber; a returned promise is awaited before the next message of that subscription. */
export type BusHandler = (message: unknown, subject: string) => void | Promise<void>;

/** Publish and subscribe by subject (dot-separated words, e.g. `cache.invalidate`). */
export interface Bus {
  /**
   * Whether messages reach other processes: Parley runs as a cluster of nodes (a networked adapter such as NATS
   * sets it; the in-process adapter does not). What must agree across nodes is checked at start against it (the
   * federation module's dialback secret).
   */
  readonly shared?: boolean;
  /** Sends to every subscriber of the subject, in this process and others. */
  publish(subject: string, message: unknown): void;
  /** Subscribes; `subject` may end in `.>` to take every subject below it (NATS wildcard). Returns unsubscribe. */
  subscribe(subject: string, handler: BusHandler): () => void;
  /** Stops delivering and releases the connection. */
  close(): Promise<void>;
}
