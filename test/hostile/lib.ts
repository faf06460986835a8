/**
 * The hostile-load suite's harness: a Parley server in its own process (so its peak memory can be read and an
 * attacker in the test process cannot share its event loop), a control pair of users chatting throughout in a
 * third process, and helpers to judge both. Each case attacks the server, then asserts that the control pair's
 * messages kept flowing with bounded latency and that the server stayed under a memory ceiling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, prepareDb, startProcess, type ServerProcess } from '../process.js';

const CONTROL = join(import.meta.dirname, '..', '..', 'dist', 'test', 'hostile', 'control-pair.js');

/** The Node.js flags of `npm start` (package.json), so the server runs here as operators run it. */
const START_FLAGS = ((): string[] => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((a) => a.startsWith('--'));
})();

/** A server process for one hostile case. */
export interface HostileServer {
  proc: ServerProcess;
  url: string;
  /** The XMPP STARTTLS and direct-TLS ports. */
  xmppPort: number;
  xmppTlsPort: number;
  dir: string;
  dbPath: string;
  /** Peak resident memory of the server process so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** Resident memory now (VmRSS), in MiB. */
  rssMiB(): number;
  stop(): Promise<void>;
}

/**
 * Starts a server process (with `npm start`'s Node.js flags) over a fresh database with `localhost` and the given users (password "pw-" + local
 * part; the control pair's users are always added). `env` sets PARLEY_* configuration.
 */
export async function startHostile(users: string[], env: Record<string, string> = {}): Promise<HostileServer> {
  const all = [...new Set([...users, 'ctl-a', 'ctl-b'])];
  const { dir, dbPath } = await prepareDb('parley-hostile-', all);
  const proc = await startProcess(dbPath, { PARLEY_XMPP__ALLOW_PLAIN_WITHOUT_TLS: 'false', ...env }, START_FLAGS);
  const xmpp = await waitFor(proc, /"starttls":(\d+),"directTls":(\d+)/);
  const pid = proc.proc.pid!;
  const status = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return {
    proc,
    url: proc.url,
    xmppPort: Number(xmpp[1]),
    xmppTlsPort: Number(xmpp[2]),
    dir,
    dbPath,
    peakRssMiB: () => status('VmHWM'),
    rssMiB: () => status('VmRSS'),
    async stop() {
      if (proc.proc.exitCode === null) {
        proc.proc.kill('SIGTERM');
        await proc.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the server's output matches `re`. */
async function waitFor(p: ServerProcess, re: RegExp, ms = 10_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(p.output());
    if (m) return m;
    if (Date.now() > end) throw new Error(`server never printed ${re}: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the control pair measured. */
export interface ControlStats {
  sent: number;
  acked: number;
  received: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

/** A running control pair (ctl-a@localhost sending to ctl-b@localhost). */
export interface ControlPair {
  stop(): Promise<ControlStats>;
}

/** Starts the control pair against `url`, one message every `intervalMs`; resolves once both are online. */
export async function startControlPair(url: string, intervalMs = 20): Promise<ControlPair> {
  const proc: ChildProcess = spawn(process.execPath, [CONTROL, url, 'ctl-a@localhost', 'ctl-b@localhost', String(intervalMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  controls.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const end = Date.now() + 15_000;
  while (!out.includes('"ready":true')) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`control pair did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      controls.delete(proc);
      const line = out.trim().split('\n').at(-1)!;
      return JSON.parse(line) as ControlStats;
    },
  };
}

const controls = new Set<ChildProcess>();

/** For afterAll: ends every server and control pair still running. */
export function killHostile(): void {
  for (const p of controls) if (p.exitCode === null) p.kill('SIGKILL');
  controls.clear();
  killAll();
}

/**
 * The verdict on the control pair after an attack: nothing lost, no error, and delivery latency within bounds
 * (a shared CI machine is noisy, so the bound is on p99 and generous on the maximum).
 */
export function expectControlHeld(s: ControlStats, bounds: { p99Ms?: number; maxMs?: number } = {}): void {
  // Printed whatever the verdict, so the figures behind it can be read in the test output.
  const ms = (x: number): string => x.toFixed(1);
  console.log(`control pair: ${s.received}/${s.sent} received, p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms, max ${ms(s.max)} ms`);
  const p99 = bounds.p99Ms ?? 250;
  const max = bounds.maxMs ?? 1000;
  const problems: string[] = [];
  if (s.sent < 10) problems.push(`only ${s.sent} control messages were sent`);
  if (s.errors > 0) problems.push(`${s.errors} control sends failed`);
  if (s.received < s.acked) problems.push(`${s.acked - s.received} acknowledged control messages never arrived`);
  if (s.p99 > p99) problems.push(`control p99 ${s.p99.toFixed(1)} ms > ${p99} ms`);
  if (s.max > max) problems.push(`control max ${s.max.toFixed(1)} ms > ${max} ms`);
  if (problems.length > 0) throw new Error(`the control pair suffered: ${problems.join('; ')} (${JSON.stringify(s)})`);
}
