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
 * could take a key past its lock limit while others are still pending is refused with rate-limited. A
 * reservation never settled (the caller threw in between) lapses with its key's window.
 *
 * The account key should be the canonical (normalised) address the caller resolved, so that case or Unicode
 * variants cannot dodge the limit. Source addresses are keyed per IPv4 address and per IPv6 /64 (one customer
 * LAN, RFC 4291 §2.5.4), since a single attacker usually controls a whole /64.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ParleyError } from '../core/errors.js';

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

interface Entry {
  failures: number;
  /** Attempts that passed `check` and are not yet settled by `fail` or `succeed`. */
  pending: number;
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
  lockMs: 15 * MINUTE,
  windowMs: 15 * MINUTE,
  maxEntries: 100_000,
} as const;

/** How long a client refused for too many attempts in flight is asked to wait (they settle in well under that). */
const BUSY_RETRY_MS = 1_000;

/** Expired entries inspected (from the oldest end) on each write, so idle entries go away without a sweep. */
const PRUNE_STEP = 4;

/**
 * The key a source address is counted under: IPv4 as is, IPv4-mapped IPv6 as IPv4 (RFC 4291 §2.5.5.2), other
 * IPv6 as its /64 prefix; anything else (e.g. a Unix socket name) verbatim.
 */
export function sourceKey(ip: string): string {
  let s = ip.trim().toLowerCase();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%'); // RFC 4007 §11 zone index
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return s;
  if (!isIPv6(s)) return ip;
  const groups = expandIPv6(s);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] ?? 0;
    const lo = groups[7] ?? 0;
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (RFC 4291 §2.2 text forms, incl. "::" and a dotted tail). */
function expandIPv6(s: string): number[] {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined ? null : rest === '' ? [] : rest.split(':');
  const parts = r === null ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  return parts.map((g) => parseInt(g, 16));
}

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
      ['lockMs', 1],
      ['windowMs', 1],
      ['maxEntries', 1],
    ];
    for (const [name, min] of numeric) checkOption(name, this.o[name] as number, min);
  }

  /**
   * Throws ParleyError account-locked (details: scope, retryAfterMs, unlocksAt) when the account or the source
   * address is locked, or rate-limited (details: scope, retryAfterMs) when the attempts already in flight could
   * reach the lock limit; otherwise reserves the attempt (settle it with `fail` or `succeed`) and returns how
   * long to wait before answering it.
   */
  check(account: string, ip: string): { delayMs: number } {
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
    const accCount = (acc?.failures ?? 0) + (acc?.pending ?? 0);
    // Parallel guesses from one address count once the address has failed, up to its failures; a login storm
    // of people behind one address (no failures) is bounded by ipMaxInFlight alone.
    const srcFailures = src?.failures ?? 0;
    const srcPending = src?.pending ?? 0;
    const srcCount = srcFailures + Math.min(srcPending, srcFailures);
    if (accCount >= this.o.lockAfter || srcCount >= this.o.ipLockAfter || srcPending >= this.o.ipMaxInFlight) {
      const scope: ThrottleScope = accCount >= this.o.lockAfter ? 'account' : 'address';
      throw new ParleyError('rate-limited', 'Too many login attempts at once; try again shortly', { scope, retryAfterMs: BUSY_RETRY_MS });
    }
    this.reserve(this.accounts, account, acc, now);
    this.reserve(this.addresses, srcKey, src, now);
    // Parallel attempts on one account are slowed as if they had failed (that is how guessing looks), but an
    // address's delay follows its recorded failures only: many people log in at once behind one shared address.
    return {
      delayMs: Math.max(this.delayFor(accCount, this.o.freeFailures), this.delayFor(src?.failures ?? 0, this.o.ipFreeFailures)),
    };
  }

  /** Records a failed login for the account and the source address; may lock either. */
  fail(account: string, ip: string): ThrottleFailure {
    const now = this.o.now();
    const srcKey = sourceKey(ip);
    this.settle(this.accounts, account, now);
    this.settle(this.addresses, srcKey, now);
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
  succeed(account: string, ip: string): void {
    this.accounts.delete(account);
    const srcKey = sourceKey(ip);
    const src = this.settle(this.addresses, srcKey, this.o.now());
    // An address entry that only held this reservation would otherwise linger until its window ends.
    if (src !== undefined && src.failures === 0 && src.pending === 0 && src.lockedUntil === 0) this.addresses.delete(srcKey);
  }

  /** Settles a reserved attempt that ended in neither success nor failure (a storage error, say). */
  release(account: string, ip: string): void {
    const now = this.o.now();
    this.settle(this.accounts, account, now);
    this.settle(this.addresses, sourceKey(ip), now);
  }

  /** Drops every expired entry; writes already prune incrementally, so calling this is optional. */
  prune(): void {
    const now = this.o.now();
    for (const map of [this.accounts, this.addresses]) {
      for (const [key, e] of map) if (this.expired(e, now)) map.delete(key);
    }
  }

  /** Number of tracked keys per table (for metrics and tests). */
  get size(): { accounts: number; addresses: number } {
    return { accounts: this.accounts.size, addresses: this.addresses.size };
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

  /** The entry of `key` unless it has expired (then it is removed). */
  private live(map: Map<string, Entry>, key: string, now: number): Entry | undefined {
    const e = map.get(key);
    if (e === undefined) return undefined;
    if (this.expired(e, now)) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Counts one more attempt in flight for `key` (creating its entry, which opens a window). */
  private reserve(map: Map<string, Entry>, key: string, current: Entry | undefined, now: number): void {
    if (current !== undefined) {
      current.pending += 1;
      return;
    }
    map.set(key, { failures: 0, pending: 1, windowStart: now, lockedUntil: 0 });
    this.shrink(map, now);
  }

  /** Ends one reservation of `key`, if any (a caller may settle without having checked). */
  private settle(map: Map<string, Entry>, key: string, now: number): Entry | undefined {
    const e = this.live(map, key, now);
    if (e !== undefined && e.pending > 0) e.pending -= 1;
    return e;
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
    const e = current ?? { failures: 0, pending: 0, windowStart: now, lockedUntil: 0 };
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
      if (this.expired(e, now)) map.delete(key);
    }
    while (map.size > this.o.maxEntries) {
      const oldest = map.keys().next();
      if (oldest.done === true) break;
      map.delete(oldest.value);
    }
  }
}
