/**
 * The archive's storage area on SQLite, as the store's thread imports it (the module's `storage.sqlite` URL
 * names this file): the parts of the archive each bring their tables (migrations numbered in order across the
 * parts) and their methods, and journal their own actions through the journal's AppendEntry.
 */
import type { SqliteArea } from '../../ports/module-storage.js';
import { JOURNAL_MIGRATIONS, openJournal, type JournalArea } from './journal.js';
import { openRetention, RETENTION_MIGRATION, type RetentionArea } from './retention.js';
import { openReview, REVIEW_MIGRATION, type ReviewArea } from './review.js';
import { openSearch, SEARCH_MIGRATIONS, type SearchArea } from './search.js';

/** Everything the archive stores, as one area. */
export type ArchiveArea = JournalArea & SearchArea & RetentionArea & ReviewArea;

/** The archive's SQLite area. */
export const area: SqliteArea<ArchiveArea> = {
  migrations: [...JOURNAL_MIGRATIONS, ...SEARCH_MIGRATIONS, RETENTION_MIGRATION, REVIEW_MIGRATION],
  open(db, ctx) {
    const journal = openJournal(db, ctx);
    return {
      ...journal.area,
      ...openSearch(db, ctx, journal),
      ...openRetention(db, ctx, journal.append),
      ...openReview(db, ctx, journal.append),
    };
  },
};
