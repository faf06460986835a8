/**
 * WAL checkpoints on a connection of their own. Kept apart from the store's modules so that the checkpointer
 * thread loads only better-sqlite3, not the whole store.
 */
import Database from 'better-sqlite3';

/** How long a connection waits for a lock held by the other connection before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens a second connection that checkpoints the WAL every `everyMs` (PASSIVE: it never blocks the writer,
 * which keeps appending while pages are copied). Returns a function that stops it and closes the connection.
 */
export function checkpointWal(path: string, everyMs: number): () => void {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // A full or failing disk (the database file cannot grow): the WAL keeps the pages, and the next turn
      // tries again. The store's own writes report the condition to their callers; this thread must not die.
    }
  }, everyMs);
  return () => {
    clearInterval(timer);
    db.close();
  };
}
