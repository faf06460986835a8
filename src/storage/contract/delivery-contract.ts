/** Contract: since() across direct messages and rooms, and the offline queue. */
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../core/types.js';
import type { Store } from '../../ports/store.js';
import { appendOne, dm, follow, roomMessage } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';
const C = 'carol@a.test';
const R1 = 'one@rooms.a.test';
const R2 = 'two@rooms.a.test';

/** Registers the since/offline tests. */
export function deliveryContract(store: () => Store): void {
  describe('messages: since', () => {
    async function seed(s: Store): Promise<Record<string, LogRecord>> {
      const toA = await appendOne(s, dm(B, A, 'b→a'));
      const inR1 = await appendOne(s, roomMessage(C, R1, 'c in one'));
      const bToC = await appendOne(s, dm(B, C, 'b→c'));
      const fromA = await appendOne(s, dm(A, C, 'a→c'));
      const aInR2 = await appendOne(s, roomMessage(A, R2, 'a in two'));
      const receipt = await appendOne(s, follow('receipt', A, toA, { to: B }));
      // A room receipt is a chat record addressed to the sender, inside the room's conversation.
      const roomReceipt = await appendOne(s, follow('receipt', C, aInR2, { type: 'chat', to: A }));
      const self = await appendOne(s, dm(A, A, 'note to self'));
      const editInR1 = await appendOne(s, follow('edit', C, inR1, { body: 'c in one (edited)' }));
      return { toA, inR1, bToC, fromA, aInR2, receipt, roomReceipt, self, editInR1 };
    }

    it("returns the user's direct records and those of the listed rooms, all kinds, ascending", async () => {
      const s = store();
      const r = await seed(s);
      const ids = async (rooms: string[], after = 0, limit = 100): Promise<LogRecord[]> => s.messages.since(A, rooms, after, limit);
      expect(await ids([R1])).toEqual([r.toA, r.inR1, r.fromA, r.receipt, r.roomReceipt, r.self, r.editInR1]);
      // Without R2 listed, alice's own room message is not hers to resume: it belongs to the room.
      expect(await ids([])).toEqual([r.toA, r.fromA, r.receipt, r.roomReceipt, r.self]);
      expect(await ids([R1, R2, R1])).toEqual([r.toA, r.inR1, r.fromA, r.aInR2, r.receipt, r.roomReceipt, r.self, r.editInR1]);
      // Carol's own room messages (groupchat) are not direct records; her room receipt (chat) is.
      expect(await s.messages.since(C, [], 0, 100)).toEqual([r.bToC, r.fromA, r.roomReceipt]);
    });

    it('honours the cursor and the limit', async () => {
      const s = store();
      const r = await seed(s);
      expect(await s.messages.since(A, [R1], r.inR1!.seq, 100)).toEqual([r.fromA, r.receipt, r.roomReceipt, r.self, r.editInR1]);
      expect(await s.messages.since(A, [R1], 0, 2)).toEqual([r.toA, r.inR1]);
      expect(await s.messages.since(A, [R1], r.editInR1!.seq, 100)).toEqual([]);
      expect(await s.messages.since(A, [R1], 0, 0)).toEqual([]);
    });
  });

  describe('messages: offline queue', () => {
    it('queues records for the listed users and returns them ascending, limited', async () => {
      const s = store();
      const m1 = await appendOne(s, dm(A, B, 'one', { offlineFor: [B] }));
      await appendOne(s, dm(A, C, 'not queued'));
      const m2 = await appendOne(s, roomMessage(A, R1, 'two', { offlineFor: [B, C, B] }));
      expect(await s.messages.offline(B, 0, 10)).toEqual([m1, m2]);
      expect(await s.messages.offline(B, 0, 1)).toEqual([m1]);
      expect(await s.messages.offline(B, 0, 0)).toEqual([]);
      expect(await s.messages.offline(C, 0, 10)).toEqual([m2]);
      expect(await s.messages.offline(A, 0, 10)).toEqual([]);
    });

    it('returns only entries after the cursor, so a long queue can be paged through', async () => {
      const s = store();
      const queued: LogRecord[] = [];
      for (let i = 1; i <= 7; i++) {
        queued.push(await appendOne(s, dm(A, B, `q${i}`, { offlineFor: [B] })));
        // Interleave records not queued for B, so queued seqs are not consecutive.
        await appendOne(s, dm(A, C, `c${i}`, { offlineFor: i % 2 ? [C] : [] }));
      }
      const [q1, q2, q3, q4, q5, q6, q7] = queued as [LogRecord, LogRecord, LogRecord, LogRecord, LogRecord, LogRecord, LogRecord];
      expect(await s.messages.offline(B, 0, 3)).toEqual([q1, q2, q3]);
      expect(await s.messages.offline(B, q3.seq, 3)).toEqual([q4, q5, q6]);
      expect(await s.messages.offline(B, q6.seq, 3)).toEqual([q7]);
      expect(await s.messages.offline(B, q7.seq, 3)).toEqual([]);
      // A cursor between queued seqs (here: a record queued only for C) starts at the next queued one.
      expect(await s.messages.offline(B, q2.seq + 1, 2)).toEqual([q3, q4]);
      expect(await s.messages.offline(B, q5.seq, 0)).toEqual([]);
      expect(await s.messages.offline(B, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      // Paging to the end the way catch-up does reproduces the whole queue.
      const all: LogRecord[] = [];
      for (let cursor = 0; ; ) {
        const page = await s.messages.offline(B, cursor, 2);
        all.push(...page);
        if (page.length > 0) cursor = page[page.length - 1]!.seq;
        if (page.length < 2) break;
      }
      expect(all).toEqual(queued);
      // The cursor reads without consuming: acknowledging is separate.
      await s.messages.ackOffline(B, q4.seq);
      expect(await s.messages.offline(B, 0, 10)).toEqual([q5, q6, q7]);
      expect(await s.messages.offline(B, q5.seq, 10)).toEqual([q6, q7]);
      expect((await s.messages.offline(C, 0, 10)).map((r) => r.body)).toEqual(['c1', 'c3', 'c5', 'c7']);
    });

    it('acknowledges up to a seq, per user', async () => {
      const s = store();
      const m1 = await appendOne(s, dm(A, B, 'one', { offlineFor: [B, C] }));
      const m2 = await appendOne(s, dm(A, B, 'two', { offlineFor: [B] }));
      const m3 = await appendOne(s, dm(A, B, 'three', { offlineFor: [B] }));
      await s.messages.ackOffline(B, m2.seq);
      expect(await s.messages.offline(B, 0, 10)).toEqual([m3]);
      expect(await s.messages.offline(C, 0, 10)).toEqual([m1]);
      await s.messages.ackOffline(B, m1.seq);
      expect(await s.messages.offline(B, 0, 10)).toEqual([m3]);
      await s.messages.ackOffline(B, Number.MAX_SAFE_INTEGER);
      await s.messages.ackOffline('nobody@a.test', 5);
      expect(await s.messages.offline(B, 0, 10)).toEqual([]);
      // Acknowledging drops queue entries, never the log.
      expect(await s.messages.getById(m3.id)).toEqual(m3);
    });

    it('measures a queue (entries and UTF-8 body bytes) and returns what each acknowledgement dropped', async () => {
      const s = store();
      expect(await s.messages.offlineSize(B)).toEqual({ count: 0, bytes: 0 });
      const m1 = await appendOne(s, dm(A, B, 'héllo', { offlineFor: [B, C] }));
      await appendOne(s, dm(A, C, 'not for b'));
      const m2 = await appendOne(s, dm(A, B, 'x'.repeat(5000), { offlineFor: [B] }));
      // A retraction has no body: it counts as an entry of 0 bytes.
      await appendOne(s, follow('retract', A, m1, { offlineFor: [B] }));
      expect(await s.messages.offlineSize(B)).toEqual({ count: 3, bytes: 6 + 5000 });
      expect(await s.messages.offlineSize(C)).toEqual({ count: 1, bytes: 6 });
      expect(await s.messages.ackOffline(B, m2.seq - 1)).toEqual({ count: 1, bytes: 6 });
      expect(await s.messages.ackOffline(B, m2.seq - 1)).toEqual({ count: 0, bytes: 0 });
      expect(await s.messages.offlineSize(B)).toEqual({ count: 2, bytes: 5000 });
      expect(await s.messages.ackOffline(B, Number.MAX_SAFE_INTEGER)).toEqual({ count: 2, bytes: 5000 });
      expect(await s.messages.ackOffline('nobody@a.test', 5)).toEqual({ count: 0, bytes: 0 });
      expect(await s.messages.offlineSize(B)).toEqual({ count: 0, bytes: 0 });
      expect(await s.messages.offlineSize(C)).toEqual({ count: 1, bytes: 6 });
    });

    it('puts delivered records back into the queue, once, in seq order', async () => {
      const s = store();
      const m1 = await appendOne(s, dm(A, B, 'one'));
      const m2 = await appendOne(s, dm(A, B, 'two', { offlineFor: [B] }));
      const m3 = await appendOne(s, dm(A, B, 'three'));
      await s.messages.queueOffline(B, [m3.seq, m1.seq, m2.seq, 9999]);
      expect(await s.messages.offline(B, 0, 10)).toEqual([m1, m2, m3]);
      await s.messages.queueOffline(B, []);
      await s.messages.ackOffline(B, m2.seq);
      expect(await s.messages.offline(B, 0, 10)).toEqual([m3]);
    });
  });

  describe('messages: by client id', () => {
    it("finds a sender's message by the id the sender gave it, as readers see it now", async () => {
      const s = store();
      const m = await appendOne(s, dm(A, B, 'hello', { clientId: 'c-1' }));
      await appendOne(s, follow('edit', A, m, { body: 'hello (edited)' }));
      const v = await s.messages.byClientId(A, 'c-1');
      expect(v).toMatchObject({ id: m.id, seq: m.seq, body: 'hello (edited)', clientId: 'c-1' });
      expect(await s.messages.byClientId(B, 'c-1')).toBeNull();
      expect(await s.messages.byClientId(A, 'c-2')).toBeNull();
    });
  });
}
