/**
 * The apikeys storage area on SQLite (the module's `storage.sqlite` URL names this file; its memory twin opens
 * the same code on an in-memory database). A key row holds the digest of the secret, never the secret.
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** A key as listed (no secret, no digest). */
export interface ApiKeyInfo {
  id: string;
  owner: string;
  name: string;
  scopes: string[];
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
  revokedBy: string | null;
}

/** A key with its digest, for verification. */
export interface ApiKeyRecord extends ApiKeyInfo {
  hash: Uint8Array;
}

/** What the module stores. Methods are async and take and return clonable values (they cross threads). */
export interface ApiKeysArea {
  /** Stores a new key; refused with policy-violation when the owner already holds `max` active keys. */
  create(key: ApiKeyRecord, max: number): Promise<ApiKeyInfo>;
  get(id: string): Promise<ApiKeyRecord | null>;
  /** Every key of `owner` (every key when null), newest first. */
  list(owner: string | null): Promise<ApiKeyInfo[]>;
  /** Revokes a key (revoking twice keeps the first time); null when there is no such key. */
  revoke(id: string, by: string, now: number): Promise<ApiKeyInfo | null>;
}

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'api keys',
    sql: `
      CREATE TABLE apikeys_keys (
        id         TEXT PRIMARY KEY,       -- 16 hex digits, the public part of the token
        owner      TEXT NOT NULL,          -- the account the key acts for
        name       TEXT NOT NULL,
        scopes     TEXT NOT NULL,          -- JSON array
        hash       BLOB NOT NULL,          -- SHA-256 of the secret
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at INTEGER,
        revoked_by TEXT
      ) WITHOUT ROWID;
      CREATE INDEX apikeys_keys_owner ON apikeys_keys (owner, created_at);
    `,
  },
];

interface Row {
  id: string;
  owner: string;
  name: string;
  scopes: string;
  hash: Buffer;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
  revokedBy: string | null;
}

const info = (r: Row): ApiKeyInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.createdAt,
  createdBy: r.createdBy,
  revokedAt: r.revokedAt,
  revokedBy: r.revokedBy,
});

/** The apikeys SQLite area. */
export const area: SqliteArea<ApiKeysArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const cols = 'id, owner, name, scopes, hash, created_at AS createdAt, created_by AS createdBy, revoked_at AS revokedAt, revoked_by AS revokedBy';
    const insert = db.prepare('INSERT INTO apikeys_keys (id, owner, name, scopes, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const byId = db.prepare<[string], Row>(`SELECT ${cols} FROM apikeys_keys WHERE id = ?`);
    const byOwner = db.prepare<[string], Row>(`SELECT ${cols} FROM apikeys_keys WHERE owner = ? ORDER BY created_at DESC, id`);
    const all = db.prepare<[], Row>(`SELECT ${cols} FROM apikeys_keys ORDER BY created_at DESC, id`);
    const active = db.prepare<[string], number>('SELECT COUNT(*) FROM apikeys_keys WHERE owner = ? AND revoked_at IS NULL').pluck();
    const revoke = db.prepare('UPDATE apikeys_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL');
    return {
      async create(key, max) {
        return ctx.write(() => {
          const n = active.get(key.owner) ?? 0;
          if (n >= max) throw new ParleyError('policy-violation', `${key.owner} already holds ${n} keys (modules.apikeys.maxKeysPerOwner); revoke one first`);
          insert.run(key.id, key.owner, key.name, JSON.stringify(key.scopes), Buffer.from(key.hash), key.createdAt, key.createdBy);
          return info(byId.get(key.id)!);
        });
      },
      async get(id) {
        const r = byId.get(id);
        return r ? { ...info(r), hash: new Uint8Array(r.hash) } : null;
      },
      async list(owner) {
        return (owner === null ? all.all() : byOwner.all(owner)).map(info);
      },
      async revoke(id, by, now) {
        return ctx.write(() => {
          revoke.run(now, by, id);
          const r = byId.get(id);
          return r ? info(r) : null;
        });
      },
    };
  },
};
