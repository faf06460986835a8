/**
 * `npm run bench:presentities`: one thing's update fanned out to N streaming subscribers, as Server-Sent Event
 * streams, JSON WebSocket subscriptions (`presentities.subscribe`) or half of each. The server runs as a child
 * process (as `npm start` runs it) with the apikeys and presentities modules on. The subscribers are split over
 * `--readers` reader processes (bench/lib/presence-reader.ts), so no one event loop holds them all; this process
 * posts updates one at a time, each carrying its send time (`fields.sentAt`, on the clock every process shares:
 * `performance.timeOrigin + performance.now()`), and every reader times each subscriber's change frame against
 * it. Prints one JSON line, in ms: the update's HTTP reply (the change is stored, with the server's default
 * synchronous=full, before it is published), per-subscriber latency (p50, p90, p99, max) and the time until
 * the last subscriber of a round had it, and the CPU time per round of the server and of the readers (where the
 * two shared cores go).
 *
 * JSON WebSocket subscribers are sessions of their own users (`sub0@localhost` …, seeded with tokens), whom the
 * thing grants its domain; SSE subscribers use an API key of the thing's owner. Connections come from 8
 * loopback source addresses (127.0.0.2 …), so no one address runs out of ports; each reader holds N/readers.
 *
 *   npm run bench:presentities                                                    2000 SSE subscribers, 1 reader, 30 rounds
 *   npm run bench:presentities -- --subscribers 10000 --transport mix --readers 4  the scale
 *   npm run bench:presentities -- --subscribers 500 --rounds 50 --transport ws
 *
 * Options: --subscribers N (2000), --rounds R (30, after 3 warm-up rounds), --readers P (1),
 * --transport sse|ws|mix (sse; mix alternates), --sources S (8 source addresses),
 * --profile-dir DIR (the server writes a CPU profile there: node --cpu-prof; bench/profile-summary.ts reads it),
 * --server-flags "F …" (Node.js flags added after the start script's, e.g. --max-semi-space-size=16).
 */
import { rmSync } from 'node:fs';
import { cpuSeconds, jsonApi, seedDatabase, startServer } from './lib/server.js';
import { clock, startReaders, transportOf, type SubscriberSpec, type Transport } from './lib/presence-readers.js';
import { summary } from './lib/stats.js';
import { numArg, strArg } from './lib/args.js';

const N = numArg('subscribers', 2000);
const ROUNDS = numArg('rounds', 30);
const READERS = Math.max(1, numArg('readers', 1));
const TRANSPORT = strArg('transport', 'sse') as Transport;
if (!['sse', 'ws', 'mix'].includes(TRANSPORT)) throw new Error('--transport is sse, ws or mix');
const WARMUP = 3;
const SOURCES = numArg('sources', 8);
/** Where the server writes a CPU profile (node --cpu-prof), when given. */
const PROFILE_DIR = process.argv.includes('--profile-dir') ? strArg('profile-dir', '') : null;
/** Node.js flags for the server beyond the start script's (a later flag overrides an earlier one). */
const SERVER_FLAGS = strArg('server-flags', '').split(' ').filter((f) => f !== '');

const wsCount = Array.from({ length: N }, (_, i) => transportOf(TRANSPORT, i)).filter((t) => t === 'ws').length;
const { dir, dbPath, users } = await seedDatabase({ users: ['owner', ...Array.from({ length: wsCount }, (_, i) => `sub${i}`)], iterations: 4096 });
const server = await startServer({
  dir,
  dbPath,
  env: {
    PARLEY_MODULES__APIKEYS__ENABLED: 'true',
    PARLEY_MODULES__APIKEYS__REQUESTS_PER_SECOND: '100000',
    PARLEY_MODULES__PRESENTITIES__ENABLED: 'true',
  },
  nodeFlags: [...SERVER_FLAGS, ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])],
});
try {
  const base = `${server.baseUrl}/api/v1`;
  const owner = users.get('owner')!;
  const post = jsonApi(base);
  const { token: key } = (await post('/apikeys/keys', owner.token, { name: 'bench', scopes: ['presence:read', 'presence:write:things'] })) as { token: string };
  const thing = 'press-1@localhost';
  await post(`/presentities/things/${thing}`, key, { kind: 'thing', fields: { n: 'number', sentAt: 'number' }, grants: { domains: ['localhost'] } }, 'PUT');

  let ws = 0;
  const subscribers: SubscriberSpec[] = Array.from({ length: N }, (_, i) => {
    const transport = transportOf(TRANSPORT, i);
    return transport === 'ws' ? { transport, addresses: [thing], index: i, token: users.get(`sub${ws++}`)!.token } : { transport, addresses: [thing], index: i };
  });
  const readers = await startReaders({ count: READERS, base, wsUrl: server.wsUrl, key, sources: SOURCES, mode: 'rounds', subscribers });
  try {
    const samples: number[] = [];
    const lastOfRound: number[] = [];
    /** From sending the update to its HTTP reply (stored durably). */
    const acks: number[] = [];
    /** CPU seconds of the server and of the readers, at the first recorded round and after the last. */
    const cpu = (): { server: number; readers: number } => ({ server: cpuSeconds(server.pid), readers: readers.pids.reduce((s, p) => s + cpuSeconds(p), 0) });
    let cpuFrom = cpu();
    for (let round = 1; round <= WARMUP + ROUNDS; round++) {
      const recording = round > WARMUP;
      if (round === WARMUP + 1) cpuFrom = cpu();
      const done = readers.round(round, 30_000);
      const sentAt = clock();
      await post(`/presentities/things/${thing}/presence`, key, { fields: { n: round, sentAt } });
      if (recording) acks.push(clock() - sentAt);
      const { latencies, last } = await done;
      if (latencies.length !== N) throw new Error(`round ${round}: ${latencies.length} of ${N} subscribers got the change`);
      if (recording) {
        for (const x of latencies) samples.push(x);
        lastOfRound.push(last - sentAt);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpuTo = cpu();
    process.stdout.write(
      `${JSON.stringify({
        bench: 'presentities-fanout',
        subscribers: N,
        transport: TRANSPORT,
        sse: readers.counts.sse,
        ws: readers.counts.ws,
        readers: READERS,
        rounds: ROUNDS,
        updateReplyMs: summary(acks),
        perSubscriberMs: summary(samples),
        lastSubscriberMs: summary(lastOfRound),
        // CPU time per recorded round (ms, user + system, /proc), of the server and of all readers together.
        cpuMsPerRound: { server: Math.round(((cpuTo.server - cpuFrom.server) * 1000) / ROUNDS), readers: Math.round(((cpuTo.readers - cpuFrom.readers) * 1000) / ROUNDS) },
      })}\n`,
    );
  } finally {
    await readers.close();
  }
} finally {
  await server.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
