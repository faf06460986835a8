/**
 * The audit module's storage area on SQLite, as the store's thread imports it (the module's `storage.sqlite` URL
 * names this file; the memory store runs the same code on an in-memory database). One table of entries, numbered
 * in the order they were recorded, indexed for the console's filters (type, actor, subject, time) and for pruning.
 */
import type Database from 'better-sqlite3';
import type { ModuleMigration, SqliteArea, SqliteAreaContext } from '../../ports/module-storage.js';
import type { AuditEntry, NewAuditEntry } from './entry.js';

/** The module's tables. */
export const AUDIT_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'audit entries',
    sql: `
      CREATE TABLE audit_entries (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,     -- epoch ms
        actor   TEXT,                 -- NULL: the server itself
        type    TEXT NOT NULL,
        subject TEXT,
        data    TEXT NOT NULL,        -- JSON object
        node    TEXT                  -- cluster node; NULL for the CLI
      );
      CREATE INDEX audit_at ON audit_entries (at);
      CREATE INDEX audit_type ON audit_entries (type, id);
      CREATE INDEX audit_actor ON audit_entries (actor, id);
      CREATE INDEX audit_subject ON audit_entries (subject, id);
    `,
  },
];

/** Filters of a page of entries, newest first. */
export interface AuditQuery {
  /** Only entries numbered below this one (the previous page's `next`). */
  before?: number | undefined;
  limit: number;
  /** An exact type, or a prefix ending in `*` (`room.*`). */
  type?: string | undefined;
  actor?: string | undefined;
  subject?: string | undefined;
  /** at >= from (epoch ms). */
  from?: number | undefined;
  /** at < to (epoch ms). */
  to?: number | undefined;
}

/** One page: the entries, and the `before` of the next page (null when there is none). */
export interface AuditPage {
  entries: AuditEntry[];
  next: number | null;
}

/** What the module does with its storage. */
export interface AuditArea {
  /** Records entries in the store's next shared commit (the server's path: many changes, one commit). */
  record(entries: NewAuditEntry[]): Promise<void>;
  /** Records one entry at once and returns its id (the CLI, which may have to take it back). */
  recordOne(entry: NewAuditEntry): Promise<number>;
  /** Takes back an entry of a change that was not made after all. */
  remove(id: number): Promise<void>;
  list(q: AuditQuery): Promise<AuditPage>;
  /** Deletes up to `max` entries older than `before`; returns how many. */
  prune(before: number, max: number): Promise<number>;
}

interface Row {
  id: number;
  at: number;
  actor: string | null;
  type: string;
  subject: string | null;
  data: string;
  node: string | null;
}

const entryOf = (r: Row): AuditEntry => ({ id: r.id, at: r.at, actor: r.actor, type: r.type, subject: r.subject, data: JSON.parse(r.data) as Record<string, unknown>, node: r.node });

function open(db: Database.Database, ctx: SqliteAreaContext): AuditArea {
  const insert = db.prepare('INSERT INTO audit_entries (at, actor, type, subject, data, node) VALUES (?, ?, ?, ?, ?, ?)');
  const del = db.prepare('DELETE FROM audit_entries WHERE id = ?');
  const prune = db.prepare('DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < ? ORDER BY at LIMIT ?)');
  const put = (e: NewAuditEntry): number => Number(insert.run(e.at, e.actor, e.type, e.subject, JSON.stringify(e.data), e.node).lastInsertRowid);
  return {
    async record(entries) {
      await ctx.batched(() => {
        for (const e of entries) put(e);
      });
    },
    async recordOne(entry) {
      return ctx.write(() => put(entry));
    },
    async remove(id) {
      ctx.write(() => del.run(id));
    },
    async list(q) {
      const where: string[] = [];
      const args: Array<string | number> = [];
      const add = (cond: string, value: string | number | undefined): void => {
        if (value === undefined) return;
        where.push(cond);
        args.push(value);
      };
      add('id < ?', q.before);
      if (q.type !== undefined) {
        if (q.type.endsWith('*')) {
          // A prefix as a range, so the (type, id) index serves it (GLOB and LIKE escape rules aside).
          const prefix = q.type.slice(0, -1);
          where.push('type >= ? AND type < ?');
          args.push(prefix, `${prefix}\u{10FFFF}`);
        } else {
          where.push('type = ?');
          args.push(q.type);
        }
      }
      add('actor = ?', q.actor);
      add('subject = ?', q.subject);
      add('at >= ?', q.from);
      add('at < ?', q.to);
      const sql = `SELECT * FROM audit_entries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, q.limit + 1) as Row[];
      const more = rows.length > q.limit;
      const entries = rows.slice(0, q.limit).map(entryOf);
      return { entries, next: more ? entries[entries.length - 1]!.id : null };
    },
    async prune(before, max) {
      return ctx.write(() => prune.run(before, max).changes);
    },
  };
}

/** The area as the store opens it. */
export const area: SqliteArea<AuditArea> = { migrations: AUDIT_MIGRATIONS, open };
