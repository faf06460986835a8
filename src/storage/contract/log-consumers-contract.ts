/** Contract: what consumers of the log rely on, reading the whole log in order (after) and their positions. */
import { describe, expect, it } from 'vitest';
import { recordBytes, type Store } from '../../ports/store.js';
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

    it('stops once the records\' text reaches the byte budget, always returning at least one', async () => {
      const s = store();
      const big = 'x'.repeat(10_000);
      const res = await s.messages.append([dm(A, B, big), dm(A, B, big), dm(A, B, 'small'), dm(A, B, big)]);
      const seqs = res.map((r) => r.record.seq);
      const one = recordBytes({ body: big, xml: null });
      // The budget is reached by the second record: two come back, not the whole batch of ten.
      expect((await s.messages.after(0, 10, one + 1)).map((r) => r.seq)).toEqual(seqs.slice(0, 2));
      // A record larger than the whole budget still comes, alone.
      expect((await s.messages.after(0, 10, 10)).map((r) => r.seq)).toEqual(seqs.slice(0, 1));
      // The limit still applies under a large budget; no budget is no bound.
      expect((await s.messages.after(seqs[1]!, 2, 1 << 30)).map((r) => r.seq)).toEqual(seqs.slice(2, 4));
      expect((await s.messages.after(0, 10)).map((r) => r.seq)).toEqual(seqs);
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
