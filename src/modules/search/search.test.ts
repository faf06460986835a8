/**
 * The search module on the memory store (its area is the SQLite code on an in-memory database): indexing by
 * the log consumer, edits and retractions, and who may find what (a user's own 1:1 messages, rooms it is a
 * member of now, from where history starts).
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import { validateConfig } from '../../app/config.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { testPresence } from '../../engine/test-engine.js';
import type { Store } from '../../ports/store.js';
import { consumerCaughtUp, detachedAreaContext, moduleFixture, runOp, type ModuleFixture } from '../testing.js';
import { openSqliteAreaInMemory } from '../sqlite-memory.js';
import { conversations } from '../conversations/index.js';
import { search } from './index.js';
import type { SearchResult } from './service.js';
import { area, type IndexRecord } from './sqlite.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';

const open = async (engine: Engine, user: string): Promise<Session> =>
  (await engine.openSession(user, 'desk', { send: () => undefined, close: () => undefined }, testPresence)).session;

/** Waits until the module's consumer has indexed everything in the log. */
const indexed = (store: Store): Promise<void> => consumerCaughtUp(store, 'search.index');

async function fixture(
  modules: Parameters<typeof moduleFixture>[0] = [search],
): Promise<ModuleFixture & { find(user: string, params: Record<string, unknown>): Promise<SearchResult> }> {
  const f = await moduleFixture(modules, { users: [A, B, C] });
  f.host.start();
  return {
    ...f,
    async find(user, params) {
      await indexed(f.store);
      return (await runOp(f.host, f.engine, user, 'search', params)) as SearchResult;
    },
  };
}

const bodies = (r: SearchResult): string[] => r.hits.map((h) => h.body);

describe('search module', () => {
  it('indexes one-to-one messages for both parties, newest first, with ranges of the matches', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    await f.engine.messages.send(a, parseAddress(B), 'The Café budget is ready', null, Date.now());
    await f.engine.messages.send(a, parseAddress(B), 'lunch?', null, Date.now());
    await f.engine.messages.send(a, parseAddress(B), 'budget review at 3, café downstairs', null, Date.now());
    const forA = await f.find(A, { q: 'cafe BUDGET' });
    expect(bodies(forA)).toEqual(['budget review at 3, café downstairs', 'The Café budget is ready']);
    expect(forA.hits[0]).toMatchObject({ from: A, to: B, snippet: [[0, 6], [20, 24]] });
    expect(forA.hits[0]!.room).toBeUndefined();
    expect(forA.next).toBeNull();
    expect(bodies(await f.find(B, { q: 'café' }))).toHaveLength(2);
    // A third party finds nothing of their conversation.
    expect(bodies(await f.find(C, { q: 'budget' }))).toEqual([]);
    expect(bodies(await f.find(C, { q: 'budget', with: A }))).toEqual([]);
  });

  it('matches phrases and prefixes, and treats every other character as text', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    await f.engine.messages.send(a, parseAddress(B), 'quarterly report due friday', null, Date.now());
    await f.engine.messages.send(a, parseAddress(B), 'report the quarterly numbers', null, Date.now());
    expect(bodies(await f.find(A, { q: '"quarterly report"' }))).toEqual(['quarterly report due friday']);
    const prefix = await f.find(A, { q: 'quart* fri*' });
    expect(bodies(prefix)).toEqual(['quarterly report due friday']);
    expect(prefix.hits[0]!.snippet).toEqual([[0, 9], [21, 27]]);
    // FTS5 operators and stray syntax are plain words, never an error.
    for (const q of ['report OR nothing', 'NEAR(report due)', 'body:report', '"unclosed report', 'report -due', '(report)', 'report^', '"report" *x']) {
      await expect(f.find(A, { q })).resolves.toBeDefined();
    }
    expect(bodies(await f.find(A, { q: '"unclosed report' }))).toEqual([]);
    expect(bodies(await f.find(A, { q: 'report -due' }))).toEqual(['quarterly report due friday']);
    await expect(f.find(A, { q: '!!! ---' })).rejects.toMatchObject({ code: 'bad-request', message: expect.stringContaining('at least one word') });
    await expect(f.find(A, { q: 'x'.repeat(501) })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('replaces the text of an edited message and forgets a retracted one', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const m = await f.engine.messages.send(a, parseAddress(B), 'meet at the harbour', null, Date.now());
    const gone = await f.engine.messages.send(a, parseAddress(B), 'the harbour password is swordfish', null, Date.now());
    expect(bodies(await f.find(B, { q: 'harbour' }))).toHaveLength(2);
    await f.engine.messages.edit(a, m.id, 'meet at the station', null, Date.now());
    await f.engine.messages.retract(a, gone.id, null, Date.now());
    expect(bodies(await f.find(B, { q: 'harbour' }))).toEqual([]);
    expect(bodies(await f.find(B, { q: 'swordfish' }))).toEqual([]);
    const edited = await f.find(B, { q: 'station' });
    expect(edited.hits).toMatchObject([{ id: m.id, seq: m.seq, body: 'meet at the station' }]);
  });

  it('finds room messages for members only, and only from where the room\'s history starts', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const room = await f.engine.rooms.create(A, 'Board', 'board', true);
    await f.engine.messages.send(a, parseAddress(room.address), 'merger plans for Q3', null, Date.now());
    const hits = await f.find(A, { q: 'merger' });
    expect(hits.hits).toMatchObject([{ from: A, to: room.address, room: room.address, body: 'merger plans for Q3' }]);
    // B is not a member: nothing, and naming the room is forbidden whether it exists or not.
    expect(bodies(await f.find(B, { q: 'merger' }))).toEqual([]);
    await expect(f.find(B, { q: 'merger', room: room.address })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(f.find(B, { q: 'merger', room: 'nowhere@rooms.example.com' })).rejects.toMatchObject({ code: 'forbidden' });
    // Invited and joined, B reads the room's history, so finds it; having left, no longer.
    await f.engine.rooms.invite(room.address, A, B);
    await f.engine.rooms.join(room.address, B);
    expect(bodies(await f.find(B, { q: 'merger', room: room.address }))).toEqual(['merger plans for Q3']);
    await f.engine.rooms.leave(room.address, B);
    // Without the conversations module nothing remembers where B left, so its history and search end there.
    expect(bodies(await f.find(B, { q: 'merger' }))).toEqual([]);
    // A room created again at the address is a new room: the old one's messages are not its history.
    await f.engine.rooms.destroy(room.address, A);
    await f.engine.rooms.create(A, 'Board', 'board', true);
    expect(bodies(await f.find(A, { q: 'merger' }))).toEqual([]);
  });

  it('finds a room left up to the leaving, never after it, until the room is removed from the list', async () => {
    // The conversations module remembers where members left (Engine.readLeftRooms), as history reads it.
    const f = await fixture([search, conversations]);
    const a = await open(f.engine, A);
    const room = (await f.engine.rooms.create(A, 'Board', 'board', true)).address;
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    const before = await f.engine.messages.send(a, parseAddress(room), 'merger plans for Q3', null, Date.now());
    await f.engine.rooms.leave(room, B);
    await f.engine.messages.send(a, parseAddress(room), 'merger signed after b left', null, Date.now());
    await f.engine.messages.send(a, parseAddress(B), 'merger news in private', null, Date.now());
    // Everything B may read: the room up to its leaving and its own conversation; the later room message not.
    const all = await f.find(B, { q: 'merger' });
    expect(bodies(all)).toEqual(['merger news in private', 'merger plans for Q3']);
    expect(all.hits[1]).toMatchObject({ id: before.id, seq: before.seq, room, from: A });
    // Narrowed to the room, paged: the same limit, and a cursor past the leaving reads from the leaving down.
    expect(bodies(await f.find(B, { q: 'merger', room }))).toEqual(['merger plans for Q3']);
    expect(bodies(await f.find(B, { q: 'merger', with: room }))).toEqual(['merger plans for Q3']);
    expect(bodies(await f.find(B, { q: 'signed', room }))).toEqual([]);
    expect(bodies(await f.find(B, { q: 'merger', room, before: before.seq }))).toEqual([]);
    // The same as history shows B.
    expect((await f.engine.history(B, { with: room })).messages.map((m) => m.body)).toEqual(['merger plans for Q3']);
    // Members find all of it; someone never in the room finds nothing and may not name it.
    expect(bodies(await f.find(A, { q: 'merger', room }))).toEqual(['merger signed after b left', 'merger plans for Q3']);
    expect(bodies(await f.find(C, { q: 'merger' }))).toEqual([]);
    await expect(f.find(C, { q: 'merger', room })).rejects.toMatchObject({ code: 'forbidden' });
    // Back in the room, B reads it whole; leaving again, up to the second leaving.
    await f.engine.rooms.invite(room, A, B);
    await f.engine.rooms.join(room, B);
    expect(bodies(await f.find(B, { q: 'merger', room }))).toEqual(['merger signed after b left', 'merger plans for Q3']);
    await f.engine.rooms.leave(room, B);
    await f.engine.messages.send(a, parseAddress(room), 'merger closed', null, Date.now());
    expect(bodies(await f.find(B, { q: 'merger', room }))).toEqual(['merger signed after b left', 'merger plans for Q3']);
    // Removed from B's list: nothing of the room, and naming it is forbidden, as for history.
    await runOp(f.host, f.engine, B, 'conversation.remove', { with: room });
    expect(bodies(await f.find(B, { q: 'merger' }))).toEqual(['merger news in private']);
    await expect(f.find(B, { q: 'merger', room })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('finds nothing of a room left once it is destroyed, nor of a room created again at its address', async () => {
    const f = await fixture([search, conversations]);
    const a = await open(f.engine, A);
    const board = (await f.engine.rooms.create(A, 'Board', 'board', true)).address;
    await f.engine.rooms.invite(board, A, B);
    await f.engine.rooms.join(board, B);
    await f.engine.messages.send(a, parseAddress(board), 'old board minutes', null, Date.now());
    await f.engine.rooms.leave(board, B);
    expect(bodies(await f.find(B, { q: 'minutes' }))).toEqual(['old board minutes']);
    await f.engine.rooms.destroy(board, A);
    expect(bodies(await f.find(B, { q: 'minutes' }))).toEqual([]);
    // The new room at the old address: B joins and leaves it; the old room's messages are not its history.
    await f.engine.rooms.create(A, 'Board', 'board', true);
    await f.engine.rooms.invite(board, A, B);
    await f.engine.rooms.join(board, B);
    await f.engine.messages.send(a, parseAddress(board), 'new board minutes', null, Date.now());
    await f.engine.rooms.leave(board, B);
    expect(bodies(await f.find(B, { q: 'minutes' }))).toEqual(['new board minutes']);
    expect(bodies(await f.find(B, { q: 'minutes', room: board }))).toEqual(['new board minutes']);
  });

  it('narrows to one conversation and pages with next', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    const c = await open(f.engine, C);
    for (let i = 1; i <= 5; i++) await f.engine.messages.send(a, parseAddress(B), `invoice ${i}`, null, Date.now());
    await f.engine.messages.send(c, parseAddress(A), 'invoice from c', null, Date.now());
    expect(bodies(await f.find(A, { q: 'invoice', with: C }))).toEqual(['invoice from c']);
    const first = await f.find(A, { q: 'invoice', with: B, limit: 2 });
    expect(bodies(first)).toEqual(['invoice 5', 'invoice 4']);
    expect(first.next).toBe(first.hits[1]!.seq);
    const second = await f.find(A, { q: 'invoice', with: B, limit: 2, before: first.next });
    expect(bodies(second)).toEqual(['invoice 3', 'invoice 2']);
    const last = await f.find(A, { q: 'invoice', with: B, limit: 2, before: second.next });
    expect(bodies(last)).toEqual(['invoice 1']);
    expect(last.next).toBeNull();
    await expect(f.find(A, { q: 'invoice', with: B, room: 'x@rooms.example.com' })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('an account created again finds none of its predecessor\'s messages', async () => {
    const f = await fixture();
    const a = await open(f.engine, A);
    await f.engine.messages.send(a, parseAddress(B), 'old secret', null, Date.now());
    await f.engine.closeSession(a);
    expect(bodies(await f.find(B, { q: 'secret' }))).toEqual(['old secret']);
    await f.engine.admin.removeUser(B);
    await f.engine.admin.addUser(B, 'secret-pw', false);
    expect(bodies(await f.find(B, { q: 'secret' }))).toEqual([]);
    // Nor does the other party in their conversation with the new account (history starts at the later account).
    expect(bodies(await f.find(A, { q: 'secret', with: B }))).toEqual([]);
  });

  it('applying a batch twice (a crash before its position was stored) leaves the same index', async () => {
    const idx = openSqliteAreaInMemory(area, detachedAreaContext(() => 0));
    const rec = (seq: number, kind: IndexRecord['kind'], body: string | null, ref: string | null = null): IndexRecord => ({
      kind, type: 'chat', seq, id: `m${seq}`, conv: `dm:${A} ${B}`, from: A, fromResource: null, to: B, clientId: null, body, ref, ts: seq,
    });
    const batch = [rec(1, 'message', 'alpha beta'), rec(2, 'message', 'gamma'), rec(3, 'edit', 'alpha delta', 'm1'), rec(4, 'retract', null, 'm2')];
    const scope = { user: B, own: 0, rooms: [] as Array<[string, number]> };
    const found = async (word: string): Promise<string[]> =>
      (await idx.search({ match: `"${word}"`, scope, limit: 10, scanMax: 100 })).hits.map((h) => `${h.id}:${h.body}`);
    await idx.index(batch);
    const once = [await found('alpha'), await found('beta'), await found('gamma'), await idx.count()];
    await idx.index(batch);
    expect([await found('alpha'), await found('beta'), await found('gamma'), await idx.count()]).toEqual(once);
    expect(once).toEqual([['m1:alpha delta'], [], [], 1]);
  });

  it('its options are checked with the configuration; maxResults caps the page', async () => {
    expect(validateConfig({}).modules.search).toEqual({ enabled: true, maxResults: 50 });
    expect(() => validateConfig({ modules: { search: { maxResults: 0 } } })).toThrow(/modules\.search\.maxResults/);
    const f = await moduleFixture([search], { users: [A, B], options: { search: { maxResults: 2 } } });
    f.host.start();
    const a = await open(f.engine, A);
    for (let i = 0; i < 3; i++) await f.engine.messages.send(a, parseAddress(B), `note ${i}`, null, Date.now());
    await indexed(f.store);
    const r = (await runOp(f.host, f.engine, A, 'search', { q: 'note', limit: 100 })) as SearchResult;
    expect(r.hits).toHaveLength(2);
    expect(r.next).not.toBeNull();
  });

  it('disabled: no operation', async () => {
    const f = await moduleFixture([search], { users: [A, B], options: { search: { enabled: false } } });
    await expect(runOp(f.host, f.engine, A, 'search', { q: 'x' })).rejects.toMatchObject({ code: 'unknown-op' });
  });
});
