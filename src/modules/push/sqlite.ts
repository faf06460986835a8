/**
 * The push module's storage on SQLite (its memory twin opens the same code on an in-memory database): each
 * account's XEP-0357 registrations, one per (app server address, node), with the publish-options form the client
 * gave (kept as XML text, opaque) and the resource that enabled it.
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** One registration: where to publish for `user` (XEP-0357 §5). */
export interface PushRegistration {
  user: string;
  /** The app server's address (the `jid` of <enable/>). */
  jid: string;
  /** The node on it (the `node` of <enable/>). */
  node: string;
  /** The publish-options data form (XEP-0004) as XML text, sent back with each publish; null for none. */
  form: string | null;
  /** The resource of the session that enabled it (its device), or null. */
  resource: string | null;
  createdAt: number;
}

/** What the module stores. Methods are async and take and return clonable values (they cross threads). */
export interface PushArea {
  /** `user`'s registrations, oldest first. */
  list(user: string): Promise<PushRegistration[]>;
  /** The accounts holding registrations (loaded at start). */
  users(): Promise<string[]>;
  /**
   * Adds or replaces the registration of (jid, node); a new one past `max` of the account is refused with
   * policy-violation.
   */
  put(reg: PushRegistration, max: number): Promise<void>;
  /** Removes `user`'s registrations for `jid` (every node, or only `node`); returns how many went. */
  remove(user: string, jid: string, node: string | null): Promise<number>;
  /** Removes everything of `user` (the account was removed). */
  drop(user: string): Promise<void>;
}

/** The area's migrations (versions count from 1 for this module). */
export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'push registrations',
    sql: `
      CREATE TABLE push_registrations (
        user        TEXT NOT NULL,
        jid         TEXT NOT NULL,
        node        TEXT NOT NULL,
        form        TEXT,            -- XEP-0004 publish-options, as received
        resource    TEXT,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (user, jid, node)
      ) WITHOUT ROWID;
    `,
  },
];

interface Row {
  user: string;
  jid: string;
  node: string;
  form: string | null;
  resource: string | null;
  created_at: number;
}

/** The push SQLite area. */
export const area: SqliteArea<PushArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const list = db.prepare<[string], Row>('SELECT * FROM push_registrations WHERE user = ? ORDER BY created_at, jid, node');
    const users = db.prepare<[], string>('SELECT DISTINCT user FROM push_registrations').pluck();
    const count = db.prepare<[string], number>('SELECT COUNT(*) FROM push_registrations WHERE user = ?').pluck();
    const has = db.prepare<[string, string, string], number>('SELECT 1 FROM push_registrations WHERE user = ? AND jid = ? AND node = ?').pluck();
    const upsert = db.prepare<[string, string, string, string | null, string | null, number]>(
      'INSERT INTO push_registrations (user, jid, node, form, resource, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user, jid, node) DO UPDATE SET form = excluded.form, resource = excluded.resource',
    );
    const removeAll = db.prepare<[string, string]>('DELETE FROM push_registrations WHERE user = ? AND jid = ?');
    const removeOne = db.prepare<[string, string, string]>('DELETE FROM push_registrations WHERE user = ? AND jid = ? AND node = ?');
    const drop = db.prepare<[string]>('DELETE FROM push_registrations WHERE user = ?');
    return {
      async list(user) {
        return list.all(user).map((r) => ({ user: r.user, jid: r.jid, node: r.node, form: r.form, resource: r.resource, createdAt: r.created_at }));
      },
      async users() {
        return users.all();
      },
      async put(reg, max) {
        ctx.write(() => {
          if (has.get(reg.user, reg.jid, reg.node) === undefined && (count.get(reg.user) ?? 0) >= max) {
            throw new ParleyError('policy-violation', `an account holds at most ${max} push registrations (modules.push.maxRegistrations); disable one first`);
          }
          upsert.run(reg.user, reg.jid, reg.node, reg.form, reg.resource, reg.createdAt);
        });
      },
      async remove(user, jid, node) {
        return ctx.write(() => (node === null ? removeAll.run(user, jid) : removeOne.run(user, jid, node)).changes);
      },
      async drop(user) {
        ctx.write(() => drop.run(user));
      },
    };
  },
};
