/**
 * The message bus port: what crosses sessions, and once Parley runs as several processes crosses processes
 * (cache invalidation, module events, later delivery and presence). The in-process adapter (engine/local-bus.ts)
 * is today's behaviour; a NATS adapter will implement the same interface, so nothing above it changes.
 *
 * Messages are structured-clonable values (JSON in practice): an adapter may serialise them. Delivery is at most
 * once and in publication order per subject; a subscriber that needs every item reads the log instead.
 */

/** A subscriber; a returned promise is awaited before the next message of that subscription. */
export type BusHandler = (message: unknown, subject: string) => void | Promise<void>;

/** Publish and subscribe by subject (dot-separated words, e.g. `cache.invalidate`). */
export interface Bus {
  /** Sends to every subscriber of the subject, in this process and (later) others. */
  publish(subject: string, message: unknown): void;
  /** Subscribes; `subject` may end in `.>` to take every subject below it (NATS wildcard). Returns unsubscribe. */
  subscribe(subject: string, handler: BusHandler): () => void;
  /** Stops delivering and releases the connection. */
  close(): Promise<void>;
}
