/** Rosters and shared groups of the in-memory store. */
import { ParleyError } from '../../core/errors.js';
import type { RosterItem } from '../../core/types.js';
import type { RosterStore, SharedGroupStore } from '../../ports/store.js';
import { validateRosterItem } from '../rules.js';
import { byCodeUnit, type MemoryState } from './state.js';

const copyItem = (i: RosterItem): RosterItem => ({ ...i, groups: [...i.groups] });

/** The memory RosterStore. */
export function createMemoryRosters(s: MemoryState): RosterStore {
  return {
    async list(owner) {
      const items = s.roster.get(owner);
      if (!items) return [];
      return [...items.values()].sort((a, b) => byCodeUnit(a.contact, b.contact)).map(copyItem);
    },
    async get(owner, contact) {
      const i = s.roster.get(owner)?.get(contact);
      return i ? copyItem(i) : null;
    },
    async put(items) {
      // Validate everything first: the write is all-or-nothing, like the SQLite transaction.
      items.forEach(validateRosterItem);
      for (const item of items) {
        let mine = s.roster.get(item.owner);
        if (!mine) s.roster.set(item.owner, (mine = new Map<string, RosterItem>()));
        mine.set(item.contact, copyItem(item));
      }
    },
    async remove(owner, contact) {
      return s.roster.get(owner)?.delete(contact) ?? false;
    },
    async watchersOf(contact) {
      const out: string[] = [];
      for (const [owner, items] of s.roster) {
        const i = items.get(contact);
        if (i && (i.subscription === 'to' || i.subscription === 'both')) out.push(owner);
      }
      return out.sort(byCodeUnit);
    },
  };
}

/** The memory SharedGroupStore. */
export function createMemorySharedGroups(s: MemoryState): SharedGroupStore {
  return {
    async create(group) {
      if (s.groups.has(group.name)) throw new ParleyError('conflict', `shared group ${group.name} exists`);
      s.groups.set(group.name, { ...group });
      s.groupMembers.set(group.name, new Set<string>());
    },
    async rename(name, displayName) {
      const g = s.groups.get(name);
      if (!g) return false;
      g.displayName = displayName;
      return true;
    },
    async remove(name) {
      s.groupMembers.delete(name);
      return s.groups.delete(name);
    },
    async list() {
      return [...s.groups.values()].sort((a, b) => byCodeUnit(a.name, b.name)).map((g) => ({ ...g }));
    },
    async addMember(name, user) {
      const members = s.groupMembers.get(name);
      if (!members) throw new ParleyError('item-not-found', `no shared group ${name}`);
      members.add(user);
    },
    async removeMember(name, user) {
      return s.groupMembers.get(name)?.delete(user) ?? false;
    },
    async members(name) {
      return [...(s.groupMembers.get(name) ?? [])].sort(byCodeUnit);
    },
    async groupsOf(user) {
      return [...s.groups.values()]
        .filter((g) => s.groupMembers.get(g.name)?.has(user))
        .sort((a, b) => byCodeUnit(a.name, b.name))
        .map((g) => ({ ...g }));
    },
  };
}
