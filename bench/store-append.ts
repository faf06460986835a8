/**
 * Storage micro-benchmark (no server, no sockets): the SQLite store's message append path alone, as the
 * server's group commit sees it — `batch` appends submitted in one event-loop turn commit together. Shows the
 * cost per message as a function of the group-commit batch size, and how many bytes each message makes the
 * process write (WAL frames + checkpoints; from /proc/self/io).
 *
 *   node dist/bench/store-append.js [--batches 1,8,32,128,512] [--messages 60000] [--sync full|normal] [--pairs 200]
 *
 * Experiments (what-if, on a connection opened here with the server's schema, log writer and group commit):
 *   --cache-mb N          PRAGMA cache_size of N MiB (SQLite's default is 2 MiB)
 *   --autocheckpoint N    PRAGMA wal_autocheckpoint in pages (default 1000)
 *   --drop-index a,b      drop these indexes of the log table after migrating
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { NewRecord } from '../src/core/types.js';
import type { AppendResult } from '../src/ports/store.js';
import { createIdGenerator } from '../src/storage/ids.js';
import { createTransactor } from '../src/storage/sqlite/db.js';
import { createGroupCommit } from '../src/storage/sqlite/group-commit.js';
import { createSqliteStore, migrate } from '../src/storage/sqlite/index.js';
import { createLogWriter } from '../src/storage/sqlite/log-writer.js';
import { chatRecord } from './lib/records.js';

const { values } = parseArgs({
  options: {
    batches: { type: 'string' },
    messages: { type: 'string' },
    sync: { type: 'string' },
    pairs: { type: 'string' },
    'cache-mb': { type: 'string' },
    autocheckpoint: { type: 'string' },
    'drop-index': { type: 'string' },
  },
});
const experiment = values['cache-mb'] !== undefined || values.autocheckpoint !== undefined || values['drop-index'] !== undefined;

/** Just the append path: the server's store, or (for experiments) the same pieces on a connection tuned here. */
interface Appender {
  append(records: NewRecord[]): Promise<AppendResult[]>;
  close(): Promise<void>;
}

async function open(path: string): Promise<Appender> {
  if (!experiment) {
    const store = createSqliteStore({ path, synchronous: sync });
    await store.domains.add('localhost', Date.now());
    return { append: (r) => store.messages.append(r), close: () => store.close() };
  }
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  if (values['cache-mb']) db.pragma(`cache_size = -${Number(values['cache-mb']) * 1024}`);
  if (values.autocheckpoint) db.pragma(`wal_autocheckpoint = ${Number(values.autocheckpoint)}`);
  migrate(db, Date.now);
  for (const ix of (values['drop-index'] ?? '').split(',').filter(Boolean)) db.exec(`DROP INDEX ${ix}`);
  const tx = createTransactor(db);
  const gc = createGroupCommit<NewRecord[], AppendResult[]>(tx.write, createLogWriter(db, createIdGenerator()));
  return {
    append: (r) => gc.submit(r),
    close: async () => {
      gc.close();
      db.close();
    },
  };
}
const batches = (values.batches ?? '1,8,32,128,512').split(',').map(Number);
const total = Number(values.messages ?? 60_000);
const sync = values.sync === 'normal' ? 'normal' : 'full';
const pairs = Number(values.pairs ?? 200);

const io = (): { wchar: number; syscw: number } => {
  const t = readFileSync('/proc/self/io', 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { wchar: get('wchar'), syscw: get('syscw') };
};

async function main(): Promise<void> {
  const knobs = experiment ? `, cache ${values['cache-mb'] ?? 2} MiB, wal_autocheckpoint ${values.autocheckpoint ?? 1000}, dropped: ${values['drop-index'] || 'none'}` : '';
  process.stdout.write(`synchronous=${sync}, ${pairs} sender→receiver pairs, ${total} messages per batch size${knobs}\n`);
  process.stdout.write('batch  µs/message  messages/s  KiB written/message  write syscalls/message\n');
  for (const batch of batches) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-store-bench-'));
    const store = await open(join(dir, 'parley.db'));
    try {
      const rec = (i: number, n: number): NewRecord => chatRecord(i % pairs, n, `${performance.now().toFixed(3)} ${'x'.repeat(80)}`);
      // Warm up (also grows the file a little), then measure.
      let n = 0;
      const run = async (count: number): Promise<void> => {
        for (let done = 0; done < count; done += batch) {
          const ps: Array<Promise<unknown>> = [];
          for (let i = 0; i < batch; i++, n++) ps.push(store.append([rec(n, n)]));
          await Promise.all(ps);
        }
      };
      await run(Math.min(5000, total / 4));
      const io0 = io();
      const t0 = performance.now();
      await run(total);
      const ms = performance.now() - t0;
      const io1 = io();
      const us = (ms * 1000) / total;
      process.stdout.write(
        `${String(batch).padStart(5)}  ${us.toFixed(1).padStart(10)}  ${Math.round(total / (ms / 1000)).toString().padStart(10)}  ${((io1.wchar - io0.wchar) / total / 1024).toFixed(1).padStart(19)}  ${((io1.syscw - io0.syscw) / total).toFixed(2).padStart(22)}\n`,
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
