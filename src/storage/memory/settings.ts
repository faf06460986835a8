/** Live options administrators set, in memory (SettingsStore): copies in and out, as a database would. */
import type { SettingRecord, SettingsStore } from '../../ports/store.js';

const copy = (r: SettingRecord): SettingRecord => ({ ...r, value: structuredClone(r.value) });

/** Creates the in-memory SettingsStore. */
export function createMemorySettings(): SettingsStore {
  const rows = new Map<string, SettingRecord>();
  const id = (module: string, key: string): string => `${module}\u0000${key}`;
  return {
    async get(module, key) {
      const r = rows.get(id(module, key));
      return r === undefined ? null : copy(r);
    },
    async put(r) {
      rows.set(id(r.module, r.key), copy({ ...r, updatedAt: Math.floor(r.updatedAt) }));
    },
    async remove(module, key) {
      return rows.delete(id(module, key));
    },
    async list(module) {
      return [...rows.values()]
        .filter((r) => module === undefined || r.module === module)
        .sort((a, b) => (a.module === b.module ? (a.key < b.key ? -1 : 1) : a.module < b.module ? -1 : 1))
        .map(copy);
    },
  };
}
