/**
 * The presentities storage area on SQLite (the module's `storage.sqlite` URL names this file; the memory twin
 * opens the same code on an in-memory database): things and processes with their state and deadlines, and the
 * change log whose positions streams resume from and later consumers follow.
 */
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';
import type { DeviceRecord, Presentity } from './model.js';

/** One change: a presentity's new view (null when removed) at a position. */
export interface StoredChange {
  seq: number;
  address: string;
  at: number;
  presentity: Presentity | null;
}

/** What the module stores. Async, clonable values (they cross threads). */
export interface PresentitiesArea {
  /** The highest position ever stored (0 when none). */
  lastSeq(): Promise<number>;
  /** Things and processes after `after` (by address), at most `limit`. */
  page(after: string, limit: number): Promise<DeviceRecord[]>;
  /** Stores a thing's record and its change, in the next group commit. */
  put(record: DeviceRecord, change: StoredChange): Promise<void>;
  /** Removes a thing and stores the change. */
  remove(address: string, change: StoredChange): Promise<void>;
  /** Stores a renewed heartbeat deadline (no change to publish). */
  heartbeat(address: string, due: number | null): Promise<void>;
  /** Stores a change of a person (their state lives in the engine). */
  note(change: StoredChange): Promise<void>;
  /** Changes after `seq`, at most `limit`, in order. */
  changesAfter(seq: number, limit: number): Promise<StoredChange[]>;
  /** Keeps the newest `keep` changes; returns how many were removed. */
  prune(keep: number): Promise<number>;
}

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'things, processes and the change log',
    sql: `
      CREATE TABLE presentities_devices (
        address       TEXT PRIMARY KEY,
        owner         TEXT NOT NULL,
        record        TEXT NOT NULL,     -- DeviceRecord as JSON
        heartbeat_due INTEGER,           -- epoch ms, NULL: no heartbeat
        expires_at    INTEGER            -- epoch ms, NULL: no temporary update
      ) WITHOUT ROWID;
      CREATE INDEX presentities_devices_owner ON presentities_devices (owner);
      CREATE TABLE presentities_changes (
        seq     INTEGER PRIMARY KEY,     -- the position, assigned by the module in order
        address TEXT NOT NULL,
        at      INTEGER NOT NULL,
        data    TEXT                     -- the Presentity as JSON; NULL when removed
      );
    `,
  },
];

interface ChangeRow {
  seq: number;
  address: string;
  at: number;
  data: string | null;
}

/** The presentities SQLite area. */
export const area: SqliteArea<PresentitiesArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const upsert = db.prepare<[string, string, string, number | null, number | null]>(
      `INSERT INTO presentities_devices (address, owner, record, heartbeat_due, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET owner = excluded.owner, record = excluded.record,
         heartbeat_due = excluded.heartbeat_due, expires_at = excluded.expires_at`,
    );
    const del = db.prepare<[string]>('DELETE FROM presentities_devices WHERE address = ?');
    const due = db.prepare<[number | null, number | null, string]>(
      `UPDATE presentities_devices SET heartbeat_due = ?, record = json_set(record, '$.heartbeatDue', ?) WHERE address = ?`,
    );
    const page = db.prepare<[string, number], { record: string }>('SELECT record FROM presentities_devices WHERE address > ? ORDER BY address LIMIT ?');
    const insertChange = db.prepare<[number, string, number, string | null]>('INSERT OR REPLACE INTO presentities_changes (seq, address, at, data) VALUES (?, ?, ?, ?)');
    const last = db.prepare<[], number>('SELECT COALESCE(MAX(seq), 0) FROM presentities_changes').pluck();
    const after = db.prepare<[number, number], ChangeRow>('SELECT seq, address, at, data FROM presentities_changes WHERE seq > ? ORDER BY seq LIMIT ?');
    const prune = db.prepare<[number]>('DELETE FROM presentities_changes WHERE seq <= (SELECT MAX(seq) FROM presentities_changes) - ?');
    const change = (c: StoredChange): void => {
      insertChange.run(c.seq, c.address, c.at, c.presentity === null ? null : JSON.stringify(c.presentity));
    };
    return {
      async lastSeq() {
        return last.get() ?? 0;
      },
      async page(from, limit) {
        return page.all(from, limit).map((r) => JSON.parse(r.record) as DeviceRecord);
      },
      put(record, c) {
        return ctx.batched(() => {
          upsert.run(record.def.address, record.def.owner, JSON.stringify(record), record.heartbeatDue, record.expiresAt);
          change(c);
        });
      },
      remove(address, c) {
        return ctx.batched(() => {
          del.run(address);
          change(c);
        });
      },
      heartbeat(address, d) {
        return ctx.batched(() => {
          due.run(d, d, address);
        });
      },
      note(c) {
        return ctx.batched(() => change(c));
      },
      async changesAfter(seq, limit) {
        return after.all(seq, limit).map((r) => ({ seq: r.seq, address: r.address, at: r.at, presentity: r.data === null ? null : (JSON.parse(r.data) as Presentity) }));
      },
      async prune(keep) {
        return ctx.write(() => prune.run(keep).changes);
      },
    };
  },
};
