/**
 * The in-memory twin of a module's SQLite area: the same area code on a private in-memory SQLite database, so a
 * module writes its storage once and still runs on the memory store (unit tests). Each append participant runs
 * in its own transaction there, so a participant that throws leaves nothing behind, as on the real store.
 */
import Database from 'better-sqlite3';
import type { AreaContext, SqliteArea } from '../ports/module-storage.js';

/** Opens `area` on a fresh in-memory database for the memory store. */
export function openSqliteAreaInMemory<A>(area: SqliteArea<A>, ctx: AreaContext): A {
  const db = new Database(':memory:');
  for (const m of area.migrations) db.exec(m.sql);
  const tx = db.transaction((fn: () => unknown) => fn());
  const write = <T>(fn: () => T): T => tx.immediate(fn) as T;
  const read = <T>(fn: () => T): T => tx.deferred(fn) as T;
  return area.open(db, {
    now: () => ctx.now(),
    onAppend: (participant) => ctx.onAppend((records) => write(() => participant(records))),
    logRecord: (seq) => ctx.logRecord(seq),
    logRecords: (from, to) => ctx.logRecords(from, to),
    write,
    read,
    batched: async (fn) => write(fn),
  });
}

/**
 * A module's storage when its SQLite area is the export `area` of the `sqlite.js` beside its index (`base`: the
 * index's import.meta.url): imported by URL on the store's thread (a source URL under the test runner maps to
 * the build, storage/sqlite/module-areas.ts compiledUrl), and its in-memory twin for the memory store.
 */
export function sqliteBeside<A>(base: string, area: SqliteArea<A>): { sqlite: string; memory: (ctx: AreaContext) => A } {
  return { sqlite: new URL('./sqlite.js', base).href, memory: (ctx) => openSqliteAreaInMemory(area, ctx) };
}
