/**
 * Contract: a module's storage area (ports/module-storage.ts), with the fixture module of fixture-area.ts, which
 * every adapter's factory opens the store with. Migrations and refusing a newer module schema are SQLite's own
 * and tested beside the adapter (store.contract.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { FIXTURE_MODULE, REFUSED_BODY, type FixtureArea } from './fixture-area.js';
import { dm } from './fixtures.js';

const A = 'alice@a.test';
const B = 'bob@a.test';

/** Registers the module-area tests. */
export function moduleContract(store: () => Store): void {
  describe('module areas', () => {
    const fixture = (): FixtureArea => store().area<FixtureArea>(FIXTURE_MODULE);

    it("serves the area's own methods, and refuses an area the store was not opened with", async () => {
      const area = fixture();
      expect(await area.get('k')).toBeNull();
      await Promise.all([area.put('k', 'v1'), area.put('j', 'w')]);
      await area.put('k', 'v2');
      expect(await area.get('k')).toBe('v2');
      expect(await area.count()).toBe(2);
      let unknown: unknown = null;
      try {
        store().area('no-such-module');
      } catch (e) {
        unknown = e;
      }
      expect(unknown).toMatchObject({ code: 'item-not-found' });
      // An area may be handed on from an async function: it must not pass for a promise.
      const handedOn = await (async () => store().area<FixtureArea>(FIXTURE_MODULE))();
      expect(await handedOn.get('k')).toBe('v2');
    });

    it('participants see each new record once, with its seq, and no resend', async () => {
      const s = store();
      const first = await s.messages.append([dm(A, B, 'one', { clientId: 'c1' }), dm(A, B, 'two')]);
      // Several callers in one turn share a commit; each record is still seen once.
      const more = await Promise.all([s.messages.append([dm(A, B, 'one', { clientId: 'c1' })]), s.messages.append([dm(B, A, 'three')])]);
      expect(more[0]![0]!.duplicate).toBe(true);
      const fresh = [...first, ...more.flat()].filter((r) => !r.duplicate).map((r) => r.record.seq);
      expect(fresh).toHaveLength(3);
      expect(await fixture().seen()).toEqual(fresh);
    });

    it('reads a log record by its position, as it was appended, and nothing where there is none', async () => {
      const s = store();
      const [sent, edit] = await s.messages.append([
        dm(A, B, 'hello', { clientId: 'c-read', xml: '<x xmlns="urn:test"/>' }),
        dm(A, B, 'hello, again', { kind: 'edit' }),
      ]);
      const area = fixture();
      expect(await area.record(sent!.record.seq)).toEqual(sent!.record);
      expect(await area.record(edit!.record.seq)).toEqual(edit!.record);
      expect(await area.record(edit!.record.seq + 1)).toBeNull();
      expect(await area.record(0)).toBeNull();
      // A run, in order; positions past the end have nothing.
      expect(await area.records(sent!.record.seq, edit!.record.seq + 5)).toEqual([sent!.record, edit!.record]);
      expect(await area.records(edit!.record.seq, edit!.record.seq)).toEqual([edit!.record]);
      expect(await area.records(edit!.record.seq + 1, edit!.record.seq + 9)).toEqual([]);
    });

    it('a participant that throws fails only its own append, which stores nothing', async () => {
      const s = store();
      const before = await s.messages.append([dm(A, B, 'before')]);
      // In one turn: the refused caller shares the commit with others, who must not notice.
      const results = await Promise.allSettled([
        s.messages.append([dm(A, B, 'ok 1')]),
        s.messages.append([dm(A, B, 'fine'), dm(A, B, REFUSED_BODY, { clientId: 'refused', offlineFor: [B] })]),
        s.messages.append([dm(B, A, 'ok 2')]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'policy-violation' } });
      const log = await s.messages.after(0, 100);
      expect(log.map((r) => r.body)).toEqual(['before', 'ok 1', 'ok 2']);
      expect(await fixture().seen()).toEqual(log.map((r) => r.seq));
      expect(await s.messages.byClientId(A, 'refused')).toBeNull();
      expect(await s.messages.offlineSize(B)).toEqual({ count: 0, bytes: 0 });
      expect(await s.messages.lastSeq()).toBe(log[log.length - 1]!.seq);
      // Alone, too; and the clientId stays free for a record that is accepted.
      await expect(s.messages.append([dm(A, B, REFUSED_BODY, { clientId: 'refused' })])).rejects.toMatchObject({ code: 'policy-violation' });
      const [accepted] = await s.messages.append([dm(A, B, 'now fine', { clientId: 'refused' })]);
      expect(accepted!.duplicate).toBe(false);
      expect(accepted!.record.seq).toBeGreaterThan(before[0]!.record.seq);
      expect(await fixture().seen()).toEqual((await s.messages.after(0, 100)).map((r) => r.seq));
    });
  });
}
