/**
 * Block lists (XEP-0191): a user blocks addresses (a person, or a whole domain). While blocked, the two do not
 * see each other's presence, the blocked party's messages, chat states, receipts and subscription requests do
 * not reach the user, and the user cannot write to them. Enforced here for every front door.
 */
import { ParleyError } from '../core/errors.js';
import { aggregatePresence } from '../core/presence.js';
import { parseAddress } from '../core/address.js';
import type { Ctx } from './context.js';
import { KeyedQueue } from './keyed-queue.js';
import type { PresenceService } from './presence-service.js';

/** Most entries one list may hold. */
export const MAX_BLOCKS = 1000;

const domainOf = (user: string): string => user.slice(user.indexOf('@') + 1);

/** Block lists with a cache of the lists of online users. */
export class BlockService {
  private readonly lists = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly queue = new KeyedQueue();

  constructor(
    private readonly ctx: Ctx,
    private readonly presence: PresenceService,
  ) {}

  /** The user's list, sorted. */
  async list(user: string): Promise<string[]> {
    return [...(await this.entries(user))].sort();
  }

  /** Whether `owner` blocks `other` (by address or by domain). */
  async blocks(owner: string, other: string): Promise<boolean> {
    const set = await this.entries(owner);
    return set.size > 0 && (set.has(other) || set.has(domainOf(other)));
  }

  /** Refuses when either side blocks the other (for messages and other stanzas from `from` to `to`). */
  async check(from: string, to: string): Promise<void> {
    if (from === to) return;
    if (await this.blocks(from, to)) {
      throw new ParleyError('not-acceptable', `you have blocked ${to}; unblock to write`, { blocked: true });
    }
    // XEP-0191 §3.5: towards the blocker, the blocked party sees only that the recipient is not available.
    if (await this.blocks(to, from)) throw new ParleyError('service-unavailable', `${to} is not available`);
  }

  /** Adds entries (bare user addresses or domains); pushes the change; withdraws presence both ways. */
  block(user: string, raw: string[]): Promise<string[]> {
    return this.queue.run(user, async () => {
      const entries = normalise(raw);
      if (entries.length === 0) throw new ParleyError('bad-request', 'name at least one address to block');
      const before = await this.entries(user);
      const added = entries.filter((e) => !before.has(e));
      if (before.size + added.length > MAX_BLOCKS) throw new ParleyError('not-acceptable', `a block list holds at most ${MAX_BLOCKS} entries`);
      await this.ctx.store.blocks.add(user, added);
      this.lists.delete(user);
      this.presence.invalidate();
      this.ctx.changed({ blocks: [user] });
      const { router } = this.ctx;
      router.toUser(user, router.outbound({ ev: 'block', data: { entries } }));
      // Each side now sees the other as unavailable (§3.3).
      for (const other of this.onlineMatching(added)) {
        router.toUser(other, router.outbound({ ev: 'presence', data: aggregatePresence(user, [], null) as unknown as Record<string, unknown> }));
        router.toUser(user, router.outbound({ ev: 'presence', data: aggregatePresence(other, [], null) as unknown as Record<string, unknown> }));
      }
      await this.remoteChanged?.(user, added, true);
      return entries;
    });
  }

  /** Removes entries (all of them with null); pushes the change; restores presence where allowed. */
  unblock(user: string, raw: string[] | null): Promise<string[] | null> {
    return this.queue.run(user, async () => {
      const entries = raw === null ? null : normalise(raw);
      const before = await this.entries(user);
      const removed = entries === null ? [...before] : entries.filter((e) => before.has(e));
      await this.ctx.store.blocks.remove(user, entries);
      this.lists.delete(user);
      this.presence.invalidate();
      this.ctx.changed({ blocks: [user] });
      const { router } = this.ctx;
      router.toUser(user, router.outbound({ ev: 'unblock', data: entries === null ? { all: true } : { entries } }));
      const [audience, visible] = await Promise.all([this.presence.audienceOf(user), this.presence.visibleTo(user)]);
      for (const other of this.onlineMatching(removed)) {
        if (audience.has(other)) {
          router.toUser(other, router.outbound(await this.presence.eventOf(user)));
        }
        if (visible.has(other)) {
          router.toUser(user, router.outbound(await this.presence.eventOf(other)));
        }
      }
      await this.remoteChanged?.(user, removed, false);
      return entries;
    });
  }

  /**
   * Entries added to (`blocked`) or removed from a user's list, for contacts on routed domains, whose presence
   * crosses a route (remote-presence.ts: unavailable both ways on a block, presence again on an unblock).
   */
  remoteChanged: ((user: string, entries: readonly string[], blocked: boolean) => Promise<void>) | null = null;

  /** Forgets cached lists (another process changed data). */
  invalidate(): void {
    this.lists.clear();
  }

  private entries(user: string): Promise<ReadonlySet<string>> {
    let p = this.lists.get(user);
    if (!p) {
      // Nearly every list is empty: those share one Set instead of an empty one per online user.
      p = this.ctx.store.blocks.list(user).then((l) => (l.length === 0 ? NO_ENTRIES : new Set(l)));
      // Only online users' lists stay cached; others are read when needed.
      if (this.ctx.sessions.isOnline(user)) {
        this.lists.set(user, p);
        p.catch(() => this.lists.delete(user));
      }
    }
    return p;
  }

  /** Online users, on any node, named by the entries (directly or by domain). */
  private *onlineMatching(entries: string[]): Iterable<string> {
    const set = new Set(entries);
    for (const u of this.ctx.cluster.onlineUsers()) if (set.has(u) || set.has(domainOf(u))) yield u;
  }

  /** Drops a user's cached list when the user goes offline. */
  forget(user: string): void {
    this.lists.delete(user);
  }
}

const NO_ENTRIES: ReadonlySet<string> = new Set();

/** Bare user addresses or domains; a resource is dropped (a block names a person or a domain). */
function normalise(raw: string[]): string[] {
  const out = new Set<string>();
  for (const r of raw) {
    const a = parseAddress(r);
    out.add(a.local === null ? a.domain : `${a.local}@${a.domain}`);
  }
  return [...out];
}
