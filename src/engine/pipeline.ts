/**
 * The message path's one seam. Features that must see or may refuse every message (the compliance journal,
 * partner-domain policy, content rules, malware scanning) register a MessageHook in the composition root.
 *
 * Order for each message: check hooks (may refuse) → durable store → record hooks (must succeed before the
 * sender is acknowledged) → delivery → acknowledgement.
 */
import type { LogRecord, NewRecord } from '../core/types.js';

/** What a hook sees of a message before it is stored. */
export interface MessageDraft {
  record: NewRecord;
  /** The sending session's full address. */
  sender: string;
}

/** A feature's handle on the message path. */
export interface MessageHook {
  readonly name: string;
  /** Runs before storage; throw a ParleyError (e.g. policy-violation) to refuse the message. */
  check?(draft: MessageDraft): void | Promise<void>;
  /** Runs after durable storage and before acknowledgement; a failure fails the request. */
  record?(stored: LogRecord): void | Promise<void>;
}

/** Runs hooks in registration order. */
export class MessagePipeline {
  constructor(private readonly hooks: readonly MessageHook[]) {}

  /** Runs every check hook; the first refusal wins. */
  async check(draft: MessageDraft): Promise<void> {
    for (const h of this.hooks) if (h.check) await h.check(draft);
  }

  /** Runs every record hook. */
  async record(stored: LogRecord): Promise<void> {
    for (const h of this.hooks) if (h.record) await h.record(stored);
  }
}
