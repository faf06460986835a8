/**
 * `npm run bench`: Parley's load benchmark. The server runs as a separate child process (node
 * dist/src/app/main.js, configured by PARLEY_* environment variables, on a fresh temporary SQLite database per
 * run); load generators run as further child processes (dist/bench/load-*.js). Nothing is measured inside the
 * server's process except what Linux reports about it (/proc/<pid>/status, /proc/<pid>/stat) and its /metrics.
 *
 *   npm run bench                                   all scenarios, default scale (a few minutes)
 *   npm run bench -- --only messages --connections 2000
 *   npm run bench -- --only idle --idle 5000 --runs 1
 *   npm run bench -- --only fanout --profile        write a CPU profile of the server per run
 *
 * Prints one JSON line per scenario (medians over runs with min/max and every run) and a table at the end.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { cpuSeconds, rssKiB, seedDatabase, serverHeap, startServer, type Seed, type ServerProc } from './lib/server.js';
import { round, spread, type Spread } from './lib/stats.js';

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

const HELP = `usage: npm run bench -- [options]
  --only LIST            scenarios, comma separated: messages,idle,fanout,logins (default: all)
  --runs N               runs per scenario; the median is reported (default 3)
  --connections N        main connection count of the chosen scenarios: messages N/2 pairs,
                         idle N connections, fanout N subscribers (overridden by the options below)
  --pairs N              messages: sender→receiver pairs (default 200)
  --window N             messages: outstanding requests per sender in the max-rate phase (default 16)
  --rate N               messages: paced rate in msg/s instead of 50% of the measured maximum
  --sweep LIST           messages: further paced rates to measure latency at, e.g. 1000,2000,4000
  --max-only             messages: only the max-rate phase (e.g. to profile it alone)
  --duration S           messages/logins: seconds measured per phase (default 8)
  --msg-procs N          messages: load processes (default 1; latency is then same-clock)
  --idle N               idle: connections (default 10000)
  --idle-procs N         idle: load processes (default: max(2, ceil(N/8000)))
  --idle-disconnect      idle: then drop all clients at once and time the server's mass-disconnect handling
  --idle-settle S        idle: seconds to wait after connecting before measuring (default 20: V8's memory
                         reducer has collected the connection storm's garbage by then)
  --subscribers N        fanout: subscribers (default 500)
  --iterations N         fanout: measured presence changes per run (default 50)
  --login-concurrency N  logins: concurrent HTTP requests (default 32)
  --login-iterations L   logins: PBKDF2 iteration counts, comma separated (default 10000,4096)
  --login-sources N      logins: client source addresses (default: --source-addresses; 1 = all behind one NAT)
  --source-addresses N   client source addresses 127.0.0.2..127.0.0.(N+1) (default 10)
  --sync full|normal     server storage.sqlite.synchronous (default: the server's default, full)
  --archive              run the server with the compliance archive on (modules.archive.enabled)
  --without M1,M2        run the server with these modules off (modules.<name>.enabled false), to see their cost
  --profile              run the server with --cpu-prof; profiles are kept and summarised
  --profile-dir DIR      where profiles go (default: a new temp dir)
  --heap-snapshot        idle: take server heap snapshots before/after connecting (kept with the profiles)
  --server PATH          server entry point to run (default dist/src/app/main.js; for A/B tests of a patched copy)
  --json-only            print only the JSON lines`;

const { values: argv } = parseArgs({
  options: {
    only: { type: 'string' },
    runs: { type: 'string' },
    connections: { type: 'string' },
    pairs: { type: 'string' },
    window: { type: 'string' },
    rate: { type: 'string' },
    sweep: { type: 'string' },
    'max-only': { type: 'boolean' },
    duration: { type: 'string' },
    'msg-procs': { type: 'string' },
    idle: { type: 'string' },
    'idle-procs': { type: 'string' },
    'idle-disconnect': { type: 'boolean' },
    'idle-settle': { type: 'string' },
    subscribers: { type: 'string' },
    iterations: { type: 'string' },
    'login-concurrency': { type: 'string' },
    'login-iterations': { type: 'string' },
    'login-sources': { type: 'string' },
    'source-addresses': { type: 'string' },
    sync: { type: 'string' },
    archive: { type: 'boolean' },
    without: { type: 'string' },
    profile: { type: 'boolean' },
    'profile-dir': { type: 'string' },
    'heap-snapshot': { type: 'boolean' },
    server: { type: 'string' },
    'json-only': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const int = (v: string | undefined, dflt: number, name: string): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} needs a positive integer\n`);
    process.exit(2);
  }
  return n;
};
const connections = argv.connections === undefined ? undefined : int(argv.connections, 0, 'connections');
const ALL = ['messages', 'idle', 'fanout', 'logins'] as const;
type ScenarioName = (typeof ALL)[number];
const only = (argv.only ?? ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const s of only) {
  if (!(ALL as readonly string[]).includes(s)) {
    process.stderr.write(`unknown scenario "${s}" (known: ${ALL.join(', ')})\n`);
    process.exit(2);
  }
}
const opts = {
  runs: int(argv.runs, 3, 'runs'),
  pairs: int(argv.pairs, connections ? Math.max(1, Math.floor(connections / 2)) : 200, 'pairs'),
  window: int(argv.window, 16, 'window'),
  rate: argv.rate === undefined ? null : int(argv.rate, 0, 'rate'),
  maxOnly: argv['max-only'] === true,
  sweep: (argv.sweep ?? '').split(',').filter(Boolean).map((x) => int(x, 0, 'sweep')),
  durationMs: int(argv.duration, 8, 'duration') * 1000,
  msgProcs: int(argv['msg-procs'], 1, 'msg-procs'),
  idle: int(argv.idle, connections ?? 10_000, 'idle'),
  idleProcs: 0,
  idleDisconnect: argv['idle-disconnect'] === true,
  idleSettleSec: int(argv['idle-settle'], 20, 'idle-settle'),
  subscribers: int(argv.subscribers, connections ?? 500, 'subscribers'),
  iterations: int(argv.iterations, 50, 'iterations'),
  loginConcurrency: int(argv['login-concurrency'], 32, 'login-concurrency'),
  loginIterations: (argv['login-iterations'] ?? '10000,4096').split(',').map((s) => int(s, 0, 'login-iterations')),
  sourceAddresses: Math.min(250, int(argv['source-addresses'], 10, 'source-addresses')),
  loginSources: 0,
  sync: argv.sync ?? null,
  archive: argv.archive === true,
  without: (argv.without ?? '').split(',').filter((m) => /^[a-z]+$/.test(m)),
  profile: argv.profile === true,
  heapSnapshot: argv['heap-snapshot'] === true,
  jsonOnly: argv['json-only'] === true,
  server: argv.server,
};
opts.loginSources = Math.min(250, int(argv['login-sources'], opts.sourceAddresses, 'login-sources'));
opts.idleProcs = int(argv['idle-procs'], Math.max(2, Math.ceil(opts.idle / 8000)), 'idle-procs');
if (opts.sync !== null && opts.sync !== 'full' && opts.sync !== 'normal') {
  process.stderr.write('--sync is full or normal\n');
  process.exit(2);
}
const profileDir = opts.profile || opts.heapSnapshot ? (argv['profile-dir'] ?? mkdtempSync(join(tmpdir(), 'parley-prof-'))) : null;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const log = (s: string): void => {
  if (!opts.jsonOnly) process.stderr.write(`${s}\n`);
};

// ---------------------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------------------

/** A forked load process with a message inbox. */
class Load {
  private readonly inbox: Array<Record<string, unknown>> = [];
  private waiter: (() => void) | null = null;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(script: string) {
    this.child = fork(fileURLToPath(new URL(script, import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.on('message', (m) => {
      this.inbox.push(m as Record<string, unknown>);
      this.waiter?.();
    });
    void this.exited.then(() => this.waiter?.());
  }
  send(m: unknown): void {
    this.child.send(m as object);
  }
  /** The next message of the given type; rejects on an error report, on exit or after `ms`. */
  async next<T = Record<string, unknown>>(type: string, ms = 300_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const m = this.inbox.splice(i, 1)[0]!;
        if (m.type === 'error') throw new Error(`load process failed: ${String(m.message)}`);
        return m as T;
      }
      if (this.child.exitCode !== null) throw new Error(`load process exited (${this.child.exitCode}) while waiting for ${type}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${type} from a load process`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 500);
      });
      this.waiter = null;
    }
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) this.send({ cmd: 'exit' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seeds a fresh database, starts a server on it, runs `body`, and always stops and cleans up. */
async function withServer<T>(seed: Seed, env: Record<string, string>, body: (s: ServerProc, users: Awaited<ReturnType<typeof seedDatabase>>['users']) => Promise<T>): Promise<T> {
  const db = await seedDatabase(seed);
  const serverEnv = {
    ...env,
    ...(opts.sync ? { PARLEY_STORAGE__SQLITE__SYNCHRONOUS: opts.sync } : {}),
    ...(opts.archive ? { PARLEY_MODULES__ARCHIVE__ENABLED: 'true' } : {}),
    ...Object.fromEntries(opts.without.map((m) => [`PARLEY_MODULES__${m.toUpperCase()}__ENABLED`, 'false'])),
  };
  const nodeFlags = [...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(opts.heapSnapshot ? ['--heapsnapshot-signal=SIGUSR2'] : [])];
  let server: ServerProc | null = null;
  try {
    server = await startServer({ dir: db.dir, dbPath: db.dbPath, env: serverEnv, nodeFlags, ...(opts.server ? { main: resolve(opts.server) } : {}) });
    return await body(server, db.users);
  } finally {
    // A profile is written only when the process exits by itself, so profiling needs the graceful stop.
    await server?.stop(opts.profile);
    try {
      if (server && opts.archive) {
        const j = journalState(db.dbPath);
        log(`  archive: ${j.entries} journal entries, ${j.indexed} of them in the search index when the server stopped`);
      }
    } finally {
      rmSync(db.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Entries in the archive's journal of a stopped server's database (shows that the archive really ran), and how
 * many the search index had reached (it yields to live traffic and catches up afterwards).
 */
function journalState(dbPath: string): { entries: number; indexed: number } {
  const db = new Database(dbPath);
  try {
    const entries = db.prepare<[], number>('SELECT COUNT(*) FROM archive_journal').pluck().get() ?? 0;
    const indexed = db.prepare<[], number>('SELECT indexed FROM archive_index_state WHERE id = 1').pluck().get() ?? 0;
    return { entries, indexed };
  } finally {
    db.close();
  }
}

/** CPU use of a process between two points, as a percentage of one core. */
function cpuMeter(pid: number): () => number {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  return () => round(((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------------------

interface MessagesRun {
  maxAckedPerSec: number;
  maxDeliveredPerSec: number;
  maxRate: number;
  maxServerCpuPct: number;
  maxLoadCpuPct: number;
  pacedRate: number;
  pacedDeliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  p99FromScheduleMs: number;
  pacedServerCpuPct: number;
  pacedLoadCpuPct: number;
  failed: number;
  /** 1 when every request was answered and every message delivered after each phase, else 0. */
  drained: number;
}

async function messagesRun(): Promise<MessagesRun> {
  const P = opts.pairs;
  const locals: string[] = [];
  for (let i = 0; i < P; i++) locals.push(`s${i}`, `r${i}`);
  return withServer({ users: locals }, {}, async (server, users) => {
    const procs = Math.min(opts.msgProcs, P);
    const loads: Load[] = [];
    for (let p = 0; p < procs; p++) {
      const pairs = [];
      for (let i = p; i < P; i += procs) pairs.push({ sender: users.get(`s${i}`)!, receiver: users.get(`r${i}`)! });
      const l = new Load('./load-messages.js');
      l.send({ cmd: 'init', wsUrl: server.wsUrl, pairs, window: opts.window, sourceAddresses: opts.sourceAddresses, connOffset: p * 2 * pairs.length, bodyBytes: 100 });
      loads.push(l);
    }
    try {
      await Promise.all(loads.map((l) => l.next('ready')));
      await sleep(1000);

      // Phase 1: closed loop, maximum rate.
      const warmupMs = 3000;
      for (const l of loads) l.send({ cmd: 'max', warmupMs, measureMs: opts.durationMs, window: opts.window });
      await Promise.all(loads.map((l) => l.next('window-start')));
      const sCpu = cpuMeter(server.pid);
      const lCpu = loads.map((l) => cpuMeter(l.child.pid!));
      await Promise.all(loads.map((l) => l.next('window-end')));
      const maxServerCpuPct = sCpu();
      const maxLoadCpuPct = lCpu.reduce((a, f) => a + f(), 0);
      const maxRes = await Promise.all(loads.map((l) => l.next<{ ackedPerSec: number; deliveredPerSec: number; failed: number; lastError: string; drained: boolean }>('result')));
      const acked = maxRes.reduce((a, r) => a + r.ackedPerSec, 0);
      const delivered = maxRes.reduce((a, r) => a + r.deliveredPerSec, 0);
      const maxRate = Math.min(acked, delivered);
      const failedMax = maxRes.reduce((a, r) => a + r.failed, 0);
      if (failedMax > 0) log(`  max phase: ${failedMax} requests failed (${maxRes.map((r) => r.lastError).filter(Boolean)[0]})`);
      log(`  max: ${acked} acked/s, ${delivered} delivered/s (server CPU ${maxServerCpuPct}%, load CPU ${maxLoadCpuPct}%)`);

      // Phase 2: open loop at half of it (or --rate), then any --sweep rates.
      type Lat = { p50: number; p99: number; max: number };
      type PacedResult = { deliveredPerSec: number; failed: number; lastError: string; drained: boolean; latency: Lat; latencyFromSchedule: Lat };
      const pacedPhase = async (rate: number): Promise<{ paced: PacedResult[]; serverCpu: number; loadCpu: number }> => {
        await sleep(1500);
        for (const l of loads) l.send({ cmd: 'paced', rate: rate / loads.length, warmupMs: 2000, measureMs: opts.durationMs });
        await Promise.all(loads.map((l) => l.next('window-start')));
        const sCpu2 = cpuMeter(server.pid);
        const lCpu2 = loads.map((l) => cpuMeter(l.child.pid!));
        await Promise.all(loads.map((l) => l.next('window-end')));
        const serverCpu = sCpu2();
        const loadCpu = lCpu2.reduce((a, f) => a + f(), 0);
        const paced = await Promise.all(loads.map((l) => l.next<PacedResult>('result')));
        return { paced, serverCpu, loadCpu };
      };
      // With several load processes each reports its own percentiles; the worst one is taken (conservative).
      const worst = (paced: PacedResult[], f: (r: PacedResult) => number): number => Math.max(...paced.map(f));
      const pacedRate = opts.rate ?? Math.max(1, Math.round(maxRate / 2));
      if (opts.maxOnly) {
        const nan = Number.NaN;
        return { maxAckedPerSec: acked, maxDeliveredPerSec: delivered, maxRate, maxServerCpuPct, maxLoadCpuPct, pacedRate: nan, pacedDeliveredPerSec: nan, p50Ms: nan, p99Ms: nan, maxMs: nan, p99FromScheduleMs: nan, pacedServerCpuPct: nan, pacedLoadCpuPct: nan, failed: failedMax, drained: maxRes.every((r) => r.drained) ? 1 : 0 };
      }
      const main = await pacedPhase(pacedRate);
      const paced = main.paced;
      const res: MessagesRun = {
        maxAckedPerSec: acked,
        maxDeliveredPerSec: delivered,
        maxRate,
        maxServerCpuPct,
        maxLoadCpuPct,
        pacedRate,
        pacedDeliveredPerSec: paced.reduce((a, r) => a + r.deliveredPerSec, 0),
        p50Ms: worst(paced, (r) => r.latency.p50),
        p99Ms: worst(paced, (r) => r.latency.p99),
        maxMs: worst(paced, (r) => r.latency.max),
        p99FromScheduleMs: worst(paced, (r) => r.latencyFromSchedule.p99),
        pacedServerCpuPct: main.serverCpu,
        pacedLoadCpuPct: main.loadCpu,
        failed: failedMax + paced.reduce((a, r) => a + r.failed, 0),
        drained: maxRes.every((r) => r.drained) && paced.every((r) => r.drained) ? 1 : 0,
      };
      log(`  paced ${pacedRate}/s: delivered ${res.pacedDeliveredPerSec}/s, latency p50 ${res.p50Ms} ms p99 ${res.p99Ms} ms max ${res.maxMs} ms (server CPU ${main.serverCpu}%, load CPU ${main.loadCpu}%)`);
      for (const rate of opts.sweep) {
        const ph = await pacedPhase(rate);
        const r = res as unknown as Record<string, number>;
        r[`sweep${rate}P50Ms`] = worst(ph.paced, (x) => x.latency.p50);
        r[`sweep${rate}P99Ms`] = worst(ph.paced, (x) => x.latency.p99);
        r[`sweep${rate}ServerCpuPct`] = ph.serverCpu;
        log(`  sweep ${rate}/s: latency p50 ${r[`sweep${rate}P50Ms`]} ms p99 ${r[`sweep${rate}P99Ms`]} ms (server CPU ${ph.serverCpu}%)`);
      }
      return res;
    } finally {
      await Promise.all(loads.map((l) => l.stop()));
    }
  });
}

/** Makes the server write a heap snapshot (SIGUSR2) into its cwd and moves it to the profile dir. */
async function heapSnapshot(server: ServerProc, label: string): Promise<string> {
  const before = new Set(readdirSync(server.dir));
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    const f = readdirSync(server.dir).find((x) => x.endsWith('.heapsnapshot') && !before.has(x));
    if (f) {
      // The file is complete once it ends the JSON document and its size stops changing.
      let size = -1;
      for (;;) {
        const now = statSync(join(server.dir, f)).size;
        if (now === size && now > 0 && readFileSync(join(server.dir, f)).subarray(-8).toString().trimEnd().endsWith(']}')) break;
        size = now;
        await sleep(500);
      }
      const dest = join(profileDir!, `${label}-${f}`);
      renameSync(join(server.dir, f), dest);
      return dest;
    }
  }
  throw new Error('the server wrote no heap snapshot');
}

interface IdleRun {
  connections: number;
  failed: number;
  connectSec: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerConnection: number;
  heapBeforeKiB: number;
  heapAfterKiB: number;
  heapKiBPerConnection: number;
  disconnectSec?: number;
  disconnectWorstHealthMs?: number;
}

async function idleRun(): Promise<IdleRun> {
  const N = opts.idle;
  const WARM = 200;
  const locals: string[] = [];
  for (let i = 0; i < N + WARM; i++) locals.push(`i${i}`);
  const env = { PARLEY_SESSIONS__HEARTBEAT_SECONDS: '3600', PARLEY_SESSIONS__HELLO_TIMEOUT_SECONDS: '600' };
  return withServer({ users: locals }, env, async (server, users) => {
    const tokens = locals.map((l) => users.get(l)!.token);
    // Warm-up: connect and drop a few hundred sessions so code is compiled and pools are allocated.
    const warm = new Load('./load-idle.js');
    warm.send({ cmd: 'init', wsUrl: server.wsUrl, tokens: tokens.slice(N), sourceAddresses: opts.sourceAddresses, connOffset: N, concurrency: 50 });
    await warm.next('ready');
    await warm.stop();
    await sleep(3000);
    const sample = async (): Promise<{ rss: number; heap: number }> => {
      const r: number[] = [];
      for (let i = 0; i < 3; i++) {
        r.push(rssKiB(server.pid));
        await sleep(500);
      }
      const heap = (await serverHeap(server.baseUrl)).heapUsedKiB;
      return { rss: spread(r).median, heap };
    };
    const snapBefore = opts.heapSnapshot ? await heapSnapshot(server, 'idle-before') : null;
    const before = await sample();

    const procs = opts.idleProcs;
    const loads: Load[] = [];
    const t0 = performance.now();
    const per = Math.ceil(N / procs);
    for (let p = 0; p < procs; p++) {
      const l = new Load('./load-idle.js');
      l.send({ cmd: 'init', wsUrl: server.wsUrl, tokens: tokens.slice(p * per, Math.min(N, (p + 1) * per)), sourceAddresses: opts.sourceAddresses, connOffset: p * per, concurrency: 100 });
      loads.push(l);
    }
    try {
      const ready = await Promise.all(loads.map((l) => l.next<{ connected: number; failed: number; lastError: string }>('ready', 600_000)));
      const connectSec = round((performance.now() - t0) / 1000, 1);
      const connected = ready.reduce((a, r) => a + r.connected, 0);
      const failed = ready.reduce((a, r) => a + r.failed, 0);
      if (failed > 0) log(`  ${failed} connections failed: ${ready.map((r) => r.lastError).filter(Boolean)[0]}`);
      // Idle memory, not the connection storm's garbage: 5 s after connecting, the heap still held it (twice the
      // live figure without --optimize-for-size); V8's memory reducer starts 8 s after allocation stops.
      await sleep(opts.idleSettleSec * 1000);
      const after = await sample();
      if (snapBefore) {
        const snapAfter = await heapSnapshot(server, 'idle-after');
        log(`  heap snapshots: ${snapBefore} ${snapAfter}\n  compare: node dist/bench/heap-summary.js ${snapBefore} ${snapAfter} --per ${N}`);
      }
      for (const l of loads) l.send({ cmd: 'status' });
      const st = await Promise.all(loads.map((l) => l.next<{ open: number }>('status')));
      const open = st.reduce((a, s) => a + s.open, 0);
      const res: IdleRun = {
        connections: open,
        failed,
        connectSec,
        rssBeforeKiB: before.rss,
        rssAfterKiB: after.rss,
        kibPerConnection: round((after.rss - before.rss) / Math.max(1, connected), 2),
        heapBeforeKiB: round(before.heap, 0),
        heapAfterKiB: round(after.heap, 0),
        heapKiBPerConnection: round((after.heap - before.heap) / Math.max(1, connected), 2),
      };
      log(`  ${open} open (${failed} failed) in ${connectSec} s; RSS ${before.rss} → ${after.rss} KiB = ${res.kibPerConnection} KiB/conn; heap ${res.heapKiBPerConnection} KiB/conn`);
      if (opts.idleDisconnect) {
        // Mass disconnect (a network blip): drop every client at once and time how long the server needs until
        // /health reports no sessions, and the longest a /health request waited meanwhile (event-loop stall).
        const t1 = performance.now();
        await Promise.all(loads.map((l) => l.stop()));
        let worstHealthMs = 0;
        for (;;) {
          const q = performance.now();
          const h = (await (await fetch(`${server.baseUrl}/health`)).json()) as { sessions: number };
          worstHealthMs = Math.max(worstHealthMs, performance.now() - q);
          if (h.sessions === 0) break;
          await sleep(20);
        }
        res.disconnectSec = round((performance.now() - t1) / 1000, 2);
        res.disconnectWorstHealthMs = round(worstHealthMs, 0);
        log(`  mass disconnect: all sessions gone after ${res.disconnectSec} s; slowest /health meanwhile ${res.disconnectWorstHealthMs} ms`);
      }
      return res;
    } finally {
      // Kill the server before the clients: a mass disconnect would make it write last-seen for every user.
      if (!opts.profile) await server.stop(false);
      await Promise.all(loads.map((l) => l.stop()));
    }
  });
}

interface FanoutRun {
  connected: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  firstP50Ms: number;
  replyP50Ms: number;
  timeouts: number;
}

async function fanoutRun(): Promise<FanoutRun> {
  const S = opts.subscribers;
  const subs = Array.from({ length: S }, (_, i) => `f${i}`);
  const seed: Seed = { users: ['star', ...subs], subscriptions: subs.map((s) => ['star', s] as [string, string]) };
  return withServer(seed, {}, async (server, users) => {
    const l = new Load('./load-fanout.js');
    try {
      l.send({
        cmd: 'init',
        wsUrl: server.wsUrl,
        star: users.get('star')!,
        subscribers: subs.map((s) => users.get(s)!.token),
        sourceAddresses: opts.sourceAddresses,
        iterations: opts.iterations,
        warmup: 5,
        gapMs: 50,
      });
      type Sum = { p50: number; p99: number; max: number };
      const r = await l.next<{ subscribers: number; timeouts: number; last: Sum; first: Sum; reply: Sum }>('result');
      const res: FanoutRun = {
        connected: r.subscribers,
        p50Ms: r.last.p50,
        p99Ms: r.last.p99,
        maxMs: r.last.max,
        firstP50Ms: r.first.p50,
        replyP50Ms: r.reply.p50,
        timeouts: r.timeouts,
      };
      log(`  ${r.subscribers} subscribers: last received p50 ${res.p50Ms} ms p99 ${res.p99Ms} ms (first p50 ${res.firstP50Ms} ms, reply p50 ${res.replyP50Ms} ms, timeouts ${r.timeouts})`);
      return res;
    } finally {
      await l.stop();
    }
  });
}

interface LoginsRun {
  loginsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuPct: number;
  failed: number;
}

async function loginsRun(iterations: number): Promise<LoginsRun> {
  const locals = Array.from({ length: 64 }, (_, i) => `l${i}`);
  const env = { PARLEY_AUTH__SCRAM_ITERATIONS: String(iterations) };
  return withServer({ users: locals, iterations, tokens: false }, env, async (server, users) => {
    const l = new Load('./load-logins.js');
    try {
      l.send({
        cmd: 'init',
        baseUrl: server.baseUrl,
        users: locals.map((u) => ({ address: users.get(u)!.address, password: users.get(u)!.password })),
        concurrency: opts.loginConcurrency,
        sources: opts.loginSources,
        warmupMs: 2000,
        measureMs: opts.durationMs,
      });
      await l.next('window-start');
      const cpu = cpuMeter(server.pid);
      await l.next('window-end');
      const serverCpuPct = cpu();
      const r = await l.next<{ loginsPerSec: number; failed: number; lastError: string; latency: { p50: number; p99: number } }>('result');
      if (r.failed > 0) log(`  ${r.failed} logins failed: ${r.lastError}`);
      log(`  ${iterations} iterations: ${r.loginsPerSec} logins/s, p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms (server CPU ${serverCpuPct}%)`);
      return { loginsPerSec: r.loginsPerSec, p50Ms: r.latency.p50, p99Ms: r.latency.p99, serverCpuPct, failed: r.failed };
    } finally {
      await l.stop();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

/** Runs `fn` opts.runs times and reports median/min/max of every numeric field. */
async function repeat<T extends object>(label: string, fn: () => Promise<T>): Promise<{ runs: T[]; stats: Record<string, Spread> }> {
  const runs: T[] = [];
  for (let i = 0; i < opts.runs; i++) {
    log(`${label}: run ${i + 1}/${opts.runs}`);
    runs.push(await fn());
  }
  const stats: Record<string, Spread> = {};
  for (const k of Object.keys(runs[0] ?? {})) {
    const vals = runs.map((r) => (r as Record<string, unknown>)[k]);
    if (vals.every((v) => typeof v === 'number')) stats[k] = spread(vals as number[]);
  }
  return { runs, stats };
}

const fmt = (s: Spread | undefined, unit = ''): string => (s ? `${s.median}${unit} (${s.min}–${s.max})` : 'n/a');

async function main(): Promise<void> {
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
  };
  log(`Parley bench on ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, node ${machine.node}; ${opts.runs} run(s) per scenario`);
  const table: Array<[string, string, string, string]> = [];
  const goal = (ok: boolean): string => (ok ? 'met' : 'MISSED');

  for (const name of only as ScenarioName[]) {
    const load = (): number[] => loadavg().map((x) => round(x, 2));
    const loadStart = load();
    const noise = (): { loadavgStart: number[]; loadavgEnd: number[] } => ({ loadavgStart: loadStart, loadavgEnd: load() });
    if (name === 'messages') {
      const r = await repeat('messages', messagesRun);
      const s = r.stats;
      const out = { scenario: 'messages', archive: opts.archive, pairs: opts.pairs, window: opts.window, durationSec: opts.durationMs / 1000, loadProcesses: opts.msgProcs, ...s, machine, ...noise() };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      table.push(['messages max rate (acked & delivered)', fmt(s.maxRate, '/s'), '≥ 20000/s', goal((s.maxRate?.median ?? 0) >= 20_000)]);
      table.push([`messages p50 @ ${s.pacedRate?.median}/s paced`, fmt(s.p50Ms, ' ms'), '', '']);
      table.push([`messages p99 @ ${s.pacedRate?.median}/s paced`, fmt(s.p99Ms, ' ms'), '< 50 ms', goal((s.p99Ms?.median ?? Infinity) < 50)]);
      for (const rate of opts.sweep) table.push([`messages p50 / p99 @ ${rate}/s paced`, `${fmt(s[`sweep${rate}P50Ms`], ' ms')} / ${fmt(s[`sweep${rate}P99Ms`], ' ms')}`, '', '']);
    } else if (name === 'idle') {
      const r = await repeat('idle', idleRun);
      const s = r.stats;
      const out = { scenario: 'idle', connections: opts.idle, loadProcesses: opts.idleProcs, settleSec: opts.idleSettleSec, ...s, machine, ...noise() };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      table.push([`idle RSS per connection (${opts.idle})`, fmt(s.kibPerConnection, ' KiB'), '≤ 8 KiB', goal((s.kibPerConnection?.median ?? Infinity) <= 8)]);
      table.push(['idle server RSS before → after', `${s.rssBeforeKiB?.median} → ${s.rssAfterKiB?.median} KiB`, '', '']);
      table.push(['idle JS heap per connection', fmt(s.heapKiBPerConnection, ' KiB'), '', '']);
    } else if (name === 'fanout') {
      const r = await repeat('fanout', fanoutRun);
      const s = r.stats;
      const out = { scenario: 'fanout', subscribers: opts.subscribers, iterations: opts.iterations, ...s, machine, ...noise() };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      table.push([`fan-out to ${opts.subscribers}, p50`, fmt(s.p50Ms, ' ms'), '< 20 ms', goal((s.p50Ms?.median ?? Infinity) < 20)]);
      table.push([`fan-out to ${opts.subscribers}, p99`, fmt(s.p99Ms, ' ms'), '< 20 ms', goal((s.p99Ms?.median ?? Infinity) < 20)]);
    } else if (name === 'logins') {
      for (const it of opts.loginIterations) {
        const loadStartLogins = load();
        const r = await repeat(`logins (${it} iterations)`, () => loginsRun(it));
        const s = r.stats;
        const out = { scenario: 'logins', iterations: it, concurrency: opts.loginConcurrency, sourceAddresses: opts.loginSources, durationSec: opts.durationMs / 1000, ...s, machine, loadavgStart: loadStartLogins, loadavgEnd: load() };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        table.push([`logins/s, ${it} iterations, c=${opts.loginConcurrency}, ${opts.loginSources} src`, fmt(s.loginsPerSec, '/s'), '', '']);
      }
    }
  }

  if (!opts.jsonOnly) {
    const w = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => row[i].length), [10, 6, 4, 4][i]!));
    const line = (row: string[]): string => row.map((c, i) => c.padEnd(w[i]!)).join('  ');
    process.stderr.write(`\n${line(['scenario', 'median (min–max)', 'goal', 'met'])}\n${line(w.map((n) => '-'.repeat(n)))}\n`);
    for (const row of table) process.stderr.write(`${line(row)}\n`);
    if (opts.profile) {
      const files = readdirSync(profileDir!).filter((f) => f.endsWith('.cpuprofile'));
      process.stderr.write(`\nCPU profiles of the server (${files.length}) in ${profileDir}\nsummarise one with: node dist/bench/profile-summary.js <file>\n`);
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
