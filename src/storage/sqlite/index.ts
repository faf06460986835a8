/**
 * The embedded default Store on SQLite (better-sqlite3): one file, WAL, versioned migrations, group commit.
 * The server and the `parley` CLI may open the same file; dataVersion() tells the server the CLI wrote.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { LogRecord, NewRecord } from '../../core/types.js';
import type { AppendParticipant, SqliteAreaContext } from '../../ports/module-storage.js';
import type { AppendResult, Store } from '../../ports/store.js';
import { createIdGenerator } from '../ids.js';
import { createSqliteAccounts } from './accounts.js';
import { BUSY_TIMEOUT_MS } from './checkpoint.js';
import { createTransactor, isEnvironmentError, mapStorageErrors, type Batched } from './db.js';
import { createSqliteDomains } from './domains.js';
import { createGroupCommit } from './group-commit.js';
import { createLogWriter, LOG_COLUMNS } from './log-writer.js';
import { createSqliteMessages } from './messages.js';
import { migrate } from './migrate.js';
import type { SqliteModule } from './module-areas.js';
import { createSqlitePositions } from './positions.js';
import { createSqliteBlocks, createSqliteProfiles } from './profiles.js';
import { createSqliteRooms } from './rooms.js';
import { createSqliteRosters } from './rosters.js';
import { createSqliteSecrets } from './secrets.js';
import { createSqliteSettings } from './settings.js';
import { createSqliteSharedGroups } from './shared-groups.js';
import { createSqliteTokens } from './tokens.js';

/** Options of createSqliteStore. */
export interface SqliteStoreOptions {
  /** Database file; created when missing. */
  path: string;
  /** 'full' (default) survives power loss; 'normal' in WAL mode may lose the last commits but never corrupts. */
  synchronous?: 'full' | 'normal';
  /** Clock for id timestamps and migration records (tests pin it). */
  now?: () => number;
  /**
   * 'auto' (default): commits checkpoint the WAL now and then themselves. 'external': they never do; another
   * connection calls checkpointWal() (the worker store runs one on its own thread, so commits never wait on it).
   */
  checkpoint?: 'auto' | 'external';
  /** Modules' storage areas, migrated and opened with the store in this order; store.area(name) returns them. */
  modules?: readonly SqliteModule[];
}


/**
 * Opens (creating and migrating as needed) a SQLite store with its modules' areas; throws SchemaTooNewError for
 * a newer schema, the core's or a module's.
 */
export function createSqliteStore(opts: SqliteStoreOptions): Store {
  const now = opts.now ?? Date.now;
  const modules = opts.modules ?? [];
  const names = new Set(modules.map((m) => m.name));
  if (names.size !== modules.length) throw new Error('two modules have storage areas of the same name');
  // A first start should not fail because data/ does not exist yet (':memory:' and '' have no directory).
  if (opts.path !== ':memory:' && opts.path !== '') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path, { timeout: BUSY_TIMEOUT_MS });
  try {
    // Order matters: wait for locks before anything else; foreign_keys is a no-op inside a transaction.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    // A checkpoint copies WAL pages back into the database file; the default (every 1,000 pages) made it a
    // large share of each commit under message load. Hot index pages are now copied once per ~32 MiB of WAL.
    db.pragma(`wal_autocheckpoint = ${opts.checkpoint === 'external' ? 0 : 8000}`);
    migrate(db, now);
    for (const m of modules) migrate(db, now, m.area.migrations, m.name);
  } catch (e) {
    db.close();
    throw e;
  }

  const tx = createTransactor(db);
  const participants: AppendParticipant[] = [];
  const writeLog = createLogWriter(db, createIdGenerator(now), participants);
  const appends = createGroupCommit<NewRecord[], AppendResult[]>(tx.write, writeLog, isEnvironmentError);
  // Small frequent writes (token per login, last-seen per logout, offline acks) share a commit per turn too:
  // a login storm or mass disconnect then costs a few fsyncs, not one each.
  const small = createGroupCommit<() => void, void>(tx.write, (write) => write(), isEnvironmentError);
  const batched: Batched = (write) => small.submit(write);
  const accounts = createSqliteAccounts(db, tx, batched);
  // data_version moves only when another connection commits: exactly the "someone else changed it" signal.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();

  const logRecord = db.prepare<[number], LogRecord>(`SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq = ?`);
  const logRecords = db.prepare<[number, number], LogRecord>(`SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq BETWEEN ? AND ? ORDER BY l.seq`);
  const ctx: SqliteAreaContext = {
    onAppend: (participant) => {
      participants.push(participant);
    },
    logRecord: (seq) => logRecord.get(seq),
    logRecords: (from, to) => logRecords.all(from, to),
    now,
    write: tx.write,
    read: tx.read,
    batched,
  };
  const areas = new Map<string, unknown>();
  try {
    for (const m of modules) areas.set(m.name, mapStorageErrors(m.area.open(db, ctx) as object));
  } catch (e) {
    appends.close();
    small.close();
    db.close();
    throw e;
  }

  // A full or failing disk reaches every caller as service-unavailable (reason storage-full), never as a raw
  // SQLite error: the transaction rolled back, nothing was stored, and the server carries on.
  const m = mapStorageErrors;
  return {
    domains: m(createSqliteDomains(db, tx, accounts.purge)),
    accounts: m(accounts.store),
    tokens: m(createSqliteTokens(db, batched)),
    rosters: m(createSqliteRosters(db, tx)),
    sharedGroups: m(createSqliteSharedGroups(db)),
    messages: m(createSqliteMessages(db, tx, appends, batched)),
    rooms: m(createSqliteRooms(db, tx)),
    blocks: m(createSqliteBlocks(db, tx)),
    profiles: m(createSqliteProfiles(db)),
    secrets: m(createSqliteSecrets(db, now)),
    positions: m(createSqlitePositions(db, batched)),
    settings: m(createSqliteSettings(db)),
    area<A>(name: string): A {
      if (!areas.has(name)) throw new ParleyError('item-not-found', `no storage area "${name}": the store was not opened with that module`);
      // The caller names the area's type; the store only knows it by name.
      return areas.get(name) as A;
    },
    async dataVersion() {
      return dataVersion.get() ?? 0;
    },
    async close() {
      if (!db.open) return;
      try {
        appends.close();
        small.close();
        // Lets SQLite refresh the planner statistics the queries depend on; cheap when nothing changed. Only an
        // optimisation: on a full or failing disk the store still closes (the pending writes got their errors).
        try {
          db.pragma('optimize');
        } catch (e) {
          if (!isEnvironmentError(e)) throw e;
        }
      } finally {
        db.close();
      }
    },
  };
}

export { checkpointWal } from './checkpoint.js';
/** Re-exported for callers that inspect or test the schema. */
export { SchemaTooNewError, migrate } from './migrate.js';
export { compiledUrl, importSqliteArea, type SqliteModule } from './module-areas.js';
export { MIGRATIONS, type Migration } from './migrations.js';
