/** Runs the built server (dist/) as a separate process, as an operator would, for crash and shutdown tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ParleyClient, login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'src', 'app', 'main.js');

/** A server child process and its base URL. */
export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const started = new Set<ChildProcess>();

/** Kills every server this module started that is still running (for afterAll, so a failed test leaks none). */
export function killAll(): void {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  started.clear();
}

/** The command that runs `argv` with every file it writes limited to `bytes` (RLIMIT_FSIZE). */
function underFileSizeLimit(bytes: number, argv: string[]): string[] {
  // util-linux prlimit takes bytes; without it, the shell's ulimit -f (POSIX: 512-byte blocks).
  if (spawnSync('prlimit', ['--version']).status === 0) return ['prlimit', `--fsize=${bytes}`, ...argv];
  return ['sh', '-c', 'ulimit -f "$0" && exec "$@"', String(Math.ceil(bytes / 512)), ...argv];
}

/**
 * Starts `node dist/src/app/main.js` on a free port over the SQLite file at `dbPath`; `nodeArgs` go before the
 * script (e.g. the V8 flags `npm start` uses). With `fileSizeLimit`, no file the server writes may grow past that
 * many bytes (a disk that is full for it).
 */
export function startProcess(
  dbPath: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  opts: { fileSizeLimit?: number } = {},
): Promise<ServerProcess> {
  const argv = [process.execPath, ...nodeArgs, MAIN];
  const [cmd, ...args] = opts.fileSizeLimit === undefined ? argv : underFileSizeLimit(opts.fileSizeLimit, argv);
  const proc = spawn(cmd!, args, {
    env: {
      ...process.env,
      PARLEY_SERVER__PORT: '0',
      PARLEY_XMPP__PORT: '0',
      PARLEY_XMPP__DIRECT_TLS_PORT: '0',
      PARLEY_XMPP__CERT_DIR: join(dirname(dbPath), 'certs'),
      PARLEY_STORAGE__SQLITE__PATH: dbPath,
      PARLEY_AUTH__SCRAM_ITERATIONS: '4096',
      PARLEY_LOG__LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(proc);
  let buf = '';
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${buf}`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve({ proc, url: m[1]!, output: () => buf, exited });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (buf += d.toString()));
    void exited.then((code) => reject(new Error(`server exited ${code}: ${buf}`)));
  });
}

/** Logs `who@localhost` in (password "pw-" + who) and opens a session with resource "r". */
export async function sessionOn(url: string, who: string, since?: number): Promise<ParleyClient> {
  const { token } = await login(url, `${who}@localhost`, `pw-${who}`);
  return ParleyClient.connect({ url: `${url.replace('http', 'ws')}/ws`, token, resource: 'r', ...(since !== undefined ? { since } : {}) });
}

/** A temporary directory with a SQLite database hosting localhost and the given users (password "pw-" + name). */
export async function prepareDb(prefix: string, users: string[]): Promise<{ dir: string; dbPath: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dbPath = join(dir, 'parley.db');
  const store = createSqliteStore({ path: dbPath });
  await store.domains.add('localhost', Date.now());
  for (const u of users) await addUser(store, `${u}@localhost`, `pw-${u}`, { admin: false, iterations: 4096, now: Date.now() });
  await store.close();
  return { dir, dbPath };
}
