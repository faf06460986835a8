/**
 * The in-process Bus (ports/bus.ts): subscribers in this process get each message on a later microtask, in
 * publication order per subscription, so a publisher never runs a subscriber inside its own call (as it could
 * not with a networked bus either).
 */
import type { Bus, BusHandler } from '../ports/bus.js';
import type { Logger } from './context.js';

interface Subscription {
  subject: string;
  prefix: string | null;
  handler: BusHandler;
  /** The end of this subscription's chain: messages run one after another. */
  tail: Promise<void>;
}

/** Publish/subscribe within one process. */
export class LocalBus implements Bus {
  private readonly subs = new Set<Subscription>();
  private closed = false;

  constructor(private readonly log: Logger) {}

  publish(subject: string, message: unknown): void {
    if (this.closed) return;
    for (const s of this.subs) {
      if (s.prefix === null ? s.subject !== subject : !subject.startsWith(s.prefix)) continue;
      s.tail = s.tail.then(async () => {
        if (!this.subs.has(s)) return;
        try {
          await s.handler(message, subject);
        } catch (e) {
          this.log.error({ err: e, subject }, 'a bus subscriber failed');
        }
      });
    }
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    const prefix = subject.endsWith('.>') ? subject.slice(0, -1) : null;
    const s: Subscription = { subject, prefix, handler, tail: Promise.resolve() };
    this.subs.add(s);
    return () => {
      this.subs.delete(s);
    };
  }

  /** Refuses new messages, delivers those already published, then drops every subscription. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.tail));
    this.subs.clear();
  }
}
