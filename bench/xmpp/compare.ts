/**
 * `npm run bench:xmpp`: the same Tsung XMPP scenario against Parley, Prosody and ejabberd, one server after the
 * other on this machine, each from a fresh temp dir with the same accounts, and a table of what Tsung measured
 * plus each server's peak RSS. See bench/xmpp/README.md for what is measured and how each server is set up.
 *
 *   npm run bench:xmpp                                          default scale, all three servers
 *   npm run bench:xmpp -- --servers prosody,ejabberd --users 500 --arrival 25 --duration 20
 *   npm run bench:xmpp -- --sweep 50,100,200,400 --ramp 40      step up the arrival rate until all saturate
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds } from '../lib/server.js';
import { spread, type Spread } from '../lib/stats.js';
import { parleyTarget } from './parley.js';
import { chooseTargets, packageVersion, type Target } from './peers.js';
import { cpuTicksByProcess, log, machineInfo, numberOption, openFileLimit, peerPasswordsOption, run, RssSampler, runScript, sleep, topCpuUsers } from './proc.js';
import { activeRun, withServer, type RunFailure } from './server-run.js';
import { arrivalSeconds, findDtd, readTsungResults, runTsung, type Scenario, type Timing, type TsungFigures } from './tsung.js';

const HELP = `usage: npm run bench:xmpp -- [options]
  --servers LIST      servers to run, in order (default parley,prosody,ejabberd)
  --users N           sessions per run; session k logs in as its own account, user1..userN (default 3000)
  --arrival R         new users per second (default 50)
  --duration S        seconds each user stays online after logging in (default 30)
  --chats N           chats each user sends to other online users while online (default 10)
  --chat-size B       chat body size in bytes (default 100)
  --runs N            runs per server and rate; the table shows medians (default 1)
  --sweep LIST        arrival rates to step through, ascending, e.g. 50,100,200,400; each step runs
                      rate x ramp users; a server that saturates is not run at higher rates, and the
                      sweep ends when every server has saturated
  --ramp S            seconds of arrivals per sweep step (default users/arrival)
  --slo-ms MS         p99 of connect, auth or roster above this marks a run saturated (default 1000)
  --iterations N      PBKDF2 iterations of stored credentials (default 4096, the RFC 7677 minimum;
                      ejabberd 23.01 always uses 4096)
  --peer-passwords P  how Prosody and ejabberd store passwords: hashed (default: SCRAM-SHA-256
                      credentials, as Parley) or plain (plain text, compared as strings)
  --parley-sync MODE  Parley's storage.sqlite.synchronous: full (its default) or normal
  --parley-profile DIR  run Parley with --cpu-prof, writing its CPU profiles to DIR
  --parley-node-flags F  more Node.js flags for Parley, space separated (after those of npm start)
  --idle-timeout MS   how long Tsung waits for an answer before error_timeout (default 30000)
  --source-addresses N  users connect from 127.0.0.2 .. 127.0.0.(N+1), round-robin (default 10;
                      1 = all from 127.0.0.1, as if behind one NAT)
  --out FILE          JSON results (default: .bench/xmpp-bench-<date>.json)
  --keep              keep every run's temp dir (configs, server logs, Tsung logs)`;

const { values: argv } = parseArgs({
  options: {
    servers: { type: 'string' },
    users: { type: 'string' },
    arrival: { type: 'string' },
    duration: { type: 'string' },
    chats: { type: 'string' },
    'chat-size': { type: 'string' },
    runs: { type: 'string' },
    sweep: { type: 'string' },
    ramp: { type: 'string' },
    'slo-ms': { type: 'string' },
    iterations: { type: 'string' },
    'parley-sync': { type: 'string' },
    'parley-profile': { type: 'string' },
    'parley-node-flags': { type: 'string' },
    'peer-passwords': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'source-addresses': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const num = numberOption(HELP);

const USERS = Math.round(num('users', argv.users, 3000, 2));
const ARRIVAL = num('arrival', argv.arrival, 50, 0.1);
const ONLINE = num('duration', argv.duration, 30, 1);
const CHATS = Math.round(num('chats', argv.chats, 10, 0));
const CHAT_SIZE = Math.round(num('chat-size', argv['chat-size'], 100, 1));
const RUNS = Math.round(num('runs', argv.runs, 1, 1));
const RAMP = num('ramp', argv.ramp, USERS / ARRIVAL, 1);
const SLO_MS = num('slo-ms', argv['slo-ms'], 1000, 1);
const ITERATIONS = Math.round(num('iterations', argv.iterations, 4096, 4096));
const IDLE_TIMEOUT = Math.round(num('idle-timeout', argv['idle-timeout'], 30_000, 1000));
const SOURCES = Math.round(num('source-addresses', argv['source-addresses'], 10, 1));
if (SOURCES > 250) {
  process.stderr.write('--source-addresses is at most 250\n');
  process.exit(2);
}
const SOURCE_ADDRESSES = SOURCES === 1 ? ['127.0.0.1'] : Array.from({ length: SOURCES }, (_, i) => `127.0.0.${i + 2}`);
const SWEEP = argv.sweep
  ?.split(',')
  .map((s) => Number(s.trim()))
  .sort((a, b) => a - b);
if (SWEEP && (SWEEP.length === 0 || SWEEP.some((r) => !Number.isFinite(r) || r <= 0))) {
  process.stderr.write(`--sweep takes positive arrival rates, e.g. 50,100,200\n`);
  process.exit(2);
}
const PARLEY_SYNC = argv['parley-sync'];
if (PARLEY_SYNC !== undefined && PARLEY_SYNC !== 'full' && PARLEY_SYNC !== 'normal') {
  process.stderr.write('--parley-sync is full or normal\n');
  process.exit(2);
}
const PEER_PASSWORDS = peerPasswordsOption(argv['peer-passwords']);
const DOMAIN = 'localhost';

const { all: ALL_TARGETS, chosen: SERVERS } = chooseTargets(
  parleyTarget({ iterations: ITERATIONS, sync: PARLEY_SYNC as 'full' | 'normal' | undefined, ...(argv['parley-profile'] ? { profileDir: resolve(argv['parley-profile']) } : {}),
    nodeFlags: (argv['parley-node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
  }),
  { passwords: PEER_PASSWORDS, iterations: ITERATIONS },
  argv.servers,
);

// ---------------------------------------------------------------------------------------------------------------
// One run of one server
// ---------------------------------------------------------------------------------------------------------------

interface RunOk {
  status: 'ok';
  rate: number;
  users: number;
  setupSeconds: number;
  tsungSeconds: number;
  tsungExitOk: boolean;
  idleRssKiB: number;
  peakRssKiB: number;
  rssSamples: number;
  serverCpuSeconds: number;
  machineBusyCpuSeconds: number;
  /** Connection attempts the kernel dropped during the run because a listen queue was full. */
  listenQueueOverflows: number;
  /** The server process's soft limit on open files. */
  openFileLimit: number;
  loadavgBefore: number[];
  /** Share of all CPUs that processes other than the server kept busy during one second before Tsung started. */
  cpuBusyPercentBefore: number;
  figures: TsungFigures;
  keptDir?: string;
}
type RunNotOk = RunFailure & { rate: number; users: number };
type RunResult = RunOk | RunNotOk;

/** Busy CPU seconds of the whole machine so far (all CPUs; /proc/stat, idle and iowait excluded). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / 100;
}

/** The kernel's counters of connections dropped because a listen queue was full (all sockets, /proc/net/netstat). */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return Number.NaN;
  }
}

async function runOnce(target: Target, rate: number, users: number, maxUsers: number): Promise<RunResult> {
  let sampler: RssSampler | null = null;
  const res = await withServer(
    target,
    { prefix: 'xmpp-bench-', domain: DOMAIN, users, keep: argv.keep === true, beforeStop: () => sampler?.stop() },
    async ({ r, started, setupSeconds }): Promise<RunOk> => {
      const scenario: Scenario = {
        port: r.port,
        domain: DOMAIN,
        users,
        arrivalRate: rate,
        onlineSeconds: ONLINE,
        chats: CHATS,
        chatSize: CHAT_SIZE,
        userPrefix: 'user',
        passwordPrefix: 'pass',
        idleTimeoutMs: IDLE_TIMEOUT,
        maxUsers,
        sourceAddresses: SOURCE_ADDRESSES,
      };
      const fileLimit = openFileLimit(started.pid);
      const peakOnline = Math.min(users, Math.ceil(rate * (ONLINE + 5)));
      if (fileLimit < peakOnline + 200) log(`${target.name}: warning: its open-file limit is ${fileLimit}, about ${peakOnline} users may be online at once`);
      const loadavgBefore = loadavg().map((x) => Math.round(x * 100) / 100);
      // What the rest of the machine does while the server waits for Tsung: much above zero is someone else's work.
      const idleBusy0 = machineBusySeconds();
      const idleServer0 = cpuSeconds(started.pid);
      const procs0 = cpuTicksByProcess();
      await sleep(1000);
      const othersSeconds = machineBusySeconds() - idleBusy0 - (cpuSeconds(started.pid) - idleServer0);
      const busyBefore = Math.max(0, Math.round((othersSeconds / cpus().length) * 100));
      if (busyBefore > 20) {
        const top = topCpuUsers(procs0, cpuTicksByProcess(), 1).join(', ');
        log(`warning: other processes kept the CPUs ${busyBefore}% busy just before the run (busiest: ${top}): the figures may suffer`);
      }
      const cpu0 = cpuSeconds(started.pid);
      const busy0 = machineBusySeconds();
      const overflows0 = listenOverflows();
      sampler = new RssSampler(started.pid, 200);
      log(`${target.name}: ${users} users at ${rate}/s, setup ${setupSeconds.toFixed(1)} s, running Tsung (about ${arrivalSeconds(scenario) + ONLINE} s)`);
      const t = await runTsung(scenario, r.dir);
      const rss = sampler.stop();
      sampler = null;
      const serverCpuSeconds = cpuSeconds(started.pid) - cpu0;
      const machineBusyCpuSeconds = machineBusySeconds() - busy0;
      const listenQueueOverflows = listenOverflows() - overflows0;
      if (!t.ok) log(`${target.name}: tsung did not exit cleanly; its last output:\n${t.output.slice(-1500)}`);
      const figures = readTsungResults(t.logDir);
      for (const w of figures.warnings) log(`${target.name}: warning: ${w}`);
      return {
        status: 'ok',
        rate,
        users,
        setupSeconds: round1(setupSeconds),
        tsungSeconds: round1(t.seconds),
        tsungExitOk: t.ok,
        idleRssKiB: rss.firstKiB,
        peakRssKiB: rss.peakKiB,
        rssSamples: rss.samples,
        serverCpuSeconds: round1(serverCpuSeconds),
        machineBusyCpuSeconds: round1(machineBusyCpuSeconds),
        listenQueueOverflows,
        openFileLimit: fileLimit,
        loadavgBefore,
        cpuBusyPercentBefore: busyBefore,
        figures,
        ...(argv.keep ? { keptDir: r.dir } : {}),
      };
    },
  );
  return res.status === 'ok' ? res : { ...res, rate, users };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

// ---------------------------------------------------------------------------------------------------------------
// Medians, saturation, table
// ---------------------------------------------------------------------------------------------------------------

interface Summary {
  runs: number;
  loginsPerSec: Spread;
  arrivalsPerSec: Spread;
  deliveredPerSec: Spread;
  deliveredShare: Spread;
  connectMean: Spread;
  connectP99: Spread;
  authMean: Spread;
  authP99: Spread;
  bindMean: Spread;
  bindP99: Spread;
  rosterMean: Spread;
  rosterP99: Spread;
  msgLatencyMean: Spread;
  msgLatencyP99: Spread;
  peakRssMiB: Spread;
  idleRssMiB: Spread;
  serverCpuSeconds: Spread;
  machineBusyCpuSeconds: Spread;
  listenQueueOverflows: Spread;
  peakConnected: Spread;
  usersStarted: Spread;
  logins: Spread;
  errorTotal: Spread;
  authFailures: Spread;
  saturated: boolean;
  saturation: string[];
  /** Set when Tsung could not start users at the configured rate: the load generator was the limit. */
  generatorLimited: string | null;
}

function summarise(ok: RunOk[], rate: number, users: number): Summary {
  const s = (f: (r: RunOk) => number, digits = 2): Spread => spread(ok.map(f), digits);
  const t = (f: (x: TsungFigures) => Timing, k: 'mean' | 'p99'): Spread => s((r) => f(r.figures)[k]);
  const sum: Summary = {
    runs: ok.length,
    loginsPerSec: s((r) => r.figures.loginsPerSec),
    arrivalsPerSec: s((r) => r.figures.arrivalsPerSec),
    deliveredPerSec: s((r) => r.figures.deliveredPerSec),
    deliveredShare: s((r) => (r.figures.chatsSent ? (100 * r.figures.chatsDelivered) / r.figures.chatsSent : Number.NaN), 1),
    connectMean: t((x) => x.connect, 'mean'),
    connectP99: t((x) => x.connect, 'p99'),
    authMean: t((x) => x.auth, 'mean'),
    authP99: t((x) => x.auth, 'p99'),
    bindMean: t((x) => x.bind, 'mean'),
    bindP99: t((x) => x.bind, 'p99'),
    rosterMean: t((x) => x.roster, 'mean'),
    rosterP99: t((x) => x.roster, 'p99'),
    msgLatencyMean: t((x) => x.messageLatency, 'mean'),
    msgLatencyP99: t((x) => x.messageLatency, 'p99'),
    peakRssMiB: s((r) => r.peakRssKiB / 1024, 1),
    idleRssMiB: s((r) => r.idleRssKiB / 1024, 1),
    serverCpuSeconds: s((r) => r.serverCpuSeconds, 1),
    machineBusyCpuSeconds: s((r) => r.machineBusyCpuSeconds, 1),
    listenQueueOverflows: s((r) => r.listenQueueOverflows, 0),
    peakConnected: s((r) => r.figures.peakConnected, 0),
    usersStarted: s((r) => r.figures.usersStarted, 0),
    logins: s((r) => r.figures.logins, 0),
    errorTotal: s((r) => r.figures.errorTotal, 0),
    authFailures: s((r) => r.figures.authFailures, 0),
    saturated: false,
    saturation: [],
    generatorLimited: null,
  };
  // Saturation, judged on the medians: the server did not keep up with the offered load.
  const why = sum.saturation;
  const started = sum.usersStarted.median;
  if (started - sum.logins.median > 0.01 * started) why.push(`${started - sum.logins.median} of ${started} users did not log in`);
  if (sum.errorTotal.median > 0.01 * started) why.push(`${sum.errorTotal.median} Tsung errors`);
  if (sum.loginsPerSec.median < 0.9 * sum.arrivalsPerSec.median) {
    why.push(`logins/s ${sum.loginsPerSec.median} < 90% of the users' arrival rate (${sum.arrivalsPerSec.median}/s)`);
  }
  for (const [name, v] of [
    ['connect', sum.connectP99.median],
    ['auth', sum.authP99.median],
    ['roster', sum.rosterP99.median],
  ] as const) {
    if (v > SLO_MS) why.push(`${name} p99 ${v} ms > ${SLO_MS} ms`);
  }
  if (sum.deliveredShare.median < 95) why.push(`only ${sum.deliveredShare.median}% of sent chats counted as delivered`);
  sum.saturated = why.length > 0;
  // Tsung shares the machine: when it cannot even start users at the configured rate, the figures describe
  // the load generator's limit as much as the server's.
  if (sum.arrivalsPerSec.median < 0.8 * rate || sum.usersStarted.median < 0.98 * users) {
    sum.generatorLimited = `Tsung started ${sum.usersStarted.median} of ${users} users, at ${sum.arrivalsPerSec.median} of ${rate} users/s`;
  }
  return sum;
}

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const pair = (a: Spread, b: Spread): string => `${fmt(a.median, 1)} / ${fmt(b.median, 1)}`;

interface ServerRow {
  name: string;
  version: string;
  results: RunResult[];
  summary: Summary | null;
}

function table(rows: ServerRow[], rate: number, users: number): string {
  const cell = (row: ServerRow, f: (s: Summary) => string): string => {
    if (row.summary) return f(row.summary);
    const first = row.results[0];
    if (!first) return 'not run';
    if (first.status === 'unavailable') return 'not available';
    return 'failed';
  };
  const lines: Array<[string, (s: Summary) => string]> = [
    ['logins/s', (s) => `${fmt(s.loginsPerSec.median)} (arrivals ${fmt(s.arrivalsPerSec.median)}/s)`],
    ['chat messages/s delivered', (s) => `${fmt(s.deliveredPerSec.median)} (${fmt(s.deliveredShare.median)}% of sent)`],
    ['connect mean / p99 (ms)', (s) => pair(s.connectMean, s.connectP99)],
    ['auth (SASL PLAIN) mean / p99 (ms)', (s) => pair(s.authMean, s.authP99)],
    ['roster mean / p99 (ms)', (s) => pair(s.rosterMean, s.rosterP99)],
    ['peak RSS (MiB)', (s) => `${fmt(s.peakRssMiB.median)} (idle ${fmt(s.idleRssMiB.median)})`],
    ['bind + session mean / p99 (ms)', (s) => pair(s.bindMean, s.bindP99)],
    ['chat delivery latency mean / p99 (ms)', (s) => pair(s.msgLatencyMean, s.msgLatencyP99)],
    ['logged in / started users', (s) => `${fmt(s.logins.median, 0)} / ${fmt(s.usersStarted.median, 0)}`],
    ['peak connected users', (s) => fmt(s.peakConnected.median, 0)],
    ['Tsung errors (auth failures)', (s) => `${fmt(s.errorTotal.median, 0)} (${fmt(s.authFailures.median, 0)})`],
    ['SYNs dropped: listen queue full', (s) => fmt(s.listenQueueOverflows.median, 0)],
    ['server CPU s (machine busy CPU s)', (s) => `${fmt(s.serverCpuSeconds.median)} (${fmt(s.machineBusyCpuSeconds.median)})`],
    ['saturated', (s) => `${s.saturated ? `yes: ${s.saturation.join('; ')}` : 'no'}${s.generatorLimited ? ` (load generator limit: ${s.generatorLimited})` : ''}`],
  ];
  const head = `| ${users} users at ${rate}/s, ${ONLINE} s online, ${CHATS} chats each | ${rows.map((r) => `${r.name} ${r.version}`).join(' | ')} |`;
  const sep = `|---|${rows.map(() => '---').join('|')}|`;
  const body = lines.map(([label, f]) => `| ${label} | ${rows.map((r) => cell(r, f)).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

function notes(names: string[], problems: string[], runs: number): string {
  const out: string[] = [];
  out.push(
    `Medians over ${runs} run(s) per server (servers interleaved run by run). Means and p99 are computed from every ` +
      `individual Tsung sample (backend="fullstats"; p99 = nearest rank); Tsung itself prints no percentiles.`,
  );
  out.push(
    'connect = TCP connect + stream header until </stream:features>; auth = SASL PLAIN <auth/> until <success/>; ' +
      'bind + session = stream restart, resource bind and session; roster = roster get (empty rosters) until the result.',
  );
  out.push(
    PEER_PASSWORDS === 'hashed'
      ? `Passwords: Tsung logs in with SASL PLAIN. Every server stores SCRAM-SHA-256 credentials (Parley also ` +
          `SCRAM-SHA-1), not passwords: Parley and Prosody (internal_hashed) with ${ITERATIONS} PBKDF2 iterations, ` +
          `ejabberd (auth_password_format scram) with its fixed 4096; so each derives PBKDF2 for every PLAIN login.`
      : `Passwords: Tsung logs in with SASL PLAIN. Prosody (internal_plain) and ejabberd (auth_password_format plain) ` +
          `store plain-text passwords and compare strings; Parley stores only SCRAM credentials (${ITERATIONS} PBKDF2 ` +
          `iterations) and so derives PBKDF2 for every PLAIN login.`,
  );
  out.push(
    'Chats delivered/s: deliveries Tsung counted (xmpp_msg_latency samples, one per read that contains a stamped ' +
      'chat, so chats arriving in one read count once: a lower bound) per second over the span in which deliveries ' +
      'happened; logins/s likewise over the span of completed logins. With an unsaturated server both equal the offered load.',
  );
  out.push(
    `Peak RSS: VmRSS of the server process sampled every 200 ms during the run (idle = after setup, before Tsung). ` +
      `Tsung (Erlang) runs on the same ${cpus().length}-CPU machine and competes with the server for CPU; "machine busy CPU s" includes it.`,
  );
  out.push(
    `Users connect from ${SOURCE_ADDRESSES.length === 1 ? '127.0.0.1 only' : `${SOURCE_ADDRESSES.length} loopback addresses (${SOURCE_ADDRESSES[0]}…${SOURCE_ADDRESSES.at(-1)}) in turn`}.`,
  );
  out.push(
    `Saturated when more than 1% of users did not log in or hit Tsung errors, logins/s fell below 90% of the ` +
      `users' arrival rate (both counted over their 1-s intervals), a connect/auth/roster p99 exceeded ${SLO_MS} ms, or under 95% of sent chats were counted as delivered. ` +
      `"Load generator limit": Tsung started fewer than 98% of the users, or at under 80% of the configured rate. ` +
      `SYNs dropped: the kernel's ListenOverflows counter (machine-wide) over the run; each drop delays a connect by at least 1 s.`,
  );
  for (const name of names) out.push(ALL_TARGETS[name]!.describe);
  out.push(...problems);
  return out.map((n) => `- ${n}`).join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<{ out: string; json: unknown }> {
  if (!findDtd() || (await run('sh', ['-c', 'command -v tsung'])).code !== 0) {
    process.stderr.write('tsung is not installed (apt-get install tsung)\n');
    process.exit(2);
  }
  // Tsung inherits this process's open-file limit.
  const ownLimit = openFileLimit(process.pid);
  const maxUsers = Math.max(100, (Number.isFinite(ownLimit) ? ownLimit : 1024) - 1000);
  const rows: ServerRow[] = [];
  for (const name of SERVERS) {
    const t = ALL_TARGETS[name]!;
    const why = await t.check();
    rows.push({ name, version: why ? '' : await t.version(), results: why ? [{ status: 'unavailable', rate: 0, users: 0, reason: why }] : [], summary: null });
  }
  const rates = SWEEP ?? [ARRIVAL];
  const steps: Array<{ rate: number; users: number; servers: ServerRow[] }> = [];
  const saturatedAt = new Map<string, number>();
  const generatorLimitAt = new Map<string, number>();
  const unavailable = new Map<string, RunResult>();
  const output: string[] = [];
  const problems: string[] = [];

  for (const rate of rates) {
    const users = SWEEP ? Math.max(2, Math.round(rate * RAMP)) : USERS;
    const peak = Math.min(users, Math.ceil(rate * (ONLINE + 5)));
    if (peak > maxUsers) log(`warning: about ${peak} concurrent users, more than Tsung's per-VM limit here (${maxUsers}, from the open-file limit)`);
    const stepRows: ServerRow[] = rows.map((r) => {
      const gone = unavailable.get(r.name);
      return { name: r.name, version: r.version, results: gone ? [gone] : r.results.filter((x) => x.status === 'unavailable'), summary: null };
    });
    for (let i = 0; i < RUNS; i++) {
      for (const row of stepRows) {
        if (row.results.some((x) => x.status !== 'ok') || saturatedAt.has(row.name) || generatorLimitAt.has(row.name)) continue;
        log(`rate ${rate}/s, run ${i + 1}/${RUNS}: ${row.name}`);
        const res = await runOnce(ALL_TARGETS[row.name]!, rate, users, maxUsers);
        row.results.push(res);
        if (res.status === 'unavailable') unavailable.set(row.name, res);
        if (res.status === 'ok') {
          const f = res.figures;
          log(
            `${row.name}: logins ${f.logins}/${f.usersStarted} (${f.loginsPerSec}/s), chats ${f.chatsDelivered}/${f.chatsSent} delivered (${f.deliveredPerSec}/s), ` +
              `auth ${f.auth.mean}/${f.auth.p99} ms, errors ${f.errorTotal}, peak RSS ${(res.peakRssKiB / 1024).toFixed(1)} MiB` +
              (res.keptDir ? `, kept ${res.keptDir}` : ''),
          );
        } else log(`${row.name}: ${res.status}: ${res.reason.split('\n').slice(0, 4).join(' | ')}${res.keptDir ? ` (kept ${res.keptDir})` : ''}`);
      }
    }
    for (const row of stepRows) {
      const ok = row.results.filter((x): x is RunOk => x.status === 'ok');
      if (ok.length > 0 && ok.length === row.results.length) row.summary = summarise(ok, rate, users);
    }
    const ran = stepRows.filter((r) => r.results.length > 0);
    for (const row of ran) {
      for (const res of row.results) {
        if (res.status === 'ok') continue;
        const what = `${row.name} ${res.status === 'unavailable' ? 'not available' : `failed at ${rate}/s`}: ${res.reason.split('\n').slice(0, 3).join(' ')}`;
        if (!problems.includes(what)) problems.push(what);
      }
    }
    const text = `### ${users} users arriving at ${rate}/s\n\n${table(ran, rate, users)}\n`;
    output.push(text);
    process.stdout.write(`\n${text}\n`);
    steps.push({ rate, users, servers: stepRows });
    for (const row of stepRows) {
      // A run that failed outright (server crashed, Tsung found no log) ends that server's sweep as well.
      const failed = row.results.some((x) => x.status === 'failed');
      if ((row.summary?.saturated || failed) && !saturatedAt.has(row.name)) saturatedAt.set(row.name, rate);
      // Higher rates would measure Tsung, not the server.
      else if (row.summary?.generatorLimited && !generatorLimitAt.has(row.name)) generatorLimitAt.set(row.name, rate);
    }
    if (SWEEP) {
      const active = stepRows.filter((r) => r.summary && !saturatedAt.has(r.name) && !generatorLimitAt.has(r.name));
      if (active.length === 0) break;
    }
  }

  let sweepSummary:
    | Array<{ server: string; highestUnsaturated: number | null; saturatedAt: number | null; generatorLimitAt: number | null }>
    | undefined;
  if (SWEEP) {
    sweepSummary = rows.map((r) => {
      const okRates = steps
        .filter((st) => {
          const sum = st.servers.find((x) => x.name === r.name)?.summary;
          return sum && !sum.saturated && !sum.generatorLimited;
        })
        .map((st) => st.rate);
      return {
        server: r.name,
        highestUnsaturated: okRates.length ? Math.max(...okRates) : null,
        saturatedAt: saturatedAt.get(r.name) ?? null,
        generatorLimitAt: generatorLimitAt.get(r.name) ?? null,
      };
    });
    const lines = [
      '### Sweep',
      '',
      `| server | highest arrival rate without saturation (users/s) | first saturated at | Tsung could not keep up at |`,
      `|---|---|---|---|`,
      ...sweepSummary.map((s) => `| ${s.server} | ${s.highestUnsaturated ?? '–'} | ${s.saturatedAt ?? 'not reached'} | ${s.generatorLimitAt ?? '–'} |`),
      '',
    ].join('\n');
    output.push(lines);
    process.stdout.write(`\n${lines}\n`);
  }

  const ranNames = rows.filter((r) => steps.some((st) => (st.servers.find((x) => x.name === r.name)?.results.length ?? 0) > 0)).map((r) => r.name);
  const noteText = `Notes:\n\n${notes(ranNames, problems, RUNS)}\n`;
  output.push(noteText);
  process.stdout.write(`\n${noteText}\n`);

  const out = resolve(argv.out ?? join('.bench', `xmpp-bench-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}.json`));
  const json = {
    scenario: {
      usersPerRun: SWEEP ? undefined : USERS,
      arrivalRates: rates,
      rampSeconds: SWEEP ? RAMP : undefined,
      onlineSeconds: ONLINE,
      chatsPerUser: CHATS,
      chatSize: CHAT_SIZE,
      runs: RUNS,
      sloMs: SLO_MS,
      parleyIterations: ITERATIONS,
      peerPasswords: PEER_PASSWORDS,
      parleySync: PARLEY_SYNC ?? 'full (default)',
      idleTimeoutMs: IDLE_TIMEOUT,
      sourceAddresses: SOURCE_ADDRESSES,
      tsungMaxUsers: maxUsers,
    },
    machine: machineInfo(),
    tools: { tsung: await packageVersion('tsung'), erlang: await packageVersion('erlang-base') },
    servers: rows.map((r) => ({ name: r.name, version: r.version, configuration: ALL_TARGETS[r.name]!.describe })),
    steps: steps.map((st) => ({
      rate: st.rate,
      users: st.users,
      servers: Object.fromEntries(st.servers.map((s) => [s.name, { summary: s.summary, runs: s.results }])),
    })),
    sweep: sweepSummary,
    markdown: output.join('\n'),
  };
  return { out, json };
}

runScript('stopping the running server and Tsung', activeRun, main);
