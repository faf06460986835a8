/** Applies pending schema migrations when a database is opened: the core's, then each module area's. */
import type { ModuleMigration } from '../../ports/module-storage.js';
import type { Db } from './db.js';
import { MIGRATIONS, type Migration } from './migrations.js';

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

/** The last version of a list of migrations, checking they count 1, 2, 3 ... so none can be skipped unnoticed. */
function latestOf(migrations: readonly { version: number }[], what: string): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`${what}: migration ${i + 1} has version ${m.version}; versions must count 1, 2, 3 ...`);
  });
  return migrations.length;
}

/**
 * Brings the schema up to date in one IMMEDIATE transaction, so two processes opening the same new database
 * cannot both apply a migration. Returns the versions applied now (empty when already current).
 */
export function migrate(db: Db, now: () => number, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const current = db.prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() ?? 0;
    const latest = migrations.length > 0 ? migrations[migrations.length - 1]!.version : 0;
    if (current > latest) throw new SchemaTooNewError(current, latest);
    const record = db.prepare<[number, string, number]>(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Math.floor(now()));
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}

/**
 * Brings one module's tables up to date, like migrate() for the core: one IMMEDIATE transaction, versions
 * recorded per module in module_migrations (core migration 7, so the core must be migrated first). Throws
 * SchemaTooNewError naming the module when the database holds a version the module does not know.
 */
export function migrateModule(db: Db, module: string, migrations: readonly ModuleMigration[], now: () => number): number[] {
  const latest = latestOf(migrations, `module "${module}"`);
  const run = db.transaction((): number[] => {
    const current =
      db.prepare<[string], number>('SELECT COALESCE(MAX(version), 0) FROM module_migrations WHERE module = ?').pluck().get(module) ?? 0;
    if (current > latest) throw new SchemaTooNewError(current, latest, module);
    const record = db.prepare<[string, number, string, number]>(
      'INSERT INTO module_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)',
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(module, m.version, m.name, Math.floor(now()));
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}
