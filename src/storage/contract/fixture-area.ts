/**
 * A tiny module storage area for the contract suite, in both halves (SQLite and memory): a key-value table and
 * the seqs its append participant saw. The participant refuses any record whose body is REFUSE, which is how the
 * tests make one append fail inside the log's transaction. Imported on the SQLite worker thread too (from the
 * build), so it imports nothing but the ports and the error type.
 */
import { ParleyError } from '../../core/errors.js';
import type { LogRecord } from '../../core/types.js';
import type { AreaContext, ModuleStorageSpec, SqliteArea } from '../../ports/module-storage.js';

/** The module's name, under which the stores open its area. */
export const FIXTURE_MODULE = 'fixture';

/** The body the fixture's participant refuses. */
export const REFUSED_BODY = 'REFUSE';

/** The area's methods, alike in both halves; async because they may cross threads. */
export interface FixtureArea {
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<string | null>;
  count(): Promise<number>;
  /** The seqs the participant saw, ascending. */
  seen(): Promise<number[]>;
  /** The log record at `seq` as the area reads it (AreaContext.logRecord), null when there is none. */
  record(seq: number): Promise<LogRecord | null>;
  /** The log records at `from` through `to` (AreaContext.logRecords). */
  records(from: number, to: number): Promise<LogRecord[]>;
}

/** Throws when a record of the append is refused, before anything of the area changes. */
function refuse(records: readonly LogRecord[]): void {
  const refused = records.find((r) => r.body === REFUSED_BODY);
  if (refused) throw new ParleyError('policy-violation', `the fixture module refuses record ${refused.seq}`);
}

/** The SQLite half, found by its export name `area` as the store imports it by URL. */
export const area: SqliteArea<FixtureArea> = {
  migrations: [
    { version: 1, name: 'items', sql: 'CREATE TABLE fixture_items (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;' },
    { version: 2, name: 'seen seqs', sql: 'CREATE TABLE fixture_seen (seq INTEGER PRIMARY KEY);' },
  ],
  open(db, ctx) {
    const put = db.prepare<[string, string]>('INSERT INTO fixture_items (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const get = db.prepare<[string], string>('SELECT value FROM fixture_items WHERE key = ?').pluck();
    const count = db.prepare<[], number>('SELECT COUNT(*) FROM fixture_items').pluck();
    const seen = db.prepare<[], number>('SELECT seq FROM fixture_seen ORDER BY seq').pluck();
    // A plain INSERT: seeing a seq twice would fail the append, so the test would notice.
    const see = db.prepare<[number]>('INSERT INTO fixture_seen (seq) VALUES (?)');
    ctx.onAppend((records) => {
      refuse(records);
      for (const r of records) see.run(r.seq);
    });
    return {
      put: (key, value) => ctx.batched(() => void put.run(key, value)),
      get: async (key) => get.get(key) ?? null,
      count: async () => count.get() ?? 0,
      seen: async () => ctx.read(() => seen.all()),
      record: async (seq) => ctx.read(() => ctx.logRecord(seq) ?? null),
      records: async (from, to) => ctx.read(() => ctx.logRecords(from, to)),
    };
  },
};

/** The memory half. */
export function memoryFixtureArea(ctx: AreaContext): FixtureArea {
  const items = new Map<string, string>();
  const seen: number[] = [];
  ctx.onAppend((records) => {
    refuse(records);
    for (const r of records) {
      if (seen.includes(r.seq)) throw new ParleyError('internal-server-error', `seq ${r.seq} seen twice`);
      seen.push(r.seq);
    }
  });
  return {
    put: async (key, value) => void items.set(key, value),
    get: async (key) => items.get(key) ?? null,
    count: async () => items.size,
    seen: async () => [...seen].sort((a, b) => a - b),
    record: async (seq) => ctx.logRecord(seq) ?? null,
    records: async (from, to) => ctx.logRecords(from, to),
  };
}

/** The fixture as the composition root names a module's storage. */
export const fixtureSpec: ModuleStorageSpec = { name: FIXTURE_MODULE, sqlite: import.meta.url, memory: memoryFixtureArea };
