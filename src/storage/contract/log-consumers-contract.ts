/** Contract: what consumers of the log rely on, reading the whole log in order (after) and their positions. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { dm, roomMessage } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';

/** Registers the log-consumer tests. */
export function logConsumersContract(store: () => Store): void {
  describe('messages: after', () => {
    it('returns every record after a seq in seq order, of every kind and conversation, at most limit', async () => {
      const s = store();
      expect(await s.messages.after(0, 10)).toEqual([]);
      const res = await s.messages.append([dm(A, B, 'one', { clientId: 'c1' }), roomMessage(B, 'r@rooms.a.test', 'two'), dm(B, A, 'three')]);
      const records = res.map((r) => r.record);
      expect(await s.messages.after(0, 10)).toEqual(records);
      expect(await s.messages.after(records[0]!.seq, 10)).toEqual(records.slice(1));
      expect(await s.messages.after(0, 2)).toEqual(records.slice(0, 2));
      expect(await s.messages.after(records[2]!.seq, 10)).toEqual([]);
      expect(await s.messages.after(0, 0)).toEqual([]);
      expect(await s.messages.after(0, -1)).toEqual([]);
      // A resend adds nothing to the log.
      await s.messages.append([dm(A, B, 'one', { clientId: 'c1' })]);
      expect(await s.messages.after(0, 10)).toEqual(records);
    });

    it('pages through a long log with the last seq returned', async () => {
      const s = store();
      await s.messages.append(Array.from({ length: 25 }, (_, i) => dm(A, B, `m${i}`)));
      const bodies: Array<string | null> = [];
      let at = 0;
      for (;;) {
        const page = await s.messages.after(at, 7);
        if (page.length === 0) break;
        bodies.push(...page.map((r) => r.body));
        at = page[page.length - 1]!.seq;
      }
      expect(bodies).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
    });
  });

  describe('positions', () => {
    it('are 0 until set, then what was set last, per consumer', async () => {
      const s = store();
      expect(await s.positions.get('indexer')).toBe(0);
      await s.positions.set('indexer', 5);
      await s.positions.set('journal', 2);
      expect(await s.positions.get('indexer')).toBe(5);
      await s.positions.set('indexer', 9);
      expect(await s.positions.get('indexer')).toBe(9);
      expect(await s.positions.get('journal')).toBe(2);
      expect(await s.positions.get('other')).toBe(0);
    });

    it('settles sets made together, in order', async () => {
      const s = store();
      await Promise.all([1, 2, 3, 4].map((seq) => s.positions.set('c', seq)));
      expect(await s.positions.get('c')).toBe(4);
    });

    it('refuses a position that is not a seq', async () => {
      const s = store();
      await expect(s.positions.set('c', -1)).rejects.toMatchObject({ code: 'bad-request' });
      await expect(s.positions.set('c', 1.5)).rejects.toMatchObject({ code: 'bad-request' });
      await expect(s.positions.set('', 1)).rejects.toMatchObject({ code: 'bad-request' });
      expect(await s.positions.get('c')).toBe(0);
    });
  });
}
