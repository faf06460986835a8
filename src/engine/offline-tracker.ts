/**
 * Which users may have entries in their offline queue, and up to which seq. Clients acknowledge often (the SDK
 * every 50 ms while messages flow); with nothing queued, an acknowledgement then costs no storage call.
 * Entries come from messages stored for a user without sessions; each login also marks the user, for entries
 * queued before this server started.
 */
export class OfflineTracker {
  private readonly pending = new Map<string, number>();

  /** The user's queue may hold entries up to `seq`. */
  note(user: string, seq: number): void {
    if (seq > (this.pending.get(user) ?? 0)) this.pending.set(user, seq);
  }

  /** Runs `drop` only when something may be queued; forgets the user once the ack covers all of it. */
  async ack(user: string, upTo: number, drop: () => Promise<void>): Promise<void> {
    const max = this.pending.get(user);
    if (max === undefined) return;
    await drop();
    if (upTo >= max && this.pending.get(user) === max) this.pending.delete(user);
  }
}
