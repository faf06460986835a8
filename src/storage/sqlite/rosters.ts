/** Rosters in SQLite: one row per (owner, contact), groups as a JSON array. */
import type { RosterItem, Subscription } from '../../core/types.js';
import type { RosterStore } from '../../ports/store.js';
import { validateRosterItem } from '../rules.js';
import { bool, type Db, type Transactor } from './db.js';

interface RosterRow {
  owner: string;
  contact: string;
  name: string | null;
  groups: string;
  subscription: Subscription;
  pendingOut: number;
  pendingIn: number;
}

const toItem = (r: RosterRow): RosterItem => ({
  owner: r.owner,
  contact: r.contact,
  name: r.name,
  groups: JSON.parse(r.groups) as string[],
  subscription: r.subscription,
  pendingOut: bool(r.pendingOut),
  pendingIn: bool(r.pendingIn),
});

/** Creates the SQLite RosterStore. */
export function createSqliteRosters(db: Db, tx: Transactor): RosterStore {
  const cols = 'owner, contact, name, groups, subscription, pending_out AS pendingOut, pending_in AS pendingIn';
  const list = db.prepare<[string], RosterRow>(`SELECT ${cols} FROM roster_items WHERE owner = ? ORDER BY contact`);
  const get = db.prepare<[string, string], RosterRow>(`SELECT ${cols} FROM roster_items WHERE owner = ? AND contact = ?`);
  const upsert = db.prepare<[string, string, string | null, string, string, number, number]>(
    `INSERT INTO roster_items (owner, contact, name, groups, subscription, pending_out, pending_in)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
       subscription = excluded.subscription, pending_out = excluded.pending_out, pending_in = excluded.pending_in`,
  );
  const remove = db.prepare<[string, string]>('DELETE FROM roster_items WHERE owner = ? AND contact = ?');
  const watchers = db.prepare<[string], { owner: string }>(
    "SELECT owner FROM roster_items WHERE contact = ? AND subscription IN ('to', 'both') ORDER BY owner",
  );

  return {
    async list(owner) {
      return list.all(owner).map(toItem);
    },
    async get(owner, contact) {
      const r = get.get(owner, contact);
      return r ? toItem(r) : null;
    },
    async put(items) {
      items.forEach(validateRosterItem);
      tx.write(() => {
        for (const i of items) {
          upsert.run(i.owner, i.contact, i.name, JSON.stringify(i.groups), i.subscription, i.pendingOut ? 1 : 0, i.pendingIn ? 1 : 0);
        }
      });
    },
    async remove(owner, contact) {
      return remove.run(owner, contact).changes > 0;
    },
    async watchersOf(contact) {
      return watchers.all(contact).map((r) => r.owner);
    },
  };
}
