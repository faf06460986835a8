/** Admin-defined shared groups in SQLite. */
import type { SharedGroup, SharedGroupStore } from '../../ports/store.js';
import { mapConstraints, type Db } from './db.js';

/** Creates the SQLite SharedGroupStore. */
export function createSqliteSharedGroups(db: Db): SharedGroupStore {
  const create = db.prepare<[string, string]>('INSERT INTO shared_groups (name, display_name) VALUES (?, ?)');
  const rename = db.prepare<[string, string]>('UPDATE shared_groups SET display_name = ? WHERE name = ?');
  // Members go with the group through ON DELETE CASCADE.
  const remove = db.prepare<[string]>('DELETE FROM shared_groups WHERE name = ?');
  const list = db.prepare<[], SharedGroup>('SELECT name, display_name AS displayName FROM shared_groups ORDER BY name');
  const addMember = db.prepare<[string, string]>(
    'INSERT INTO shared_group_members (name, user) VALUES (?, ?) ON CONFLICT DO NOTHING',
  );
  const removeMember = db.prepare<[string, string]>('DELETE FROM shared_group_members WHERE name = ? AND user = ?');
  const members = db.prepare<[string], string>('SELECT user FROM shared_group_members WHERE name = ? ORDER BY user').pluck();
  const groupsOf = db.prepare<[string], SharedGroup>(
    `SELECT g.name, g.display_name AS displayName
     FROM shared_group_members m JOIN shared_groups g ON g.name = m.name
     WHERE m.user = ? ORDER BY g.name`,
  );

  return {
    async create(g) {
      mapConstraints(() => create.run(g.name, g.displayName), { conflict: `shared group ${g.name} exists` });
    },
    async rename(name, displayName) {
      return rename.run(displayName, name).changes > 0;
    },
    async remove(name) {
      return remove.run(name).changes > 0;
    },
    async list() {
      return list.all();
    },
    async addMember(name, user) {
      mapConstraints(() => addMember.run(name, user), { missing: `no shared group ${name}` });
    },
    async removeMember(name, user) {
      return removeMember.run(name, user).changes > 0;
    },
    async members(name) {
      return members.all(name);
    },
    async groupsOf(user) {
      return groupsOf.all(user);
    },
  };
}
