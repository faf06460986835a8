/**
 * Contract: an address removed and created again is a new identity. Accounts and rooms record the log position
 * of their creation; history, since and the offline queue start there, while the log keeps everything.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { account, appendOne, dm, roomMessage } from './fixtures.js';

const A = 'alice@a.test';
const M = 'mallory@a.test';
const RM = 'rm2@a.test';
const ROOM = 'board@rooms.a.test';

const room = (createdBy: string) => ({ address: ROOM, name: 'Board', membersOnly: true, createdBy, createdAt: 1 });
const bodies = (rows: Array<{ body: string | null }>): Array<string | null> => rows.map((r) => r.body);

/** Registers the incarnation tests. */
export function incarnationContract(store: () => Store): void {
  describe('incarnations', () => {
    async function seed(s: Store): Promise<void> {
      await s.domains.add('a.test', 1);
      for (const u of [A, M, RM]) await s.accounts.create(account(u));
    }

    it('an account records the last seq at its creation, whatever createdSeq it is given', async () => {
      const s = store();
      await seed(s);
      expect((await s.accounts.get(A))!.createdSeq).toBe(0);
      const m = await appendOne(s, dm(A, M, 'one'));
      await s.accounts.create(account('late@a.test', { createdSeq: 999 }));
      expect((await s.accounts.get('late@a.test'))!.createdSeq).toBe(m.seq);
    });

    it("a re-created account sees none of its predecessor's conversations, offline queue or rooms", async () => {
      const s = store();
      await seed(s);
      await s.rooms.create(room(A));
      await s.rooms.setMember(ROOM, RM, 'member', 2);
      const before = await appendOne(s, dm(A, RM, 'for the old rm2', { offlineFor: [RM] }));
      await appendOne(s, dm(RM, A, 'from the old rm2'));
      await appendOne(s, dm(RM, RM, 'old note to self'));
      await appendOne(s, roomMessage(A, ROOM, 'old rm2 was here'));
      const other = await appendOne(s, dm(A, M, 'alice and mallory'));

      expect(await s.accounts.remove(RM)).toBe(true);
      // A record queued for the old account while it is being removed (a send racing the removal).
      await appendOne(s, dm(A, RM, 'in flight', { offlineFor: [RM] }));
      await s.accounts.create(account(RM));
      const created = (await s.accounts.get(RM))!.createdSeq;
      expect(created).toBeGreaterThan(other.seq);
      // A requeue of the old session's unacknowledged messages (XEP-0198) after the re-creation.
      await s.messages.queueOffline(RM, [before.seq]);

      expect(await s.messages.history(dm(A, RM, '').conv, { limit: 50 })).toEqual([]);
      expect(await s.messages.history(dm(RM, RM, '').conv, { limit: 50 })).toEqual([]);
      expect(await s.messages.since(RM, [], 0, 50)).toEqual([]);
      expect(await s.messages.offline(RM, 0, 50)).toEqual([]);
      // The room stays; a member joining again sees it as any new member (its history), not through since's user branch.
      await s.rooms.setMember(ROOM, RM, 'member', 3);
      expect(bodies(await s.messages.history(`room:${ROOM}`, { limit: 50 }))).toEqual(['old rm2 was here']);

      // What follows the creation is the new account's.
      const fresh = await appendOne(s, dm(A, RM, 'hello new rm2', { offlineFor: [RM] }));
      expect(bodies(await s.messages.history(dm(A, RM, '').conv, { limit: 50 }))).toEqual(['hello new rm2']);
      expect(await s.messages.since(RM, [], 0, 50)).toEqual([fresh]);
      expect(await s.messages.offline(RM, 0, 50)).toEqual([fresh]);
      // Others' conversations and the log itself are untouched.
      expect(bodies(await s.messages.history(dm(A, M, '').conv, { limit: 50 }))).toEqual(['alice and mallory']);
      expect((await s.messages.since(A, [], 0, 50)).map((r) => r.body)).toContain('from the old rm2');
      expect(await s.messages.getById(before.id)).toEqual(before);
    });

    it('a re-created room starts with an empty history, for since as well', async () => {
      const s = store();
      await seed(s);
      await s.rooms.create(room(A));
      await appendOne(s, roomMessage(A, ROOM, 'secret plans'));
      expect(await s.rooms.remove(ROOM)).toBe(true);
      await s.rooms.create(room(M));
      expect(await s.messages.history(`room:${ROOM}`, { limit: 50 })).toEqual([]);
      expect(await s.messages.history(`room:${ROOM}`, { after: 0, limit: 50 })).toEqual([]);
      expect(await s.messages.since(M, [ROOM], 0, 50)).toEqual([]);
      const now = await appendOne(s, roomMessage(M, ROOM, 'my board now'));
      expect(bodies(await s.messages.history(`room:${ROOM}`, { limit: 50 }))).toEqual(['my board now']);
      expect(await s.messages.since(M, [ROOM], 0, 50)).toEqual([now]);
    });

    it("floorsOf gives a member's rooms with the position each room's history starts after", async () => {
      const s = store();
      await seed(s);
      await s.rooms.create(room(A));
      expect(await s.rooms.floorsOf(A)).toEqual([{ room: ROOM, createdSeq: 0 }]);
      const old = await appendOne(s, roomMessage(A, ROOM, 'secret plans'));
      await s.rooms.remove(ROOM);
      expect(await s.rooms.floorsOf(A)).toEqual([]);
      await s.rooms.create(room(M));
      expect(await s.rooms.floorsOf(M)).toEqual([{ room: ROOM, createdSeq: old.seq }]);
      expect(await s.rooms.floorsOf(A)).toEqual([]);
    });

    it('floorsOfRooms gives the rooms that exist among the addresses, each with where its history starts', async () => {
      const s = store();
      await seed(s);
      await s.rooms.create(room(A));
      expect(await s.rooms.floorsOfRooms([])).toEqual([]);
      expect(await s.rooms.floorsOfRooms(['nowhere@rooms.a.test', ROOM, ROOM])).toEqual([{ room: ROOM, createdSeq: 0 }]);
      const old = await appendOne(s, roomMessage(A, ROOM, 'secret plans'));
      await s.rooms.remove(ROOM);
      expect(await s.rooms.floorsOfRooms([ROOM])).toEqual([]);
      await s.rooms.create(room(M));
      // Not a member of it: the floor is the room's, whoever asks.
      expect(await s.rooms.floorsOfRooms([ROOM])).toEqual([{ room: ROOM, createdSeq: old.seq }]);
    });

    it("refuses a predecessor's clientId (conflict) instead of answering with its message", async () => {
      const s = store();
      await seed(s);
      const old = await appendOne(s, dm(RM, A, 'old', { clientId: 'c1' }));
      const [again] = await s.messages.append([dm(RM, A, 'old', { clientId: 'c1' })]);
      expect(again).toEqual({ record: old, duplicate: true });
      await s.accounts.remove(RM);
      await s.accounts.create(account(RM));
      await expect(s.messages.append([dm(RM, A, 'new', { clientId: 'c1' })])).rejects.toMatchObject({ code: 'conflict' });
      // The refused call stored nothing, and other clientIds and senders are unaffected.
      const fresh = await appendOne(s, dm(RM, A, 'new', { clientId: 'c2' }));
      const [dup] = await s.messages.append([dm(RM, A, 'new', { clientId: 'c2' })]);
      expect(dup).toEqual({ record: fresh, duplicate: true });
      expect(bodies(await s.messages.history(dm(A, RM, '').conv, { limit: 50 }))).toEqual(['new']);
      await appendOne(s, dm(M, A, 'mine', { clientId: 'c1' }));
    });
  });
}
