/** Small helpers shared by the SQLite sub-stores. */
import Database from 'better-sqlite3';
import { ParleyError, type ErrorCode } from '../../core/errors.js';

/** A better-sqlite3 connection. */
export type Db = Database.Database;

/** Runs functions inside transactions; one instance per connection so BEGIN/COMMIT statements are reused. */
export interface Transactor {
  /**
   * BEGIN IMMEDIATE: takes the write lock up front. A deferred transaction that reads and then writes can fail
   * with SQLITE_BUSY_SNAPSHOT when another process committed in between, and busy_timeout cannot fix that.
   */
  write<T>(fn: () => T): T;
  /** A deferred transaction: several reads see one consistent snapshot. */
  read<T>(fn: () => T): T;
}

/** Creates the transaction runner of `db`. */
export function createTransactor(db: Db): Transactor {
  const tx = db.transaction((fn: () => unknown) => fn());
  return {
    // The casts only restore the type parameter that better-sqlite3's Transaction typing erases.
    write: <T>(fn: () => T): T => tx.immediate(fn) as T,
    read: <T>(fn: () => T): T => tx.deferred(fn) as T,
  };
}

/** Runs a write in the next shared commit (group commit) and resolves once that commit is done. */
export type Batched = (write: () => void) => Promise<void>;

/** True when `e` is a SQLite constraint violation of one of the given kinds (e.g. 'PRIMARYKEY'). */
export function isConstraint(e: unknown, ...kinds: string[]): boolean {
  if (!(e instanceof Database.SqliteError)) return false;
  return kinds.some((k) => e.code === `SQLITE_CONSTRAINT_${k}`);
}

/**
 * Runs `fn`, turning a duplicate key into ParleyError conflict and a missing parent row (foreign key) into
 * item-not-found, so callers get the same stable codes as from the memory adapter.
 */
export function mapConstraints<T>(fn: () => T, what: { conflict?: string; missing?: string }): T {
  try {
    return fn();
  } catch (e) {
    const rethrow = (code: ErrorCode, message: string | undefined): never => {
      throw new ParleyError(code, message);
    };
    if (what.conflict !== undefined && isConstraint(e, 'PRIMARYKEY', 'UNIQUE')) rethrow('conflict', what.conflict);
    if (what.missing !== undefined && isConstraint(e, 'FOREIGNKEY')) rethrow('item-not-found', what.missing);
    throw e;
  }
}

/** Result codes that blame the database or its environment, not the statement's input. */
const ENVIRONMENT_ERRORS = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CORRUPT', 'SQLITE_READONLY', 'SQLITE_NOMEM', 'SQLITE_CANTOPEN', 'SQLITE_NOTADB'];

/** True when retrying with other input cannot help: the lock, the disk or the file is the problem. */
export function isEnvironmentError(e: unknown): boolean {
  return e instanceof Database.SqliteError && ENVIRONMENT_ERRORS.some((c) => e.code === c || e.code.startsWith(`${c}_`));
}

/** Result codes of a disk that is full or failing (SQLITE_FULL, SQLITE_IOERR and its extended codes). */
const STORAGE_FULL = ['SQLITE_FULL', 'SQLITE_IOERR'];

/**
 * A full or failing disk as the stable error callers get: service-unavailable with details `reason:
 * "storage-full"` and SQLite's code, nothing having been stored (the transaction rolled back). Other errors are
 * returned as they are. A file-size limit (RLIMIT_FSIZE: the write fails with EFBIG) shows up as SQLITE_IOERR_WRITE,
 * a full file system as SQLITE_FULL.
 */
export function storageError(e: unknown): unknown {
  if (!(e instanceof Database.SqliteError) || !STORAGE_FULL.some((c) => e.code === c || e.code.startsWith(`${c}_`))) return e;
  return new ParleyError('service-unavailable', `the server's storage is full or failing, so nothing was stored; try again later (${e.code})`, {
    reason: 'storage-full',
    sqlite: e.code,
  });
}

/**
 * `o` with every method's rejection passed through storageError, so no caller of the store sees a raw SQLite
 * error for a full or failing disk.
 */
export function mapStorageErrors<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const fn = (o as Record<string, unknown>)[key];
    if (typeof fn !== 'function') {
      out[key] = fn;
      continue;
    }
    out[key] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => unknown).apply(o, args);
      } catch (e) {
        throw storageError(e);
      }
    };
  }
  return out as T;
}

/** SQLite stores booleans as 0/1. */
export const bool = (v: number): boolean => v !== 0;
