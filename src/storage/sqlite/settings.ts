/** Live options administrators set, in SQLite (table settings, migration 12). */
import type { SettingRecord, SettingsStore } from '../../ports/store.js';
import type { Db } from './db.js';

interface Row {
  module: string;
  key: string;
  value: string;
  updatedAt: number;
  updatedBy: string;
}

const COLUMNS = 'module, key, value, updated_at AS updatedAt, updated_by AS updatedBy';

const recordOf = (r: Row): SettingRecord => ({ module: r.module, key: r.key, value: JSON.parse(r.value) as unknown, updatedAt: r.updatedAt, updatedBy: r.updatedBy });

/** Creates the SQLite SettingsStore. Writes are rare (an administrator's edit), so each is its own statement. */
export function createSqliteSettings(db: Db): SettingsStore {
  const get = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM settings WHERE module = ? AND key = ?`);
  const put = db.prepare<[string, string, string, number, string]>(
    'INSERT INTO settings (module, key, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) ' +
      'ON CONFLICT (module, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by',
  );
  const del = db.prepare<[string, string]>('DELETE FROM settings WHERE module = ? AND key = ?');
  const listOne = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM settings WHERE module = ? ORDER BY key`);
  const listAll = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM settings ORDER BY module, key`);
  return {
    async get(module, key) {
      const r = get.get(module, key);
      return r === undefined ? null : recordOf(r);
    },
    async put(r) {
      put.run(r.module, r.key, JSON.stringify(r.value), Math.floor(r.updatedAt), r.updatedBy);
    },
    async remove(module, key) {
      return del.run(module, key).changes > 0;
    },
    async list(module) {
      return (module === undefined ? listAll.all() : listOne.all(module)).map(recordOf);
    },
  };
}
