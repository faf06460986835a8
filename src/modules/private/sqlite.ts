/**
 * The private module's storage on SQLite (its memory twin opens the same code on an in-memory database): each
 * account's fragments by root element name and namespace, tagged with the account's incarnation, so an address
 * removed and created again starts with nothing of its predecessor's (rows of an earlier incarnation are
 * invisible and are dropped at the first write).
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** What the module stores. Methods are async and take and return clonable values (they cross threads). */
export interface PrivateArea {
  /** The stored fragment (its XML) of `user`'s incarnation under `key`, or null. */
  get(user: string, incarnation: string, key: string): Promise<string | null>;
  /**
   * Stores fragments under their keys for `user`'s incarnation, replacing what each key held; refused with
   * policy-violation when the account would hold more than `maxElements`.
   */
  put(user: string, incarnation: string, fragments: Array<{ key: string; xml: string }>, maxElements: number): Promise<void>;
  /** Drops everything `user` stored (its account was removed). */
  drop(user: string): Promise<void>;
}

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'private XML fragments',
    sql: `
      CREATE TABLE private_fragments (
        user        TEXT NOT NULL,
        key         TEXT NOT NULL,   -- '<root element name> <namespace>'
        incarnation TEXT NOT NULL,   -- the account's, when stored
        xml         TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (user, key)
      ) WITHOUT ROWID;
    `,
  },
];

/** The private SQLite area. */
export const area: SqliteArea<PrivateArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const get = db.prepare<[string, string, string], string>('SELECT xml FROM private_fragments WHERE user = ? AND key = ? AND incarnation = ?').pluck();
    const stale = db.prepare<[string, string]>('DELETE FROM private_fragments WHERE user = ? AND incarnation <> ?');
    const count = db.prepare<[string], number>('SELECT COUNT(*) FROM private_fragments WHERE user = ?').pluck();
    const has = db.prepare<[string, string], number>('SELECT 1 FROM private_fragments WHERE user = ? AND key = ?').pluck();
    const upsert = db.prepare<[string, string, string, string, number]>(
      'INSERT INTO private_fragments (user, key, incarnation, xml, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user, key) DO UPDATE SET incarnation = excluded.incarnation, xml = excluded.xml, updated_at = excluded.updated_at',
    );
    const drop = db.prepare<[string]>('DELETE FROM private_fragments WHERE user = ?');
    return {
      async get(user, incarnation, key) {
        return get.get(user, key, incarnation) ?? null;
      },
      async put(user, incarnation, fragments, maxElements) {
        const now = ctx.now();
        ctx.write(() => {
          stale.run(user, incarnation);
          const added = new Set(fragments.filter((f) => has.get(user, f.key) === undefined).map((f) => f.key)).size;
          const held = count.get(user) ?? 0;
          if (held + added > maxElements) {
            throw new ParleyError('policy-violation', `private storage holds at most ${maxElements} elements per account (modules.private.maxElements)`);
          }
          for (const f of fragments) upsert.run(user, f.key, incarnation, f.xml, now);
        });
      },
      async drop(user) {
        ctx.write(() => drop.run(user));
      },
    };
  },
};
