/** Accounts in SQLite, and the cascade that removes everything an account owns. */
import type { AccountKind, AccountStore, Credentials, NewAccount } from '../../ports/store.js';
import { domainOf } from '../rules.js';
import { bool, mapConstraints, type Batched, type Db, type Transactor } from './db.js';

interface AccountRow {
  address: string;
  credentials: string;
  admin: number;
  kind: AccountKind;
  disabled: number;
  createdAt: number;
  lastSeen: number | null;
  lastStatus: string | null;
  createdSeq: number;
}

interface ListRow {
  address: string;
  admin: number;
  kind: AccountKind;
  disabled: number;
  createdAt: number;
  lastSeen: number | null;
}

const toListEntry = (r: ListRow) => ({ address: r.address, admin: bool(r.admin), kind: r.kind, disabled: bool(r.disabled), createdAt: r.createdAt, lastSeen: r.lastSeen });

/** The account store plus `purge`, which deletes one account with its dependants (call inside a transaction). */
export interface SqliteAccounts {
  store: AccountStore;
  purge(address: string): boolean;
}

/** Creates the SQLite AccountStore. */
export function createSqliteAccounts(db: Db, tx: Transactor, batched: Batched): SqliteAccounts {
  // created_seq is read in the insert itself: the log's last seq at this instant, with no append in between.
  const insert = db.prepare<[string, string, string, number, AccountKind, number, number, number | null, string | null]>(
    `INSERT INTO accounts (address, domain, credentials, admin, kind, disabled, created_at, last_seen, last_status, created_seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM log))`,
  );
  const get = db.prepare<[string], AccountRow>(
    `SELECT address, credentials, admin, kind, disabled, created_at AS createdAt, last_seen AS lastSeen, last_status AS lastStatus,
     created_seq AS createdSeq FROM accounts WHERE address = ?`,
  );
  const listCols = 'address, admin, kind, disabled, created_at AS createdAt, last_seen AS lastSeen';
  const listAll = db.prepare<[], ListRow>(`SELECT ${listCols} FROM accounts ORDER BY address`);
  const listDomain = db.prepare<[string], ListRow>(`SELECT ${listCols} FROM accounts WHERE domain = ? ORDER BY address`);
  const setCredentials = db.prepare<[string, string]>('UPDATE accounts SET credentials = ? WHERE address = ?');
  const setDisabled = db.prepare<[number, string]>('UPDATE accounts SET disabled = ? WHERE address = ?');
  const setAdmin = db.prepare<[number, string]>('UPDATE accounts SET admin = ? WHERE address = ?');
  const setLastSeen = db.prepare<[number, string | null, string]>(
    'UPDATE accounts SET last_seen = ?, last_status = ? WHERE address = ?',
  );
  // The cascade, one statement per table so each uses its own index (an OR across columns might not).
  const cascade = [
    'DELETE FROM tokens WHERE address = ?',
    'DELETE FROM roster_items WHERE owner = ?',
    'DELETE FROM roster_items WHERE contact = ?',
    'DELETE FROM offline WHERE user = ?',
    'DELETE FROM room_members WHERE user = ?',
    'DELETE FROM room_invites WHERE user = ?',
    'DELETE FROM shared_group_members WHERE user = ?',
    'DELETE FROM blocks WHERE owner = ?',
    'DELETE FROM profiles WHERE owner = ?',
  ].map((sql) => db.prepare<[string]>(sql));
  const remove = db.prepare<[string]>('DELETE FROM accounts WHERE address = ?');

  const purge = (address: string): boolean => {
    for (const stmt of cascade) stmt.run(address);
    return remove.run(address).changes > 0;
  };

  const store: AccountStore = {
    async create(a: NewAccount) {
      const domain = domainOf(a.address);
      mapConstraints(
        () => insert.run(a.address, domain, JSON.stringify(a.credentials), a.admin ? 1 : 0, a.kind ?? 'person', a.disabled === true ? 1 : 0, a.createdAt, a.lastSeen, a.lastStatus),
        { conflict: `account ${a.address} exists`, missing: `domain ${domain || '(none)'} is not hosted` },
      );
    },
    async get(address) {
      const r = get.get(address);
      if (!r) return null;
      const credentials = JSON.parse(r.credentials) as Credentials;
      return {
        address: r.address,
        credentials,
        admin: bool(r.admin),
        kind: r.kind,
        disabled: bool(r.disabled),
        createdAt: r.createdAt,
        lastSeen: r.lastSeen,
        lastStatus: r.lastStatus,
        createdSeq: r.createdSeq,
      };
    },
    async list(domain) {
      return (domain === undefined ? listAll.all() : listDomain.all(domain)).map(toListEntry);
    },
    async remove(address) {
      return tx.write(() => purge(address));
    },
    async setCredentials(address, credentials) {
      return setCredentials.run(JSON.stringify(credentials), address).changes > 0;
    },
    async setDisabled(address, disabled) {
      return setDisabled.run(disabled ? 1 : 0, address).changes > 0;
    },
    async setAdmin(address, admin) {
      return setAdmin.run(admin ? 1 : 0, address).changes > 0;
    },
    setLastSeen(address, at, status) {
      return batched(() => setLastSeen.run(at, status, address));
    },
  };
  return { store, purge };
}
