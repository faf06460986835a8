/**
 * The files storage area on SQLite (the module's `storage.sqlite` URL names this file; its memory twin opens the
 * same code on an in-memory database): one row per slot, which becomes a stored file once its upload was scanned
 * clean, or a refusal when the scanner found malware. The bytes themselves live in the module's directory.
 * Quotas are counted here, inside the write that reserves a slot or stores a file, so two uploads racing for the
 * last bytes of a quota cannot both get them.
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** A slot, a stored file or a refused upload. */
export interface FileRecord {
  /** The random path segment of its URLs (256 bits, base64url). */
  token: string;
  owner: string;
  filename: string;
  size: number;
  contentType: string;
  state: 'open' | 'stored' | 'refused';
  createdAt: number;
  /** The slot may be used for its PUT until then. */
  slotExpiresAt: number;
  storedAt: number | null;
  sha256: string | null;
  /** The malware signature a refused upload matched. */
  signature: string | null;
}

/** The quotas a reservation or a store is checked against (0: no limit). */
export interface Quota {
  perUserDailyBytes: number;
  totalBytes: number;
}

/** What the module stores. Async, clonable values (they cross threads). */
export interface FilesArea {
  /** Stores a new open slot; quota-exceeded (with `retryAt` for the daily quota) when it does not fit. */
  reserve(r: FileRecord, quota: Quota, now: number): Promise<void>;
  get(token: string): Promise<FileRecord | null>;
  /**
   * Turns an open slot into a stored file, recounting the quotas over stored files only (the slot was counted
   * when reserved). Returns the record; conflict when the slot is no longer open.
   */
  store(token: string, sha256: string, quota: Quota, now: number): Promise<FileRecord>;
  /** Marks an open slot refused, with the signature found. */
  refuse(token: string, signature: string, sha256: string, now: number): Promise<void>;
  /** Stored files stored before `before`, oldest first, at most `limit`. */
  expired(before: number, limit: number): Promise<FileRecord[]>;
  /** Forgets rows. */
  remove(tokens: string[]): Promise<void>;
  /** Those of `tokens` that are stored files. */
  stored(tokens: string[]): Promise<string[]>;
  /** Forgets open slots that expired before `now` and refusals older than `before`; returns how many. */
  purge(now: number, before: number): Promise<number>;
}

/** The window of the per-user daily quota. */
export const DAY_MS = 86_400_000;

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'slots, stored files and refusals',
    sql: `
      CREATE TABLE files_items (
        token           TEXT PRIMARY KEY,
        owner           TEXT NOT NULL,
        filename        TEXT NOT NULL,
        size            INTEGER NOT NULL,
        content_type    TEXT NOT NULL,
        state           TEXT NOT NULL,     -- open | stored | refused
        created_at      INTEGER NOT NULL,
        slot_expires_at INTEGER NOT NULL,
        stored_at       INTEGER,
        sha256          TEXT,
        signature       TEXT
      ) WITHOUT ROWID;
      CREATE INDEX files_items_owner ON files_items (owner, state);
      CREATE INDEX files_items_state ON files_items (state, stored_at);
    `,
  },
];

const COLS =
  'token, owner, filename, size, content_type AS contentType, state, created_at AS createdAt, slot_expires_at AS slotExpiresAt, stored_at AS storedAt, sha256, signature';

/** The files SQLite area. */
export const area: SqliteArea<FilesArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const insert = db.prepare(
      "INSERT INTO files_items (token, owner, filename, size, content_type, state, created_at, slot_expires_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
    );
    const byToken = db.prepare<[string], FileRecord>(`SELECT ${COLS} FROM files_items WHERE token = ?`);
    // What counts against an account's daily quota: its files stored in the last 24 hours, and (when reserving)
    // its open slots, each with the time it stops counting.
    const daily = db.prepare<[string, number, number, number, string], { bytes: number | null; frees: number | null }>(
      `SELECT SUM(size) AS bytes, MIN(CASE state WHEN 'stored' THEN stored_at + ${DAY_MS} ELSE slot_expires_at END) AS frees FROM files_items
        WHERE owner = ? AND ((state = 'stored' AND stored_at > ?) OR (state = 'open' AND slot_expires_at > ? AND ? = 1 AND token <> ?))`,
    );
    const total = db.prepare<[number, number], number | null>(
      "SELECT SUM(size) FROM files_items WHERE state = 'stored' OR (state = 'open' AND slot_expires_at > ? AND ? = 1)",
    ).pluck();
    const setStored = db.prepare<[number, string, string]>("UPDATE files_items SET state = 'stored', stored_at = ?, sha256 = ? WHERE token = ? AND state = 'open'");
    const setRefused = db.prepare<[number, string, string, string]>(
      "UPDATE files_items SET state = 'refused', stored_at = ?, signature = ?, sha256 = ? WHERE token = ? AND state = 'open'",
    );
    const old = db.prepare<[number, number], FileRecord>(`SELECT ${COLS} FROM files_items WHERE state = 'stored' AND stored_at < ? ORDER BY stored_at LIMIT ?`);
    const del = db.prepare<[string]>('DELETE FROM files_items WHERE token = ?');
    const isStored = db.prepare<[string], number>("SELECT 1 FROM files_items WHERE token = ? AND state = 'stored'").pluck();
    const purgeSlots = db.prepare<[number, number]>(
      "DELETE FROM files_items WHERE (state = 'open' AND slot_expires_at < ?) OR (state = 'refused' AND stored_at < ?)",
    );

    /** Throws quota-exceeded when `size` more bytes do not fit; `slots` says whether open slots count. */
    const check = (owner: string, token: string, size: number, quota: Quota, now: number, slots: boolean): void => {
      if (quota.perUserDailyBytes > 0) {
        const d = daily.get(owner, now - DAY_MS, now, slots ? 1 : 0, token) ?? { bytes: null, frees: null };
        const used = d.bytes ?? 0;
        if (used + size > quota.perUserDailyBytes) {
          const retryAt = d.frees === null ? null : new Date(d.frees).toISOString();
          throw new ParleyError('quota-exceeded', `${owner} has used ${used} of ${quota.perUserDailyBytes} bytes of uploads in the last 24 hours (modules.files.perUserDailyBytes)`, {
            quota: 'perUserDailyBytes',
            limit: quota.perUserDailyBytes,
            used,
            ...(retryAt !== null ? { retryAt } : {}),
          });
        }
      }
      if (quota.totalBytes > 0) {
        const used = total.get(now, slots ? 1 : 0) ?? 0;
        if (used + size > quota.totalBytes) {
          throw new ParleyError('quota-exceeded', `the server's file storage is full: ${used} of ${quota.totalBytes} bytes used (modules.files.totalBytes)`, {
            quota: 'totalBytes',
            limit: quota.totalBytes,
            used,
          });
        }
      }
    };

    return {
      async reserve(r, quota, now) {
        return ctx.write(() => {
          check(r.owner, r.token, r.size, quota, now, true);
          insert.run(r.token, r.owner, r.filename, r.size, r.contentType, r.createdAt, r.slotExpiresAt);
        });
      },
      async get(token) {
        return byToken.get(token) ?? null;
      },
      async store(token, sha256, quota, now) {
        return ctx.write(() => {
          const r = byToken.get(token);
          if (r === undefined || r.state !== 'open') throw new ParleyError('conflict', 'the slot was already used');
          check(r.owner, token, r.size, quota, now, false);
          setStored.run(now, sha256, token);
          return { ...r, state: 'stored' as const, storedAt: now, sha256 };
        });
      },
      async refuse(token, signature, sha256, now) {
        return ctx.write(() => {
          setRefused.run(now, signature, sha256, token);
        });
      },
      async expired(before, limit) {
        return old.all(before, limit);
      },
      async remove(tokens) {
        return ctx.write(() => {
          for (const t of tokens) del.run(t);
        });
      },
      async stored(tokens) {
        return ctx.read(() => tokens.filter((t) => isStored.get(t) !== undefined));
      },
      async purge(now, before) {
        return ctx.write(() => purgeSlots.run(now, before).changes);
      },
    };
  },
};
