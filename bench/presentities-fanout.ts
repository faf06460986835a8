/**
 * `npm run bench:presentities`: one thing's update fanned out to N Server-Sent Event subscribers. The server
 * runs as a child process (as `npm start` runs it) with the apikeys and presentities modules on; this process
 * opens N streams to the thing, then posts updates one at a time and times, for every subscriber, from sending
 * the update to the moment its change frame arrived. Prints one JSON line, in ms: the update's HTTP reply (the
 * change is stored, with the server's default synchronous=full, before it is published), per-subscriber
 * latency (p50, p90, p99, max) and the time until the last subscriber of a round had it. The receiving streams
 * share this one process, so its event loop is part of what is measured.
 *
 *   npm run bench:presentities                          2000 subscribers, 30 rounds
 *   npm run bench:presentities -- --subscribers 500 --rounds 50
 */
import { request, type IncomingMessage } from 'node:http';
import { rmSync } from 'node:fs';
import { sourceAddress } from './lib/lean-client.js';
import { seedDatabase, startServer } from './lib/server.js';
import { summary } from './lib/stats.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('subscribers', 2000);
const ROUNDS = arg('rounds', 30);
const WARMUP = 3;
/** Source addresses the streams come from (127.0.0.2 …), so no one address runs out of ports. */
const SOURCES = 8;

const { dir, dbPath, users } = await seedDatabase({ users: ['owner'], iterations: 4096 });
const server = await startServer({
  dir,
  dbPath,
  env: {
    PARLEY_MODULES__APIKEYS__ENABLED: 'true',
    PARLEY_MODULES__APIKEYS__REQUESTS_PER_SECOND: '100000',
    PARLEY_MODULES__PRESENTITIES__ENABLED: 'true',
  },
});
try {
  const base = `${server.baseUrl}/api/v1`;
  const owner = users.get('owner')!;
  const post = async (path: string, token: string, body: unknown, method = 'POST'): Promise<Record<string, unknown>> => {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const { token: key } = (await post('/apikeys/keys', owner.token, { name: 'bench', scopes: ['presence:read', 'presence:write:things'] })) as { token: string };
  const thing = 'press-1@localhost';
  await post(`/presentities/things/${thing}`, key, { kind: 'thing', fields: { n: 'number' } }, 'PUT');

  // Per subscriber: the marker it waits for and when the round started.
  let marker = '';
  let started = 0;
  let got = 0;
  let roundDone: (() => void) | null = null;
  const samples: number[] = [];
  const lastOfRound: number[] = [];
  /** From sending the update to its HTTP reply (stored durably). */
  const acks: number[] = [];
  let recording = false;
  let last = 0;

  const open = (i: number): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req = request(`${base}/presentities/stream?addresses=${thing}`, { headers: { authorization: `Bearer ${key}` }, agent: false, localAddress: sourceAddress(i, SOURCES) }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        let seenRound = '';
        let snapshot = false;
        res.on('data', (chunk: string) => {
          if (!snapshot && chunk.includes('event: snapshot')) {
            snapshot = true;
            resolve(res);
          }
          if (marker !== '' && seenRound !== marker && chunk.includes(marker)) {
            seenRound = marker;
            const at = performance.now();
            if (recording) samples.push(at - started);
            last = at;
            if (++got === N) roundDone?.();
          }
        });
      });
      req.on('error', reject);
      req.end();
    });

  const streams: IncomingMessage[] = [];
  for (let i = 0; i < N; i += 100) streams.push(...(await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, j) => open(i + j)))));

  for (let round = 1; round <= WARMUP + ROUNDS; round++) {
    recording = round > WARMUP;
    got = 0;
    marker = `{"n":${round}}`;
    const done = new Promise<void>((resolve, reject) => {
      roundDone = resolve;
      setTimeout(() => reject(new Error(`round ${round}: ${got} of ${N} subscribers got the change`)), 30_000).unref();
    });
    started = performance.now();
    await post(`/presentities/things/${thing}/presence`, key, { fields: { n: round } });
    if (recording) acks.push(performance.now() - started);
    await done;
    if (recording) lastOfRound.push(last - started);
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const s of streams) s.destroy();
  process.stdout.write(
    `${JSON.stringify({ bench: 'presentities-sse-fanout', subscribers: N, rounds: ROUNDS, updateReplyMs: summary(acks), perSubscriberMs: summary(samples), lastSubscriberMs: summary(lastOfRound) })}\n`,
  );
} finally {
  await server.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
