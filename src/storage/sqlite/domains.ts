/** Hosted domains in SQLite; removing one removes its accounts and rooms. */
import type { DomainStore } from '../../ports/store.js';
import { mapConstraints, type Db, type Transactor } from './db.js';

/** Creates the SQLite DomainStore; `purgeAccount` is the account cascade (see accounts.ts). */
export function createSqliteDomains(db: Db, tx: Transactor, purgeAccount: (address: string) => boolean): DomainStore {
  const insert = db.prepare<[string, number]>('INSERT INTO domains (domain, created_at) VALUES (?, ?)');
  const exists = db.prepare<[string], number>('SELECT 1 FROM domains WHERE domain = ?').pluck();
  const accountsOf = db.prepare<[string], string>('SELECT address FROM accounts WHERE domain = ?').pluck();
  // Rooms on the domain itself or any subdomain (rooms.example.com); members and invites go by ON DELETE CASCADE.
  const removeRooms = db.prepare<{ d: string }>(
    `DELETE FROM rooms WHERE domain = :d OR substr(domain, -1 - length(:d)) = '.' || :d`,
  );
  const remove = db.prepare<[string]>('DELETE FROM domains WHERE domain = ?');
  const list = db.prepare<[], string>('SELECT domain FROM domains ORDER BY domain').pluck();

  return {
    async add(domain, createdAt) {
      mapConstraints(() => insert.run(domain, createdAt), { conflict: `domain ${domain} exists` });
    },
    async remove(domain) {
      return tx.write(() => {
        if (exists.get(domain) === undefined) return false;
        for (const address of accountsOf.all(domain)) purgeAccount(address);
        removeRooms.run({ d: domain });
        remove.run(domain);
        return true;
      });
    },
    async list() {
      return list.all();
    },
  };
}
