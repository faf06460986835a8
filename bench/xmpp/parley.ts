/**
 * Parley as a target of the XMPP comparison: this build's server (dist/src/app/main.js) as a child process on a
 * fresh SQLite database, its XMPP c2s listener on a port of its own, configured through PARLEY_* variables.
 *
 * Accounts: bench/lib/server.ts seeds the database (domain, schema); because Tsung gives every user its own
 * password (pass<i>), each account then gets its own SCRAM credentials, derived with the iteration count of the
 * comparison (4096 by default, the RFC 7677 minimum). Tsung logs in with SASL PLAIN, so Parley derives PBKDF2
 * for every login, as Prosody and ejabberd do with their hashed storage (peers.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import { deriveCredentials } from '../../src/auth/scram.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { MAIN, PACKAGE, seedDatabase, START_FLAGS, startServer, type ServerProc } from '../lib/server.js';
import { Unavailable, type Target } from './peers.js';
import { waitForPort } from './proc.js';

/** Options of the Parley target. */
export interface ParleyOptions {
  iterations: number;
  /** storage.sqlite.synchronous; undefined keeps the server's default (full). */
  sync?: 'full' | 'normal';
  /** When set, the server runs with --cpu-prof and writes its profiles here (summarise with dist/bench/profile-summary.js). */
  profileDir?: string;
  /** More Node.js flags for the server (after those of `npm start`). */
  nodeFlags?: string[];
}

/** Makes the Parley target. */
export function parleyTarget(opts: ParleyOptions): Target {
  const dbs = new Map<string, { dir: string; dbPath: string }>();
  return {
    name: 'parley',
    describe:
      `Parley: this build (node ${[...START_FLAGS, ...(opts.nodeFlags ?? [])].join(' ')} dist/src/app/main.js, as npm start runs it) on a fresh SQLite database (storage.sqlite.synchronous ` +
      `${opts.sync ?? 'full (default)'}); XMPP c2s on 127.0.0.1 without TLS (PARLEY_XMPP__REQUIRE_TLS=false, ` +
      `PARLEY_XMPP__ALLOW_PLAIN_WITHOUT_TLS=true, no direct-TLS port); accounts stored as SCRAM-SHA-1/SHA-256 ` +
      `credentials with ${opts.iterations} PBKDF2 iterations; messages are stored durably as part of its design.`,
    async version() {
      return `${PACKAGE.version ?? '?'} (this build)`;
    },
    async check() {
      if (!existsSync(MAIN)) return `${MAIN.split('/').slice(-3).join('/')} is missing: run npm run build`;
      return null;
    },
    async prepare(r) {
      if (r.domain !== 'localhost') throw new Error('the Parley seed creates the domain "localhost" only');
      const seeded = await seedDatabase({ users: [], iterations: opts.iterations, tokens: false });
      const store = createSqliteStore({ path: seeded.dbPath, synchronous: 'normal' });
      try {
        const now = Date.now();
        let next = 0;
        // PBKDF2 runs on libuv's thread pool: a few derivations at a time keep it busy.
        const worker = async (): Promise<void> => {
          for (let i = next++; i < r.accounts.length; i = next++) {
            const a = r.accounts[i]!;
            const credentials = await deriveCredentials(a.password, opts.iterations);
            await store.accounts.create({ address: `${a.user}@${r.domain}`, credentials, admin: false, createdAt: now, lastSeen: null, lastStatus: null });
          }
        };
        await Promise.all(Array.from({ length: 4 }, worker));
      } finally {
        await store.close();
      }
      dbs.set(r.dir, seeded);
    },
    async start(r) {
      const db = dbs.get(r.dir);
      if (!db) throw new Error('parley: prepare() was not called');
      const env: Record<string, string> = {
        PARLEY_XMPP__PORT: String(r.port),
        PARLEY_XMPP__REQUIRE_TLS: 'false',
        PARLEY_XMPP__ALLOW_PLAIN_WITHOUT_TLS: 'true',
        PARLEY_XMPP__DIRECT_TLS_PORT: 'null',
        PARLEY_XMPP__CERT_DIR: r.dir,
        PARLEY_AUTH__SCRAM_ITERATIONS: String(opts.iterations),
      };
      if (opts.sync) env.PARLEY_STORAGE__SQLITE__SYNCHRONOUS = opts.sync;
      let server: ServerProc;
      try {
        server = await startServer({ dir: db.dir, dbPath: db.dbPath, env, nodeFlags: [...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []), ...(opts.nodeFlags ?? [])] });
      } catch (e) {
        const text = e instanceof Error ? e.message : String(e);
        if (/xmpp/i.test(text) && /unknown key|invalid configuration/i.test(text)) {
          throw new Unavailable(`this build has no XMPP listener settings (${text.split('\n').find((l) => /xmpp/i.test(l))?.trim() ?? 'configuration rejected'})`);
        }
        throw e;
      }
      const up = await waitForPort(r.port, 5_000, () => server.child.exitCode === null);
      if (!up) {
        await server.stop(false);
        throw new Unavailable(`nothing listens on its XMPP port (${r.port}) although the server started`);
      }
      return {
        pid: server.pid,
        output: server.stderr,
        async stop() {
          await server.stop(true);
        },
      };
    },
    cleanup(r) {
      const db = dbs.get(r.dir);
      if (db) rmSync(db.dir, { recursive: true, force: true });
      dbs.delete(r.dir);
    },
  };
}
