import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst of `rate`, then one token per 1/rate seconds', () => {
    const b = new TokenBucket(10, 1000);
    for (let i = 0; i < 10; i++) expect(b.take(1000)).toBe(true);
    expect(b.take(1000)).toBe(false);
    expect(b.take(1099)).toBe(false);
    expect(b.take(1100)).toBe(true);
    expect(b.take(1100)).toBe(false);
  });

  it('refuses without taking: a refused request costs nothing', () => {
    const b = new TokenBucket(2, 0);
    b.take(0);
    b.take(0);
    for (let i = 0; i < 5; i++) expect(b.take(0)).toBe(false);
    expect(b.take(500)).toBe(true);
  });

  it('never holds more than the burst, however long it was idle', () => {
    const b = new TokenBucket(3, 0);
    let taken = 0;
    while (b.take(60_000)) taken++;
    expect(taken).toBe(3);
  });

  it('charges on credit and says how long the debt takes to pay back', () => {
    const b = new TokenBucket(100, 0);
    for (let i = 0; i < 100; i++) expect(b.charge(0)).toBe(0);
    expect(b.charge(0)).toBe(10); // one token short: 10 ms at 100/s
    expect(b.charge(0)).toBe(20); // the debt grows with every charge
    expect(b.charge(20)).toBe(10); // 20 ms refilled two tokens, the charge took one: one short still
    expect(b.charge(50)).toBe(0); // paid back (three tokens refilled, one taken)
  });

  it('rounds the wait up to whole milliseconds', () => {
    const b = new TokenBucket(3, 0);
    for (let i = 0; i < 3; i++) b.charge(0);
    expect(b.charge(0)).toBe(334);
  });
});
