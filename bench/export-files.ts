/**
 * `npm run bench:export-files`: the many small files an export writes (its EML transcripts, one per
 * conversation-day: 61,229 for the 100,000 records of bench/archive-search.ts), written three ways in each
 * round, in turn (each round starting with the next way), into a fresh directory:
 * - `promises`: fs.promises writeFile, 16 files in flight (how the export wrote them before file-writer.ts);
 * - `thread`: FileBatchWriter (src/modules/archive/file-writer.ts), batches on a worker thread, as exports now do;
 * - `sync`: writeFileSync in a loop on this thread: the file system's own cost, with no hand-off at all (which a
 *   server thread cannot afford: it would stop every connection meanwhile).
 * Prints each round's seconds, then the medians and each way's ratio to `thread` per round: compare within a
 * round. Each way deletes its files after its turn, and ext4 does not reuse inodes deleted in the last minutes,
 * so every round after the first creates its files slower (docs/PERFORMANCE.md, "The export's EML files on a
 * thread of their own").
 *
 *   npm run bench:export-files                           61,229 files, 5 rounds
 *   npm run bench:export-files -- --files 20000 --rounds 3
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBatchWriter } from '../src/modules/archive/file-writer.js';
import { numArg } from './lib/args.js';
import { spread } from './lib/stats.js';

const FILES = numArg('files', 61_229);
const ROUNDS = numArg('rounds', 5);

/** Names shaped like the export's (day, conversation, hash) and contents of 0.8 to 3.2 KB. */
const name = (i: number): string => `2026-01-${String(1 + (i % 28)).padStart(2, '0')}_dm_user${i}@example.com_user${(i * 7) % 5000}@corp.example.com_${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}.eml`;
const content = (i: number): string => `Subject: transcript ${i}\r\n\r\n${'line of a transcript\r\n'.repeat(36 + ((i * 37) % 110))}`;

const ways: Record<string, (dir: string) => Promise<void>> = {
  async promises(dir) {
    const writing = new Set<Promise<void>>();
    for (let i = 0; i < FILES; i++) {
      const w: Promise<void> = writeFile(join(dir, name(i)), content(i)).finally(() => writing.delete(w));
      writing.add(w);
      if (writing.size >= 16) await Promise.race(writing);
    }
    await Promise.all(writing);
  },
  async thread(dir) {
    const writer = new FileBatchWriter();
    for (let i = 0; i < FILES; i++) await writer.write(join(dir, name(i)), content(i));
    await writer.close();
  },
  async sync(dir) {
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, name(i)), content(i));
  },
};

const seconds: Record<string, number[]> = { promises: [], thread: [], sync: [] };
const ratios: Record<string, number[]> = { promises: [], sync: [] };
for (let round = 1; round <= ROUNDS; round++) {
  const took: Record<string, number> = {};
  // Each round starts with another way: each way's deleted files slow the next one's file creation.
  const order = Object.entries(ways);
  for (const [way, run] of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-files-'));
    const t = performance.now();
    await run(dir);
    took[way] = (performance.now() - t) / 1000;
    seconds[way]!.push(took[way]);
    rmSync(dir, { recursive: true, force: true });
  }
  ratios['promises']!.push(took['promises']! / took['thread']!);
  ratios['sync']!.push(took['sync']! / took['thread']!);
  console.log(JSON.stringify({ round, files: FILES, seconds: Object.fromEntries(Object.entries(took).map(([k, v]) => [k, Math.round(v * 100) / 100])) }));
}
console.log(
  JSON.stringify({
    summary: true,
    files: FILES,
    rounds: ROUNDS,
    seconds: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, spread(v)])),
    toThread: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, spread(v)])),
  }),
);
