/**
 * eDiscovery search: each filter, the keyword language (phrases, exclusion, OR, prefixes, diacritics), the
 * errors for malformed queries and impossible ranges, paging, interim versions, the index following the log,
 * the audit entries, and the officer-only HTTP route (an administrator without the role is forbidden).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Sink } from '../../engine/session.js';
import { eventDraft } from './entry.js';
import Database from 'better-sqlite3';
import { JOURNAL_MIGRATIONS } from './journal.js';
import { compileKeywords, parseTime, type SearchQuery } from './query.js';
import { hourOf, HOURS_MIGRATION, SEARCH_MIGRATIONS } from './search.js';
import { parseSearchArgs, searchCommands } from './search-commands.js';
import { archiveRig, DAY0, record, type ArchiveRig } from './test-rig.js';
import { archiveOptions } from './options.js';
import { testPresence } from '../../engine/test-engine.js';
import { cliContext } from '../testing.js';

const H = 3_600_000;
const D = 24 * H;
const ROOM = 'team@conference.example.com';

let rig: ArchiveRig;
/** Leaf index of each seeded entry by its id. */
let at: Record<string, number>;

beforeEach(async () => {
  rig = await archiveRig({}, { room: false });
  const drafts = {
    m1: record({ id: 'm1', from: 'alice@example.com', to: 'bob@example.com', body: 'Quarterly budget review is on Friday', ts: DAY0 }),
    m2: record({ id: 'm2', from: 'bob@example.com', to: 'alice@example.com', body: 'The budget looks fine', ts: DAY0 + H }),
    m3: record({ id: 'm3', from: 'carol@example.com', to: ROOM, body: 'Café meeting about the merger', ts: DAY0 + 2 * H }),
    m6: record({ id: 'm6', kind: 'edit', ref: 'm1', from: 'alice@example.com', to: 'bob@example.com', body: 'Quarterly budget review moved to Monday', ts: DAY0 + 3 * H }),
    m7: record({ id: 'm7', kind: 'retract', ref: 'm2', from: 'bob@example.com', to: 'alice@example.com', ts: DAY0 + 4 * H }),
    ev: eventDraft('room.membership', DAY0 + 5 * H, { actor: 'carol@example.com', subject: 'bob@example.com', conv: ROOM, data: { role: 'member' } }),
    m4: record({ id: 'm4', from: 'alice@example.com', to: ROOM, body: 'merger timeline draft', ts: DAY0 + D }),
    m5: record({ id: 'm5', from: 'x@partner.org', to: 'alice@example.com', body: 'external budget offer', ts: DAY0 + 2 * D }),
    m8: record({ id: 'm8', from: 'y@sub.partner.org', to: 'bob@example.com', body: 'hello there', ts: DAY0 + 2 * D + H }),
  };
  const ids = Object.keys(drafts);
  const indices = await rig.archive.journal(Object.values(drafts));
  at = Object.fromEntries(ids.map((id, i) => [id, indices[i]!]));
});
afterEach(async () => {
  await rig.close();
});

/** The ids of the hits of a search run by the operator, newest first. */
async function ids(q: SearchQuery): Promise<string[]> {
  const page = await rig.archive.search(q, 'cli', Date.now());
  const byIndex = new Map(Object.entries(at).map(([id, i]) => [i, id]));
  return page.hits.map((h) => byIndex.get(h.index) ?? `#${h.index}`);
}

describe('keyword language', () => {
  it('ANDs words, matches phrases in order, excludes, ORs, and matches prefixes', async () => {
    expect(await ids({ keywords: 'budget' })).toEqual(['m5', 'm6', 'm2', 'm1']);
    expect(await ids({ keywords: 'budget review' })).toEqual(['m6', 'm1']);
    expect(await ids({ keywords: '"budget review"' })).toEqual(['m6', 'm1']);
    expect(await ids({ keywords: '"review budget"' })).toEqual([]);
    expect(await ids({ keywords: 'budget -offer -"looks fine"' })).toEqual(['m6', 'm1']);
    expect(await ids({ keywords: 'merger OR offer' })).toEqual(['m5', 'm4', 'm3']);
    expect(await ids({ keywords: 'budget Friday OR Monday' })).toEqual(['m6', 'm1']);
    expect(await ids({ keywords: 'merg*' })).toEqual(['m4', 'm3']);
  });

  it('folds case and diacritics', async () => {
    expect(await ids({ keywords: 'CAFE' })).toEqual(['m3']);
    expect(await ids({ keywords: 'café' })).toEqual(['m3']);
  });

  it('treats FTS5 syntax typed by a caller as words', async () => {
    expect(compileKeywords('budget NEAR offer')).toBe('"budget" AND "NEAR" AND "offer"');
    expect(compileKeywords('body:budget')).toBe('"body:budget"');
    expect(compileKeywords('a OR b c -d')).toBe('(("a" OR "b") AND "c") NOT ("d")');
    expect(await ids({ keywords: 'body:budget' })).toEqual([]);
    expect(await ids({ keywords: 'NOT budget' })).toEqual([]);
    expect(await ids({ keywords: '(budget)' })).toEqual(['m5', 'm6', 'm2', 'm1']);
  });

  it.each([
    ['"budget review', /quote at 1 is not closed/],
    ['OR budget', /OR at 1 needs a term before it/],
    ['budget OR', /OR at 8 needs a term after it/],
    ['budget OR OR offer', /OR at 8 needs a term after it/],
    ['-offer', /only exclusions/],
    ['budget OR -offer', /cannot join an exclusion/],
    ['budget - offer', /"-" at 8 must be followed/],
    ['!!!', /has no letters or digits/],
    ['***', /only allowed at the end/],
    ['""', /phrase at 1 has no letters/],
    ['bud*get', /only allowed at the end/],
    ['"a"b', /space after the phrase/],
    ['x'.repeat(1001), /longer than 1000/],
  ])('refuses %j with bad-request naming the problem', async (keywords, message) => {
    await expect(rig.archive.search({ keywords }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request', message: expect.stringMatching(message) as unknown });
  });
});

describe('filters', () => {
  it('participant: what the address sent or received', async () => {
    expect(await ids({ participant: 'alice@example.com' })).toEqual(['m5', 'm4', 'm7', 'm6', 'm2', 'm1']);
    expect(await ids({ participant: 'carol@example.com' })).toEqual(['m3']);
  });

  it('room: its messages, and its events when their type is asked for', async () => {
    expect(await ids({ room: ROOM })).toEqual(['m4', 'm3']);
    expect(await ids({ room: ROOM, types: ['room.membership'] })).toEqual(['ev']);
    expect(await ids({ room: ROOM, types: ['message', 'room.membership'] })).toEqual(['m4', 'ev', 'm3']);
  });

  it('domain: senders or recipients at the domain or a subdomain', async () => {
    expect(await ids({ domain: 'partner.org' })).toEqual(['m8', 'm5']);
    expect(await ids({ domain: 'sub.partner.org' })).toEqual(['m8']);
    expect(await ids({ domain: 'PARTNER.ORG', keywords: 'budget' })).toEqual(['m5']);
  });

  it('time range, inclusive at both ends', async () => {
    expect(await ids({ from: DAY0 + D, to: DAY0 + 2 * D })).toEqual(['m5', 'm4']);
    expect(await ids({ to: DAY0 + H })).toEqual(['m2', 'm1']);
    expect(await ids({ from: DAY0 + 2 * D + 1, keywords: 'budget' })).toEqual([]);
    expect(parseTime('2026-03-02', 'from')).toBe(Date.UTC(2026, 2, 2));
    expect(parseTime('2026-03-02', 'to')).toBe(Date.UTC(2026, 2, 3) - 1);
    expect(parseTime('2026-03-02T09:00:00Z', 'from')).toBe(DAY0);
    expect(() => parseTime('last tuesday', 'from')).toThrow(/expected an ISO 8601/);
  });

  it('time range: exact when entries were journaled out of time order', async () => {
    // An entry of the first hour journaled after all the others were indexed (the index keeps positions by hour).
    await rig.archive.indexPending();
    const [late] = await rig.archive.journal([record({ id: 'late', from: 'carol@example.com', to: 'bob@example.com', body: 'backdated note', ts: DAY0 + 30 * 60_000 })]);
    at['late'] = late!;
    expect(await ids({ from: DAY0, to: DAY0 + H - 1 })).toEqual(['late', 'm1']);
    expect(await ids({ from: DAY0 + 30 * 60_000, to: DAY0 + 30 * 60_000, keywords: 'backdated' })).toEqual(['late']);
    expect(await ids({ from: DAY0 + 3 * D })).toEqual([]);
    expect(await ids({ to: DAY0 - 1 })).toEqual([]);
  });

  it('an impossible time range and other malformed filters are bad-request', async () => {
    await expect(rig.archive.search({ from: DAY0 + D, to: DAY0 }, 'cli', 0)).rejects.toMatchObject({ code: 'bad-request', message: expect.stringContaining('impossible time range') as unknown });
    for (const q of [{ participant: 'not an address' }, { room: 'team' }, { domain: 'a..b' }, { limit: 0 }, { limit: 1001 }, { types: ['Bad Type'] }, { before: -1 }, { from: -5 }]) {
      await expect(rig.archive.search(q, 'cli', 0)).rejects.toMatchObject({ code: 'bad-request' });
    }
  });

  it('combines filters', async () => {
    expect(await ids({ participant: 'alice@example.com', keywords: 'budget', to: DAY0 + D })).toEqual(['m6', 'm2', 'm1']);
    expect(await ids({ participant: 'bob@example.com', types: ['retract'] })).toEqual(['m7']);
  });
});

describe('results', () => {
  it('pages newest first with a cursor', async () => {
    const all = await ids({ participant: 'alice@example.com' });
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await rig.archive.search({ participant: 'alice@example.com', limit: 2, before }, 'cli', 0);
      seen.push(...page.hits.map((h) => h.index));
      if (page.next === null) break;
      before = page.next;
    }
    expect(seen).toEqual(all.map((id) => at[id]));
  });

  it('shows every later version of a message: edits with their text, retractions', async () => {
    const page = await rig.archive.search({ keywords: 'Friday' }, 'cli', 0);
    expect(page.hits).toHaveLength(1);
    expect(page.hits[0]).toMatchObject({ id: 'm1', body: 'Quarterly budget review is on Friday', actor: 'alice@example.com', subject: 'bob@example.com', conv: 'dm:alice@example.com bob@example.com' });
    expect(page.hits[0]!.later).toEqual([{ index: at['m6'], type: 'edit', ts: DAY0 + 3 * H, body: 'Quarterly budget review moved to Monday' }]);
    const fine = await rig.archive.search({ keywords: '"looks fine"' }, 'cli', 0);
    expect(fine.hits[0]!.later).toEqual([{ index: at['m7'], type: 'retract', ts: DAY0 + 4 * H, body: null }]);
  });

  it('journals each search with its actor and query', async () => {
    const page = await rig.archive.search({ keywords: 'budget', participant: 'alice@example.com' }, 'cli', 1234);
    const entry = JSON.parse((await rig.archive.entry(page.audit))!.entry!) as Record<string, unknown>;
    expect(entry).toMatchObject({ type: 'archive.search', actor: 'cli', ts: 1234, hits: page.hits.length, query: { keywords: 'budget', participant: 'alice@example.com', types: ['message', 'edit', 'retract'] } });
    // A refused search is not a search: nothing journaled.
    const size = await rig.archive.size();
    await expect(rig.archive.search({ keywords: 'OR' }, 'cli', 0)).rejects.toMatchObject({ code: 'bad-request' });
    expect(await rig.archive.size()).toBe(size);
  });
});

describe('indexing', () => {
  it('follows the log outside the delivery path, and a search indexes what is pending itself', async () => {
    const presence = testPresence;
    const sink: Sink = { send: () => undefined, close: () => undefined };
    const alice = await rig.engine.openSession('alice@example.com', 'desk', sink, { ...presence });
    rig.engine.goLive(alice.session);
    rig.host.start();
    await rig.engine.messages.send(alice.session, parseAddress('carol@example.com'), 'zanzibar shipment arrives', null, 0);
    // The consumer catches up on its own.
    for (let i = 0; i < 200 && (await rig.archive.indexPending(0)).pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await rig.archive.indexPending(0)).pending).toBe(0);
    const hits = (await rig.archive.search({ keywords: 'zanzibar' }, 'cli', 0)).hits;
    expect(hits.map((h) => [h.actor, h.subject, h.body])).toEqual([['alice@example.com', 'carol@example.com', 'zanzibar shipment arrives']]);
    // Entries journaled while nothing indexes are found all the same (the CLI with the server down).
    await rig.archive.journal([record({ id: 'late', from: 'bob@example.com', to: 'carol@example.com', body: 'zanzibar again', ts: DAY0 })]);
    expect((await rig.archive.search({ keywords: 'zanzibar' }, 'cli', 0)).hits).toHaveLength(2);
  });
});

describe('log records', () => {
  it('are found by who took part and their domain, though their journal rows keep only type, position, time and leaf', async () => {
    const alice = await rig.engine.openSession('alice@example.com', 'desk', { send: () => undefined, close: () => undefined }, { ...testPresence });
    rig.engine.goLive(alice.session);
    await rig.engine.messages.send(alice.session, parseAddress('carol@example.com'), 'quartz delivery at noon', null, 0);
    const raw = new Database(rig.path, { readonly: true });
    const row = raw.prepare('SELECT type, seq, conv, actor, subject, entry FROM archive_journal ORDER BY idx DESC LIMIT 1').get() as Record<string, unknown>;
    raw.close();
    expect(row).toMatchObject({ type: 'message', conv: null, actor: null, subject: null, entry: null });
    expect(row['seq']).toEqual(expect.any(Number));
    const hit = { actor: 'alice@example.com', subject: 'carol@example.com', conv: 'dm:alice@example.com carol@example.com', body: 'quartz delivery at noon' };
    for (const q of [{ participant: 'carol@example.com' }, { domain: 'example.com' }, { domain: 'com' }, { keywords: 'quartz' }, { participant: 'alice@example.com', from: Date.now() - 60_000 }]) {
      const hits = (await rig.archive.search({ ...q, keywords: 'quartz' }, 'cli', 0)).hits;
      expect(hits.map((h) => ({ actor: h.actor, subject: h.subject, conv: h.conv, body: h.body }))).toEqual([hit]);
    }
    expect((await rig.archive.search({ domain: 'ample.com', keywords: 'quartz' }, 'cli', 0)).hits).toEqual([]);
    expect((await rig.archive.search({ participant: 'bob@example.com', keywords: 'quartz' }, 'cli', 0)).hits).toEqual([]);
  });
});

describe('hours of entry times (migration 6)', () => {
  it('fills the hours of what an existing journal had indexed, as the index computes them, and drops the time index', () => {
    const db = new Database(':memory:');
    db.exec(JOURNAL_MIGRATIONS[0]!.sql);
    db.exec(SEARCH_MIGRATIONS[0]!.sql);
    const times = [DAY0, DAY0 + 1, DAY0 + H, DAY0 + 30_000, -1, -H, -H - 1, DAY0 + 2 * H, DAY0 + 3 * H];
    const put = db.prepare("INSERT INTO archive_journal (type, seq, ts, leaf) VALUES ('message', 0, ?, x'00')");
    for (const ts of times) put.run(ts);
    // The last entry is not indexed yet: its hour is the index's to add.
    db.prepare('UPDATE archive_index_state SET indexed = ?').run(times.length - 1);
    db.exec(HOURS_MIGRATION.sql);
    const expected = new Map<number, [number, number]>();
    times.slice(0, -1).forEach((ts, i) => {
      const h = hourOf(ts);
      const span = expected.get(h);
      expected.set(h, span === undefined ? [i + 1, i + 1] : [Math.min(span[0], i + 1), Math.max(span[1], i + 1)]);
    });
    const rows = db.prepare('SELECT hour, lo, hi FROM archive_hours ORDER BY hour').all() as Array<{ hour: number; lo: number; hi: number }>;
    expect(rows).toEqual([...expected].sort((a, b) => a[0] - b[0]).map(([hour, [lo, hi]]) => ({ hour, lo, hi })));
    expect(rows.map((r) => r.hour)).toContain(-2);
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'archive_journal_ts'").pluck().get()).toBe(0);
    db.close();
  });
});

describe('HTTP', () => {
  const get = (url: string, token?: string) =>
    rig.app.inject({ method: 'GET', url: `/api/v1/archive/search${url}`, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('answers officers, journaling the officer as the actor', async () => {
    const res = await get('?q=budget&participant=alice@example.com&from=2026-03-02&to=2026-03-02', rig.tokens.officer);
    expect(res.statusCode).toBe(200);
    const page = res.json<{ hits: Array<{ index: number }>; audit: number }>();
    expect(page.hits.map((h) => h.index)).toEqual([at['m6'], at['m2'], at['m1']]);
    const entry = JSON.parse((await rig.archive.entry(page.audit))!.entry!) as Record<string, unknown>;
    expect(entry).toMatchObject({ type: 'archive.search', actor: 'olive@example.com' });
  });

  it('forbids an administrator without the officer role, and plain users', async () => {
    const size = await rig.archive.size();
    for (const token of [rig.tokens.admin, rig.tokens.user]) {
      const res = await get('?q=budget', token);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden' } });
    }
    expect((await get('?q=budget')).statusCode).toBe(401);
    const exp = await rig.app.inject({ method: 'POST', url: '/api/v1/archive/export', headers: { authorization: `Bearer ${rig.tokens.admin}` }, payload: {} });
    expect(exp.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(await rig.archive.size()).toBe(size);
  });

  it('answers bad-request with a stable code for malformed queries and impossible ranges', async () => {
    for (const q of ['?q=%22open', '?from=2026-03-03&to=2026-03-02', '?limit=5000', '?from=yesterday', '?unknown=1']) {
      const res = await get(q, rig.tokens.officer);
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toMatchObject({ error: { code: 'bad-request' } });
    }
    expect((await get('?from=2026-03-03&to=2026-03-02', rig.tokens.officer)).json()).toMatchObject({ error: { message: expect.stringContaining('impossible time range') as unknown } });
  });
});

describe('CLI', () => {
  it('parses filters and prints a table; the operator is journaled as cli', async () => {
    const { query } = parseSearchArgs(['--participant', 'alice@example.com', '--from', '2026-03-02', 'budget', '-offer'], ['--limit']);
    expect(query).toMatchObject({ participant: 'alice@example.com', from: Date.UTC(2026, 2, 2), keywords: 'budget -offer' });
    expect(() => parseSearchArgs(['--nope', 'x'])).toThrow(/unknown option --nope/);
    const search = searchCommands().find((c) => c.name === 'search')!;
    let printed = '';
    const progress: string[] = [];
    const code = await search.run(
      ['--room', ROOM, 'merger'],
      cliContext(archiveOptions.parse({ enabled: true, origin: 'example.com/archive', checkpointSeconds: 3600 }), rig.store, { out: (s) => void (printed += s), progress: (s) => void progress.push(s) }),
    );
    expect(code).toBe(0);
    expect(printed).toContain('merger timeline draft');
    expect(printed).toContain('Café meeting about the merger');
    expect(printed).toMatch(/2 hits\n$/);
    const last = (await rig.archive.entry((await rig.archive.size()) - 1))!;
    expect(JSON.parse(last.entry!)).toMatchObject({ type: 'archive.search', actor: 'cli', query: { room: ROOM, keywords: 'merger' } });
  });
});
