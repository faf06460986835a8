/** Installation secrets in SQLite (SecretStore). */
import type { SecretStore } from '../../ports/store.js';
import type { Db } from './db.js';

/** Creates the SQLite SecretStore. */
export function createSqliteSecrets(db: Db, now: () => number): SecretStore {
  // ON CONFLICT DO NOTHING: of two processes creating the secret at once, the first commit wins for both.
  const insert = db.prepare<[string, string, number]>(
    'INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
  );
  const get = db.prepare<[string], string>('SELECT value FROM server_secrets WHERE name = ?').pluck();
  return {
    async ensure(name, value) {
      const stored = get.get(name);
      if (stored !== undefined) return stored;
      insert.run(name, value, Math.floor(now()));
      return get.get(name) ?? value;
    },
  };
}
