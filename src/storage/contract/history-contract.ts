/** Contract: history as readers see it (edits and retractions applied), paging both ways; plus a model check. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord, MessageView, NewRecord } from '../../core/types.js';
import type { Store } from '../../ports/store.js';
import type { StoreFactory } from './harness.js';
import { appendOne, dm, follow, roomMessage } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';

const viewOf = (r: LogRecord, extra: Partial<MessageView> = {}): MessageView => ({
  seq: r.seq,
  id: r.id,
  type: r.type,
  conv: r.conv,
  from: r.from,
  fromResource: r.fromResource,
  to: r.to,
  clientId: r.clientId,
  body: r.body,
  xml: r.xml,
  ts: r.ts,
  editedAt: null,
  retractedAt: null,
  ...extra,
});

/** Registers the history tests; `factory` opens extra stores for the property test. */
export function historyContract(store: () => Store, factory: StoreFactory): void {
  describe('messages: history', () => {
    /** m1..m5 in one conversation, with edits, a retraction, a receipt and noise elsewhere. */
    async function seed(s: Store): Promise<LogRecord[]> {
      const ms: LogRecord[] = [];
      for (let i = 1; i <= 5; i++) {
        ms.push(await appendOne(s, dm(i % 2 ? A : B, i % 2 ? B : A, `m${i}`, { ts: i, clientId: `c${i}` })));
        await appendOne(s, dm(A, 'carol@a.test', `elsewhere ${i}`));
      }
      const [m1, m2, , m4] = ms as [LogRecord, LogRecord, LogRecord, LogRecord, LogRecord];
      await appendOne(s, follow('edit', B, m2, { body: 'm2 v2', ts: 100 }));
      await appendOne(s, follow('receipt', B, m1, { to: A }));
      await appendOne(s, follow('edit', B, m2, { body: 'm2 v3', ts: 200 }));
      await appendOne(s, follow('retract', B, m4, { ts: 300 }));
      // An edit after the retraction must not bring the message back.
      await appendOne(s, follow('edit', B, m4, { body: 'zombie', ts: 400 }));
      await appendOne(s, follow('edit', A, { ...m1, id: 'unknown-id' }, { body: 'ghost', ts: 500 }));
      return ms;
    }

    it('shows only messages, with the latest edit applied and retractions blanked', async () => {
      const s = store();
      const [m1, m2, m3, m4, m5] = (await seed(s)) as [LogRecord, LogRecord, LogRecord, LogRecord, LogRecord];
      expect(await s.messages.history(m1.conv, { limit: 50 })).toEqual([
        viewOf(m1),
        viewOf(m2, { body: 'm2 v3', editedAt: 200 }),
        viewOf(m3),
        viewOf(m4, { body: null, retractedAt: 300 }),
        viewOf(m5),
      ]);
      expect(await s.messages.history('dm:nobody@a.test zed@a.test', { limit: 50 })).toEqual([]);
    });

    it('views one message by id exactly as its history row; null for unknown ids and non-messages', async () => {
      const s = store();
      const ms = await seed(s);
      const rows = await s.messages.history(ms[0]!.conv, { limit: 50 });
      for (const row of rows) expect(await s.messages.view(row.id)).toEqual(row);
      const [m1, m2, , m4] = ms as [LogRecord, LogRecord, LogRecord, LogRecord];
      expect(await s.messages.view(m1.id)).toEqual(viewOf(m1));
      expect(await s.messages.view(m2.id)).toEqual(viewOf(m2, { body: 'm2 v3', editedAt: 200 }));
      // Retracted, and the later edit did not bring it back.
      expect(await s.messages.view(m4.id)).toEqual(viewOf(m4, { body: null, retractedAt: 300 }));
      expect(await s.messages.view('unknown-id')).toBeNull();
      expect(await s.messages.view('')).toBeNull();
      // Edits, retractions and receipts are records, not messages.
      const edit = await appendOne(s, follow('edit', A, m1, { body: 'm1 v2', ts: 600 }));
      const retract = await appendOne(s, follow('retract', B, m2, { ts: 700 }));
      const receipt = await appendOne(s, follow('receipt', B, m1, { to: A }));
      for (const r of [edit, retract, receipt]) {
        expect(await s.messages.getById(r.id)).toEqual(r);
        expect(await s.messages.view(r.id)).toBeNull();
      }
      // The view follows later changes.
      expect(await s.messages.view(m1.id)).toEqual(viewOf(m1, { body: 'm1 v2', editedAt: 600 }));
      expect(await s.messages.view(m2.id)).toEqual(viewOf(m2, { body: null, editedAt: 200, retractedAt: 700 }));
      const inRoom = await appendOne(s, roomMessage(A, 'r@rooms.a.test', 'to the room', { clientId: 'rc' }));
      expect(await s.messages.view(inRoom.id)).toEqual(viewOf(inRoom));
    });

    it('pages backwards with before and forwards with after, always ascending', async () => {
      const s = store();
      const ms = await seed(s);
      const conv = ms[0]!.conv;
      const seqs = async (q: { before?: number; after?: number; limit: number }): Promise<number[]> =>
        (await s.messages.history(conv, q)).map((v) => v.seq);
      const [s1, s2, s3, s4, s5] = ms.map((m) => m.seq) as [number, number, number, number, number];
      expect(await seqs({ limit: 2 })).toEqual([s4, s5]);
      expect(await seqs({ before: s4, limit: 2 })).toEqual([s2, s3]);
      expect(await seqs({ before: s2, limit: 2 })).toEqual([s1]);
      expect(await seqs({ before: s1, limit: 2 })).toEqual([]);
      expect(await seqs({ after: 0, limit: 2 })).toEqual([s1, s2]);
      expect(await seqs({ after: s2, limit: 2 })).toEqual([s3, s4]);
      expect(await seqs({ after: s5, limit: 2 })).toEqual([]);
      // Both bounds: the range between them, paged forwards from `after`.
      expect(await seqs({ after: s1, before: s5, limit: 2 })).toEqual([s2, s3]);
      expect(await seqs({ limit: 0 })).toEqual([]);
    });

    it('stops at the byte budget: the page up to the row that reaches it, then one look-ahead row', async () => {
      const s = store();
      // UTF-8 sizes 10, 20, 30 ('é' is 2 bytes), 40, then a retracted message (0) and 60.
      const sizes = [10, 20, 30, 40, 50, 60];
      const ms: LogRecord[] = [];
      for (const n of sizes) ms.push(await appendOne(s, dm(A, B, n === 30 ? 'é'.repeat(15) : 'x'.repeat(n))));
      await appendOne(s, follow('retract', A, ms[4]!));
      const conv = ms[0]!.conv;
      const seqs = async (q: { before?: number; after?: number; limit: number; maxBytes?: number }): Promise<number[]> =>
        (await s.messages.history(conv, q)).map((v) => v.seq);
      const [s1, s2, s3, s4, s5, s6] = ms.map((m) => m.seq) as [number, number, number, number, number, number];
      // Backwards from the newest: 60 reaches 60 at once; s5 is the look-ahead. Ascending as always.
      expect(await seqs({ limit: 10, maxBytes: 60 })).toEqual([s5, s6]);
      // The retracted s5 weighs nothing: 60 + 0 + 40 reaches 100 at s4, then s3 is read ahead.
      expect(await seqs({ limit: 10, maxBytes: 100 })).toEqual([s3, s4, s5, s6]);
      expect(await seqs({ before: s4, limit: 10, maxBytes: 45 })).toEqual([s1, s2, s3]);
      // Forwards: 10 + 20 reaches 25 at s2; s3 is the look-ahead.
      expect(await seqs({ after: 0, limit: 10, maxBytes: 25 })).toEqual([s1, s2, s3]);
      expect(await seqs({ after: s2, limit: 10, maxBytes: 30 })).toEqual([s3, s4]);
      // At the end there is nothing to read ahead; the limit still binds first when it is smaller.
      expect(await seqs({ after: s5, limit: 10, maxBytes: 1 })).toEqual([s6]);
      expect(await seqs({ after: 0, limit: 2, maxBytes: 1_000_000 })).toEqual([s1, s2]);
      expect(await seqs({ after: 0, limit: 10, maxBytes: 1_000_000 })).toEqual([s1, s2, s3, s4, s5, s6]);
      expect(await seqs({ limit: 0, maxBytes: 1 })).toEqual([]);
    });

    it('takes a page from the end `from` names, within both bounds', async () => {
      const s = store();
      const ms = await seed(s);
      const conv = ms[0]!.conv;
      const [s1, s2, s3, s4, s5] = ms.map((m) => m.seq) as [number, number, number, number, number];
      const seqs = async (q: { before?: number; after?: number; limit: number; from?: 'oldest' | 'newest' }): Promise<number[]> =>
        (await s.messages.history(conv, q)).map((v) => v.seq);
      expect(await seqs({ after: s1, before: s5, limit: 2, from: 'newest' })).toEqual([s3, s4]);
      expect(await seqs({ before: s5, limit: 2, from: 'oldest' })).toEqual([s1, s2]);
      expect(await seqs({ after: s2, limit: 10, from: 'newest' })).toEqual([s3, s4, s5]);
    });

    it("pages a user's 1:1 messages of every conversation both ways, without rooms or other records", async () => {
      const s = store();
      const C = 'carol@a.test';
      const a1 = await appendOne(s, dm(A, B, 'a1', { ts: 10 }));
      const a2 = await appendOne(s, dm(C, A, 'a2', { ts: 20 }));
      await appendOne(s, dm(B, C, 'not alice', { ts: 30 }));
      await appendOne(s, roomMessage(A, 'r@rooms.a.test', 'in a room', { ts: 40 }));
      await appendOne(s, follow('receipt', B, a1, { to: A }));
      const a3 = await appendOne(s, dm(A, C, 'a3', { ts: 50 }));
      await appendOne(s, follow('edit', A, a3, { body: 'a3 v2', ts: 55 }));
      const a4 = await appendOne(s, dm(B, A, 'a4', { ts: 60 }));
      const seqs = async (q: { before?: number; after?: number; limit: number; from?: 'oldest' | 'newest'; maxBytes?: number }): Promise<number[]> =>
        (await s.messages.userMessages(A, q)).map((v) => v.seq);
      expect(await s.messages.userMessages(A, { limit: 10 })).toEqual([viewOf(a1), viewOf(a2), viewOf(a3, { body: 'a3 v2', editedAt: 55 }), viewOf(a4)]);
      expect(await seqs({ limit: 2 })).toEqual([a3.seq, a4.seq]);
      expect(await seqs({ before: a3.seq, limit: 2 })).toEqual([a1.seq, a2.seq]);
      expect(await seqs({ after: 0, limit: 3 })).toEqual([a1.seq, a2.seq, a3.seq]);
      expect(await seqs({ after: a1.seq, before: a4.seq, limit: 1, from: 'newest' })).toEqual([a3.seq]);
      // The byte budget as history() applies it: 2 + 2 reaches 3 at a3, then a2 is read ahead.
      expect(await seqs({ limit: 10, maxBytes: 3 })).toEqual([a2.seq, a3.seq, a4.seq]);
      expect(await seqs({ limit: 0 })).toEqual([]);
      expect(await s.messages.userMessages('nobody@a.test', { limit: 10 })).toEqual([]);
    });

    it('finds the first position written at or after a time', async () => {
      const s = store();
      expect(await s.messages.seqAtTime(0)).toBe((await s.messages.lastSeq()) + 1);
      const r1 = await appendOne(s, dm(A, B, 'one', { ts: 1_000 }));
      const r2 = await appendOne(s, dm(A, B, 'two', { ts: 2_000 }));
      const r3 = await appendOne(s, dm(B, A, 'three', { ts: 2_000 }));
      const r4 = await appendOne(s, dm(B, A, 'four', { ts: 5_000 }));
      expect(await s.messages.seqAtTime(0)).toBeLessThanOrEqual(r1.seq);
      expect(await s.messages.seqAtTime(1_000)).toBe(r1.seq);
      expect(await s.messages.seqAtTime(1_001)).toBe(r2.seq);
      expect(await s.messages.seqAtTime(2_000)).toBe(r2.seq);
      expect(await s.messages.seqAtTime(2_001)).toBe(r4.seq);
      expect(await s.messages.seqAtTime(5_000)).toBe(r4.seq);
      expect(await s.messages.seqAtTime(5_001)).toBe(r4.seq + 1);
      expect(r3.seq).toBe(r2.seq + 1);
    });

    it("finds a reader's newest read receipt in a conversation, and nothing for others or delivery receipts", async () => {
      const s = store();
      const [m1, , m3] = (await seed(s)) as [LogRecord, LogRecord, LogRecord];
      // seed(): B read m1. Then A's delivery receipt for m2's successor and B's read receipt for m3.
      expect(await s.messages.lastRead(m1.conv, B)).toEqual({ id: m1.id, seq: m1.seq, ts: expect.any(Number) as number });
      const read3 = await appendOne(s, follow('receipt', B, m3, { to: A, ts: 700 }));
      await appendOne(s, follow('receipt', B, m1, { to: A, receipt: 'delivered', ts: 800 }));
      expect(await s.messages.lastRead(m1.conv, B)).toEqual({ id: m3.id, seq: m3.seq, ts: read3.ts });
      expect(await s.messages.lastRead(m1.conv, A)).toBeNull();
      expect(await s.messages.lastRead('dm:alice@a.test carol@a.test', B)).toBeNull();
    });

    it('keeps a room conversation apart from direct messages', async () => {
      const s = store();
      const r = await appendOne(s, roomMessage(A, 'r@rooms.a.test', 'to the room'));
      await appendOne(s, dm(A, B, 'direct'));
      expect(await s.messages.history('room:r@rooms.a.test', { limit: 10 })).toEqual([viewOf(r)]);
    });

    it('agrees with a simple model for random sequences of messages, edits and retractions', async () => {
      type Op = { t: 'msg'; conv: 0 | 1 } | { t: 'edit' | 'retract'; target: number; body: string };
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ t: fc.constant('msg' as const), conv: fc.constantFrom(0 as const, 1 as const) }),
        fc.record({ t: fc.constantFrom('edit' as const, 'retract' as const), target: fc.nat(30), body: fc.string({ maxLength: 5 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.integer({ min: 1, max: 6 }), async (ops, limit) => {
          const s = await factory();
          try {
            const peers = [B, 'carol@a.test'];
            const model = new Map<string, MessageView>();
            const messages: LogRecord[] = [];
            let ts = 0;
            for (const o of ops) {
              ts++;
              if (o.t === 'msg') {
                const m = await appendOne(s, dm(A, peers[o.conv]!, `b${ts}`, { ts }));
                messages.push(m);
                model.set(m.id, viewOf(m));
                continue;
              }
              const target = messages[o.target % Math.max(1, messages.length)];
              if (!target) continue;
              const rec: NewRecord = follow(o.t, A, target, { body: o.t === 'edit' ? o.body : null, ts });
              await appendOne(s, rec);
              const v = model.get(target.id)!;
              if (v.retractedAt !== null) continue;
              model.set(target.id, o.t === 'edit' ? { ...v, body: o.body, editedAt: ts } : { ...v, body: null, retractedAt: ts });
            }
            for (const peer of peers) {
              const conv = dm(A, peer, '').conv;
              const expected = [...model.values()].filter((v) => v.conv === conv);
              expect(await s.messages.history(conv, { limit: 1000 })).toEqual(expected);
              for (const v of expected) expect(await s.messages.view(v.id)).toEqual(v);
              // Walking backwards page by page, then forwards, must each reproduce the whole list.
              const back: MessageView[] = [];
              for (let page = await s.messages.history(conv, { limit }); page.length > 0; ) {
                back.unshift(...page);
                page = await s.messages.history(conv, { before: page[0]!.seq, limit });
              }
              expect(back).toEqual(expected);
              const fwd: MessageView[] = [];
              for (let page = await s.messages.history(conv, { after: 0, limit }); page.length > 0; ) {
                fwd.push(...page);
                page = await s.messages.history(conv, { after: page[page.length - 1]!.seq, limit });
              }
              expect(fwd).toEqual(expected);
            }
          } finally {
            await s.close();
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}
