/**
 * Child processes of the federation interop harness: peers are started in their own process group (so stopping
 * one ends everything it spawned, e.g. ejabberd's `su` and `beam.smp`), and waited on by polling their port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';

/** A program the harness started, with what it printed. */
export interface Child {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** Starts `cmd args` in a new process group, collecting stdout and stderr. */
export function startChild(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Child {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(proc);
  let buf = '';
  const keep = (d: Buffer): void => {
    buf += d.toString();
    if (buf.length > 400_000) buf = buf.slice(-200_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );
  return { proc, output: () => buf, exited };
}

/** Sends `signal` to the child's whole process group (it leads one: started detached). */
export function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ends a child: SIGTERM to its group, SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 5_000): Promise<void> {
  signalGroup(child.proc, 'SIGTERM');
  const t = setTimeout(() => signalGroup(child.proc, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(t);
  // The group may outlive its leader (a daemon's children).
  if (child.proc.pid !== undefined) {
    try {
      process.kill(-child.proc.pid, 'SIGKILL');
    } catch {
      // Nothing left.
    }
  }
}

/** SIGKILLs every child still running (the exit hook of a crashed test file). */
export function killAllChildren(): void {
  for (const p of running) signalGroup(p, 'SIGKILL');
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...(opts.env ?? {}) },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${out}`);
  return out;
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.setTimeout(1_000, () => (s.destroy(), resolve(false)));
  });
}

/** Waits until every host:port listens, or the child exits (then fails with `diagnose()`), or `ms` pass. */
export async function waitListening(child: Child, ports: Array<[string, number]>, ms: number, diagnose: () => string): Promise<void> {
  let gone: number | string | null = null;
  void child.exited.then((c) => (gone = c));
  const end = Date.now() + ms;
  for (;;) {
    const ok = await Promise.all(ports.map(([h, p]) => listening(h, p)));
    if (ok.every(Boolean)) return;
    if (gone !== null) throw new Error(`exited (${gone}) before listening on ${ports.map(([h, p]) => `${h}:${p}`).join(', ')}:\n${diagnose()}`);
    if (Date.now() > end) throw new Error(`not listening on ${ports.map(([h, p]) => `${h}:${p}`).join(', ')} after ${ms} ms:\n${diagnose()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


export { freePort } from '../../../src/modules/testing.js';
