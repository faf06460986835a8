/**
 * `npm run bench:archive`: what the compliance archive costs the core 1:1 message benchmark. Runs the messages
 * scenario of bench/run.ts (max-rate phase, one run per invocation, each on a fresh server and database) with the
 * archive off and on, alternating within each round and swapping which goes first every round, so that drift in
 * the machine's background load hits both sides alike. Prints every round, the medians and the on/off ratio.
 *
 *   npm run bench:archive                       5 rounds
 *   npm run bench:archive -- --rounds 7 --duration 10 --paced
 *   node dist/bench/archive-ab.js --rounds 6 --baseline ../other-tree/dist/src/app/main.js
 *
 * Options: --rounds N (default 5), --duration S (seconds measured per run, default 8), --paced (also measure
 * latency at half rate; slower), --baseline PATH (a third run per round: the archive on in the server at PATH,
 * another build's entry point, so two builds' archives are compared within one run; the three rotate their
 * order), --json-only. Any other arguments after `--` go to bench/run.ts as they are.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { round, spread } from './lib/stats.js';

/** This script's options; everything else is passed to bench/run.ts. */
const own = { rounds: '5', duration: '8', paced: false, jsonOnly: false, baseline: '' };
const passThrough: string[] = [];
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--rounds' || a === '--duration') own[a === '--rounds' ? 'rounds' : 'duration'] = args[++i] ?? '';
    else if (a === '--paced') own.paced = true;
    else if (a === '--baseline') own.baseline = args[++i] ?? '';
    else if (a === '--json-only') own.jsonOnly = true;
    else passThrough.push(a);
  }
}
const rounds = Number(own.rounds);
const duration = own.duration;
if (!Number.isInteger(rounds) || rounds < 1 || !(Number(duration) > 0)) {
  process.stderr.write('--rounds and --duration need positive integers\n');
  process.exit(2);
}
const jsonOnly = own.jsonOnly;
const log = (s: string): void => {
  if (!jsonOnly) process.stderr.write(`${s}\n`);
};

const RUN = fileURLToPath(new URL('./run.js', import.meta.url));

/** One run of the figures compared. */
interface Result {
  maxRate: number;
  serverCpuPct: number;
  p99Ms: number | null;
  failed: number;
  /** Entries the archive journaled during the run (0 with the archive off). */
  journaled: number;
  /** How many of them the search index had reached when the server stopped (it catches up after a burst). */
  indexed: number;
}

/** One invocation of bench/run.ts, messages only, archive on or off (in the server at `server`); its JSON line. */
function runOnce(archive: boolean, server?: string): Promise<Result> {
  const args = [RUN, '--only', 'messages', '--runs', '1', '--duration', duration, ...(own.paced ? [] : ['--max-only']), ...(archive ? ['--archive'] : []), ...(server ? ['--server', server] : []), ...passThrough];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) {
        reject(new Error(`bench/run.ts exited with ${code}:\n${err}`));
        return;
      }
      type Med = { median: number | null };
      const j = JSON.parse(line) as { maxRate: Med; maxServerCpuPct: Med; p99Ms: Med; failed: Med };
      const journaled = Number(/archive: (\d+) journal entries/.exec(err)?.[1] ?? 0);
      if (archive && journaled === 0) {
        reject(new Error(`the archive journaled nothing:\n${err}`));
        return;
      }
      const indexed = Number(/(\d+) of them in the search index/.exec(err)?.[1] ?? 0);
      resolve({ maxRate: j.maxRate.median ?? 0, serverCpuPct: j.maxServerCpuPct.median ?? 0, p99Ms: j.p99Ms.median, failed: j.failed.median ?? 0, journaled, indexed });
    });
  });
}

/**
 * Server CPU time (all its threads) per message, in µs: less sensitive than the rate to other work on the
 * machine taking cores away, since it counts only what the server itself spent.
 */
const cpuPerMessage = (r: Result): number => (r.serverCpuPct / 100 / r.maxRate) * 1e6;

async function main(): Promise<void> {
  const load = (): number[] => loadavg().map((x) => round(x, 2));
  const loadStart = load();
  log(`archive off/on, ${rounds} rounds, ${duration} s measured per run; load average ${loadStart.join(' ')}`);
  const off: Result[] = [];
  const on: Result[] = [];
  const base: Result[] = [];
  type Arm = 'off' | 'on' | 'baseline';
  const arms: Arm[] = own.baseline ? ['baseline', 'on', 'off'] : ['off', 'on'];
  for (let i = 0; i < rounds; i++) {
    // Each round starts with the next arm, so none always runs first (off first in odd rounds without a baseline).
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(i + k) % arms.length]!;
      const r = await runOnce(arm !== 'off', arm === 'baseline' ? own.baseline : undefined);
      (arm === 'on' ? on : arm === 'off' ? off : base).push(r);
      log(`round ${i + 1} archive ${arm === 'baseline' ? 'on (baseline)' : arm === 'on' ? 'on ' : 'off'}: ${r.maxRate}/s (server CPU ${r.serverCpuPct}% = ${round(cpuPerMessage(r), 1)} µs/message${r.p99Ms === null ? '' : `, paced p99 ${r.p99Ms} ms`}${r.failed ? `, ${r.failed} failed` : ''}${arm !== 'off' ? `, ${r.journaled} entries journaled, ${r.indexed} indexed by the end` : ''})`);
    }
    log(`round ${i + 1} on/off: ${round(on[i]!.maxRate / off[i]!.maxRate, 3)}${own.baseline ? `, baseline on/off: ${round(base[i]!.maxRate / off[i]!.maxRate, 3)}` : ''}`);
  }
  const offMed = spread(off.map((r) => r.maxRate));
  const onMed = spread(on.map((r) => r.maxRate));
  const ratios = spread(on.map((r, i) => round(r.maxRate / off[i]!.maxRate, 3)));
  const ratio = round(onMed.median / offMed.median, 3);
  const summary = {
    scenario: 'archive-ab',
    rounds,
    durationSec: Number(duration),
    off: offMed,
    on: onMed,
    onOffRatio: ratio,
    roundRatios: ratios,
    offServerCpuPct: spread(off.map((r) => r.serverCpuPct)),
    onServerCpuPct: spread(on.map((r) => r.serverCpuPct)),
    offCpuUsPerMessage: spread(off.map(cpuPerMessage), 1),
    onCpuUsPerMessage: spread(on.map(cpuPerMessage), 1),
    ...(own.baseline
      ? {
          baseline: spread(base.map((r) => r.maxRate)),
          baselineRoundRatios: spread(base.map((r, i) => round(r.maxRate / off[i]!.maxRate, 3))),
          baselineCpuUsPerMessage: spread(base.map(cpuPerMessage), 1),
          onOverBaseline: spread(on.map((r, i) => round(r.maxRate / base[i]!.maxRate, 3))),
        }
      : {}),
    loadavgStart: loadStart,
    loadavgEnd: load(),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  log(`\nmax rate, archive off: median ${offMed.median}/s (${offMed.min}–${offMed.max})`);
  log(`max rate, archive on:  median ${onMed.median}/s (${onMed.min}–${onMed.max})`);
  const cpuOff = summary.offCpuUsPerMessage.median;
  const cpuOn = summary.onCpuUsPerMessage.median;
  log(`server CPU per message: off ${cpuOff} µs, on ${cpuOn} µs (+${round(cpuOn - cpuOff, 1)} µs, ×${round(cpuOn / cpuOff, 2)})`);
  log(`on/off: ${ratio} (medians), ${ratios.median} (median of the rounds' ratios, ${ratios.min}–${ratios.max}); goal ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'MISSED'}`);
  if (summary.baseline) {
    const b = summary.baselineRoundRatios!;
    const o = summary.onOverBaseline!;
    log(`baseline (${own.baseline}), archive on: median ${summary.baseline.median}/s, ${summary.baselineCpuUsPerMessage!.median} µs/message; on/off ${b.median} (median of the rounds, ${b.min}–${b.max}); this build over the baseline ${o.median} (${o.min}–${o.max})`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:archive failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
