/**
 * `npm run bench:presentities-writes`: presence writes from API keys at a sustained rate while subscribers
 * watch. The server runs as a child process (as `npm start` runs it) with the apikeys and presentities modules
 * on. K things are owned by one account and written with several of its API keys (each key has its own rate:
 * `modules.apikeys.requestsPerSecond`, raised here through PARLEY_MODULES__APIKEYS__REQUESTS_PER_SECOND to 1.5
 * times each key's share of the target rate, at least 2,000); a writer process (bench/lib/presence-writer.ts)
 * posts updates round-robin over the things at the target rate over keep-alive HTTP; N subscribers in reader
 * processes (bench/lib/presence-reader.ts) each follow `--watch` things, subscriber i things i·w … i·w+w−1
 * (mod K), so every thing has N·w/K watchers. Every update carries its send time (`fields.sentAt`, on the
 * clock all processes share: `performance.timeOrigin + performance.now()`).
 *
 * After a warm-up, for the measurement window (by send time): the achieved write rate (updates answered 200
 * per second), write reply latency (the change is stored, with the server's default synchronous=full, before
 * the reply), and update→subscriber latency over every change frame the subscribers got. Prints one JSON line,
 * in ms. `deliveries.expected` is ok writes × watchers per thing; `late` counts frames that arrived more than a
 * second after the window; `coresBusy` is the CPU the server and the readers used in the window (1 = one core).
 *
 *   npm run bench:presentities-writes                                      5,000 writes/s, 1,000 SSE subscribers
 *   npm run bench:presentities-writes -- --rate 2000 --subscribers 500 --seconds 5
 *
 * Options: --rate R (5000 updates/s), --things K (100), --keys k (8), --subscribers N (1000), --watch w (2),
 * --readers P (2), --transport sse|ws|mix (sse), --warmup s (3), --seconds s (10), --in-flight c (64 keep-alive
 * connections), --sources S (8 source addresses),
 * --profile-dir DIR (the server writes a CPU profile there: node --cpu-prof; bench/profile-summary.ts reads it).
 */
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WriterReport, WriterSetup } from './lib/presence-writer.js';
import { clock, startReaders, transportOf, type SubscriberSpec, type Transport } from './lib/presence-readers.js';
import { cpuSeconds, jsonApi, seedDatabase, startServer } from './lib/server.js';
import { round, summary } from './lib/stats.js';
import { numArg, strArg } from './lib/args.js';

const RATE = numArg('rate', 5000);
const THINGS = numArg('things', 100);
const KEYS = numArg('keys', 8);
const N = numArg('subscribers', 1000);
const WATCH = Math.min(numArg('watch', 2), THINGS);
const READERS = Math.max(1, numArg('readers', 2));
const TRANSPORT = strArg('transport', 'sse') as Transport;
if (!['sse', 'ws', 'mix'].includes(TRANSPORT)) throw new Error('--transport is sse, ws or mix');
const WARMUP = numArg('warmup', 3);
const SECONDS = numArg('seconds', 10);
const IN_FLIGHT = numArg('in-flight', 64);
const SOURCES = numArg('sources', 8);
/** Where the server writes a CPU profile (node --cpu-prof), when given. */
const PROFILE_DIR = process.argv.includes('--profile-dir') ? strArg('profile-dir', '') : null;
const PER_KEY = Math.min(100_000, Math.max(2000, Math.ceil((1.5 * RATE) / KEYS)));

const wsCount = Array.from({ length: N }, (_, i) => transportOf(TRANSPORT, i)).filter((t) => t === 'ws').length;
const { dir, dbPath, users } = await seedDatabase({ users: ['owner', ...Array.from({ length: wsCount }, (_, i) => `sub${i}`)], iterations: 4096 });
const server = await startServer({
  dir,
  dbPath,
  env: {
    PARLEY_MODULES__APIKEYS__ENABLED: 'true',
    PARLEY_MODULES__APIKEYS__REQUESTS_PER_SECOND: String(PER_KEY),
    PARLEY_MODULES__PRESENTITIES__ENABLED: 'true',
  },
  nodeFlags: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
});
try {
  const base = `${server.baseUrl}/api/v1`;
  const owner = users.get('owner')!;
  const post = jsonApi(base);
  const newKey = async (name: string, scopes: string[]): Promise<string> => ((await post('/apikeys/keys', owner.token, { name, scopes })) as { token: string }).token;
  const writeKeys: string[] = [];
  for (let k = 0; k < KEYS; k++) writeKeys.push(await newKey(`writer-${k}`, ['presence:write:things']));
  const readKey = await newKey('reader', ['presence:read']);
  const things = Array.from({ length: THINGS }, (_, i) => ({ address: `sensor-${i}@localhost`, key: writeKeys[i % KEYS]! }));
  for (const t of things) await post(`/presentities/things/${t.address}`, t.key, { kind: 'thing', fields: { seq: 'number', sentAt: 'number' }, grants: { domains: ['localhost'] } }, 'PUT');

  let ws = 0;
  const subscribers: SubscriberSpec[] = Array.from({ length: N }, (_, i) => {
    const transport = transportOf(TRANSPORT, i);
    const addresses = Array.from({ length: WATCH }, (_, j) => things[(i * WATCH + j) % THINGS]!.address);
    return transport === 'ws' ? { transport, addresses, index: i, token: users.get(`sub${ws++}`)!.token } : { transport, addresses, index: i };
  });
  /** Watchers of each thing. */
  const watchers = new Array<number>(THINGS).fill(0);
  for (let i = 0; i < N; i++) for (let j = 0; j < WATCH; j++) watchers[(i * WATCH + j) % THINGS]!++;

  const readers = await startReaders({ count: READERS, base, wsUrl: server.wsUrl, key: readKey, sources: SOURCES, mode: 'stream', subscribers });
  try {
    // CPU time of the server and the readers, sampled on the shared clock, to tell where the two cores went
    // during the measurement window.
    const cpuSamples: Array<{ at: number; server: number; readers: number }> = [];
    const sampleCpu = (): void => {
      cpuSamples.push({ at: clock(), server: cpuSeconds(server.pid), readers: readers.pids.reduce((s, p) => s + cpuSeconds(p), 0) });
    };
    const sampler = setInterval(sampleCpu, 250);
    const writer = fork(fileURLToPath(new URL('./lib/presence-writer.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const report = await new Promise<WriterReport>((resolve, reject) => {
      writer.once('message', (m: WriterReport) => resolve(m));
      writer.once('exit', (code) => reject(new Error(`writer exited (${code}) without a report`)));
      const setup: WriterSetup = { type: 'start', base, things, rate: RATE, warmupSeconds: WARMUP, seconds: SECONDS, inFlight: IN_FLIGHT };
      writer.send(setup);
    });
    // Frames still on their way at the window's end.
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(sampler);
    const inWindow = cpuSamples.filter((x) => x.at >= report.from && x.at <= report.to);
    const first = inWindow[0];
    const last = inWindow[inWindow.length - 1];
    const span = first && last && last.at > first.at ? (last.at - first.at) / 1000 : Number.NaN;
    const got = await readers.collect(report.from, report.to);
    const latencies: number[] = [];
    for (const part of got.latencies) for (const x of part) latencies.push(x);
    // Every thing is written equally often (round-robin), so the expected frames are ok × mean watchers.
    const expected = Math.round((report.ok * watchers.reduce((s, w) => s + w, 0)) / THINGS);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'presentities-writes',
        targetRate: RATE,
        things: THINGS,
        keys: KEYS,
        perKeyLimit: PER_KEY,
        subscribers: N,
        transport: TRANSPORT,
        sse: readers.counts.sse,
        ws: readers.counts.ws,
        watch: WATCH,
        readers: READERS,
        seconds: SECONDS,
        achievedRate: round(report.ok / SECONDS, 1),
        writes: { sent: report.sent, ok: report.ok, rateLimited: report.rateLimited, failed: report.failed, deferred: report.deferred, firstError: report.firstError },
        writeReplyMs: summary([...report.replies]),
        deliveries: { expected, received: latencies.length, late: got.late },
        perSubscriberMs: summary(latencies),
        // Cores busy during the window (CPU seconds per second, /proc): the server, and the readers together.
        coresBusy: first && last ? { server: round((last.server - first.server) / span, 2), readers: round((last.readers - first.readers) / span, 2) } : null,
      })}\n`,
    );
  } finally {
    await readers.close();
  }
} finally {
  await server.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
