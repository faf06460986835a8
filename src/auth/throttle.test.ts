import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../core/errors.js';
import { LoginThrottle, sourceKey } from './throttle.js';

const MIN = 60_000;

function clock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function lockError(fn: () => unknown): ParleyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ParleyError) return e;
    throw e;
  }
  throw new Error('expected account-locked');
}

describe('LoginThrottle', () => {
  it('imposes no delay for free failures, then grows exponentially up to the cap', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 100, ipLockAfter: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      delays.push(t.check('alice@example.com', '192.0.2.1').delayMs);
      t.fail('alice@example.com', '192.0.2.1');
    }
    expect(delays).toEqual([0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 5000]);
    // Another account from the same address is unaffected (address free failures default to 500 here).
    expect(t.check('bob@example.com', '192.0.2.1').delayMs).toBe(0);
  });

  it('locks the account at the limit, says so and when it unlocks, and unlocks after lockMs', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now });
    for (let i = 0; i < 9; i++) {
      t.check('alice', `198.51.100.${i}`);
      expect(t.fail('alice', `198.51.100.${i}`).locked).toBeNull();
    }
    expect(t.fail('alice', '198.51.100.99')).toEqual({ accountFailures: 10, addressFailures: 1, locked: 'account' });

    c.advance(1000);
    const err = lockError(() => t.check('alice', '203.0.113.5'));
    expect(err.code).toBe('account-locked');
    expect(err.message).toMatch(/account is locked/);
    expect(err.message).toContain(new Date(c.now() - 1000 + 15 * MIN).toISOString());
    expect(err.details).toMatchObject({ scope: 'account', retryAfterMs: 15 * MIN - 1000 });
    // Other accounts from the same addresses are fine.
    expect(t.check('bob', '198.51.100.99').delayMs).toBe(0);

    c.advance(15 * MIN - 1001);
    expect(() => t.check('alice', '203.0.113.5')).toThrow(ParleyError);
    c.advance(1);
    expect(t.check('alice', '203.0.113.5').delayMs).toBe(0); // clean slate after the lock
  });

  it('locks the source address independently of accounts', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, ipLockAfter: 50 });
    for (let i = 0; i < 49; i++) {
      t.check(`user${i}`, '192.0.2.7');
      expect(t.fail(`user${i}`, '192.0.2.7').locked).toBeNull();
    }
    expect(t.check('fresh', '192.0.2.7').delayMs).toBe(5000); // 49 failures, 25 free: capped
    expect(t.fail('user49', '192.0.2.7').locked).toBe('address');

    const err = lockError(() => t.check('fresh', '192.0.2.7'));
    expect(err.code).toBe('account-locked');
    expect(err.message).toMatch(/source address/);
    expect(err.details).toMatchObject({ scope: 'address', retryAfterMs: 15 * MIN });
    // The accounts themselves are not locked from elsewhere.
    expect(t.check('user1', '192.0.2.8').delayMs).toBe(0);

    c.advance(15 * MIN);
    expect(t.check('fresh', '192.0.2.7').delayMs).toBe(0);
  });

  it('success clears the account but not the source address', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, ipFreeFailures: 2 });
    for (let i = 0; i < 6; i++) t.fail('alice', '192.0.2.1');
    expect(t.check('alice', '192.0.2.2').delayMs).toBe(1000);
    t.succeed('alice', '192.0.2.1');
    expect(t.check('alice', '192.0.2.2').delayMs).toBe(0);
    expect(t.check('other', '192.0.2.1').delayMs).toBe(2000); // 6 address failures, 2 free
  });

  it('forgets failures after the window', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, windowMs: 10 * MIN });
    for (let i = 0; i < 9; i++) t.fail('alice', '192.0.2.1');
    c.advance(10 * MIN);
    expect(t.check('alice', '192.0.2.1').delayMs).toBe(0);
    expect(t.fail('alice', '192.0.2.1')).toMatchObject({ accountFailures: 1, addressFailures: 1, locked: null });
  });

  it('keys IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('[2001:db8::1%eth0]')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('::ffff:c000:201')).toBe('192.0.2.1');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('unix:/run/parley.sock')).toBe('unix:/run/parley.sock');

    const c = clock();
    const t = new LoginThrottle({ now: c.now, ipLockAfter: 3 });
    t.fail('a', '2001:db8:1:2::1');
    t.fail('b', '2001:db8:1:2::2');
    t.fail('c', '2001:db8:1:2:ffff::3');
    expect(() => t.check('d', '2001:db8:1:2::99')).toThrow(/source address/);
    expect(t.check('d', '2001:db8:1:3::1').delayMs).toBe(0);
  });

  it('bounds memory: caps entries (evicting the oldest) and expires idle ones', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, maxEntries: 100 });
    for (let i = 0; i < 1000; i++) t.fail(`user${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(t.size).toEqual({ accounts: 100, addresses: 100 });
    expect(t.fail('user999', '10.0.3.231').accountFailures).toBe(2); // newest kept
    expect(t.fail('user0', '10.0.0.0').accountFailures).toBe(1); // oldest evicted

    c.advance(15 * MIN);
    t.prune();
    expect(t.size).toEqual({ accounts: 0, addresses: 0 });
  });

  it('counts attempts in flight: parallel guesses cannot outrun the lock', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, freeFailures: 1, lockAfter: 3, ipLockAfter: 100 });
    // Three attempts pass check before any outcome is known; they are delayed as if they had failed.
    const delays = [0, 1, 2].map((i) => t.check('alice', `192.0.2.${i}`).delayMs);
    expect(delays).toEqual([0, 0, 250]);
    // A fourth could take the account past its limit: refused, not counted, nothing locked.
    const busy = lockError(() => t.check('alice', '192.0.2.9'));
    expect(busy.code).toBe('rate-limited');
    expect(busy.details).toMatchObject({ scope: 'account' });
    expect(t.check('bob', '192.0.2.9').delayMs).toBe(0);
    // All three fail: the account locks, exactly as three sequential failures would.
    t.fail('alice', '192.0.2.0');
    t.fail('alice', '192.0.2.1');
    expect(t.fail('alice', '192.0.2.2')).toMatchObject({ accountFailures: 3, locked: 'account' });
    expect(lockError(() => t.check('alice', '192.0.2.3')).code).toBe('account-locked');
  });

  it('a success settles its reservation; attempts in flight from one address are capped', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 2, ipLockAfter: 50, ipMaxInFlight: 2 });
    t.check('alice', '192.0.2.1');
    t.check('bob', '192.0.2.1');
    expect(lockError(() => t.check('carol', '192.0.2.1'))).toMatchObject({ code: 'rate-limited', details: { scope: 'address' } });
    t.succeed('alice', '192.0.2.1');
    t.succeed('bob', '192.0.2.1');
    expect(t.size).toEqual({ accounts: 0, addresses: 0 }); // nothing lingers after successes
    for (let i = 0; i < 5; i++) {
      t.check('alice', '192.0.2.1');
      t.succeed('alice', '192.0.2.1');
    }
    expect(t.check('carol', '192.0.2.1').delayMs).toBe(0);
  });

  it('a reservation never settled lapses with its window', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 1, windowMs: MIN });
    t.check('alice', '192.0.2.1'); // the caller crashed before reporting the outcome
    expect(lockError(() => t.check('alice', '192.0.2.1')).code).toBe('rate-limited');
    c.advance(MIN);
    expect(t.check('alice', '192.0.2.1').delayMs).toBe(0);
  });

  it('rejects nonsensical options', () => {
    expect(() => new LoginThrottle({ lockAfter: 0 })).toThrow(RangeError);
    expect(() => new LoginThrottle({ delayBaseMs: Number.NaN })).toThrow(RangeError);
    expect(() => new LoginThrottle({ maxEntries: 0 })).toThrow(RangeError);
  });

  it('bounds accepted attempts per span (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3 * MIN }), account: fc.constantFrom('a', 'b') }), {
          maxLength: 200,
        }),
        (steps) => {
          const c = clock();
          const t = new LoginThrottle({ now: c.now, lockAfter: 5, windowMs: 15 * MIN, lockMs: 15 * MIN });
          const accepted: Record<string, number[]> = { a: [], b: [] };
          for (const { dt, account } of steps) {
            c.advance(dt);
            try {
              const { delayMs } = t.check(account, '192.0.2.1');
              expect(delayMs).toBeGreaterThanOrEqual(0);
              expect(delayMs).toBeLessThanOrEqual(5000);
            } catch (e) {
              expect(e).toBeInstanceOf(ParleyError);
              continue;
            }
            accepted[account]?.push(c.now());
            t.fail(account, '192.0.2.1');
          }
          // A window opens at a first failure, so at most one window boundary (or none, after a lock) falls into
          // any span shorter than min(windowMs, lockMs): at most 2·lockAfter − 1 accepted attempts there.
          for (const times of Object.values(accepted)) {
            for (let i = 0; i + 9 < times.length; i++) {
              expect((times[i + 9] ?? 0) - (times[i] ?? 0)).toBeGreaterThanOrEqual(15 * MIN);
            }
          }
        },
      ),
    );
  });
});

describe('LoginThrottle with logins in flight', () => {
  it('a login storm behind one address is let in: in-flight attempts do not count towards the address lock', () => {
    const t = new LoginThrottle({ ipLockAfter: 50, now: () => 1_000 });
    const delays = Array.from({ length: 400 }, (_, i) => t.check(`user${i}@example.com`, '10.0.0.1').delayMs);
    expect(delays.every((d) => d === 0)).toBe(true);
    for (let i = 0; i < 400; i++) t.succeed(`user${i}@example.com`, '10.0.0.1');
  });

  it('once an address has failed, its parallel attempts count towards its lock', () => {
    const t = new LoginThrottle({ ipLockAfter: 10, lockAfter: 100, now: () => 1_000 });
    for (let i = 0; i < 5; i++) {
      t.check(`guess${i}@example.com`, '10.0.0.2');
      t.fail(`guess${i}@example.com`, '10.0.0.2');
    }
    // 5 failures: 5 more in flight reach the limit of 10, the next is refused until some settle.
    for (let i = 0; i < 5; i++) t.check(`more${i}@example.com`, '10.0.0.2');
    expect(lockError(() => t.check('one-more@example.com', '10.0.0.2'))).toMatchObject({ code: 'rate-limited', details: { scope: 'address' } });
  });

  it('concurrent successful logins behind one address are not slowed', () => {
    const t = new LoginThrottle({ ipLockAfter: 50, now: () => 1_000 });
    const delays = Array.from({ length: 32 }, (_, i) => t.check(`user${i}@example.com`, '10.0.0.1').delayMs);
    expect(delays.every((d) => d === 0)).toBe(true);
    for (let i = 0; i < 32; i++) t.succeed(`user${i}@example.com`, '10.0.0.1');
  });
});

describe('LoginThrottle: exchanges left unfinished', () => {
  it('an idle reservation stops counting pendingMs after its delay, and a late settlement then changes nothing', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 2, freeFailures: 0, pendingMs: 10_000 });
    const first = t.check('alice', '192.0.2.1');
    expect(first).toMatchObject({ delayMs: 0, expiresAt: c.now() + 10_000 });
    const second = t.check('alice', '192.0.2.2');
    expect(second.delayMs).toBe(250); // one attempt in flight counts like a failure for the delay
    expect(second.expiresAt).toBe(c.now() + 250 + 10_000); // the client's time starts when the delay ends
    expect(lockError(() => t.check('alice', '192.0.2.3')).code).toBe('rate-limited');
    expect(t.inFlight).toBe(2);

    c.advance(10_000);
    expect(t.inFlight).toBe(1); // the first lapsed; the second still has its delay's worth left
    const third = t.check('alice', '192.0.2.3');
    expect(third.delayMs).toBe(250);
    // Settling the lapsed ticket late must not cancel the attempt that took its place.
    t.release('alice', '192.0.2.1', first.ticket);
    expect(t.inFlight).toBe(2);
    expect(lockError(() => t.check('alice', '192.0.2.4')).code).toBe('rate-limited');
    // Nor does a lapsed reservation's late failure record anything twice: it is one failure, as reported.
    expect(t.fail('alice', '192.0.2.1', first.ticket)).toMatchObject({ accountFailures: 1, locked: null });
  });

  it('one source address holds at most ipAccountMaxInFlight of an account; the user still gets in from elsewhere', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 10, ipAccountMaxInFlight: 3 });
    // Ten idle exchanges for the victim from one address: three are reserved, the rest refused at once.
    const outcomes = Array.from({ length: 10 }, () => {
      try {
        t.check('victim@example.com', '198.51.100.7');
        return 'reserved';
      } catch (e) {
        return (e as ParleyError).code;
      }
    });
    expect(outcomes.filter((o) => o === 'reserved')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'rate-limited')).toHaveLength(7);
    const refused = lockError(() => t.check('victim@example.com', '198.51.100.7'));
    expect(refused.details).toMatchObject({ scope: 'address' });
    expect(refused.message).toMatch(/from this address/);
    // The victim, from another address, is neither refused nor slowed (3 in flight ≤ freeFailures).
    const ok = t.check('victim@example.com', '203.0.113.9');
    expect(ok.delayMs).toBe(0);
    t.succeed('victim@example.com', '203.0.113.9', ok.ticket);
    // The attacker's own other accounts are unaffected by that cap (it is per account).
    expect(t.check('other@example.com', '198.51.100.7').delayMs).toBe(0);
  });

  it('one address never holds a whole small budget: the cap stays below lockAfter', () => {
    const t = new LoginThrottle({ now: clock().now, lockAfter: 3, ipAccountMaxInFlight: 5 });
    t.check('victim', '198.51.100.7');
    t.check('victim', '198.51.100.7');
    expect(lockError(() => t.check('victim', '198.51.100.7')).details).toMatchObject({ scope: 'address' });
    expect(t.check('victim', '203.0.113.9').delayMs).toBe(0);
  });

  it('a success keeps other attempts in flight counting (it clears only the failures)', () => {
    const c = clock();
    const t = new LoginThrottle({ now: c.now, lockAfter: 3, freeFailures: 0 });
    t.check('alice', '192.0.2.1');
    t.check('alice', '192.0.2.2');
    const mine = t.check('alice', '192.0.2.3');
    t.succeed('alice', '192.0.2.3', mine.ticket);
    expect(t.check('alice', '192.0.2.4').delayMs).toBe(500); // two others still in flight
    expect(lockError(() => t.check('alice', '192.0.2.5')).code).toBe('rate-limited');
  });

  it('the parallel-guess bound still holds when reservations lapse (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 4_000 }),
            src: fc.integer({ min: 0, max: 5 }),
            outcome: fc.constantFrom('fail', 'idle', 'release'),
          }),
          { maxLength: 150 },
        ),
        (steps) => {
          const c = clock();
          const t = new LoginThrottle({ now: c.now, lockAfter: 4, ipLockAfter: 1000, pendingMs: 3_000, windowMs: 15 * MIN });
          const guesses: number[] = [];
          const idle: Array<{ src: string; ticket: number }> = [];
          for (const { dt, src, outcome } of steps) {
            c.advance(dt);
            const ip = `192.0.2.${src}`;
            let ticket: number;
            try {
              ticket = t.check('alice', ip).ticket;
            } catch (e) {
              expect(e).toBeInstanceOf(ParleyError);
              continue;
            }
            if (outcome === 'fail') {
              t.fail('alice', ip, ticket);
              guesses.push(c.now());
            } else if (outcome === 'release') t.release('alice', ip, ticket);
            else idle.push({ src: ip, ticket });
          }
          // Lapsed reservations free budget but never add guesses: still at most 2·lockAfter − 1 in any span
          // shorter than the window (see the module comment on fixed windows).
          for (let i = 0; i + 7 < guesses.length; i++) {
            expect((guesses[i + 7] ?? 0) - (guesses[i] ?? 0)).toBeGreaterThanOrEqual(15 * MIN);
          }
          // Idle reservations settle late without effect on newer ones.
          for (const r of idle) t.release('alice', r.src, r.ticket);
          expect(t.inFlight).toBe(0);
        },
      ),
    );
  });
});
