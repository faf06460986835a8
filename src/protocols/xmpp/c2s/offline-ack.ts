/**
 * Confirmation of delivered log records to the engine, so they leave the user's offline queue. A record is
 * confirmed when the client acknowledged it (stream management) or, without stream management, when it was
 * written to the socket; a burst of confirmations makes one engine call per turn, for the highest position.
 */
import type { Engine } from '../../../engine/engine.js';
import type { Session } from '../../../engine/session.js';

/** What the batcher reads from its stream (the connection) when the turn's call is made. */
export interface OfflineAckHost {
  readonly engine: Engine;
  /** The session to acknowledge for; null once it ended (nothing is sent then). */
  readonly session: Session | null;
}

/** The per-turn batching of one stream's confirmations. */
export class OfflineAck {
  /** Highest record seq the client is known to have, and whether an engine call is due this turn. */
  private pos = 0;
  private due = false;

  constructor(private readonly host: OfflineAckHost) {}

  /** The client has the records up to `pos`; lower or equal positions than one seen before change nothing. */
  confirmed(pos: number): void {
    if (pos <= this.pos) return;
    this.pos = pos;
    if (this.due) return;
    this.due = true;
    queueMicrotask(() => {
      this.due = false;
      const { engine, session } = this.host;
      if (session) engine.ack(session, this.pos).catch((e: unknown) => engine.ctx.log.error({ err: e }, 'offline acknowledgement failed'));
    });
  }
}
