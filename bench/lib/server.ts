/**
 * Runs the Parley server as a separate child process (node dist/src/app/main.js) on a temporary SQLite file,
 * configured only through PARLEY_* environment variables, and seeds its database before it starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveCredentials } from '../../src/auth/scram.js';
import { issueToken } from '../../src/auth/tokens.js';
import type { RosterItem } from '../../src/core/types.js';
import type { Credentials } from '../../src/ports/store.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';

export const DOMAIN = 'localhost';
/** This build's server entry point. */
export const MAIN = fileURLToPath(new URL('../../src/app/main.js', import.meta.url));

/** Parley's package.json. */
export const PACKAGE = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
  version?: string;
  scripts?: { start?: string };
};

/**
 * The Node.js flags `npm start` gives the server (package.json's start script), so that benchmarks measure the
 * server as it is run.
 */
export const START_FLAGS: readonly string[] = (() => {
  const m = /^node\s+(.*?)\s*dist\/src\/app\/main\.js/.exec(PACKAGE.scripts?.start ?? '');
  if (!m) throw new Error('package.json: the start script is not "node [flags] dist/src/app/main.js"');
  return m[1]!.split(/\s+/).filter((f) => f !== '');
})();

/** A user the load processes log in as. */
export interface BenchUser {
  address: string;
  password: string;
  token: string;
}

/** What to put in the database before the server starts. */
export interface Seed {
  /** Local parts; every user gets the same password (one credential derived once) and a token. */
  users: string[];
  password?: string;
  /** Iterations of the shared credential (default 10,000: the server's default). */
  iterations?: number;
  /** Whether to issue tokens (logins do not need them). */
  tokens?: boolean;
  /** Mutual presence subscriptions (subscription 'both' on both sides): [owner, contact] local parts. */
  subscriptions?: Array<[string, string]>;
}

/** A running server child. */
export interface ServerProc {
  pid: number;
  port: number;
  baseUrl: string;
  wsUrl: string;
  dir: string;
  child: ChildProcess;
  stderr: () => string;
  /** Stops it: SIGTERM and a wait for exit when graceful (CPU profiles are written on exit), else SIGKILL. */
  stop(graceful: boolean): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Creates a temp dir with a seeded database; returns the dir and the users (with tokens). */
export async function seedDatabase(seed: Seed): Promise<{ dir: string; dbPath: string; users: Map<string, BenchUser> }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const dbPath = join(dir, 'parley.db');
  // synchronous=normal only for seeding speed; the server opens the file with its own (default: full) setting.
  const store = createSqliteStore({ path: dbPath, synchronous: 'normal' });
  const password = seed.password ?? 'bench-password';
  const users = new Map<string, BenchUser>();
  try {
    await store.domains.add(DOMAIN, Date.now());
    const credentials: Credentials = await deriveCredentials(password, seed.iterations ?? 10_000);
    const now = Date.now();
    for (const local of seed.users) {
      const address = `${local}@${DOMAIN}`;
      await store.accounts.create({ address, credentials, admin: false, createdAt: now, lastSeen: null, lastStatus: null });
      const token = seed.tokens === false ? '' : (await issueToken(store.tokens, address, 24 * 3_600_000, now)).token;
      users.set(local, { address, password, token });
    }
    if (seed.subscriptions?.length) {
      const items: RosterItem[] = [];
      const item = (owner: string, contact: string): RosterItem => ({
        owner: `${owner}@${DOMAIN}`,
        contact: `${contact}@${DOMAIN}`,
        name: null,
        groups: [],
        subscription: 'both',
        pendingOut: false,
        pendingIn: false,
      });
      for (const [a, b] of seed.subscriptions) items.push(item(a, b), item(b, a));
      await store.rosters.put(items);
    }
  } finally {
    await store.close();
  }
  return { dir, dbPath, users };
}

/** Starts the server child on the seeded database and waits until /health answers. */
export async function startServer(opts: {
  dir: string;
  dbPath: string;
  env?: Record<string, string>;
  nodeFlags?: string[];
  /** Server entry point (default: this build's dist/src/app/main.js). */
  main?: string;
}): Promise<ServerProc> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, {
    PARLEY_SERVER__HOST: '127.0.0.1',
    PARLEY_SERVER__PORT: String(port),
    PARLEY_STORAGE__SQLITE__PATH: opts.dbPath,
    PARLEY_LOG__LEVEL: 'warn',
    // XMPP on free ports (certificates in the run's temp dir) unless the caller says otherwise.
    PARLEY_XMPP__PORT: '0',
    PARLEY_XMPP__DIRECT_TLS_PORT: '0',
    PARLEY_XMPP__CERT_DIR: join(opts.dir, 'certs'),
    // Load processes stand in for thousands of people behind a handful of loopback addresses (10 by default,
    // 1000 idle connections each): the per-address connection caps would refuse them. Only for this build: an
    // older one given as `main` has no such settings and would refuse the unknown keys.
    ...(opts.main === undefined ? { PARLEY_LIMITS__CONNECTIONS_PER_ADDRESS: '1000000', PARLEY_LIMITS__UNAUTHENTICATED_PER_ADDRESS: '1000000' } : {}),
    ...opts.env,
  });
  // cwd = the temp dir, so a parley.yaml in the working tree is not picked up.
  const child = spawn(process.execPath, [...START_FLAGS, ...(opts.nodeFlags ?? []), opts.main ?? MAIN], { cwd: opts.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  child.stdout!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) during start:\n${err}`);
    try {
      const r = await fetch(`${baseUrl}/health`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start within 20 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    port,
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dir: opts.dir,
    child,
    stderr: () => err,
    async stop(graceful) {
      if (child.exitCode === null && child.signalCode === null) {
        if (graceful) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
          await exited;
          clearTimeout(t);
        } else {
          child.kill('SIGKILL');
          await exited;
        }
      }
    },
  };
}

/** Resident set size of a process in KiB (/proc/<pid>/status VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** CPU seconds (user+system) a process has used so far (/proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5), counted after the command name)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** A few numbers from the server's Prometheus /metrics (heap, external memory). */
export async function serverHeap(baseUrl: string): Promise<{ heapUsedKiB: number; externalKiB: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const get = (name: string): number => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  };
  return { heapUsedKiB: get('parley_nodejs_heap_size_used_bytes'), externalKiB: get('parley_nodejs_external_memory_bytes') };
}

/**
 * A JSON caller of the server's HTTP API under `base` (e.g. `${baseUrl}/api/v1`): sends `body` with a bearer
 * token and returns the parsed reply; any status but 2xx throws with the path and the reply.
 */
export function jsonApi(base: string): (path: string, token: string, body: unknown, method?: string) => Promise<Record<string, unknown>> {
  return async (path, token, body, method = 'POST') => {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
}
