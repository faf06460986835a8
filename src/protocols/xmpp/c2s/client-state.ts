/**
 * Client State Indication (XEP-0352) on the way out: while the client says it is inactive, chat states are
 * dropped and presence waits (only the latest per contact), until something that matters is sent or the client
 * becomes active again.
 */
import type { ServerEvent } from '../../../engine/outbound.js';

export class ClientState {
  /** The client sent <inactive/> and not <active/> since. */
  inactive = false;
  /**
   * Presence stanzas held back, by the address they come from (a contact's full address per resource, its bare
   * address for the whole contact); null when nothing is (release() frees the Map).
   */
  private held: Map<string, string[]> | null = null;

  /**
   * Whether an event's stanzas stay back now: true, while inactive, for a chat state (dropped) or a contact's
   * presence (held, replacing the one held before from the same address: a resource's replaces that resource's,
   * a presence from the bare address replaces all of the contact's).
   */
  hold(e: ServerEvent, stanzas: string[]): boolean {
    if (!this.inactive) return false;
    if (e.ev === 'typing') return true;
    if (e.ev !== 'presence') return false;
    const held = (this.held ??= new Map());
    const user = String(e.data.user);
    const resources = e.resources?.[user];
    if (resources !== undefined && resources.length > 0 && resources.length === stanzas.length) {
      // One stanza per resource, in the event's order (encode.ts).
      held.delete(user);
      resources.forEach((r, i) => held.set(`${user}/${r.resource}`, [stanzas[i]!]));
    } else {
      for (const key of held.keys()) if (key.startsWith(`${user}/`)) held.delete(key);
      held.set(user, stanzas);
    }
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
