/**
 * Drives test/xmpp/slix_component.py (a slixmpp XEP-0114 component) from a test: one child process per
 * component, JSON-line commands and events as with slix.ts. Failures carry what the driver printed on stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON, type SlixEvent } from './slix.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DRIVER = join(HERE.replace(/[/\\]dist[/\\]test[/\\]/, '/test/'), 'slix_component.py');

const all = new Set<SlixComponent>();

/** One slixmpp component in a child process; it connects as soon as it starts. */
export class SlixComponent {
  readonly events: SlixEvent[] = [];
  private stderr = '';
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly exit: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-50_000);
    });
    child.stdin.on('error', () => undefined);
    this.exit = new Promise((resolve) =>
      child.on('exit', () => {
        this.exited = true;
        all.delete(this);
        for (const p of this.pending.values()) p.reject(this.failure('driver exited'));
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** Starts a component connecting to `port` as `domain` with `secret`. */
  static start(port: number, domain: string, secret: string): SlixComponent {
    const child = spawn(PYTHON, [DRIVER, '--port', String(port), '--jid', domain, '--secret', secret], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const c = new SlixComponent(child);
    all.add(c);
    return c;
  }

  /** Kills every driver still running. */
  static async killAll(): Promise<void> {
    await Promise.all([...all].map((c) => c.kill()));
  }

  /** Sends a command; resolves with its reply's data. */
  request(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(this.failure(`driver exited; cannot ${cmd}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.failure(`no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  /** The first event matching, already received or future. */
  async waitFor(ev: string, pred: (e: SlixEvent) => boolean = () => true, timeoutMs = 10_000): Promise<SlixEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find((x) => x.ev === ev && pred(x));
      if (e) return e;
      if (Date.now() > end) throw this.failure(`timed out waiting for ${ev}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Kills the process. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    await this.exit;
  }

  private onStdout(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (typeof msg.re === 'number') {
        const p = this.pending.get(msg.re);
        this.pending.delete(msg.re);
        if (msg.ok === true) p?.resolve((msg.data ?? {}) as Record<string, unknown>);
        else p?.reject(this.failure(String(msg.error)));
      } else this.events.push(msg as SlixEvent);
    }
  }

  private failure(what: string): Error {
    return new Error(`${what}\nlast events: ${JSON.stringify(this.events.slice(-5))}\nstderr: ${this.stderr.slice(-2000)}`);
  }
}
