/** Block lists and per-user documents of the in-memory store. */
import type { BlockStore, ProfileStore } from '../../ports/store.js';
import { byCodeUnit, type MemoryState } from './state.js';

/** The memory BlockStore. */
export function createMemoryBlocks(s: MemoryState): BlockStore {
  return {
    async list(owner) {
      return [...(s.blocks.get(owner) ?? [])].sort(byCodeUnit);
    },
    async add(owner, entries) {
      if (!s.accounts.has(owner)) return;
      let set = s.blocks.get(owner);
      if (!set) s.blocks.set(owner, (set = new Set()));
      for (const e of entries) set.add(e);
    },
    async remove(owner, entries) {
      const set = s.blocks.get(owner);
      if (!set) return;
      if (entries === null) set.clear();
      else for (const e of entries) set.delete(e);
      if (set.size === 0) s.blocks.delete(owner);
    },
    async blockersOf(user) {
      const domain = user.slice(user.indexOf('@') + 1);
      const out: string[] = [];
      for (const [owner, set] of s.blocks) if (set.has(user) || set.has(domain)) out.push(owner);
      return out.sort(byCodeUnit);
    },
  };
}

/** The memory ProfileStore. */
export function createMemoryProfiles(s: MemoryState): ProfileStore {
  return {
    async get(owner, kind) {
      return s.profiles.get(`${owner}\n${kind}`) ?? null;
    },
    async put(owner, kind, value) {
      const key = `${owner}\n${kind}`;
      if (value === null) s.profiles.delete(key);
      else if (s.accounts.has(owner)) s.profiles.set(key, value);
    },
  };
}
