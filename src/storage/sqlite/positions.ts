/** Positions of the log's consumers in SQLite (table consumer_positions, migration 7). */
import type { PositionStore } from '../../ports/store.js';
import { checkPosition } from '../rules.js';
import type { Batched, Db } from './db.js';

/** Creates the SQLite PositionStore; `set` joins the small-write group commit, as consumers set often. */
export function createSqlitePositions(db: Db, batched: Batched): PositionStore {
  const get = db.prepare<[string], number>('SELECT seq FROM consumer_positions WHERE consumer = ?').pluck();
  const set = db.prepare<[string, number]>(
    'INSERT INTO consumer_positions (consumer, seq) VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq',
  );
  return {
    async get(consumer) {
      return get.get(consumer) ?? 0;
    },
    async set(consumer, seq) {
      checkPosition(consumer, seq);
      await batched(() => {
        set.run(consumer, seq);
      });
    },
  };
}
