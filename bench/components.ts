/**
 * `npm run bench:components`: things updated per second over one XEP-0114 component connection. The server
 * runs as a child process (as `npm start` runs it, storage synchronous=full) with the apikeys, presentities and
 * components modules on, one component `sensors.localhost` whose per-connection rate limit is lifted so the
 * figure is the server's, not the limit's. This process is the component: it shakes hands over raw TCP, then
 * each trial sends `--rounds` rounds of one presence per thing (`--things` things, each presence with a status
 * and a typed field `seq`), written as fast as the socket takes them, and stops the clock when an HTTP reader
 * (an API key with presence:read) sees the last thing's final `seq`. Several trials; prints one JSON line with
 * each trial's updates per second and the median.
 *
 *   npm run bench:components
 *   npm run bench:components -- --things 1000 --rounds 10 --trials 5 [--profile-dir DIR]
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, jsonApi, seedDatabase, startServer } from './lib/server.js';
import { round } from './lib/stats.js';
import { numArg } from './lib/args.js';

const THINGS = numArg('things', 1000);
const ROUNDS = numArg('rounds', 10);
const TRIALS = numArg('trials', 5);
/** Where the server writes a CPU profile (node --cpu-prof), when given; bench/profile-summary.ts reads it. */
const PROFILE_DIR = (() => {
  const i = process.argv.indexOf('--profile-dir');
  return i >= 0 ? process.argv[i + 1]! : null;
})();
const SECRET = 'bench-component-secret';
const DOMAIN = 'sensors.localhost';

const { dir, dbPath, users } = await seedDatabase({ users: ['owner'], iterations: 4096 });
const componentPort = await freePort();
const configPath = join(dir, 'parley.json');
// JSON is YAML: the component list cannot be given through environment variables.
writeFileSync(
  configPath,
  JSON.stringify({
    modules: {
      apikeys: { enabled: true, requestsPerSecond: 100_000 },
      presentities: { enabled: true },
      components: {
        enabled: true,
        port: componentPort,
        stanzasPerSecond: 1_000_000,
        components: [{ domain: DOMAIN, secret: SECRET, owner: 'owner@localhost', fields: { seq: 'number' } }],
      },
    },
  }),
);
const server = await startServer({ dir, dbPath, env: { PARLEY_CONFIG: configPath }, nodeFlags: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [] });

/** Reads from the socket until `re` matches what arrived. */
function until(socket: Socket, seen: { text: string }, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = seen.text.match(re);
      if (m) {
        socket.off('data', check);
        resolve(m);
      } else if (/<stream:error/.test(seen.text)) reject(new Error(`stream error: ${seen.text}`));
    };
    socket.on('data', check);
    check();
  });
}

try {
  const base = `${server.baseUrl}/api/v1`;
  const owner = users.get('owner')!;
  const post = jsonApi(base);
  const readKey = ((await post('/apikeys/keys', owner.token, { name: 'reader', scopes: ['presence:read'] })) as { token: string }).token;
  const seqOf = async (address: string): Promise<number | null> => {
    const r = await fetch(`${base}/presentities/presence/${address}`, { headers: { authorization: `Bearer ${readKey}` } });
    if (!r.ok) return null;
    const j = (await r.json()) as { presentity: { fields: { seq?: number } } };
    return j.presentity.fields.seq ?? null;
  };

  const socket = connect(componentPort, '127.0.0.1');
  const seen = { text: '' };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    seen.text = (seen.text + d).slice(-100_000);
  });
  socket.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}'>`);
  const id = (await until(socket, seen, /id="([^"]+)"/))[1]!;
  socket.write(`<handshake>${createHash('sha1').update(id + SECRET).digest('hex')}</handshake>`);
  await until(socket, seen, /<handshake\/>/);

  const last = `t-${THINGS - 1}@${DOMAIN}`;
  const trial = async (n: number): Promise<number> => {
    const started = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const seq = n * ROUNDS + r + 1;
      let chunk = '';
      for (let i = 0; i < THINGS; i++) {
        chunk += `<presence from='t-${i}@${DOMAIN}'><status>round ${seq}</status><fields xmlns='urn:xmpp:parley:presentity:0'><field name='seq'>${seq}</field></fields></presence>`;
      }
      if (!socket.write(chunk)) await new Promise((r2) => socket.once('drain', r2));
    }
    const final = (n + 1) * ROUNDS;
    while ((await seqOf(last)) !== final) await new Promise((r) => setTimeout(r, 5));
    return (THINGS * ROUNDS * 1000) / (performance.now() - started);
  };
  // A first round defines the things (not measured: definitions are a one-time cost).
  await trial(0);
  const rates: number[] = [];
  for (let n = 1; n <= TRIALS; n++) rates.push(round(await trial(n), 0));
  const sorted = [...rates].sort((a, b) => a - b);
  console.log(JSON.stringify({ things: THINGS, rounds: ROUNDS, updatesPerTrial: THINGS * ROUNDS, updatesPerSecond: rates, median: sorted[Math.floor(sorted.length / 2)] }));
  socket.end('</stream:stream>');
} finally {
  await server.stop(true);
}
