/** Block lists (XEP-0191) and per-user documents (vCards) in SQLite. */
import type { BlockStore, ProfileStore } from '../../ports/store.js';
import type { Db, Transactor } from './db.js';

const domainOf = (user: string): string => user.slice(user.indexOf('@') + 1);

/** The SQLite BlockStore. */
export function createSqliteBlocks(db: Db, tx: Transactor): BlockStore {
  const list = db.prepare<[string], string>('SELECT entry FROM blocks WHERE owner = ? ORDER BY entry').pluck();
  const add = db.prepare<[string, string]>('INSERT INTO blocks (owner, entry) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const removeOne = db.prepare<[string, string]>('DELETE FROM blocks WHERE owner = ? AND entry = ?');
  const removeAll = db.prepare<[string]>('DELETE FROM blocks WHERE owner = ?');
  const blockers = db
    .prepare<[string, string], string>('SELECT DISTINCT owner FROM blocks WHERE entry IN (?, ?) ORDER BY owner')
    .pluck();
  return {
    async list(owner) {
      return list.all(owner);
    },
    async add(owner, entries) {
      tx.write(() => {
        for (const e of entries) add.run(owner, e);
      });
    },
    async remove(owner, entries) {
      tx.write(() => {
        if (entries === null) removeAll.run(owner);
        else for (const e of entries) removeOne.run(owner, e);
      });
    },
    async blockersOf(user) {
      return blockers.all(user, domainOf(user));
    },
  };
}

/** The SQLite ProfileStore. */
export function createSqliteProfiles(db: Db): ProfileStore {
  const get = db.prepare<[string, string], string>('SELECT value FROM profiles WHERE owner = ? AND kind = ?').pluck();
  const put = db.prepare<[string, string, string, number]>(
    'INSERT INTO profiles (owner, kind, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (owner, kind) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const del = db.prepare<[string, string]>('DELETE FROM profiles WHERE owner = ? AND kind = ?');
  return {
    async get(owner, kind) {
      return get.get(owner, kind) ?? null;
    },
    async put(owner, kind, value, at) {
      if (value === null) del.run(owner, kind);
      else put.run(owner, kind, value, at);
    },
  };
}
