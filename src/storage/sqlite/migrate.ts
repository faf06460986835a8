/** Applies pending schema migrations when a database is opened. */
import type { Db } from './db.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/** Thrown when the database was written by a newer Parley than this one. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `the database schema is at version ${found}, but this Parley build only knows versions up to ${supported}; ` +
        'upgrade Parley (or restore a backup) instead of opening it with this version',
    );
    this.name = 'SchemaTooNewError';
  }
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
