/**
 * What the compliance archive costs the store's append path, in instructions rather than seconds: instruction
 * counts are the same from run to run whatever else the machine is doing, where its seconds are not. Runs the
 * append path of bench/archive-append.ts (1:1 messages of about 100 characters, 32 appends per turn,
 * synchronous=FULL, 2,000 messages of warm-up) under `valgrind --tool=callgrind` for two message counts, with the
 * archive off and on, and prints the difference per message: the cost of one message without start-up and
 * warm-up. valgrind hides the CPU's SHA instructions from OpenSSL, so SHA-256 counts several times what it costs
 * on the machine itself.
 *
 *   node dist/bench/archive-instructions.js [--small 2000] [--large 10000] [--baseline <other tree>] [--keep DIR]
 *
 * --baseline: also measure the archive of another working tree (its dist/ built), in the same run. --keep: leave
 * the callgrind output of each run in DIR, for `callgrind_annotate` (where the instructions go).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SqliteArea } from '../src/ports/module-storage.js';
import type { Store } from '../src/ports/store.js';
import { archiveAppender } from './lib/records.js';

const { values } = parseArgs({
  options: {
    small: { type: 'string' },
    large: { type: 'string' },
    baseline: { type: 'string' },
    child: { type: 'boolean' },
    tree: { type: 'string' },
    archive: { type: 'boolean' },
    messages: { type: 'string' },
    keep: { type: 'string' },
  },
  strict: true,
});
const BATCH = 32;
const WARM_UP = 2000;
const HERE = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The child: the append path of the tree at `tree` (its dist/), `messages` messages after the warm-up. */
async function child(tree: string, archive: boolean, messages: number): Promise<void> {
  const dist = (p: string): string => pathToFileURL(join(tree, 'dist', p)).href;
  const { createSqliteStore } = (await import(dist('src/storage/sqlite/index.js'))) as {
    createSqliteStore: (o: { path: string; synchronous: 'full'; modules: Array<{ name: string; area: SqliteArea<unknown> }> }) => Store;
  };
  const { area } = (await import(dist('src/modules/archive/sqlite.js'))) as { area: SqliteArea<unknown> };
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-instructions-'));
  const store = createSqliteStore({ path: join(dir, 'parley.db'), synchronous: 'full', modules: archive ? [{ name: 'archive', area }] : [] });
  try {
    await store.domains.add('localhost', Date.now());
    const run = archiveAppender(store, BATCH);
    await run(WARM_UP);
    await run(messages);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Instructions of one child run under callgrind (all threads). */
function instructions(tree: string, archive: boolean, messages: number, name: string): Promise<number> {
  const keep = values.keep === undefined ? null : resolve(values.keep);
  if (keep !== null) mkdirSync(keep, { recursive: true });
  const out = keep !== null ? join(keep, `callgrind.${name.replace(/[^a-z0-9]+/gi, '-')}.${messages}`) : join(mkdtempSync(join(tmpdir(), 'parley-callgrind-')), 'callgrind.out');
  const self = fileURLToPath(import.meta.url);
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, self, '--child', '--tree', tree, '--messages', String(messages), ...(archive ? ['--archive'] : [])];
  return new Promise((resolveRun, reject) => {
    const p = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.once('error', reject);
    p.once('exit', (code) => {
      if (keep === null) rmSync(join(out, '..'), { recursive: true, force: true });
      const m = /Collected : (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`valgrind exited with ${code}:\n${err.slice(-2000)}`));
      else resolveRun(Number(m[1]));
    });
  });
}

async function main(): Promise<void> {
  const small = Number(values.small ?? 2000);
  const large = Number(values.large ?? 10_000);
  if (!(small > 0 && large > small)) throw new Error('--large must be more than --small');
  const arms: Array<{ name: string; tree: string; archive: boolean }> = [
    { name: 'archive off', tree: HERE, archive: false },
    { name: 'archive on', tree: HERE, archive: true },
  ];
  if (values.baseline !== undefined) arms.push({ name: `archive on, ${values.baseline}`, tree: resolve(values.baseline), archive: true });
  process.stdout.write(`instructions per message of the store's append path (callgrind, ${large} − ${small} messages):\n`);
  let off = 0;
  for (const arm of arms) {
    // The two sizes of one arm run side by side (valgrind runs a process on one core).
    const [a, b] = await Promise.all([instructions(arm.tree, arm.archive, small, arm.name), instructions(arm.tree, arm.archive, large, arm.name)]);
    const perMessage = Math.round((b - a) / (large - small));
    if (!arm.archive) off = perMessage;
    const share = arm.archive && off > 0 ? `  (the archive: ${perMessage - off})` : '';
    process.stdout.write(`  ${arm.name.padEnd(40)} ${perMessage}${share}\n`);
  }
}

if (values.child) {
  await child(values.tree ?? HERE, values.archive === true, Number(values.messages ?? 0));
} else {
  await new Promise<void>((ok) => {
    const probe = spawn('valgrind', ['--version'], { stdio: 'ignore' });
    probe.once('error', () => {
      process.stderr.write('valgrind is not installed (Debian: apt-get install valgrind); nothing measured\n');
      process.exit(2);
    });
    probe.once('exit', () => ok());
  });
  await main();
}
