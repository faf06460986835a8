/** Runs the operator CLI (`node bin/parley.js`, from the build in dist/) as a child process on a test server's database. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'parley.js');

/** What a CLI run printed, and its exit code. */
export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `parley ...args` on the SQLite database `db`; `input` goes to stdin (a password). */
export function runParley(db: string, args: string[], input = '', extraEnv: Record<string, string> = {}): Promise<CliRun> {
  if (!existsSync(join(ROOT, 'dist', 'src', 'app', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, { PARLEY_STORAGE__SQLITE__PATH: db, PARLEY_AUTH__SCRAM_ITERATIONS: '4096', PARLEY_LOG__LEVEL: 'silent' }, extraEnv);
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dirname(db), env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => done({ code, out, err }));
    child.stdin.end(input);
  });
}
