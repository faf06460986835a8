import { describe, expect, it } from 'vitest';
import { isParleyError } from '../core/errors.js';
import type { OfflineSize } from '../ports/store.js';
import { OfflineTracker } from './offline-tracker.js';

const size = (count: number, bytes = 0): OfflineSize => ({ count, bytes });

describe('OfflineTracker', () => {
  it('skips the storage call when nothing can be queued, and forgets a user once an ack covers the queue', async () => {
    const t = new OfflineTracker();
    const drops: number[] = [];
    const drop = (n: number) => async () => (drops.push(n), size(0));
    await t.ack('a@x', 10, drop(10));
    expect(drops).toEqual([]);
    t.note('a@x', 5);
    t.note('a@x', 3); // an older seq does not lower the mark
    await t.ack('a@x', 4, drop(4));
    await t.ack('a@x', 5, drop(5));
    await t.ack('a@x', 9, drop(9));
    expect(drops).toEqual([4, 5]);
  });

  it('counts a queue once, then refuses past the limit without another storage read', async () => {
    const t = new OfflineTracker({ maxMessages: 3, maxBytes: 1000 });
    t.check('a@x'); // not counted yet: nothing to refuse on
    let reads = 0;
    const measure = async (): Promise<OfflineSize> => (reads++, size(1, 10));
    await Promise.all([t.reserve('a@x', 5, measure), t.reserve('a@x', 5, measure)]);
    expect(reads).toBe(1);
    const full = t.reserve('a@x', 5, measure);
    await expect(full).rejects.toMatchObject({ code: 'service-unavailable', details: { reason: 'offline-queue-full', maxMessages: 3 } });
    expect(() => t.check('a@x')).toThrow(/offline queue is full/);
    expect(reads).toBe(1);
    // A reservation whose message was not stored (a resend, a failed append) frees its room.
    t.settle('a@x', 5, false);
    await t.reserve('a@x', 5, measure);
    t.settle('a@x', 5, true);
  });

  it('bounds the bytes too, but always takes one message into an empty queue', async () => {
    const t = new OfflineTracker({ maxMessages: 100, maxBytes: 100 });
    const empty = async (): Promise<OfflineSize> => size(0);
    await t.reserve('a@x', 500, empty);
    const e = await t.reserve('a@x', 1, empty).catch((x: unknown) => x);
    expect(isParleyError(e, 'service-unavailable')).toBe(true);
  });

  it('subtracts what an acknowledgement dropped, and counts afresh after the queue was emptied', async () => {
    const t = new OfflineTracker({ maxMessages: 2, maxBytes: 1000 });
    let stored = 0;
    const measure = async (): Promise<OfflineSize> => size(stored);
    for (let seq = 1; seq <= 2; seq++) {
      await t.reserve('a@x', 1, measure);
      stored++;
      t.settle('a@x', 1, true);
      t.note('a@x', seq);
    }
    await expect(t.reserve('a@x', 1, measure)).rejects.toThrow(/full/);
    await t.ack('a@x', 1, async () => (stored--, size(1, 1)));
    await t.reserve('a@x', 1, measure);
    stored++;
    t.settle('a@x', 1, true);
    t.note('a@x', 3);
    expect(t.tracked).toBe(1);
    await t.ack('a@x', 3, async () => ((stored = 0), size(2, 2)));
    expect(t.tracked).toBe(0);
    await t.reserve('a@x', 1, measure);
    expect(t.tracked).toBe(1);
  });
});
