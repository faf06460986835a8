/**
 * `npm run bench:federation`: chat messages per second over one federated (XMPP server-to-server) link, with
 * latency p50/p99 and each server's CPU per message, for two links:
 * - Parley <-> Prosody 0.12 (parley.test on 127.0.0.4, prosody.test on 127.0.0.2), both directions;
 * - Parley <-> Parley (parley.test and parley2.test on 127.0.0.5, two server processes).
 * The peers, names and certificates come from the interop harness (test/support/federation/): streams are
 * authenticated by SASL EXTERNAL with the test CA's certificates, so the figures include TLS.
 *
 * Parley runs as a child process (as `npm start` runs it) with the federation module on and its per-server rate
 * limit and its JSON connections' request rate limit lifted (the figure is the server's, not the limits'). Parley's users speak the JSON API; Prosody's user is
 * a lean XMPP client (bench/lib/c2s-reader.ts). Each message's body carries its sequence number and send time;
 * latency is from the sender's call to the receiver's socket. `--window` messages are in flight at once.
 * CPU per message is the change of user+system time in /proc/<pid>/stat of each server over the measured
 * messages, divided by their number (Prosody logs at info level, Parley at warn). Parley commits every message to
 * SQLite (synchronous=full) before delivering it. `--prosody-archive` sets what Prosody keeps: `none` (the default:
 * no mod_mam; on its default file storage the archive cost it several ms of CPU per message here) or `sqlite`
 * (mod_mam on mod_storage_sql with SQLite, so both servers store every message); no offline storage is in play on
 * either side (the receivers are online).
 *
 *   npm run bench:federation
 *   npm run bench:federation -- --messages 5000 --window 50 --trials 3 --link prosody|parley|both
 *   npm run bench:federation -- --link prosody --prosody-archive sqlite   # Prosody archives too (MAM on SQLite)
 *   npm run bench:federation -- --link prosody --trials 1 --profile-dir DIR   # node --cpu-prof on parley.test
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, cpus } from 'node:os';
import { ParleyClient, login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { FEDERATION_ADDRESSES, federationPeersUnavailable, startPeers, type Peers } from '../test/support/federation/index.js';
import { numArg, strArg } from './lib/args.js';
import { startC2sReader } from './lib/c2s-reader.js';
import { clock } from './lib/clock.js';
import { cpuSeconds, startServer, type ServerProc } from './lib/server.js';
import { round, summary } from './lib/stats.js';

const MESSAGES = numArg('messages', 5000);
const WINDOW = numArg('window', 50);
const TRIALS = numArg('trials', 3);
const WARMUP = numArg('warmup', 300);
const LINK = strArg('link', 'both');
/** Where the parley.test process writes a CPU profile (node --cpu-prof), when given; bench/profile-summary.ts reads it. */
const PROFILE_DIR = strArg('profile-dir', '');
/** What Prosody keeps of the messages: none, or its MAM archive on SQLite (the same work as Parley's store). */
const PROSODY_ARCHIVE = strArg('prosody-archive', 'none');
if (PROSODY_ARCHIVE !== 'none' && PROSODY_ARCHIVE !== 'sqlite') {
  console.error('--prosody-archive is none or sqlite');
  process.exit(2);
}

const why = federationPeersUnavailable();
if (why !== null) {
  console.error(`bench:federation needs the real peers: ${why}`);
  process.exit(2);
}

/** A Parley child process hosting `domain` with federation on its loopback address. */
async function startParley(peers: Peers, domain: 'parley.test' | 'parley2.test', users: string[]): Promise<ServerProc> {
  const dir = join(peers.dir, domain);
  const dbPath = join(dir, 'parley.db');
  mkdirSync(dir, { recursive: true });
  const store = createSqliteStore({ path: dbPath, synchronous: 'normal' });
  await store.domains.add(domain, Date.now());
  for (const u of users) await addUser(store, `${u}@${domain}`, `pw-${u}`, { admin: false, iterations: 4096, now: Date.now() });
  await store.close();
  const cert = peers.pki.issued[domain]!;
  const configPath = join(dir, 'parley.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      xmpp: { certificates: { [domain]: { cert: cert.certFile, key: cert.keyFile } } },
      // The sender's JSON connection sends as fast as the window allows: its request rate limit is lifted too.
      limits: { requestsPerSecond: 1_000_000 },
      modules: {
        federation: {
          enabled: true,
          listen: { host: FEDERATION_ADDRESSES[domain], port: 5269 },
          tls: { certFile: cert.certFile, keyFile: cert.keyFile },
          trust: { caFile: peers.pki.caFile },
          // Every stream of the run is authenticated by SASL EXTERNAL (the test CA's certificates).
          dialback: { enabled: true, allowUntrusted: false },
          stanzasPerSecond: 1_000_000,
          maxQueuedStanzas: 100_000,
          policy: { default: { mode: 'open' } },
        },
      },
    }),
  );
  const profile = PROFILE_DIR !== '' && domain === 'parley.test' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  return startServer({ dir, dbPath, env: { PARLEY_CONFIG: configPath }, nodeFlags: profile });
}

/** A JSON session of `user@domain` on a Parley process. */
async function jsonSession(p: ServerProc, address: string): Promise<ParleyClient> {
  const { token } = await login(p.baseUrl, address, `pw-${address.split('@')[0]}`);
  return ParleyClient.connect({ url: p.wsUrl, token, resource: 'bench', keepEvents: false });
}

/** One direction of a link: how to send a body, and where received bodies are reported. */
interface Direction {
  label: string;
  send(body: string): void | Promise<unknown>;
  /** Set by run(): called by the receiver for every body. */
  sink: { onBody: (body: string) => void };
  /** Server processes whose CPU is counted, by name. */
  pids: Record<string, number[]>;
}

/** Sends `n` messages with `window` in flight; resolves with latencies (ms) and elapsed seconds. */
function run(d: Direction, n: number, window: number): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let sent = 0;
  let received = 0;
  const t0 = clock();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${d.label}: ${received}/${n} messages arrived within 120 s`)), 120_000);
    const pump = (): void => {
      while (sent < n && sent - received < window) {
        const r = d.send(`${sent++} ${clock()}`);
        if (r instanceof Promise) r.catch((e: unknown) => (clearTimeout(timer), reject(e as Error)));
      }
    };
    d.sink.onBody = (body) => {
      const ts = Number(body.split(' ')[1]);
      if (!Number.isFinite(ts)) return;
      latencies.push(clock() - ts);
      if (++received === n) {
        clearTimeout(timer);
        resolve({ latencies, seconds: (clock() - t0) / 1000 });
      } else pump();
    };
    pump();
  });
}

const cpuOf = (pids: number[]): number => pids.reduce((s, p) => s + cpuSeconds(p), 0);

/** Warm-up, then TRIALS measured runs; prints one JSON line per trial and returns them. */
async function measure(d: Direction): Promise<Array<Record<string, unknown>>> {
  await run(d, WARMUP, WINDOW);
  const rows: Array<Record<string, unknown>> = [];
  for (let trial = 1; trial <= TRIALS; trial++) {
    const before = Object.fromEntries(Object.entries(d.pids).map(([k, v]) => [k, cpuOf(v)]));
    const r = await run(d, MESSAGES, WINDOW);
    const cpu = Object.fromEntries(Object.entries(d.pids).map(([k, v]) => [`${k}CpuUsPerMsg`, round(((cpuOf(v) - before[k]!) / MESSAGES) * 1e6, 1)]));
    const lat = summary(r.latencies);
    const row = { link: d.label, trial, messages: MESSAGES, window: WINDOW, perSecond: Math.round(MESSAGES / r.seconds), p50Ms: lat.p50, p99Ms: lat.p99, ...cpu };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

const peers = await startPeers({ mode: 'external', peers: ['prosody'], users: { bench: 'pw-bench' }, prosodyLogLevel: 'info', prosodyArchive: PROSODY_ARCHIVE === 'sqlite', prosodyStorage: PROSODY_ARCHIVE === 'sqlite' ? 'sqlite' : 'internal' });
const procs: ServerProc[] = [];
const closers: Array<() => unknown> = [];
const results: Array<Record<string, unknown>> = [];
try {
  const a = await startParley(peers, 'parley.test', ['sender', 'receiver']);
  procs.push(a);
  const prosodyPids = peers.prosody!.pids();
  if (LINK === 'prosody' || LINK === 'both') {
    const sender = await jsonSession(a, 'sender@parley.test');
    const receiver = await jsonSession(a, 'receiver@parley.test');
    closers.push(() => sender.close(), () => receiver.close());
    const toProsody: Direction = {
      label: 'parley->prosody',
      send: (body) => sender.request('message.send', { to: 'bench@prosody.test', body }),
      sink: { onBody: () => undefined },
      pids: { parley: [a.pid], prosody: prosodyPids },
    };
    const fromProsody: Direction = {
      label: 'prosody->parley',
      send: (body) => c2s.send('receiver@parley.test', body),
      sink: { onBody: () => undefined },
      pids: { parley: [a.pid], prosody: prosodyPids },
    };
    const c2s = await startC2sReader({
      host: FEDERATION_ADDRESSES['prosody.test'],
      port: 5222,
      domain: 'prosody.test',
      user: 'bench',
      password: 'pw-bench',
      caFile: peers.pki.caFile,
      onBody: (b) => toProsody.sink.onBody(b),
      onError: (xml) => {
        console.error(`a message bounced: ${xml.slice(0, 500)}`);
        process.exitCode = 1;
      },
    });
    closers.push(() => c2s.close());
    receiver.on('message', (d) => fromProsody.sink.onBody(String(d.data.body)));
    results.push(...(await measure(toProsody)), ...(await measure(fromProsody)));
  }
  if (LINK === 'parley' || LINK === 'both') {
    const b = await startParley(peers, 'parley2.test', ['receiver', 'sender']);
    procs.push(b);
    const sender = await jsonSession(a, 'sender@parley.test');
    const receiver = await jsonSession(b, 'receiver@parley2.test');
    closers.push(() => sender.close(), () => receiver.close());
    const toParley: Direction = {
      label: 'parley->parley2',
      send: (body) => sender.request('message.send', { to: 'receiver@parley2.test', body }),
      sink: { onBody: () => undefined },
      pids: { parley: [a.pid], parley2: [b.pid] },
    };
    receiver.on('message', (d) => toParley.sink.onBody(String(d.data.body)));
    results.push(...(await measure(toParley)));
  }
  const [l1, l5] = loadavg();
  console.log(
    JSON.stringify({
      summary: true,
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
      prosodyArchive: PROSODY_ARCHIVE,
      loadavg1: round(l1!, 2),
      loadavg5: round(l5!, 2),
      medianPerSecond: Object.fromEntries(
        [...new Set(results.map((r) => String(r.link)))].map((link) => {
          const v = results.filter((r) => r.link === link).map((r) => Number(r.perSecond)).sort((x, y) => x - y);
          return [link, v[Math.floor(v.length / 2)]];
        }),
      ),
    }),
  );
} catch (e) {
  console.error(String((e as Error).stack ?? e));
  for (const p of procs) console.error(p.stderr().slice(-3000));
  console.error(peers.logs());
  process.exitCode = 1;
} finally {
  for (const c of closers) await Promise.resolve(c()).catch(() => undefined);
  for (const p of procs) await p.stop(true);
  await peers.stop();
}
