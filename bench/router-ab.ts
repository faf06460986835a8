/**
 * The single-process delivery hot path of two builds, in one process: a bare-address reachability check, one
 * two-user fan-out (toUsers) and one one-user delivery (toUser) per iteration, over 400 users with two sessions
 * each whose sinks count and drop. Runs the builds alternately (swapping which goes first every round) and
 * prints CPU nanoseconds per iteration, the medians and minima (the least disturbed rounds on a shared machine)
 * and the new/base ratios. A build without the cluster layer
 * (cluster.js) is measured as it was; one with it gets a cluster that knows no other node, as one process has.
 *
 *   npm run build && node dist/bench/router-ab.js <base checkout> [<new checkout, default this one>] [--rounds N]
 *
 * Each checkout must have been built (its dist/).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './lib/stats.js';

interface Presence {
  availability: string;
  activity: null;
  status: null;
  priority: number;
  idleSince: null;
  explicit: boolean;
  updatedAt: number;
}
interface SessionLike {
  pending: unknown;
  replayed: unknown;
}
interface Build {
  Router: new (sessions: unknown, observer: unknown, cluster?: unknown) => {
    outbound(event: unknown, startedAt: number): unknown;
    toUsers(users: string[], out: unknown): number;
    toUser(user: string, out: unknown): number;
  };
  SessionRegistry: new () => { add(s: unknown): unknown; reachable(user: string): boolean };
  Session: new (id: string, user: string, resource: string, sink: unknown, presence: Presence, now: number) => SessionLike;
  Cluster: (new (node: string, bus: unknown, local: unknown, log: unknown, now: () => number) => { reachable(user: string): boolean }) | null;
  LocalBus: new (log: unknown) => unknown;
}

const args = process.argv.slice(2);
let rounds = 41;
const dirs: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') rounds = Number(args[++i]);
  else dirs.push(resolve(args[i]!));
}
if (dirs.length === 0) {
  console.error('usage: node dist/bench/router-ab.js <base checkout> [<new checkout>] [--rounds N]');
  process.exit(2);
}
const here = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const [baseDir, newDir] = [dirs[0]!, dirs[1] ?? here];

async function load(dir: string): Promise<Build> {
  const mod = async (name: string): Promise<Record<string, unknown>> => (await import(`${dir}/dist/src/engine/${name}.js`)) as Record<string, unknown>;
  const cluster = await mod('cluster').catch(() => null);
  return {
    ...(await mod('router')),
    ...(await mod('session')),
    ...(await mod('local-bus')),
    Cluster: (cluster?.Cluster ?? null) as Build['Cluster'],
  } as Build;
}

const presence: Presence = { availability: 'available', activity: null, status: null, priority: 0, idleSince: null, explicit: false, updatedAt: 0 };
const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const USERS = 400;

/** CPU ns per iteration of `n` iterations on build `b`. */
function run(b: Build, n: number): number {
  const reg = new b.SessionRegistry();
  const sink = { send: () => undefined, close: () => undefined };
  for (let u = 0; u < USERS; u++) {
    for (let r = 0; r < 2; r++) {
      const s = new b.Session(`id${u}-${r}`, `u${u}@example.com`, `r${r}`, sink, presence, 0);
      s.pending = null; // live, as after catch-up
      s.replayed = null;
      reg.add(s);
    }
  }
  const cluster = b.Cluster ? new b.Cluster('bench', new b.LocalBus(log), reg, log, Date.now) : null;
  const router = cluster ? new b.Router(reg, null, cluster) : new b.Router(reg, null);
  const reachable = cluster ? (u: string) => cluster.reachable(u) : (u: string) => reg.reachable(u);
  const users = Array.from({ length: USERS }, (_, i) => `u${i}@example.com`);
  let reached = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const a = users[i % USERS]!;
    const to = users[(i + 1) % USERS]!;
    if (reachable(to)) reached++;
    const out = router.outbound({ ev: 'message', data: { i }, seq: i + 1 }, 0);
    router.toUsers([to, a], out);
    router.toUser(to, out);
  }
  const c = process.cpuUsage(c0);
  if (reached !== n) throw new Error('a user was not reachable');
  return ((c.user + c.system) * 1000) / n;
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const base = await load(baseDir);
const next = await load(newDir);
for (let w = 0; w < 3; w++) {
  run(base, 200_000);
  run(next, 200_000);
}
const b: number[] = [];
const m: number[] = [];
for (let i = 0; i < rounds; i++) {
  if (i % 2 === 0) {
    b.push(run(base, 200_000));
    m.push(run(next, 200_000));
  } else {
    m.push(run(next, 200_000));
    b.push(run(base, 200_000));
  }
}
console.log(
  JSON.stringify({
    base: baseDir,
    new: newDir,
    baseNsPerIteration: b.map((x) => round(x, 1)),
    newNsPerIteration: m.map((x) => round(x, 1)),
    baseMedian: round(median(b), 1),
    newMedian: round(median(m), 1),
    ratio: round(median(m) / median(b), 3),
    baseMin: round(Math.min(...b), 1),
    newMin: round(Math.min(...m), 1),
    minRatio: round(Math.min(...m) / Math.min(...b), 3),
  }),
);
