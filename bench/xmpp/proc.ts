/**
 * Process and socket helpers for the XMPP benchmarks: child processes with timeouts, process trees read from
 * /proc, a resident-set-size sampler, a small XMPP probe that checks a server accepts a SASL PLAIN login, and
 * what both benchmark scripts share (progress lines, interrupts, epmd).
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { connect } from 'node:net';

/** Process groups of children still running (what an interrupted run must kill). */
export const liveGroups = new Set<number>();

/** Output of a finished command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command to completion (its own process group, so a timeout kills everything it started) and returns
 * its exit status and output (the last 200 kB of each stream).
 */
export function run(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) liveGroups.add(child.pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-200_000)));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
    const timer =
      opts.timeoutMs === undefined
        ? null
        : setTimeout(() => {
            timedOut = true;
            killGroup(child.pid!, 'SIGKILL');
          }, opts.timeoutMs);
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      reject(e);
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      liveGroups.delete(child.pid!);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Signals a whole process group (a child spawned with detached: true leads its own group). */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until a process has exited; false when it is still there after `timeoutMs`. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Every process on the machine as pid → [parent pid, command name]. */
function processTable(): Map<number, { ppid: number; comm: string }> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), comm: stat.slice(open + 1, close) });
    } catch {
      /* exited meanwhile */
    }
  }
  return table;
}

/** The process itself and all its descendants, with their command names. */
export function processTree(root: number): Array<{ pid: number; comm: string }> {
  const table = processTable();
  const out: Array<{ pid: number; comm: string }> = [];
  const self = table.get(root);
  if (self) out.push({ pid: root, comm: self.comm });
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, p] of table) {
      if (p.ppid === parent) {
        out.push({ pid, comm: p.comm });
        queue.push(pid);
      }
    }
  }
  return out;
}

/** CPU time (user + system, clock ticks) of every process now: pid → [command name, ticks]. */
export function cpuTicksByProcess(): Map<number, [string, number]> {
  const out = new Map<number, [string, number]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(entry), [stat.slice(stat.indexOf('(') + 1, close), Number(fields[11]) + Number(fields[12])]);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** The processes that used the most CPU between two snapshots, as "name(pid) N%" of one CPU. */
export function topCpuUsers(before: Map<number, [string, number]>, after: Map<number, [string, number]>, seconds: number, n = 3): string[] {
  const rows: Array<[string, number]> = [];
  for (const [pid, [comm, ticks]] of after) {
    const used = ticks - (before.get(pid)?.[1] ?? 0);
    if (used > 0) rows.push([`${comm}(${pid})`, used]);
  }
  return rows
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([who, ticks]) => `${who} ${Math.round(ticks / seconds)}%`);
}

/** The first process named `comm` in the tree under `root` (root included), or null. */
export function findInTree(root: number, comm: string): number | null {
  return processTree(root).find((p) => p.comm === comm)?.pid ?? null;
}

/** Pids of processes with this command name anywhere on the machine. */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const [pid, p] of processTable()) if (p.comm === comm) out.push(pid);
  return out;
}

/** VmRSS in KiB, or NaN when the process is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's VmRSS at a fixed interval; `stop()` returns the peak and the series. */
export class RssSampler {
  private readonly samples: Array<[number, number]> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = Date.now();

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const kib = rssOf(this.pid);
    if (Number.isFinite(kib)) this.samples.push([Date.now() - this.t0, kib]);
  }

  stop(): { peakKiB: number; firstKiB: number; samples: number; series: Array<[number, number]> } {
    clearInterval(this.timer);
    this.sample();
    const peak = this.samples.reduce((m, [, v]) => Math.max(m, v), 0);
    return { peakKiB: this.samples.length ? peak : Number.NaN, firstKiB: this.samples[0]?.[1] ?? Number.NaN, samples: this.samples.length, series: this.samples };
  }
}

/** Resolves true once something accepts TCP connections on host:port, false after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, stillWorthWaiting: () => boolean = () => true, host = '127.0.0.1'): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    if (Date.now() > deadline || !stillWorthWaiting()) return false;
    await sleep(100);
  }
}

/**
 * Opens an XMPP client stream without TLS, checks that PLAIN is offered and that `user`/`password` log in, and
 * closes the stream. Returns null on success, else what went wrong (with the last bytes the server sent).
 */
export function probeXmppLogin(port: number, domain: string, user: string, password: string, timeoutMs = 10_000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    let stage: 'features' | 'auth' | 'done' = 'features';
    const finish = (result: string | null): void => {
      if (stage === 'done') return;
      stage = 'done';
      clearTimeout(timer);
      s.end('</stream:stream>');
      setTimeout(() => s.destroy(), 200).unref();
      resolve(result);
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms (stage ${stage}); received: ${buf.slice(-300) || '(nothing)'}`), timeoutMs);
    s.setEncoding('utf8');
    s.once('error', (e) => finish(`socket error: ${e.message}`));
    s.once('close', () => finish(`connection closed by the server (stage ${stage}); received: ${buf.slice(-300) || '(nothing)'}`));
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (stage === 'features' && buf.includes('</stream:features>')) {
        if (!/<mechanism>PLAIN<\/mechanism>/.test(buf)) return finish(`PLAIN is not offered without TLS; features: ${buf.slice(-400)}`);
        stage = 'auth';
        buf = '';
        const token = Buffer.from(`\0${user}\0${password}`).toString('base64');
        s.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${token}</auth>`);
      } else if (stage === 'auth') {
        if (buf.includes('<success')) finish(null);
        else if (buf.includes('<failure')) finish(`login of ${user} refused: ${buf.slice(0, 300)}`);
      }
    });
    s.write(`<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  });
}

/** A timestamped progress line on stderr. */
export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** The soft open-file limit of a process (/proc/<pid>/limits). */
export function openFileLimit(pid: number): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Whether epmd ran before this script (if not, the script stops the one its Erlang programs started). */
const epmdBefore = pidsNamed('epmd').length > 0;

/** epmd is started on demand by the first Erlang node; stop it again if it was not running before and is idle. */
export async function stopOwnEpmd(): Promise<void> {
  if (epmdBefore || pidsNamed('epmd').length === 0) return;
  const names = await run('epmd', ['-names'], { timeoutMs: 5_000 }).catch(() => null);
  if (names && !/^name /m.test(names.stdout)) await run('epmd', ['-kill'], { timeoutMs: 5_000 }).catch(() => null);
}

/** What an interrupt must stop and remove: the run in progress. */
export interface ActiveRun {
  stop(): Promise<void>;
  cleanup(): void;
}

/**
 * On SIGINT or SIGTERM: kills the children, stops the server `active()` returns, removes its run, stops an epmd
 * this script started and exits with 130. A second signal exits at once.
 */
export function onInterrupt(what: string, active: () => ActiveRun | null): void {
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      log(`${sig}: ${what}`);
      for (const g of liveGroups) killGroup(g, 'SIGTERM');
      const current = active();
      (current?.stop() ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => {
          for (const g of liveGroups) killGroup(g, 'SIGKILL');
          current?.cleanup();
          return stopOwnEpmd();
        })
        .finally(() => process.exit(130));
    });
  }
}

/** Reads a numeric command-line option: `def` when absent; anything not a number >= `min` exits 2 with `help`. */
export function numberOption(help: string): (name: string, value: string | undefined, def: number, min: number) => number {
  return (name, value, def, min) => {
    if (value === undefined) return def;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) {
      process.stderr.write(`--${name} must be a number >= ${min}\n${help}\n`);
      process.exit(2);
    }
    return n;
  };
}

/** --peer-passwords: hashed (the default) or plain; anything else exits 2. */
export function peerPasswordsOption(value: string | undefined): 'hashed' | 'plain' {
  const v = value ?? 'hashed';
  if (v !== 'hashed' && v !== 'plain') {
    process.stderr.write('--peer-passwords is hashed or plain\n');
    process.exit(2);
  }
  return v;
}

/** The machine, as the JSON results record it. */
export function machineInfo(): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version };
}

/**
 * Runs a benchmark script: stops the running server on an interrupt (`interrupt` says what that does), writes
 * the JSON that `main` returns to its file, stops an epmd the script started, and exits 1 on an error.
 */
export function runScript(interrupt: string, active: () => ActiveRun | null, main: () => Promise<{ out: string; json: unknown }>): void {
  onInterrupt(interrupt, active);
  main()
    .then(async ({ out, json }) => {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
      process.stdout.write(`JSON: ${out}\n`);
      await stopOwnEpmd();
    })
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    });
}
