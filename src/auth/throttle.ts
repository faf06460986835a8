/**
 * Failed-login throttling and lockout, in memory, keyed per account and per source address. Each key counts
 * failures in a window that opens at its first failure; past `freeFailures` every answer is delayed
 * exponentially (capped), and reaching the lock limit locks the key for `lockMs`. Memory is bounded: entries
 * expire with their window or lock, and each table is capped, evicting the least recently touched entry.
 * Windows are fixed (not sliding), so across a window boundary up to 2·lockAfter − 1 attempts can pass before the
 * lock: the price of O(1) memory per key.
 *
 * Attempts in flight count too. A caller checks, then spends time verifying the password, then reports the
 * outcome; without counting the attempts between check and outcome, a burst of parallel guesses would all pass
 * check before the first failure is recorded and the lock would cap nothing. So `check` reserves the attempt
 * (it counts like a failure for delays and limits) until `fail` or `succeed` settles it, and an attempt that
 * could take a key past its lock limit while others are still pending is refused with rate-limited.
 *
 * A reservation is not a failure, so it must not let anyone hold an account hostage: a SASL exchange that sends
 * its first message and goes idle would otherwise keep its reservation until the stream times out, and a handful
 * of such streams would keep the real user out (rate-limited) without ever tripping a lock. Hence:
 *  - a reservation lapses `pendingMs` after its delay ends, whether or not it was settled (the caller fails the
 *    exchange at that moment, see AuthService.scram);
 *  - one source address may hold at most `ipAccountMaxInFlight` reservations on one account (and
 *    `ipMaxInFlight` in all), so from a single address an attacker occupies only that much of an account's
 *    budget, and the user logging in from elsewhere still fits under the lock limit.
 *
 * The account key should be the canonical (normalised) address the caller resolved, so that case or Unicode
 * variants cannot dodge the limit. Source addresses are keyed per IPv4 address and per IPv6 /64 (one customer
 * LAN, RFC 4291 §2.5.4), since a single attacker usually controls a whole /64.
 */
import { ParleyError } from '../core/errors.js';
import { sourceKey } from './source-key.js';

export { sourceKey } from './source-key.js';

/** Tuning of a LoginThrottle; every field has a default. */
export interface LoginThrottleOptions {
  /** Account failures within the window that are answered without delay (default 3). */
  freeFailures: number;
  /** Source-address failures answered without delay (default ipLockAfter / 2: NAT hides many users). */
  ipFreeFailures: number;
  /** First imposed delay; it doubles with each further failure (default 250 ms). */
  delayBaseMs: number;
  /** Upper bound of the imposed delay (default 5 s). */
  delayMaxMs: number;
  /** Account failures within the window that lock the account (default 10). */
  lockAfter: number;
  /** Source-address failures within the window that lock the address (default 50). */
  ipLockAfter: number;
  /**
   * Attempts in flight from one source address (default 1000). Behind a shared address (NAT, a proxy) many
   * people log in at once, so in-flight attempts count towards the address lock only as far as the address
   * has already failed; this cap bounds them on their own.
   */
  ipMaxInFlight: number;
  /**
   * Attempts in flight on one account from one source address (default 3: a user's few devices reconnecting
   * at once behind one address), and never more than lockAfter − 1: caps how much of an account's lock
   * budget a single address can occupy, so the user can always still log in from elsewhere.
   */
  ipAccountMaxInFlight: number;
  /**
   * How long a reservation counts after its delay, unless settled first (default 10 s, at most windowMs): the
   * time a client has to finish a login exchange it started.
   */
  pendingMs: number;
  /** How long a lock lasts (default 15 min). */
  lockMs: number;
  /** How long failures count, from the first failure of a window (default 15 min). */
  windowMs: number;
  /** Maximum tracked keys per table (accounts, addresses), default 100 000. */
  maxEntries: number;
  /** Clock in epoch ms (tests inject a fake one). */
  now: () => number;
}

/** Which key a lock or count applies to. */
export type ThrottleScope = 'account' | 'address';

/** What `fail` recorded: failure counts in the current windows and the lock it caused, if any. */
export interface ThrottleFailure {
  accountFailures: number;
  addressFailures: number;
  locked: ThrottleScope | null;
}

/** What `check` returns: the delay to impose and the reservation to settle later. */
export interface ThrottleTicket {
  /** Wait this long before answering the attempt. */
  delayMs: number;
  /** The reservation; pass it to `fail`, `succeed` or `release` so exactly this attempt is settled. */
  ticket: number;
  /** When the reservation lapses on its own (epoch ms): the caller should give up on the attempt by then. */
  expiresAt: number;
}

/** One attempt in flight, listed in the entries of both its account and its source address. */
interface Reservation {
  id: number;
  account: string;
  src: string;
  expiresAt: number;
  settled: boolean;
}

interface Entry {
  failures: number;
  /** Attempts that passed `check` and are not yet settled or lapsed (pruned on access). */
  held: Reservation[];
  windowStart: number;
  /** 0 when not locked. */
  lockedUntil: number;
}

const MINUTE = 60_000;

const DEFAULTS = {
  freeFailures: 3,
  delayBaseMs: 250,
  delayMaxMs: 5_000,
  lockAfter: 10,
  ipLockAfter: 50,
  ipMaxInFlight: 1000,
  ipAccountMaxInFlight: 3,
  pendingMs: 10_000,
  lockMs: 15 * MINUTE,
  windowMs: 15 * MINUTE,
  maxEntries: 100_000,
} as const;

/** How long a client refused for too many attempts in flight is asked to wait (they settle in well under that). */
const BUSY_RETRY_MS = 1_000;

/** Expired entries inspected (from the oldest end) on each write, so idle entries go away without a sweep. */
const PRUNE_STEP = 4;

function checkOption(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`LoginThrottle option ${name} must be a number >= ${min}, got ${String(value)}`);
  }
}

/** Per-account and per-source-address failed-login throttle with temporary lockout (see the module comment). */
export class LoginThrottle {
  private readonly o: LoginThrottleOptions;
  private readonly accounts = new Map<string, Entry>();
  private readonly addresses = new Map<string, Entry>();
  /** Reservations by ticket (unsettled ones only). */
  private readonly tickets = new Map<number, Reservation>();
  private nextTicket = 1;

  constructor(opts: Partial<LoginThrottleOptions> = {}) {
    const ipLockAfter = opts.ipLockAfter ?? DEFAULTS.ipLockAfter;
    this.o = {
      ...DEFAULTS,
      ipFreeFailures: Math.floor(ipLockAfter / 2),
      now: Date.now,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    };
    const numeric: Array<[keyof LoginThrottleOptions, number]> = [
      ['freeFailures', 0],
      ['ipFreeFailures', 0],
      ['delayBaseMs', 0],
      ['delayMaxMs', 0],
      ['lockAfter', 1],
      ['ipLockAfter', 1],
      ['ipMaxInFlight', 1],
      ['ipAccountMaxInFlight', 1],
      ['pendingMs', 1],
      ['lockMs', 1],
      ['windowMs', 1],
      ['maxEntries', 1],
    ];
    for (const [name, min] of numeric) checkOption(name, this.o[name] as number, min);
    // A reservation outliving its entry's window would be forgotten with the entry; keep it within.
    this.o.pendingMs = Math.min(this.o.pendingMs, this.o.windowMs);
    // One address must never be able to fill an account's whole budget on its own.
    this.o.ipAccountMaxInFlight = Math.max(1, Math.min(this.o.ipAccountMaxInFlight, this.o.lockAfter - 1));
  }

  /**
   * Throws ParleyError account-locked (details: scope, retryAfterMs, unlocksAt) when the account or the source
   * address is locked, or rate-limited (details: scope, retryAfterMs) when the attempts already in flight could
   * reach the lock limit or exceed a source address's in-flight caps; otherwise reserves the attempt (settle it
   * with `fail`, `succeed` or `release`, or let it lapse at `expiresAt`) and says how long to wait before
   * answering it.
   */
  check(account: string, ip: string): ThrottleTicket {
    const now = this.o.now();
    const srcKey = sourceKey(ip);
    const acc = this.live(this.accounts, account, now);
    const src = this.live(this.addresses, srcKey, now);
    const accLock = acc !== undefined && acc.lockedUntil > now ? acc.lockedUntil : 0;
    const srcLock = src !== undefined && src.lockedUntil > now ? src.lockedUntil : 0;
    if (accLock > 0 || srcLock > 0) {
      const scope: ThrottleScope = accLock >= srcLock ? 'account' : 'address';
      const until = Math.max(accLock, srcLock);
      const retryAfterMs = until - now;
      const when = `${new Date(until).toISOString()} (in ${Math.ceil(retryAfterMs / 1000)} s)`;
      const message =
        scope === 'account'
          ? `This account is locked after too many failed logins; it unlocks at ${when}`
          : `Too many failed logins from this source address; it is blocked until ${when}`;
      throw new ParleyError('account-locked', message, { scope, retryAfterMs, unlocksAt: until });
    }
    const accHeld = acc?.held ?? [];
    const accCount = (acc?.failures ?? 0) + accHeld.length;
    // Parallel guesses from one address count once the address has failed, up to its failures; a login storm
    // of people behind one address (no failures) is bounded by ipMaxInFlight alone.
    const srcFailures = src?.failures ?? 0;
    const srcPending = src?.held.length ?? 0;
    const srcCount = srcFailures + Math.min(srcPending, srcFailures);
    let pairPending = 0;
    for (const r of accHeld) if (r.src === srcKey) pairPending++;
    if (pairPending >= this.o.ipAccountMaxInFlight) {
      // Checked first: this address has its share of the account's budget already, whatever others hold.
      throw this.busy('address', 'Too many logins to this account in progress from this address; try again shortly', accHeld, srcKey, now);
    }
    if (accCount >= this.o.lockAfter) throw this.busy('account', 'Too many login attempts at once; try again shortly', accHeld, null, now);
    if (srcCount >= this.o.ipLockAfter || srcPending >= this.o.ipMaxInFlight) {
      throw this.busy('address', 'Too many login attempts at once; try again shortly', src?.held ?? [], null, now);
    }
    // Parallel attempts on one account are slowed as if they had failed (that is how guessing looks), but an
    // address's delay follows its recorded failures only: many people log in at once behind one shared address.
    const delayMs = Math.max(this.delayFor(accCount, this.o.freeFailures), this.delayFor(srcFailures, this.o.ipFreeFailures));
    const r: Reservation = { id: this.nextTicket++, account, src: srcKey, expiresAt: now + delayMs + this.o.pendingMs, settled: false };
    this.tickets.set(r.id, r);
    this.hold(this.accounts, account, acc, r, now);
    this.hold(this.addresses, srcKey, src, r, now);
    return { delayMs, ticket: r.id, expiresAt: r.expiresAt };
  }

  /**
   * Records a failed login for the account and the source address (settling `ticket`, or else one reservation
   * of this account from this address); may lock either.
   */
  fail(account: string, ip: string, ticket?: number): ThrottleFailure {
    const now = this.o.now();
    const srcKey = sourceKey(ip);
    this.settle(account, srcKey, ticket, now);
    const a = this.bump(this.accounts, account, this.o.lockAfter, now);
    const s = this.bump(this.addresses, srcKey, this.o.ipLockAfter, now);
    return {
      accountFailures: a.failures,
      addressFailures: s.failures,
      locked: a.lockedNow ? 'account' : s.lockedNow ? 'address' : null,
    };
  }

  /**
   * Records a successful login: clears the account's failures. The source address's count is deliberately kept
   * (it decays only with its window), so one success behind a shared address cannot wipe an attacker's record.
   */
  succeed(account: string, ip: string, ticket?: number): void {
    const now = this.o.now();
    const srcKey = sourceKey(ip);
    this.settle(account, srcKey, ticket, now);
    const acc = this.live(this.accounts, account, now);
    if (acc !== undefined) {
      // Other attempts still in flight keep counting until they settle; the record of failures goes.
      if (acc.held.length === 0) this.accounts.delete(account);
      else Object.assign(acc, { failures: 0, lockedUntil: 0, windowStart: now });
    }
    const src = this.live(this.addresses, srcKey, now);
    // An address entry that only held this reservation would otherwise linger until its window ends.
    if (src !== undefined && src.failures === 0 && src.held.length === 0 && src.lockedUntil === 0) this.addresses.delete(srcKey);
  }

  /** Settles a reserved attempt that ended in neither success nor failure (a storage error, an abort). */
  release(account: string, ip: string, ticket?: number): void {
    this.settle(account, sourceKey(ip), ticket, this.o.now());
  }

  /** Drops every expired entry; writes already prune incrementally, so calling this is optional. */
  prune(): void {
    const now = this.o.now();
    for (const map of [this.accounts, this.addresses]) {
      for (const [key, e] of map) if (this.expired(e, now)) this.drop(map, key, e);
    }
    for (const [id, r] of this.tickets) if (r.settled || r.expiresAt <= now) this.tickets.delete(id);
  }

  /** Number of tracked keys per table (for metrics and tests). */
  get size(): { accounts: number; addresses: number } {
    return { accounts: this.accounts.size, addresses: this.addresses.size };
  }

  /** Attempts in flight (unsettled, unlapsed reservations), for metrics and tests. */
  get inFlight(): number {
    const now = this.o.now();
    let n = 0;
    for (const r of this.tickets.values()) if (!r.settled && r.expiresAt > now) n++;
    return n;
  }

  /** rate-limited, asking to retry when the earliest relevant reservation lapses (at most BUSY_RETRY_MS). */
  private busy(scope: ThrottleScope, message: string, held: Reservation[], src: string | null, now: number): ParleyError {
    let first = Infinity;
    for (const r of held) if (src === null || r.src === src) first = Math.min(first, r.expiresAt);
    const retryAfterMs = Math.max(1, Math.min(BUSY_RETRY_MS, first - now));
    return new ParleyError('rate-limited', message, { scope, retryAfterMs });
  }

  /** Exponential delay after `free` failures: base, 2·base, 4·base, … capped at delayMaxMs. */
  private delayFor(failures: number, free: number): number {
    if (failures <= free) return 0;
    return Math.min(this.o.delayMaxMs, this.o.delayBaseMs * 2 ** (failures - free - 1));
  }

  private expired(e: Entry, now: number): boolean {
    if (e.lockedUntil !== 0) return e.lockedUntil <= now; // a lock ends with a clean slate
    return now - e.windowStart >= this.o.windowMs;
  }

  /** Removes an entry; its reservations go with it (they would have lapsed by now: pendingMs ≤ windowMs). */
  private drop(map: Map<string, Entry>, key: string, e: Entry): void {
    map.delete(key);
    for (const r of e.held) r.settled = true;
  }

  /** The entry of `key` unless it has expired (then it is removed), with settled and lapsed reservations pruned. */
  private live(map: Map<string, Entry>, key: string, now: number): Entry | undefined {
    const e = map.get(key);
    if (e === undefined) return undefined;
    if (this.expired(e, now)) {
      this.drop(map, key, e);
      return undefined;
    }
    if (e.held.some((r) => r.settled || r.expiresAt <= now)) e.held = e.held.filter((r) => !r.settled && r.expiresAt > now);
    return e;
  }

  /** Adds a reservation to `key`'s entry (creating the entry, which opens a window). */
  private hold(map: Map<string, Entry>, key: string, current: Entry | undefined, r: Reservation, now: number): void {
    if (current !== undefined) {
      current.held.push(r);
      return;
    }
    map.set(key, { failures: 0, held: [r], windowStart: now, lockedUntil: 0 });
    this.shrink(map, now);
  }

  /**
   * Ends one reservation: `ticket` if given (a no-op once it lapsed or was settled, so a late settlement never
   * cancels a newer attempt), else the oldest one of this account from this source (callers that did not keep
   * the ticket; none at all is fine too).
   */
  private settle(account: string, srcKey: string, ticket: number | undefined, now: number): void {
    let r: Reservation | undefined;
    if (ticket !== undefined) {
      r = this.tickets.get(ticket);
    } else {
      r = this.live(this.accounts, account, now)?.held.find((x) => x.src === srcKey);
    }
    if (r === undefined) return;
    r.settled = true;
    this.tickets.delete(r.id);
    for (const [map, key] of [
      [this.accounts, r.account],
      [this.addresses, r.src],
    ] as const) {
      const e = map.get(key);
      if (e !== undefined) e.held = e.held.filter((x) => x !== r);
    }
  }

  private bump(
    map: Map<string, Entry>,
    key: string,
    lockAfter: number,
    now: number,
  ): { failures: number; lockedNow: boolean } {
    const current = this.live(map, key, now);
    if (current !== undefined && current.lockedUntil > now) {
      return { failures: current.failures, lockedNow: false }; // already locked: do not extend
    }
    const e = current ?? { failures: 0, held: [], windowStart: now, lockedUntil: 0 };
    e.failures += 1;
    const lockedNow = e.failures >= lockAfter;
    if (lockedNow) e.lockedUntil = now + this.o.lockMs;
    // Re-insert so Map order is least-recently-touched first, then bound the table.
    map.delete(key);
    map.set(key, e);
    this.shrink(map, now);
    return { failures: e.failures, lockedNow };
  }

  private shrink(map: Map<string, Entry>, now: number): void {
    let inspected = 0;
    for (const [key, e] of map) {
      if (inspected++ >= PRUNE_STEP) break;
      if (this.expired(e, now)) this.drop(map, key, e);
    }
    while (map.size > this.o.maxEntries) {
      const oldest = map.entries().next();
      if (oldest.done === true) break;
      this.drop(map, oldest.value[0], oldest.value[1]);
    }
    // Tickets of reservations that lapsed unsettled, oldest first, a few per write (like the entries above).
    let swept = 0;
    for (const [id, r] of this.tickets) {
      if (swept++ >= PRUNE_STEP || !(r.settled || r.expiresAt <= now)) break;
      this.tickets.delete(id);
    }
  }
}
