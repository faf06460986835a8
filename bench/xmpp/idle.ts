/**
 * `npm run bench:xmpp-idle`: server memory per idle, logged-in XMPP connection for Parley, Prosody and ejabberd.
 * Each server is started as in bench/xmpp/compare.ts (fresh temp dir, the same accounts); a minimal client in
 * this process then logs N connections in (SASL PLAIN, bind, session, initial presence), keeps them open and
 * silent, and the server's RSS before and after gives the memory per connection. See bench/xmpp/README.md.
 *
 *   npm run bench:xmpp-idle                                     5000 connections, all three servers
 *   npm run bench:xmpp-idle -- --servers prosody,ejabberd --connections 2000
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds } from '../lib/server.js';
import { parleyTarget } from './parley.js';
import { chooseTargets, type Account, type Target } from './peers.js';
import { log, machineInfo, numberOption, openFileLimit, peerPasswordsOption, rssOf, runScript, sleep } from './proc.js';
import { activeRun, withServer, type RunFailure } from './server-run.js';

const HELP = `usage: npm run bench:xmpp-idle -- [options]
  --servers LIST      servers to run, in order (default parley,prosody,ejabberd)
  --connections N     idle logged-in connections per server; connection k logs in as its own account,
                      user1..userN (default 5000, at most 15000)
  --concurrency N     logins in flight at once (default 100)
  --iterations N      PBKDF2 iterations of stored credentials (default 4096, the RFC 7677 minimum;
                      ejabberd 23.01 always uses 4096)
  --peer-passwords P  how Prosody and ejabberd store passwords: hashed (default: SCRAM-SHA-256
                      credentials, as Parley) or plain (plain text, compared as strings)
  --out FILE          JSON results (default: .bench/xmpp-idle-<date>.json)
  --keep              keep every run's temp dir (configs, server logs)
  --parley-heap-snapshot DIR  write a heap snapshot of Parley with all connections open to DIR
                      (summarise with node dist/bench/heap-summary.js)`;

const { values: argv } = parseArgs({
  options: {
    servers: { type: 'string' },
    connections: { type: 'string' },
    concurrency: { type: 'string' },
    iterations: { type: 'string' },
    'peer-passwords': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean' },
    'parley-heap-snapshot': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const num = numberOption(HELP);

/** This process holds one descriptor per connection; the open-file limit here is 20,000. */
const MAX_CONNECTIONS = 15_000;
const CONNECTIONS = Math.round(num('connections', argv.connections, 5000, 1));
if (CONNECTIONS > MAX_CONNECTIONS) {
  process.stderr.write(
    `--connections is at most ${MAX_CONNECTIONS}: this process holds one open file per connection, and the ` +
      `open-file limit (20,000 per process) must leave room for the rest\n`,
  );
  process.exit(2);
}
const CONCURRENCY = Math.round(num('concurrency', argv.concurrency, 100, 1));
const ITERATIONS = Math.round(num('iterations', argv.iterations, 4096, 4096));
const PEER_PASSWORDS = peerPasswordsOption(argv['peer-passwords']);
const DOMAIN = 'localhost';
/** Connection i comes from 127.0.0.(2 + i % SOURCES). */
const SOURCES = 10;
const LOGIN_TIMEOUT_MS = 30_000;
const SETTLE_IDLE_MS = 2_000;
const SETTLE_LOADED_MS = 3_000;

const { all: ALL_TARGETS, chosen: SERVERS } = chooseTargets(
  parleyTarget({
    iterations: ITERATIONS,
    ...(argv['parley-heap-snapshot'] ? { nodeFlags: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${resolve(argv['parley-heap-snapshot'])}`] } : {}),
  }),
  { passwords: PEER_PASSWORDS, iterations: ITERATIONS },
  argv.servers,
);

// ---------------------------------------------------------------------------------------------------------------
// A minimal XMPP client that logs in and then stays silent
// ---------------------------------------------------------------------------------------------------------------

const STREAM_HEADER = `<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
const FEATURES_END = /<\/stream:features>|<stream:features\s*\/>/;
const BIND_REPLY = /<iq\b[^>]*\bid=(['"])b\1[^>]*(?:\/>|>[\s\S]*?<\/iq>)/;
const SESSION_REPLY = /<iq\b[^>]*\bid=(['"])s\1[^>]*(?:\/>|>[\s\S]*?<\/iq>)/;

type Stage = 'features' | 'auth' | 'restart' | 'bind' | 'session' | 'online' | 'failed';

/**
 * Connects from `localAddress`, logs in as `account` with SASL PLAIN, binds a resource, opens a session and
 * sends initial presence. Resolves with the open socket (which from then on discards whatever arrives), or
 * with the reason it failed (the socket is then destroyed).
 */
function loginAndHold(port: number, account: Account, localAddress: string, onLost: () => void): Promise<{ socket: Socket } | { error: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    let buf = '';
    let stage: Stage = 'features';
    const fail = (why: string): void => {
      if (stage === 'online' || stage === 'failed') return;
      const at = stage;
      stage = 'failed';
      clearTimeout(timer);
      s.destroy();
      resolve({ error: `${account.user} (stage ${at}): ${why}` });
    };
    const timer = setTimeout(() => fail(`no answer within ${LOGIN_TIMEOUT_MS / 1000} s; received: ${buf.slice(-300) || '(nothing)'}`), LOGIN_TIMEOUT_MS);
    const next = (to: Stage, send: string): void => {
      stage = to;
      buf = '';
      s.write(send);
    };
    s.setEncoding('utf8');
    s.on('error', (e) => fail(`socket error: ${e.message}`));
    s.once('close', () => {
      if (stage === 'online') onLost();
      else fail(`connection closed by the server; received: ${buf.slice(-300) || '(nothing)'}`);
    });
    const onData = (chunk: string): void => {
      buf += chunk;
      if (buf.includes('<stream:error')) return fail(`stream error: ${buf.slice(buf.indexOf('<stream:error'), buf.indexOf('<stream:error') + 300)}`);
      switch (stage) {
        case 'features':
          if (FEATURES_END.test(buf)) next('auth', `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${account.user}\0${account.password}`).toString('base64')}</auth>`);
          break;
        case 'auth':
          if (buf.includes('<success')) next('restart', STREAM_HEADER);
          else if (buf.includes('<failure')) fail(`login refused: ${buf.slice(0, 300)}`);
          break;
        case 'restart':
          if (FEATURES_END.test(buf)) next('bind', `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`);
          break;
        case 'bind': {
          const m = BIND_REPLY.exec(buf);
          if (!m) break;
          if (/\btype=(['"])error\1/.test(m[0])) return fail(`bind failed: ${m[0].slice(0, 300)}`);
          // Sent whether or not the features list it (optional or not), so every server does the same work;
          // a result and an error (not supported) are both fine.
          next('session', `<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
          break;
        }
        case 'session':
          if (!SESSION_REPLY.test(buf)) break;
          stage = 'online';
          buf = '';
          clearTimeout(timer);
          s.write('<presence/>');
          // From now on: silent, and whatever arrives (presence echoes, pings) is dropped unread.
          s.off('data', onData);
          s.on('data', () => undefined);
          resolve({ socket: s });
          break;
        default:
          break;
      }
    };
    s.on('data', onData);
    s.write(STREAM_HEADER);
  });
}

/** Opens `accounts.length` connections, at most `concurrency` logins at a time. */
async function openAll(
  port: number,
  accounts: Account[],
  concurrency: number,
  sockets: Socket[],
): Promise<{ ok: number; failed: number; firstError: string | null; lost: () => number }> {
  let next = 0;
  let failed = 0;
  let lost = 0;
  let firstError: string | null = null;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < accounts.length; i = next++) {
      const r = await loginAndHold(port, accounts[i]!, `127.0.0.${2 + (i % SOURCES)}`, () => lost++);
      if ('socket' in r) sockets.push(r.socket);
      else {
        failed++;
        firstError ??= r.error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, accounts.length) }, worker));
  return { ok: sockets.length, failed, firstError, lost: () => lost };
}

// ---------------------------------------------------------------------------------------------------------------
// One server
// ---------------------------------------------------------------------------------------------------------------

interface RunOk {
  status: 'ok';
  connections: number;
  ok: number;
  failed: number;
  firstError: string | null;
  /** Connections the server closed between login and the loaded RSS reading. */
  closedBeforeMeasurement: number;
  idleRssKiB: number;
  loadedRssKiB: number;
  idleRssSamplesKiB: number[];
  loadedRssSamplesKiB: number[];
  /** (loaded - idle) / ok connections. */
  kibPerConnection: number;
  connectSeconds: number;
  serverCpuSeconds: number;
  setupSeconds: number;
  /** The server process's soft limit on open files. */
  openFileLimit: number;
  loadavgBefore: number[];
  keptDir?: string;
}
type RunResult = RunOk | RunFailure;

/** The soft open-file limit of a process (/proc/<pid>/limits). */
/** Asks the server for a heap snapshot (--heapsnapshot-signal) and waits until the file is complete. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const size = statSync(join(dir, file)).size;
    await sleep(1000);
    if (statSync(join(dir, file)).size === size && size > 0) {
      log(`parley: heap snapshot ${join(dir, file)}`);
      return;
    }
  }
  log('parley: warning: no heap snapshot appeared within 5 minutes');
}

/** Median of `n` VmRSS readings `gapMs` apart (KiB), with the readings. */
async function rssMedian(pid: number, n = 5, gapMs = 200): Promise<{ median: number; samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(gapMs);
    samples.push(rssOf(pid));
  }
  const v = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) throw new Error(`the server process (${pid}) is gone`);
  const mid = v.length >> 1;
  return { median: v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, samples };
}

async function runOnce(target: Target, connections: number): Promise<RunResult> {
  const sockets: Socket[] = [];
  const closeAll = (): void => {
    for (const s of sockets) s.destroy();
    sockets.length = 0;
  };
  return withServer(
    target,
    { prefix: 'xmpp-idle-', domain: DOMAIN, users: connections, keep: argv.keep === true, beforeStop: closeAll },
    async ({ r, started, setupSeconds }): Promise<RunOk> => {
      const fileLimit = openFileLimit(started.pid);
      if (fileLimit < connections + 100) log(`${target.name}: warning: its open-file limit is ${fileLimit}, for ${connections} connections`);
      const loadavgBefore = loadavg().map((x) => Math.round(x * 100) / 100);

      await sleep(SETTLE_IDLE_MS);
      const idle = await rssMedian(started.pid);
      log(`${target.name}: setup ${setupSeconds.toFixed(1)} s, idle RSS ${(idle.median / 1024).toFixed(1)} MiB; opening ${connections} connections, ${CONCURRENCY} at a time`);

      const cpu0 = cpuSeconds(started.pid);
      const c0 = Date.now();
      const opened = await openAll(r.port, r.accounts, CONCURRENCY, sockets);
      const connectSeconds = (Date.now() - c0) / 1000;
      const serverCpuSeconds = cpuSeconds(started.pid) - cpu0;
      log(
        `${target.name}: ${opened.ok} connected, ${opened.failed} failed in ${connectSeconds.toFixed(1)} s (server CPU ${serverCpuSeconds.toFixed(1)} s)` +
          (opened.firstError ? `; first error: ${opened.firstError.slice(0, 300)}` : ''),
      );

      await sleep(SETTLE_LOADED_MS);
      const loaded = await rssMedian(started.pid);
      const closed = opened.lost();
      if (closed > 0) log(`${target.name}: warning: the server closed ${closed} of the ${opened.ok} logged-in connections before the measurement`);
      const perConnection = opened.ok > 0 ? (loaded.median - idle.median) / opened.ok : Number.NaN;
      log(`${target.name}: loaded RSS ${(loaded.median / 1024).toFixed(1)} MiB, ${perConnection.toFixed(1)} KiB per connection`);
      if (target.name === 'parley' && argv['parley-heap-snapshot']) await heapSnapshot(started.pid, resolve(argv['parley-heap-snapshot']));
      return {
        status: 'ok',
        connections,
        ok: opened.ok,
        failed: opened.failed,
        firstError: opened.firstError,
        closedBeforeMeasurement: closed,
        idleRssKiB: idle.median,
        loadedRssKiB: loaded.median,
        idleRssSamplesKiB: idle.samples,
        loadedRssSamplesKiB: loaded.samples,
        kibPerConnection: round1(perConnection),
        connectSeconds: round1(connectSeconds),
        serverCpuSeconds: round1(serverCpuSeconds),
        setupSeconds: round1(setupSeconds),
        openFileLimit: fileLimit,
        loadavgBefore,
        ...(argv.keep ? { keptDir: r.dir } : {}),
      };
    },
  );
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

// ---------------------------------------------------------------------------------------------------------------
// Table
// ---------------------------------------------------------------------------------------------------------------

interface ServerRow {
  name: string;
  version: string;
  result: RunResult | null;
}

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const mib = (kib: number): string => fmt(kib / 1024);

function table(rows: ServerRow[]): string {
  const cell = (row: ServerRow, f: (s: RunOk) => string): string => {
    const res = row.result;
    if (!res) return 'not run';
    if (res.status !== 'ok') return res.status === 'unavailable' ? 'not available' : 'failed';
    return f(res);
  };
  const lines: Array<[string, (s: RunOk) => string]> = [
    ['connections ok / failed', (s) => `${s.ok} / ${s.failed}`],
    ['idle RSS (MiB)', (s) => mib(s.idleRssKiB)],
    ['loaded RSS (MiB)', (s) => mib(s.loadedRssKiB)],
    ['RSS per connection (KiB)', (s) => fmt(s.kibPerConnection)],
    ['connect phase (s)', (s) => fmt(s.connectSeconds)],
    ['server CPU in connect phase (s)', (s) => fmt(s.serverCpuSeconds)],
    ['closed by the server before measuring', (s) => String(s.closedBeforeMeasurement)],
  ];
  const head = `| ${CONNECTIONS} idle connections | ${rows.map((r) => `${r.name} ${r.version}`.trim()).join(' | ')} |`;
  const sep = `|---|${rows.map(() => '---').join('|')}|`;
  const body = lines.map(([label, f]) => `| ${label} | ${rows.map((r) => cell(r, f)).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

function notes(rows: ServerRow[]): string {
  const out: string[] = [];
  out.push(
    `Each connection logs in over plain TCP (no TLS) with SASL PLAIN as its own account, binds a resource, sends a ` +
      `session request and initial presence, and then stays silent (anything the server sends is discarded). ` +
      `${CONCURRENCY} logins at a time, from 127.0.0.2 … 127.0.0.${SOURCES + 1} in turn.`,
  );
  out.push(
    `RSS: VmRSS of the server process (Node.js for Parley, the Lua process for Prosody, beam.smp for ejabberd), the ` +
      `median of 5 readings 200 ms apart: idle ${SETTLE_IDLE_MS / 1000} s after start (accounts created, one probe ` +
      `login), loaded ${SETTLE_LOADED_MS / 1000} s after the last login. Per connection = (loaded − idle) / connections ok. ` +
      `Server CPU: user + system time of that process while the connections logged in.`,
  );
  out.push(
    PEER_PASSWORDS === 'hashed'
      ? `Passwords: every server stores SCRAM-SHA-256 credentials (Parley also SCRAM-SHA-1): Parley and Prosody with ` +
          `${ITERATIONS} PBKDF2 iterations, ejabberd with its fixed 4096; so each derives PBKDF2 for every PLAIN login.`
      : `Passwords: Prosody and ejabberd store plain-text passwords and compare strings; Parley stores only SCRAM ` +
          `credentials (${ITERATIONS} PBKDF2 iterations) and derives PBKDF2 for every PLAIN login.`,
  );
  for (const row of rows) if (row.result) out.push(ALL_TARGETS[row.name]!.describe);
  for (const row of rows) {
    const res = row.result;
    if (!res) continue;
    if (res.status !== 'ok') out.push(`${row.name} ${res.status === 'unavailable' ? 'not available' : 'failed'}: ${res.reason.split('\n').slice(0, 3).join(' ')}`);
    else if (res.firstError) out.push(`${row.name}: ${res.failed} logins failed; the first: ${res.firstError.slice(0, 300)}`);
  }
  return out.map((n) => `- ${n}`).join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<{ out: string; json: unknown }> {
  const ownLimit = openFileLimit(process.pid);
  if (ownLimit < CONNECTIONS + 200) {
    process.stderr.write(`this process may open only ${ownLimit} files, too few for ${CONNECTIONS} connections (raise ulimit -n or lower --connections)\n`);
    process.exit(2);
  }
  const rows: ServerRow[] = [];
  for (const name of SERVERS) {
    const t = ALL_TARGETS[name]!;
    const why = await t.check();
    if (why) {
      log(`${name}: skipped: ${why}`);
      rows.push({ name, version: '', result: { status: 'unavailable', reason: why } });
    } else rows.push({ name, version: await t.version(), result: null });
  }
  for (const row of rows) {
    if (row.result) continue;
    log(`${row.name}: ${CONNECTIONS} connections`);
    row.result = await runOnce(ALL_TARGETS[row.name]!, CONNECTIONS);
    if (row.result.status !== 'ok') {
      log(`${row.name}: ${row.result.status}: ${row.result.reason.split('\n').slice(0, 4).join(' | ')}${row.result.keptDir ? ` (kept ${row.result.keptDir})` : ''}`);
    } else if (row.result.keptDir) log(`${row.name}: kept ${row.result.keptDir}`);
  }

  const text = `### ${CONNECTIONS} idle XMPP connections\n\n${table(rows)}\n\nNotes:\n\n${notes(rows)}\n`;
  process.stdout.write(`\n${text}\n`);

  const out = resolve(argv.out ?? join('.bench', `xmpp-idle-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}.json`));
  const json = {
    scenario: {
      connections: CONNECTIONS,
      concurrency: CONCURRENCY,
      iterations: ITERATIONS,
      peerPasswords: PEER_PASSWORDS,
      sourceAddresses: Array.from({ length: SOURCES }, (_, i) => `127.0.0.${i + 2}`),
      loginTimeoutMs: LOGIN_TIMEOUT_MS,
      idleSettleMs: SETTLE_IDLE_MS,
      loadedSettleMs: SETTLE_LOADED_MS,
    },
    machine: machineInfo(),
    servers: rows.map((r) => ({ name: r.name, version: r.version, configuration: ALL_TARGETS[r.name]!.describe, result: r.result })),
    markdown: text,
  };
  return { out, json };
}

runScript('closing the connections and stopping the running server', activeRun, main);
