/**
 * `npm run bench:webhooks`: webhook fan-out. The server runs as a child process (as `npm start` runs it) with
 * the apikeys, presentities and webhooks modules on (private targets allowed); this process runs the receiver
 * (node:http on 127.0.0.1, answering 204) and creates W webhooks on one thing, then posts a burst of U updates
 * to the thing at once and counts deliveries until every webhook had every change. Prints one JSON line: deliveries per
 * second from the first update to the last delivery, the time the burst of updates took to post, and per
 * delivery the time from its update's reply to its arrival (p50, p90, p99, max). A sample of deliveries is
 * checked against the signature. The receiver shares this one process, so its event loop is part of what is
 * measured.
 *
 *   npm run bench:webhooks                               100 webhooks, bursts of 100 updates, 3 rounds
 *   npm run bench:webhooks -- --webhooks 200 --updates 50 --rounds 5
 */
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { verifySignature } from '../src/modules/webhooks/signature.js';
import { jsonApi, seedDatabase, startServer } from './lib/server.js';
import { round, summary } from './lib/stats.js';
import { numArg } from './lib/args.js';

const W = numArg('webhooks', 100);
const U = numArg('updates', 100);
const ROUNDS = numArg('rounds', 3);

// The receiver: counts deliveries per round (by the update's n), notes when each arrived.
let expected = 0;
let got = 0;
let roundDone: (() => void) | null = null;
const arrivedAt = new Map<number, number[]>();
const secrets = new Map<string, string>();
let checked = 0;
let badSignatures = 0;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.now();
    res.writeHead(204).end();
    const raw = Buffer.concat(chunks);
    if (got % 97 === 0) {
      const secret = secrets.get(String(req.headers['parley-webhook-id']));
      checked++;
      if (!secret || !verifySignature(secret, String(req.headers['parley-signature']), raw)) badSignatures++;
    }
    const m = /"n":(\d+)/.exec(raw.toString('utf8'));
    if (!m) return;
    const n = Number(m[1]);
    let list = arrivedAt.get(n);
    if (!list) arrivedAt.set(n, (list = []));
    list.push(at);
    if (++got === expected) roundDone?.();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const rxPort = (receiver.address() as { port: number }).port;

const { dir, dbPath, users } = await seedDatabase({ users: ['owner'], iterations: 4096 });
const server = await startServer({
  dir,
  dbPath,
  env: {
    PARLEY_MODULES__APIKEYS__ENABLED: 'true',
    PARLEY_MODULES__APIKEYS__REQUESTS_PER_SECOND: '100000',
    PARLEY_MODULES__PRESENTITIES__ENABLED: 'true',
    PARLEY_MODULES__WEBHOOKS__ENABLED: 'true',
    PARLEY_MODULES__WEBHOOKS__ALLOW_PRIVATE_TARGETS: 'true',
    PARLEY_MODULES__WEBHOOKS__MAX_PER_OWNER: String(Math.max(100, W)),
  },
});
try {
  const base = `${server.baseUrl}/api/v1`;
  const owner = users.get('owner')!;
  const call = jsonApi(base);
  const { token: key } = (await call('/apikeys/keys', owner.token, { name: 'bench', scopes: ['presence:read', 'presence:write:things', 'webhooks'] })) as { token: string };
  const thing = 'sensor-1@localhost';
  await call(`/presentities/things/${thing}`, key, { kind: 'thing', fields: { n: 'number' } }, 'PUT');
  for (let i = 0; i < W; i++) {
    const r = (await call('/webhooks', key, { url: `http://127.0.0.1:${rxPort}/hook/${i}`, target: { addresses: [thing] } })) as { webhook: { id: string }; secret: string };
    secrets.set(r.webhook.id, r.secret);
  }

  const rates: number[] = [];
  const postMs: number[] = [];
  const latencies: number[] = [];
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    got = 0;
    expected = W * U;
    arrivedAt.clear();
    const done = new Promise<void>((resolve, reject) => {
      roundDone = resolve;
      setTimeout(() => reject(new Error(`round ${r + 1}: ${got} of ${expected} deliveries`)), 120_000).unref();
    });
    const replied = new Map<number, number>();
    const started = performance.now();
    // The burst: every update at once (the store commits them in groups), so deliveries, not the update rate, are measured.
    await Promise.all(
      Array.from({ length: U }, async () => {
        const m = ++n;
        await call(`/presentities/things/${thing}/presence`, key, { fields: { n: m } });
        replied.set(m, performance.now());
      }),
    );
    postMs.push(performance.now() - started);
    await done;
    let last = 0;
    for (const [m, ats] of arrivedAt) {
      for (const at of ats) {
        latencies.push(at - replied.get(m)!);
        if (at > last) last = at;
      }
    }
    rates.push((W * U) / ((last - started) / 1000));
    await new Promise((res) => setTimeout(res, 200));
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: 'webhooks-fanout',
      webhooks: W,
      updatesPerRound: U,
      rounds: ROUNDS,
      deliveriesPerSecond: rates.map((x) => Math.round(x)),
      deliveriesPerSecondBest: Math.round(Math.max(...rates)),
      burstPostMs: postMs.map((x) => round(x)),
      deliveryAfterUpdateMs: summary(latencies),
      signaturesChecked: checked,
      badSignatures,
    })}\n`,
  );
} finally {
  await server.stop(true);
  receiver.closeAllConnections();
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
