/** Contract: appending to the log, dedupe by client id, group commit, getById and lastSeq. */
import { describe, expect, it } from 'vitest';
import type { NewRecord } from '../../core/types.js';
import type { Store } from '../../ports/store.js';
import { appendOne, dm, follow, roomMessage, stored } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';

/** Registers the append tests. */
export function appendContract(store: () => Store): void {
  describe('messages: append', () => {
    it('assigns increasing seqs and unique ids, returns the records as given, and finds them by id', async () => {
      const s = store();
      expect(await s.messages.lastSeq()).toBe(0);
      const input = [dm(A, B, 'one', { clientId: 'c1', toResource: 'phone' }), roomMessage(B, 'r@rooms.a.test', 'two')];
      const res = await s.messages.append(input);
      expect(res.map((r) => r.duplicate)).toEqual([false, false]);
      const [r1, r2] = res.map((r) => r.record);
      expect(r1!.seq).toBeGreaterThan(0);
      expect(r2!.seq).toBeGreaterThan(r1!.seq);
      expect(typeof r1!.id).toBe('string');
      expect(r1!.id).not.toBe(r2!.id);
      expect(r1).toEqual(stored(input[0]!, r1!.seq, r1!.id));
      expect(r2).toEqual(stored(input[1]!, r2!.seq, r2!.id));
      expect(r1).not.toHaveProperty('offlineFor');
      expect(await s.messages.getById(r1!.id)).toEqual(r1);
      expect(await s.messages.getById('no-such-id')).toBeNull();
      expect(await s.messages.lastSeq()).toBe(r2!.seq);
      expect(await s.messages.append([])).toEqual([]);
    });

    it('keeps the extension elements (xml) of a message for every read, and counts them in the offline size', async () => {
      const s = store();
      const xml = '<x xmlns="jabber:x:oob"><url>https://files.a.test/cat.jpg</url></x><reactions xmlns="urn:xmpp:reactions:0" id="m1"><reaction>👍</reaction></reactions>';
      const withXml = await appendOne(s, dm(A, B, 'see', { xml, offlineFor: [B] }));
      const bodyless = await appendOne(s, dm(A, B, '', { body: null, xml: '<encrypted xmlns="eu.siacs.conversations.axolotl"/>' }));
      const plain = await appendOne(s, dm(A, B, 'plain', { xml: undefined }));
      expect(withXml.xml).toBe(xml);
      expect(plain.xml).toBeNull();
      expect((await s.messages.getById(withXml.id))!.xml).toBe(xml);
      expect((await s.messages.getById(bodyless.id))!.body).toBeNull();
      expect((await s.messages.view(withXml.id))!.xml).toBe(xml);
      expect((await s.messages.view(plain.id))!.xml).toBeNull();
      const page = await s.messages.history(withXml.conv, { limit: 10 });
      expect(page.map((m) => m.xml)).toEqual([xml, bodyless.xml, null]);
      expect((await s.messages.offline(B, 0, 10)).map((r) => r.xml)).toEqual([xml]);
      expect((await s.messages.since(B, [], 0, 10)).map((r) => r.xml)).toEqual([xml, bodyless.xml, null]);
      expect(await s.messages.offlineSize(B)).toEqual({ count: 1, bytes: 3 + Buffer.byteLength(xml, 'utf8') });
      // A follow-up (a correction) may carry its own extension elements.
      const edit = await appendOne(s, follow('edit', A, withXml, { xml: '<fallback xmlns="urn:xmpp:fallback:0"/>' }));
      expect((await s.messages.getById(edit.id))!.xml).toBe('<fallback xmlns="urn:xmpp:fallback:0"/>');
      // A retracted message shows no extension elements either; the log record keeps them.
      await appendOne(s, follow('retract', A, withXml));
      expect(await s.messages.view(withXml.id)).toMatchObject({ body: null, xml: null });
      expect((await s.messages.getById(withXml.id))!.xml).toBe(xml);
    });

    it('stores every kind with all its fields', async () => {
      const s = store();
      const m = await appendOne(s, dm(A, B, 'hello'));
      const kinds = [follow('edit', A, m, { body: 'hello!' }), follow('retract', A, m), follow('receipt', B, m, { to: A, receipt: 'delivered' })];
      for (const r of kinds) {
        const got = await appendOne(s, r);
        expect(await s.messages.getById(got.id)).toEqual(stored(r, got.seq, got.id));
      }
    });

    it('returns the first record for a resent (from, clientId) and writes nothing', async () => {
      const s = store();
      const first = await appendOne(s, dm(A, B, 'original', { clientId: 'c1', offlineFor: [B] }));
      await s.messages.ackOffline(B, first.seq);
      const [again] = await s.messages.append([dm(A, B, 'changed', { clientId: 'c1', offlineFor: [B], ts: 5 })]);
      expect(again).toEqual({ record: first, duplicate: true });
      expect(await s.messages.lastSeq()).toBe(first.seq);
      expect(await s.messages.offline(B, 0, 10)).toEqual([]);
    });

    it('dedupes within one batch, and keys by sender: other senders and null clientIds never clash', async () => {
      const s = store();
      const res = await s.messages.append([
        dm(A, B, 'x', { clientId: 'c1' }),
        dm(A, B, 'x again', { clientId: 'c1', offlineFor: [B] }),
        dm(B, A, 'y', { clientId: 'c1' }),
        dm(A, B, 'no id'),
        dm(A, B, 'no id'),
      ]);
      expect(res.map((r) => r.duplicate)).toEqual([false, true, false, false, false]);
      expect(res[1]!.record).toEqual(res[0]!.record);
      expect(new Set(res.map((r) => r.record.seq)).size).toBe(4);
      expect(await s.messages.offline(B, 0, 10)).toEqual([]);
    });

    it('dedupes edits, retractions and receipts too, so a resent edit applies once', async () => {
      const s = store();
      const m = await appendOne(s, dm(A, B, 'v1'));
      const e1 = await appendOne(s, follow('edit', A, m, { body: 'v2', clientId: 'e1', ts: 10 }));
      const [dup] = await s.messages.append([follow('edit', A, m, { body: 'v3', clientId: 'e1', ts: 20 })]);
      expect(dup).toEqual({ record: e1, duplicate: true });
      const [view] = await s.messages.history(m.conv, { limit: 10 });
      expect(view).toMatchObject({ body: 'v2', editedAt: 10 });
    });

    it('group commit: many concurrent calls all resolve, with seqs strictly increasing in call order', async () => {
      const s = store();
      const calls = Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0 ? [dm(A, B, `m${i}a`), dm(B, A, `m${i}b`)] : [roomMessage(A, 'r@rooms.a.test', `m${i}`, { clientId: `g${i}` })],
      );
      const results = await Promise.all(calls.map((c) => s.messages.append(c)));
      const seqs = results.flat().map((r) => r.record.seq);
      expect(seqs).toHaveLength(80);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
      expect(results.flat().map((r) => r.record.body)).toEqual(calls.flat().map((r) => r.body));
      expect(await s.messages.lastSeq()).toBe(seqs[seqs.length - 1]);
    });

    it('group commit: a duplicate in a concurrent call resolves to the first record', async () => {
      const s = store();
      const [[a], [b]] = await Promise.all([
        s.messages.append([dm(A, B, 'first', { clientId: 'same' })]),
        s.messages.append([dm(A, B, 'second', { clientId: 'same' })]),
      ]);
      expect(a!.duplicate).toBe(false);
      expect(b).toEqual({ record: a!.record, duplicate: true });
    });

    it('group commit: an invalid batch fails only its own caller and writes none of its records', async () => {
      const s = store();
      const bad = { ...dm(A, B, 'bad'), kind: 'shout' } as unknown as NewRecord;
      const [ok1, failed, ok2] = await Promise.allSettled([
        s.messages.append([dm(A, B, 'before')]),
        s.messages.append([dm(A, B, 'innocent', { clientId: 'inno' }), bad]),
        s.messages.append([dm(A, B, 'after')]),
      ]);
      expect(ok1.status).toBe('fulfilled');
      expect(ok2.status).toBe('fulfilled');
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'bad-request' } });
      // The failed batch is all-or-nothing: its valid record was not kept either.
      const [retry] = await s.messages.append([dm(A, B, 'innocent', { clientId: 'inno' })]);
      expect(retry!.duplicate).toBe(false);
      const bodies = (await s.messages.history(retry!.record.conv, { limit: 10 })).map((v) => v.body);
      expect(bodies).toEqual(['before', 'after', 'innocent']);
    });

    it('copies its input: changing the records after the call does not change what is stored', async () => {
      const s = store();
      const r = dm(A, B, 'as sent', { offlineFor: [B] });
      const p = s.messages.append([r]);
      r.body = 'mutated';
      r.offlineFor.push('eve@a.test');
      const [res] = await p;
      expect((await s.messages.getById(res!.record.id))!.body).toBe('as sent');
      expect(await s.messages.offline('eve@a.test', 0, 10)).toEqual([]);
    });
  });
}
