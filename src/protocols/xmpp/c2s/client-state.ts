/**
 * Client State Indication (XEP-0352) on the way out: while the client says it is inactive, chat states are
 * dropped and presence waits (only the latest per contact), until something that matters is sent or the client
 * becomes active again.
 */
import type { ServerEvent } from '../../../engine/outbound.js';

export class ClientState {
  /** The client sent <inactive/> and not <active/> since. */
  inactive = false;
  /** Presence stanzas held back, by contact; null when nothing is (release() frees the Map). */
  private held: Map<string, string[]> | null = null;

  /**
   * Whether an event's stanzas stay back now: true, while inactive, for a chat state (dropped) or a contact's
   * presence (held, replacing the one held before for that contact).
   */
  hold(e: ServerEvent, stanzas: string[]): boolean {
    if (!this.inactive) return false;
    if (e.ev === 'typing') return true;
    if (e.ev !== 'presence') return false;
    (this.held ??= new Map()).set(String(e.data.user), stanzas);
    return true;
  }

  /** Whether presence is waiting to be released. */
  get holding(): boolean {
    return this.held !== null && this.held.size > 0;
  }

  /** Takes the held presence stanzas, in the order their contacts were first held. */
  release(): string[] {
    const held = this.held ? [...this.held.values()] : [];
    this.held = null;
    return held.flat();
  }
}
