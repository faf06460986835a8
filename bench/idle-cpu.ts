/**
 * `npm run bench:idle-cpu`: the CPU an idle server takes (no users, no connections), as `npm start` runs it: the
 * change of its user+system time in /proc/<pid>/stat over `--seconds` after `--settle` seconds for start-up to
 * end, three times, each on a fresh server. What it shows is the cost of the server's own timers.
 *
 *   npm run bench:idle-cpu -- [--settle 40] [--seconds 30] [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numArg } from './lib/args.js';
import { cpuSeconds, startServer } from './lib/server.js';
import { round, summary } from './lib/stats.js';

const SETTLE = numArg('settle', 40);
const SECONDS = numArg('seconds', 30);
const RUNS = numArg('runs', 3);
const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

const shares: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-idle-cpu-'));
  const server = await startServer({ dir, dbPath: join(dir, 'parley.db') });
  try {
    await sleep(SETTLE);
    const before = cpuSeconds(server.pid);
    await sleep(SECONDS);
    const used = cpuSeconds(server.pid) - before;
    shares.push((used / SECONDS) * 100);
    console.error(`run ${run}: ${round(used * 1000, 0)} ms of CPU in ${SECONDS} s (${round((used / SECONDS) * 100, 2)} % of a core)`);
  } finally {
    await server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({ scenario: 'idle-cpu', seconds: SECONDS, settle: SETTLE, percentOfCore: summary(shares) }));
