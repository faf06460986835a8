/** Applies pending schema migrations when a database is opened: the core's, then each module area's. */
import type { Db } from './db.js';
import { MIGRATIONS, RESERVED_VERSIONS, type Migration } from './migrations.js';

/** Thrown when the database (or one module's part of it) was written by a newer Parley than this one. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
    /** The module whose tables are too new; undefined for the core schema. */
    readonly module?: string,
  ) {
    super(
      `${module === undefined ? 'the database schema' : `the storage of module "${module}"`} is at version ${found}, ` +
        `but this Parley build only knows versions up to ${supported}; ` +
        'upgrade Parley (or restore a backup) instead of opening it with this version',
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The last version of a list of migrations, checking they count 1, 2, 3 ... so none can be skipped unnoticed;
 * only the versions in `reserved` (taken by a change that has not landed yet) may be missing.
 */
function latestOf(migrations: readonly { version: number }[], what: string, reserved: readonly number[] = []): number {
  let expected = 1;
  for (const m of migrations) {
    while (m.version > expected && reserved.includes(expected)) expected++;
    if (m.version !== expected) throw new Error(`${what}: migration ${expected} has version ${m.version}; versions must count 1, 2, 3 ...`);
    expected++;
  }
  return migrations.at(-1)?.version ?? 0;
}

/** Where the versions of one schema are recorded. */
interface Ledger {
  /** Creates the table when it is the core's own (the modules' table is core migration 7). */
  create: string | null;
  /** The versions applied. */
  current: string;
  record: string;
  /** The leading arguments of both statements (the module's name). */
  key: string[];
}

const CORE: Ledger = {
  create: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`,
  current: 'SELECT version FROM schema_migrations',
  record: 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  key: [],
};

const moduleLedger = (module: string): Ledger => ({
  create: null,
  current: 'SELECT version FROM module_migrations WHERE module = ?',
  record: 'INSERT INTO module_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)',
  key: [module],
});

/**
 * Brings a schema up to date in one IMMEDIATE transaction, so two processes opening the same new database cannot
 * both apply a migration: the core's (versions in schema_migrations) or, with `module`, that module's tables
 * (versions per module in module_migrations, core migration 7, so the core must be migrated first). Versions
 * must count 1, 2, 3 ... Throws SchemaTooNewError (naming the module) when the database holds a version this
 * build does not know. Returns the versions applied now (empty when already current).
 */
export function migrate(db: Db, now: () => number, migrations: readonly Migration[] = MIGRATIONS, module?: string): number[] {
  const latest = latestOf(migrations, module === undefined ? 'the core schema' : `module "${module}"`, module === undefined ? RESERVED_VERSIONS : []);
  const ledger = module === undefined ? CORE : moduleLedger(module);
  const run = db.transaction((): number[] => {
    if (ledger.create !== null) db.exec(ledger.create);
    // By set rather than by the highest version: a version that lands after a later one (a reserved version) is
    // still applied to a database that has the later one.
    const done = new Set(db.prepare<unknown[], number>(ledger.current).pluck().all(...ledger.key));
    const current = Math.max(0, ...done);
    if (current > latest) throw new SchemaTooNewError(current, latest, module);
    const record = db.prepare<unknown[]>(ledger.record);
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      record.run(...ledger.key, m.version, m.name, Math.floor(now()));
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}
