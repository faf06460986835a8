/**
 * Process and socket helpers for the XMPP comparison: child processes with timeouts, process trees read from
 * /proc, a resident-set-size sampler, and a small XMPP probe that checks a server accepts a SASL PLAIN login.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
