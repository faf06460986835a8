/**
 * Retention and legal holds over a real SQLite file: a run expires content past its policy and keeps the leaf
 * hashes (the journal still verifies against its signed checkpoints), holds keep what they cover until
 * released, floors refuse short policies, and every change and run is itself a journal entry.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveCommands } from './commands.js';
import { holdCovers, normaliseHoldScope } from './holds.js';
import { archiveOptions } from './options.js';
import { maxDaysFor, runRetention, type RetentionLimits } from './retention.js';
import { archiveRig, record, RIG_ORIGIN, type ArchiveRig } from './test-rig.js';
import { cliContext } from '../testing.js';

const DAY = 86_400_000;
const NO_LIMITS: RetentionLimits = { minimumDays: 0, defaultMaxDays: null };
const rigs: ArchiveRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});
const rig = async (): Promise<ArchiveRig> => {
  const r = await archiveRig({ retention: { runHours: 0 } });
  rigs.push(r);
  return r;
};

/** Every journal entry of `type`, parsed. */
async function journaled(r: ArchiveRig, type: string): Promise<Array<Record<string, unknown>>> {
  const n = await r.archive.size();
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const e = (await r.archive.entry(i))!;
    if (e.type === type && e.entry !== null) out.push(JSON.parse(e.entry) as Record<string, unknown>);
  }
  return out;
}

/** The bodies of message entries still holding content. */
async function kept(r: ArchiveRig): Promise<string[]> {
  return (await journaled(r, 'message')).map((e) => e['body'] as string);
}

/** A retention run `days` from now. */
const runIn = (r: ArchiveRig, days: number, limits: RetentionLimits = NO_LIMITS) =>
  runRetention(r.archive, { now: Date.now() + days * DAY, dryRun: false, limits, actor: 'officer@example.com' });

describe('retention', () => {
  it('expires content past its policy, keeps the leaves, and the journal still verifies', async () => {
    const r = await rig();
    await r.dm('old news');
    await r.say('room chatter');
    await r.archive.checkpoint(RIG_ORIGIN, Date.now());
    const leavesBefore = await Promise.all(Array.from({ length: await r.archive.size() }, (_, i) => r.archive.entry(i).then((e) => e!.leaf)));
    await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 30 }, NO_LIMITS, 'officer@example.com', Date.now());

    // Not yet old enough.
    expect(await runIn(r, 10)).toMatchObject({ expired: 0 });
    expect(await kept(r)).toEqual(['old news', 'room chatter']);

    const dry = await runRetention(r.archive, { now: Date.now() + 31 * DAY, dryRun: true, limits: NO_LIMITS, actor: 'cli' });
    expect(dry).toMatchObject({ expired: 2 });
    expect(await kept(r)).toEqual(['old news', 'room chatter']);

    expect(await runIn(r, 31)).toMatchObject({ expired: 2, held: 0 });
    expect(await kept(r)).toEqual([]);
    // Leaves untouched; the expired entries have no content but still verify.
    for (const [i, leaf] of leavesBefore.entries()) expect((await r.archive.entry(i))!.leaf).toBe(leaf);
    await r.archive.checkpoint(RIG_ORIGIN, Date.now());
    const report = await r.archive.verify({ origin: RIG_ORIGIN });
    expect(report.problem).toBeNull();
    expect(report.expired).toBe(2);
    // Journaled: the policy, each run (the dry one too), and the expiry naming the entries.
    expect(await journaled(r, 'archive.retention.set')).toHaveLength(1);
    const runs = await journaled(r, 'archive.retention.run');
    expect(runs.map((x) => [x['dryRun'], x['expired']])).toEqual([[false, 0], [true, 2], [false, 2]]);
    const expiries = await journaled(r, 'archive.retention.expire');
    expect(expiries).toHaveLength(1);
    expect((expiries[0]!['indices'] as number[]).length).toBe(2);
    // A second run has nothing left to do.
    expect(await runIn(r, 32)).toMatchObject({ expired: 0 });
  });

  it('seals the leaf of an entry the search index has not reached before expiring its content', async () => {
    const r = await rig();
    await r.dm('not indexed yet');
    const i = (await r.archive.size()) - 1;
    const raw = new Database(r.path, { readonly: true });
    const leafOf = raw.prepare<[number], Buffer>('SELECT leaf FROM archive_journal WHERE idx = ?').pluck();
    // Journaled with the placeholder (journal.ts, UNSEALED_LEAF); the entries API hashes its bytes meanwhile.
    expect(leafOf.get(i + 1)!.equals(Buffer.alloc(32))).toBe(true);
    const leaf = (await r.archive.entry(i))!.leaf;
    await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 30 }, NO_LIMITS, 'officer@example.com', Date.now());
    expect(await runIn(r, 31)).toMatchObject({ expired: 1 });
    expect(leafOf.get(i + 1)!.toString('hex')).toBe(leaf);
    raw.close();
    expect((await r.archive.entry(i))!).toMatchObject({ entry: null, leaf });
    await r.archive.checkpoint(RIG_ORIGIN, Date.now());
    expect((await r.archive.verify({ origin: RIG_ORIGIN })).problem).toBeNull();
  });

  it('prefers the room policy, and keeps content forever without a policy or default', async () => {
    const r = await rig();
    await r.dm('direct');
    await r.say('in the room');
    expect(await runIn(r, 10_000)).toMatchObject({ expired: 0 });
    await r.archive.retentionSet({ room: r.room, minDays: 0, maxDays: 5 }, NO_LIMITS, 'cli', Date.now());
    await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 50 }, NO_LIMITS, 'cli', Date.now());
    await runIn(r, 6);
    expect(await kept(r)).toEqual(['direct']);
    await runIn(r, 51);
    expect(await kept(r)).toEqual([]);
  });

  it('falls back to the default max age, never below the global floor', async () => {
    const r = await rig();
    await r.dm('default');
    await runIn(r, 20, { minimumDays: 30, defaultMaxDays: 10 });
    expect(await kept(r)).toEqual(['default']);
    await runIn(r, 31, { minimumDays: 30, defaultMaxDays: 10 });
    expect(await kept(r)).toEqual([]);
  });

  it('finds what is old by the hours the search index has reached, and by reading what it has not', async () => {
    const r = await rig();
    const now = Date.now();
    const seed = (id: string, ts: number) => r.archive.journal([record({ id, from: 'alice@example.com', to: 'bob@example.com', body: id, ts })]);
    const hour = 3_600_000;
    const old = Math.floor((now - 40 * DAY) / hour) * hour;
    await seed('old', old);
    await seed('young', now);
    await r.archive.indexPending();
    // Journaled out of time order, in the same hour as the first: an old time after a young one, inside what the
    // index covers.
    await seed('late old', old + 1000);
    await r.archive.indexPending();
    // And one the index has not reached yet.
    await seed('unindexed old', now - 33 * DAY);
    await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 30 }, NO_LIMITS, 'cli', now);
    expect(await runIn(r, 0)).toMatchObject({ expired: 3, held: 0 });
    expect(await kept(r)).toEqual(['young']);
  });

  it('removes expired content from the search index', async () => {
    const r = await rig();
    await r.dm('indexed text');
    await r.archive.indexPending();
    const find = async (): Promise<number> => (await r.archive.search({ keywords: 'indexed' }, 'cli', Date.now())).hits.length;
    expect(await find()).toBe(1);
    await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 1 }, NO_LIMITS, 'cli', Date.now());
    await runIn(r, 2);
    expect(await find()).toBe(0);
    const other = new Database(r.path);
    expect(other.prepare('SELECT COUNT(*) FROM archive_fts').pluck().get()).toBe(0);
    other.close();
  });

  it('refuses policies below a floor with not-acceptable, and bad numbers with bad-request', async () => {
    const r = await rig();
    const set = (p: { domain?: string; room?: string; minDays: number; maxDays: number | null }, limits = NO_LIMITS) => r.archive.retentionSet(p, limits, 'cli', Date.now());
    await expect(set({ domain: 'example.com', minDays: 0, maxDays: 100 }, { minimumDays: 2190, defaultMaxDays: null })).rejects.toMatchObject({ code: 'not-acceptable' });
    await set({ domain: 'example.com', minDays: 365, maxDays: 400 });
    // The scope's own floor, and a room under its domain's floor.
    await expect(set({ domain: 'example.com', minDays: 0, maxDays: 100 })).rejects.toMatchObject({ code: 'not-acceptable' });
    await expect(set({ room: r.room, minDays: 0, maxDays: 100 })).rejects.toMatchObject({ code: 'not-acceptable' });
    await set({ room: r.room, minDays: 365, maxDays: null });
    await expect(set({ domain: 'example.com', minDays: 10, maxDays: 5 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(set({ domain: 'example.com', room: r.room, minDays: 0, maxDays: 500 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(set({ domain: 'example.com', minDays: -1, maxDays: 500 })).rejects.toMatchObject({ code: 'bad-request' });
    expect((await r.archive.retentionList()).map((p) => [p.kind, p.maxDays])).toEqual([['domain', 400], ['room', null]]);
    await r.archive.retentionRemove({ room: r.room }, 'cli', Date.now());
    await expect(r.archive.retentionRemove({ room: r.room }, 'cli', Date.now())).rejects.toMatchObject({ code: 'item-not-found' });
    expect(await journaled(r, 'archive.retention.remove')).toHaveLength(1);
    expect(await journaled(r, 'archive.retention.set')).toHaveLength(2);
  });
});

describe('legal holds', () => {
  for (const [what, scope] of [
    ['a person', { person: 'bob@example.com' }],
    ['a room', { room: 'desk@conference.example.com' }],
    ['a saved search', { search: { keywords: ['MERGER'], participant: 'alice@example.com' } }],
  ] as const) {
    it(`on ${what} keep what they cover across a run, until released`, async () => {
      const r = await rig();
      expect(r.room).toBe('desk@conference.example.com');
      await r.dm('the merger is on');
      await r.dm('lunch?', 'carol@example.com');
      await r.say('room merger talk', 'bob');
      await r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 1 }, NO_LIMITS, 'cli', Date.now());
      const hold = await r.archive.holdAdd({ ...scope, reason: 'SEC inquiry 42' }, 'officer@example.com', Date.now());
      expect(hold).toMatchObject({ reason: 'SEC inquiry 42', createdBy: 'officer@example.com', releasedAt: null });

      const first = await runIn(r, 2);
      const expected = {
        'a person': ['the merger is on', 'room merger talk'],
        'a room': ['room merger talk'],
        'a saved search': ['the merger is on'],
      }[what];
      expect(await kept(r)).toEqual(expected);
      expect(first.held).toBe(expected.length);

      await r.archive.holdRelease(hold.id, 'officer@example.com', Date.now());
      expect(await r.archive.holdList(false)).toEqual([]);
      expect((await r.archive.holdList(true))[0]).toMatchObject({ id: hold.id, releasedBy: 'officer@example.com' });
      await runIn(r, 2);
      expect(await kept(r)).toEqual([]);
      expect(await journaled(r, 'archive.hold.add')).toHaveLength(1);
      expect(await journaled(r, 'archive.hold.release')).toHaveLength(1);
      expect((await r.archive.verify({ origin: RIG_ORIGIN })).problem).toBeNull();
    });
  }

  it('answers unknown or released holds and bad scopes with stable codes', async () => {
    const r = await rig();
    await expect(r.archive.holdRelease(999, 'cli', Date.now())).rejects.toMatchObject({ code: 'item-not-found' });
    const h = await r.archive.holdAdd({ person: 'alice@example.com', reason: 'audit' }, 'cli', Date.now());
    await r.archive.holdRelease(h.id, 'cli', Date.now());
    await expect(r.archive.holdRelease(h.id, 'cli', Date.now())).rejects.toMatchObject({ code: 'not-allowed' });
    await expect(r.archive.holdAdd({ reason: 'nothing' }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
    await expect(r.archive.holdAdd({ person: 'a@example.com', room: r.room, reason: 'two' }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
    await expect(r.archive.holdAdd({ person: 'alice@example.com', reason: ' ' }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
    await expect(r.archive.holdAdd({ search: {}, reason: 'empty' }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
    await expect(r.archive.holdAdd({ search: { colour: 'red' }, reason: 'unknown filter' }, 'cli', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
  });
});

describe('policy resolution and hold matching', () => {
  const policies = new Map([
    ['domain a.example', { kind: 'domain' as const, scope: 'a.example', minDays: 0, maxDays: 30, setAt: 0, setBy: null }],
    ['domain b.example', { kind: 'domain' as const, scope: 'b.example', minDays: 0, maxDays: 90, setAt: 0, setBy: null }],
    ['room r@rooms.a.example', { kind: 'room' as const, scope: 'r@rooms.a.example', minDays: 0, maxDays: 7, setAt: 0, setBy: null }],
  ]);
  it('takes the longer of both domains for 1:1, the room before its domain, and the default last', () => {
    expect(maxDaysFor('dm:x@a.example y@b.example', policies, NO_LIMITS)).toBe(90);
    expect(maxDaysFor('dm:x@a.example y@a.example', policies, NO_LIMITS)).toBe(30);
    // One side without a policy keeps the default for that side (here forever).
    expect(maxDaysFor('dm:x@a.example y@c.example', policies, NO_LIMITS)).toBeNull();
    expect(maxDaysFor('dm:x@a.example y@c.example', policies, { minimumDays: 0, defaultMaxDays: 10 })).toBe(30);
    expect(maxDaysFor('room:r@rooms.a.example', policies, NO_LIMITS)).toBe(7);
    // A room on a subdomain falls under its host domain; a domain without any policy keeps forever.
    expect(maxDaysFor('room:s@rooms.a.example', policies, NO_LIMITS)).toBe(30);
    expect(maxDaysFor('room:s@rooms.c.example', policies, NO_LIMITS)).toBeNull();
    expect(maxDaysFor('room:s@b.example', policies, NO_LIMITS)).toBe(90);
    expect(maxDaysFor('room:r@rooms.a.example', policies, { minimumDays: 10, defaultMaxDays: null })).toBe(10);
  });

  it('matches saved searches on every filter given', () => {
    const scope = normaliseHoldScope({ search: { domain: 'b.example', from: '2026-01-01', to: '2026-02-01', keywords: ['Wire'] } });
    const e = (body: string, ts: number, conv = 'dm:x@a.example y@b.example') => ({ conv, actor: 'x@a.example', subject: 'y@b.example', ts, body: () => body });
    const jan = Date.parse('2026-01-15');
    expect(holdCovers(scope, e('send the wire today', jan))).toBe(true);
    expect(holdCovers(scope, e('send the WIRE today', Date.parse('2026-03-01')))).toBe(false);
    expect(holdCovers(scope, e('nothing here', jan))).toBe(false);
    expect(holdCovers(scope, { ...e('wire', jan), conv: 'dm:x@a.example z@a.example', subject: 'z@a.example' })).toBe(false);
  });
});

describe('the CLI', () => {
  it('runs retention, hold and review commands, with stable error codes', async () => {
    const r = await rig();
    const lines: string[] = [];
    const progress: string[] = [];
    const options = archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, retention: { runHours: 0 } });
    const ctx = cliContext(options, r.store, { out: (s: string) => void lines.push(s), err: (s: string) => void lines.push(s), progress: (s: string) => void progress.push(s) });
    const run = (line: string[]): Promise<number> => {
      const [name, ...rest] = line;
      const cmd = archiveCommands().find((c) => c.name === name)!;
      return cmd.run(rest, ctx);
    };
    await r.dm('for the record');
    expect(await run(['retention', 'set', '--domain', 'example.com', '--min-days', '0', '--max-days', '0'])).toBe(0);
    expect(await run(['hold', 'add', '--search', '{"keywords":["record"]}', '--reason', 'audit 7'])).toBe(0);
    expect(await run(['retention', 'run', '--dry-run'])).toBe(0);
    expect(lines.at(-1)).toBe('dry run: would expire 0 entries; 1 kept by holds (1 past their policy)\n');
    expect(progress.length).toBeGreaterThan(0);
    expect(await run(['hold', 'list'])).toBe(0);
    expect(lines.at(-1)).toMatch(/^1\tactive\tsearch \{"keywords":\["record"\]\}\taudit 7\n$/);
    await expect(run(['hold', 'release', '9'])).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(run(['hold', 'release', 'x'])).rejects.toMatchObject({ code: 'bad-request' });
    expect(await run(['hold', 'release', '1'])).toBe(0);
    expect(await run(['retention', 'run'])).toBe(0);
    expect(lines.at(-1)).toBe('expired 1 entries; 0 kept by holds (1 past their policy)\n');
    expect(await run(['review', 'lexicon', 'add', '--name', 'promises', '--word', 'guarantee', '--phrase', 'risk free'])).toBe(0);
    expect(await run(['review', 'lexicon', 'list'])).toBe(0);
    expect(lines.at(-1)).toContain('promises\tall\twords ["guarantee"] phrases ["risk free"]');
    await expect(run(['review', 'lexicon', 'add', '--name', 'bad', '--pattern', '(a+)+'])).rejects.toMatchObject({ code: 'bad-request' });
    await expect(run(['review', 'mark', '5', 'reviewed', '--comment', 'ok'])).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(run(['retention', 'remove', '--room', r.room])).rejects.toMatchObject({ code: 'item-not-found' });
    expect(await run(['review', 'list', '--state', 'new'])).toBe(0);
    expect(await run(['retention', 'nonsense'])).toBe(2);
  });
});
