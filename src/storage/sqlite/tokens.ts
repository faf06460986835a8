/** Login tokens in SQLite, keyed by their hash. */
import type { TokenRecord, TokenStore } from '../../ports/store.js';
import type { Batched, Db } from './db.js';

/** Creates the SQLite TokenStore; `put` goes through the shared commit (`batched`). */
export function createSqliteTokens(db: Db, batched: Batched): TokenStore {
  const put = db.prepare<[string, string, number, number]>(
    `INSERT INTO tokens (hash, address, created_at, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (hash) DO UPDATE SET address = excluded.address, created_at = excluded.created_at,
       expires_at = excluded.expires_at`,
  );
  const get = db.prepare<[string], TokenRecord>(
    'SELECT address, created_at AS createdAt, expires_at AS expiresAt FROM tokens WHERE hash = ?',
  );
  const revoke = db.prepare<[string]>('DELETE FROM tokens WHERE hash = ?');
  const revokeAll = db.prepare<[string]>('DELETE FROM tokens WHERE address = ?');
  const purge = db.prepare<[number]>('DELETE FROM tokens WHERE expires_at <= ?');

  return {
    put(hash, r) {
      return batched(() => put.run(hash, r.address, r.createdAt, r.expiresAt));
    },
    async get(hash) {
      return get.get(hash) ?? null;
    },
    async revoke(hash) {
      revoke.run(hash);
    },
    async revokeAll(address) {
      revokeAll.run(address);
    },
    async purgeExpired(now) {
      return purge.run(now).changes;
    },
  };
}
