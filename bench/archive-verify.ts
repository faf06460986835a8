/**
 * `npm run bench:archive-verify`: how long `parley archive verify` takes over a large journal. Builds a temporary
 * SQLite store whose log records the archive journals as a server does (leaf hashes written by the archive's own
 * journal code in the log's transaction, the entries re-created from the log rows when read; membership events
 * journaled with their bytes), in batches as the store's group commit takes them, signs a checkpoint every
 * 100,000 entries and at the end, then times the operator's command as a whole process (`node bin/parley.js
 * archive verify`, start-up included).
 *
 *   npm run bench:archive-verify                               1,000,000 entries, 3 runs
 *   node dist/bench/archive-verify.js --entries 200000 --runs 5
 *   node dist/bench/archive-verify.js --keep                   keep the database and print its path
 *   node dist/bench/archive-verify.js --db FILE                time an existing archive (no build)
 *
 * Nine in ten entries are 1:1 messages, the rest receipts, edits and room-membership events; bodies are 20 to
 * 200 characters.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { conversationKey, type NewRecord } from '../src/core/types.js';
import { eventDraft, type EntryDraft } from '../src/modules/archive/entry.js';
import { area, type ArchiveArea } from '../src/modules/archive/sqlite.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { round, spread } from './lib/stats.js';

const { values: argv } = parseArgs({
  options: {
    entries: { type: 'string' },
    runs: { type: 'string' },
    batch: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    db: { type: 'string' },
    keep: { type: 'boolean' },
    'json-only': { type: 'boolean' },
  },
  strict: true,
});
const int = (v: string | undefined, dflt: number, name: string): number => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} needs a positive integer\n`);
    process.exit(2);
  }
  return n;
};
const entries = int(argv.entries, 1_000_000, 'entries');
const runs = int(argv.runs, 3, 'runs');
const batch = int(argv.batch, 10_000, 'batch');
const checkpointEvery = int(argv['checkpoint-every'], 100_000, 'checkpoint-every');
const log = (s: string): void => {
  if (argv['json-only'] !== true) process.stderr.write(`${s}\n`);
};

const ORIGIN = 'bench.example/archive';
const CLI = fileURLToPath(new URL('../../bin/parley.js', import.meta.url));
const USERS = 500;

/** A deterministic pseudo-random sequence (xorshift32), so every build of the archive has the same shape. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const WORDS = 'the a meeting report budget quarter review please send call tomorrow thanks lunch draft final client deadline update numbers slides ok'.split(' ');

/** Writes `n` entries and the checkpoints; returns how long it took. */
async function build(path: string, n: number): Promise<number> {
  const store = createSqliteStore({ path, synchronous: 'normal', modules: [{ name: 'archive', area }] });
  const archive = store.area<ArchiveArea>('archive');
  const random = rng(42);
  const user = (i: number): string => `user${i}@bench.example`;
  const body = (): string => {
    const words: string[] = [];
    const len = 20 + Math.floor(random() * 180);
    while (words.join(' ').length < len) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
    return words.join(' ').slice(0, len);
  };
  let logged = 0;
  let ts = Date.UTC(2026, 0, 1);
  let lastMessageId: string | null = null;
  /** The next entry: a log record, or (one in a hundred) a membership event. */
  const next = (): NewRecord | EntryDraft => {
    ts += Math.floor(random() * 50);
    const from = user(Math.floor(random() * USERS));
    const to = user(Math.floor(random() * USERS));
    const roll = random();
    if (roll < 0.01) return eventDraft('room.membership', ts, { actor: from, subject: to, conv: 'room:general@rooms.bench.example', data: { role: 'member' } });
    const kind = roll < 0.91 || lastMessageId === null ? 'message' : roll < 0.98 ? 'receipt' : 'edit';
    logged++;
    return {
      kind,
      type: 'chat',
      conv: conversationKey('chat', from, to),
      from,
      fromResource: 'laptop',
      to,
      toResource: kind === 'receipt' ? 'phone' : null,
      clientId: kind === 'receipt' ? null : `c${logged}`,
      body: kind === 'receipt' ? null : body(),
      ref: kind === 'message' ? null : lastMessageId,
      receipt: kind === 'receipt' ? 'delivered' : null,
      ts,
      xml: null,
      offlineFor: [],
    };
  };
  const t0 = performance.now();
  try {
    for (let done = 0; done < n; ) {
      const count = Math.min(batch, n - done, checkpointEvery - (done % checkpointEvery));
      // Each run of log records is one append (journaled in its transaction); each event is journaled between them.
      let records: NewRecord[] = [];
      const flush = async (): Promise<void> => {
        if (records.length === 0) return;
        for (const { record } of await store.messages.append(records)) if (record.kind === 'message') lastMessageId = record.id;
        records = [];
      };
      for (let i = 0; i < count; i++) {
        const e = next();
        if ('offlineFor' in e) {
          records.push(e);
        } else {
          await flush();
          await archive.journal([e]);
        }
      }
      await flush();
      done += count;
      if (done % checkpointEvery === 0 || done === n) {
        const cp = await archive.checkpoint(ORIGIN, Date.now());
        log(`  ${done} entries, checkpoint of size ${cp.size} (${round((performance.now() - t0) / 1000, 1)} s)`);
      }
    }
  } finally {
    await store.close();
  }
  return (performance.now() - t0) / 1000;
}

/** Runs `parley archive verify` on the archive at `path`; its wall-clock seconds and output. */
function verify(path: string): Promise<{ seconds: number; out: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, {
    PARLEY_STORAGE__SQLITE__PATH: path,
    PARLEY_MODULES__ARCHIVE__ENABLED: 'true',
    PARLEY_MODULES__ARCHIVE__ORIGIN: ORIGIN,
    PARLEY_LOG__LEVEL: 'warn',
  });
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // cwd = the archive's directory, so a parley.yaml in the working tree is not picked up.
    const child = spawn(process.execPath, [CLI, 'archive', 'verify'], { cwd: join(path, '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`parley archive verify exited with ${code}:\n${out}${err}`));
      else resolve({ seconds, out: out.trim() });
    });
  });
}

async function main(): Promise<void> {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version };
  const dir = argv.db === undefined ? mkdtempSync(join(tmpdir(), 'parley-archive-bench-')) : null;
  const path = argv.db ?? join(dir!, 'parley.db');
  if (argv.db !== undefined && !existsSync(path)) throw new Error(`no database at ${path}`);
  try {
    let buildSec: number | null = null;
    if (dir !== null) {
      log(`building an archive of ${entries} entries (batches of ${batch}, a checkpoint every ${checkpointEvery})`);
      buildSec = round(await build(path, entries), 1);
      log(`built in ${buildSec} s`);
    }
    const loadStart = loadavg().map((x) => round(x, 2));
    const times: number[] = [];
    let output = '';
    for (let i = 0; i < runs; i++) {
      const r = await verify(path);
      times.push(round(r.seconds, 2));
      output = r.out;
      log(`verify run ${i + 1}/${runs}: ${round(r.seconds, 2)} s (${r.out})`);
    }
    const s = spread(times);
    const result = { scenario: 'archive-verify', entries: dir === null ? null : entries, buildSec, verifySec: s, output, goal: '< 30 s', met: s.median < 30, machine, loadavgStart: loadStart, loadavgEnd: loadavg().map((x) => round(x, 2)) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    log(`parley archive verify: median ${s.median} s (${s.min}–${s.max}); goal < 30 s: ${s.median < 30 ? 'met' : 'MISSED'}`);
    if (argv.keep && dir !== null) log(`kept: ${path}`);
  } finally {
    if (dir !== null && !argv.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:archive-verify failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
