/**
 * The figures counted in memory between flushes: events add to them as they happen (no store write per event),
 * and `take` hands what accumulated to one flush. Pure: the caller gives the time, so tests pin it.
 */
import type { LogRecord } from '../../core/types.js';
import type { ClientProtocol } from '../../engine/session.js';
import { dayOf, noSessions, type DayCounts, type UsageFlush } from './model.js';

/** Counts in memory until the next flush. */
export class Tally {
  private counts = new Map<string, DayCounts>();
  private active: UsageFlush['active'] = [];
  private peaks = new Map<string, number>();
  private range: { from: number; to: number } | null = null;
  /** `<day> <user>` already counted active by this node: one lookup of the account's kind per user and day. */
  private seen = new Set<string>();
  private seenDay = '';
  /** Sessions open on this node, by id. */
  private readonly open = new Set<string>();
  private peakDay = '';
  /** The last log position counted (records at or before it are not counted again). */
  counted = 0;

  private day(day: string): DayCounts {
    let c = this.counts.get(day);
    if (!c) this.counts.set(day, (c = { day, messages: 0, roomMessages: 0, newAccounts: 0, sessions: noSessions() }));
    return c;
  }

  /** Counts the messages among `records` (not edits, retractions or receipts) by the day they were sent. */
  records(records: readonly LogRecord[], since: number): void {
    const before = this.counted;
    for (const r of records) {
      if (r.seq <= this.counted) continue;
      this.counted = r.seq;
      if (r.kind !== 'message' || r.ts < since) continue;
      const c = this.day(dayOf(r.ts));
      if (r.type === 'groupchat') c.roomMessages++;
      else c.messages++;
    }
    if (this.counted > before) this.range = { from: this.range?.from ?? before, to: this.counted };
  }

  /**
   * A session opened: counted by protocol, and in this node's peak. Returns true when its user is new today on
   * this node (the caller then learns whether it is a bot and calls `activeUser`).
   */
  opened(id: string, user: string, protocol: ClientProtocol, now: number): boolean {
    const day = dayOf(now);
    this.day(day).sessions[protocol]++;
    this.open.add(id);
    this.bump(day);
    if (this.seenDay !== day) {
      this.seen = new Set();
      this.seenDay = day;
    }
    const key = `${day} ${user}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  /** A user opened a session on `day` (each user is stored once per day, whichever node saw them). */
  activeUser(day: string, user: string, bot: boolean): void {
    this.active.push({ day, user, bot });
  }

  /** A session closed. */
  closed(id: string): void {
    this.open.delete(id);
  }

  /** An account was created. */
  accountCreated(now: number): void {
    this.day(dayOf(now)).newAccounts++;
  }

  /** Sessions open on this node now. */
  get openSessions(): number {
    return this.open.size;
  }

  private bump(day: string): void {
    this.peakDay = day;
    if (this.open.size > (this.peaks.get(day) ?? 0)) this.peaks.set(day, this.open.size);
  }

  /**
   * What accumulated, for one flush, and a fresh start; null when there is nothing to write. Sessions open since
   * an earlier day make a new day's first peak.
   */
  take(node: string, now: number): UsageFlush | null {
    const today = dayOf(now);
    if (this.peakDay !== today && this.open.size > 0) this.bump(today);
    if (this.counts.size === 0 && this.active.length === 0 && this.peaks.size === 0 && this.range === null) return null;
    const f: UsageFlush = {
      counts: [...this.counts.values()],
      active: this.active,
      peaks: [...this.peaks].map(([day, peak]) => ({ day, node, peak })),
      messages: this.range,
    };
    this.counts = new Map();
    this.active = [];
    this.peaks = new Map();
    this.range = null;
    return f;
  }

  /** Puts back what a flush that failed took, so the next flush writes it. */
  restore(f: UsageFlush): void {
    for (const c of f.counts) {
      const d = this.day(c.day);
      d.messages += c.messages;
      d.roomMessages += c.roomMessages;
      d.newAccounts += c.newAccounts;
      for (const [p, n] of Object.entries(c.sessions) as Array<[ClientProtocol, number]>) d.sessions[p] += n;
    }
    this.active.push(...f.active);
    for (const p of f.peaks) this.peaks.set(p.day, Math.max(p.peak, this.peaks.get(p.day) ?? 0));
    if (f.messages !== null) this.range = { from: f.messages.from, to: Math.max(f.messages.to, this.range?.to ?? 0) };
  }
}
