import { describe, expect, it } from 'vitest';
import { ReadLimiter } from './read-limiter.js';

/** A read that finishes when told to. */
function gate(): { read: () => Promise<string>; open: (v: string) => void; started: boolean } {
  let open: (v: string) => void = () => undefined;
  const g = {
    started: false,
    read: () => {
      g.started = true;
      return new Promise<string>((r) => (open = r));
    },
    open: (v: string) => open(v),
  };
  return g;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ReadLimiter', () => {
  it('runs a few at once per user, queues a few more in order, refuses the rest with rate-limited', async () => {
    const limiter = new ReadLimiter(2, 1);
    const [a, b, c, d] = [gate(), gate(), gate(), gate()];
    const pa = limiter.run('u', a.read);
    const pb = limiter.run('u', b.read);
    const pc = limiter.run('u', c.read);
    await expect(limiter.run('u', d.read)).rejects.toMatchObject({ code: 'rate-limited' });
    expect([a.started, b.started, c.started, d.started]).toEqual([true, true, false, false]);
    // Another user is not affected.
    const other = gate();
    const po = limiter.run('v', other.read);
    expect(other.started).toBe(true);
    other.open('v1');
    expect(await po).toBe('v1');
    // The queued read starts when one finishes, and the count comes back to zero at the end.
    b.open('b');
    expect(await pb).toBe('b');
    await tick();
    expect(c.started).toBe(true);
    expect(limiter.pending('u')).toBe(2);
    a.open('a');
    c.open('c');
    expect(await Promise.all([pa, pc])).toEqual(['a', 'c']);
    expect(limiter.pending('u')).toBe(0);
  });

  it('frees the turn of a read that fails', async () => {
    const limiter = new ReadLimiter(1, 0);
    await expect(limiter.run('u', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run('u', () => {
      throw new Error('sync boom');
    })).rejects.toThrow('sync boom');
    expect(await limiter.run('u', async () => 'fine')).toBe('fine');
    expect(limiter.pending('u')).toBe(0);
  });
});
