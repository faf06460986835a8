/**
 * A module's own storage area. A module brings the code of its area for each store adapter (SQLite, memory),
 * with its own migrations; the store opens it beside the core's areas, on the store's thread, so a module's
 * writes share the store's transactions and group commit. Nothing in the core names a module's tables.
 */
import type Database from 'better-sqlite3';
import type { LogRecord } from '../core/types.js';

/**
 * Runs inside the transaction that appends records to the message log, after they are written and before it
 * commits, with the records of one append call that are new (resends are left out). Throwing rolls the whole
 * append back: the sender gets the error and nothing was stored or delivered (the compliance journal relies on it).
 * The records are the ones the caller gets back, not copies: a participant reads them and never changes them.
 */
export type AppendParticipant = (records: readonly Readonly<LogRecord>[]) => void;

/** What an area's factory gets from the store that opens it. */
export interface AreaContext {
  /** Joins the log's append transaction (see AppendParticipant). */
  onAppend(participant: AppendParticipant): void;
  /**
   * The log record at position `seq` (undefined when there is none), read on the store's thread, inside the
   * caller's transaction when it runs in one. The log is append-only: a record, once written, is never changed
   * or removed (edits and retractions are records of their own, and what readers see is kept beside the log), so
   * an area may keep a record's position where it would otherwise keep a copy of it (the compliance journal does).
   */
  logRecord(seq: number): LogRecord | undefined;
  /** The log records at positions `from` through `to`, in order (as logRecord reads each; one read for a run). */
  logRecords(from: number, to: number): LogRecord[];
  /** The store's clock (tests pin it). */
  now(): number;
}

/** One migration of a module's SQLite tables; versions count from 1 per module. */
export interface ModuleMigration {
  version: number;
  name: string;
  sql: string;
}

/** What SQLite context an area's factory gets besides AreaContext. */
export interface SqliteAreaContext extends AreaContext {
  /** BEGIN IMMEDIATE … COMMIT around fn (the store's transactor). */
  write<T>(fn: () => T): T;
  /** A deferred transaction (several reads, one snapshot). */
  read<T>(fn: () => T): T;
  /** Runs a small write in the next shared commit and resolves after it (group commit). */
  batched(write: () => void): Promise<void>;
}

/**
 * The SQLite half of a module's storage, as exported by the file `url` names (export `area`). The file is
 * imported on the store's worker thread, so it must not import anything that needs the server thread.
 */
export interface SqliteArea<A = unknown> {
  migrations: readonly ModuleMigration[];
  open(db: Database.Database, ctx: SqliteAreaContext): A;
}

/**
 * A module's storage as the composition root hands it to the store. `sqlite` is the URL of a file whose export
 * `area` is a SqliteArea (a URL, not an object, because the SQLite store runs on a worker thread that imports
 * it there); `memory` builds the area of the in-memory store. The area's methods must be async and take and
 * return structured-clonable values (they cross threads).
 */
export interface ModuleStorageSpec {
  /** The area's name: the module's name. */
  name: string;
  sqlite?: string;
  memory?: (ctx: AreaContext) => unknown;
}
