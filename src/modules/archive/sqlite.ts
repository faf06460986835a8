/**
 * The archive's storage area on SQLite, as the store's thread imports it (the module's `storage.sqlite` URL
 * names this file): the parts of the archive each bring their tables (migrations numbered in order across the
 * parts) and their methods, and journal their own actions through the journal's AppendEntry.
 */
import { isParleyError, ParleyError } from '../../core/errors.js';
import type { SqliteArea } from '../../ports/module-storage.js';
import { JOURNAL_MIGRATIONS, openJournal, type JournalArea } from './journal.js';
import { openRoles, ROLES_MIGRATION, type RolesArea } from './roles.js';
import { openRetention, RETENTION_MIGRATION, type RetentionArea } from './retention.js';
import { openReview, REVIEW_MIGRATION, type ReviewArea } from './review.js';
import { HOURS_MIGRATION, openSearch, SEARCH_MIGRATIONS, type SearchArea } from './search.js';

/** Everything the archive stores, as one area. */
export type ArchiveArea = JournalArea & SearchArea & RetentionArea & ReviewArea & RolesArea;

/**
 * Every method of the area, with a failure of the database (a full disk, a broken table) as service-unavailable
 * with a clear text: the parts journal each action in the transaction that performs it, so a failure there means
 * the action was not taken, and the caller (an officer, the operator, the engine's change gate) is refused.
 */
function refusing<A extends object>(a: A): A {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(a)) {
    if (typeof fn !== 'function') continue;
    out[name] = async (...args: unknown[]) => {
      try {
        return await (fn as (...x: unknown[]) => Promise<unknown>).apply(a, args);
      } catch (e) {
        if (isParleyError(e)) throw e;
        throw new ParleyError('service-unavailable', `the compliance archive could not record this, so nothing was changed (${(e as Error).message})`);
      }
    };
  }
  return out as A;
}

/** The archive's SQLite area. */
export const area: SqliteArea<ArchiveArea> = {
  migrations: [...JOURNAL_MIGRATIONS, ...SEARCH_MIGRATIONS, RETENTION_MIGRATION, REVIEW_MIGRATION, ROLES_MIGRATION, HOURS_MIGRATION],
  open(db, ctx) {
    const journal = openJournal(db, ctx);
    return refusing({
      ...journal.area,
      ...openSearch(db, ctx, journal),
      ...openRetention(db, ctx, journal.append),
      ...openReview(db, ctx, journal.append),
      ...openRoles(db, ctx, journal.append),
    });
  },
};
