import { describe, expect, it } from 'vitest';
import { OfflineTracker } from './offline-tracker.js';

describe('OfflineTracker', () => {
  it('skips the storage call when nothing can be queued, and forgets a user once an ack covers the queue', async () => {
    const t = new OfflineTracker();
    const drops: number[] = [];
    const drop = (n: number) => async () => void drops.push(n);
    await t.ack('a@x', 10, drop(10));
    expect(drops).toEqual([]);
    t.note('a@x', 5);
    t.note('a@x', 3); // an older seq does not lower the mark
    await t.ack('a@x', 4, drop(4));
    await t.ack('a@x', 5, drop(5));
    await t.ack('a@x', 9, drop(9));
    expect(drops).toEqual([4, 5]);
  });
});
