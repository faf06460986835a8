/**
 * Drives test/xmpp/slix_driver.py (a slixmpp client) from a test: one child process per XMPP client, commands as
 * JSON lines on its stdin, replies and events as JSON lines on its stdout (see the driver's docstring).
 *
 * Every failure message carries what the driver printed on stderr and the last events it reported, so a failed
 * interop test says what the client saw.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startServer, type TestServer } from '../harness.js';

/** The Debian python3-slixmpp package installs for this interpreter only. */
export const PYTHON = '/usr/bin/python3';

/** Where the driver lives: test/xmpp/ (also when this file runs compiled from dist/test/xmpp/). */
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const DRIVER = join(HERE.replace(/[/\\]dist[/\\]test[/\\]/, '/test/'), 'slix_driver.py');

/** Why slixmpp cannot be used here, or null when it can. */
export function slixmppUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return `${PYTHON} cannot run: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} -c 'import slixmpp' failed: ${r.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/** An event from the driver. */
export type SlixEvent = { ev: string } & Record<string, unknown>;

/** A parsed <message/> as the driver reports it. */
export interface SlixMessage {
  from: string | null;
  to: string | null;
  type: string;
  id: string | null;
  body: string | null;
  delay: { stamp: string | null; from: string | null } | null;
  stanzaId: { id: string | null; by: string | null } | null;
  originId: string | null;
  forwardDelay?: string | null;
}

export interface SlixOptions {
  /** The server's address (default 127.0.0.1). */
  host?: string;
  port: number;
  jid: string;
  password: string;
  resource?: string;
  mode?: 'starttls' | 'directtls';
  /** Verify the server certificate against this PEM file (otherwise verification is off). */
  cafile?: string;
  /** Turn on slixmpp debug logging (into the captured stderr). */
  debug?: boolean;
}

const all = new Set<SlixClient>();

/** One slixmpp client in a child process. */
export class SlixClient {
  readonly events: SlixEvent[] = [];
  private stderr = '';
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; cmd: string }>();
  private readonly waiters = new Set<() => void>();
  private exited: { code: number | null; signal: string | null } | null = null;
  readonly exit: Promise<void>;

  private constructor(
    readonly opts: SlixOptions,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    child.stdin.on('error', () => undefined);
    this.exit = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        all.delete(this);
        for (const p of this.pending.values()) p.reject(this.failure(`driver exited (code ${code}, signal ${signal}) during ${p.cmd}`));
        this.pending.clear();
        for (const w of this.waiters) w();
        resolve();
      }),
    );
  }

  /** Starts a driver process (not yet connected: call connect()). */
  static async start(opts: SlixOptions): Promise<SlixClient> {
    const args = [DRIVER, '--port', String(opts.port), '--jid', opts.jid, '--password', opts.password, '--mode', opts.mode ?? 'starttls'];
    if (opts.host) args.push('--host', opts.host);
    if (opts.resource) args.push('--resource', opts.resource);
    if (opts.cafile) args.push('--cafile', opts.cafile);
    if (opts.debug) args.push('--debug');
    const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const c = new SlixClient(opts, child);
    all.add(c);
    await c.waitFor('ready', () => true, 15_000);
    return c;
  }

  /** Kills every driver still running (afterEach/afterAll safety net). */
  static async killAll(): Promise<void> {
    await Promise.all([...all].map((c) => c.kill()));
  }

  /** The full JID bound by connect(). */
  jid = '';

  /** Connects, authenticates, binds; by default then gets the roster and sends initial presence. */
  async connect(o: { sm?: boolean; carbons?: boolean; presence?: boolean; roster?: boolean; notify?: string[] } = {}): Promise<Record<string, unknown>> {
    const r = await this.request('connect', o, 30_000);
    this.jid = String(r.jid);
    return r;
  }

  /** Sends a command and resolves with its reply's data (rejects with the driver's error and diagnostics). */
  request(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(this.failure(`driver already exited; cannot ${cmd}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.failure(`no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        cmd,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  send(to: string, body: string, type = 'chat'): Promise<Record<string, unknown>> {
    return this.request('send', { to, body, type });
  }

  /** An iq round trip with the server: every stanza queued for this client before it has been received. */
  async ping(): Promise<void> {
    await this.request('ping');
  }

  /** Events received so far with this name (and predicate). */
  received(ev: string, pred: (e: SlixEvent) => boolean = () => true): SlixEvent[] {
    return this.events.filter((e) => e.ev === ev && pred(e));
  }

  /** Plain (not carbon, not MAM) messages with this body. */
  messages(body: string): SlixMessage[] {
    return this.received('message', (e) => e.body === body && !e.carbon && !e.mam) as unknown as SlixMessage[];
  }

  /** The number of events so far: pass it to waitFor as `after` to wait for a later event only. */
  mark(): number {
    return this.events.length;
  }

  /**
   * Resolves with the first event matching name and predicate, already received (at index `after` or later)
   * or future.
   */
  waitFor(ev: string, pred: (e: SlixEvent) => boolean = () => true, timeoutMs = 10_000, after = 0): Promise<SlixEvent> {
    const find = (): SlixEvent | undefined => this.events.slice(after).find((e) => e.ev === ev && pred(e));
    const seen = find();
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = find();
        if (e) {
          done();
          resolve(e);
        } else if (this.exited) {
          done();
          reject(this.failure(`driver exited while waiting for ${ev}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(this.failure(`timed out after ${timeoutMs} ms waiting for event ${ev} (${pred.toString().slice(0, 200)})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for a message (not a carbon, not a MAM result) with this body. */
  async waitMessage(body: string, timeoutMs = 10_000): Promise<SlixMessage> {
    return (await this.waitFor('message', (e) => e.body === body && !e.carbon && !e.mam, timeoutMs)) as unknown as SlixMessage;
  }

  /** Ends the stream cleanly and the process; kills it if it does not go. */
  async close(): Promise<void> {
    if (this.exited) return;
    try {
      await this.request('quit', {}, 5000);
    } catch {
      // fall through to kill
    }
    await Promise.race([this.exit, new Promise((r) => setTimeout(r, 3000))]);
    await this.kill();
  }

  /** Kills the process (no stream close). */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    await this.exit;
  }

  /** An Error that carries the driver's stderr and recent events. */
  failure(what: string): Error {
    const recent = this.events
      .slice(-15)
      .map((e) => JSON.stringify(e).slice(0, 600))
      .join('\n  ');
    const err = this.stderr.trim().split('\n').slice(-40).join('\n  ');
    return new Error(`[slixmpp ${this.opts.jid}${this.opts.resource ? '/' + this.opts.resource : ''}] ${what}\n recent events:\n  ${recent || '(none)'}\n stderr:\n  ${err || '(empty)'}`);
  }

  private onStdout(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.stderr += `[stdout, not JSON] ${line}\n`;
        continue;
      }
      if ('re' in frame) {
        const p = this.pending.get(Number(frame.re));
        if (!p) continue;
        this.pending.delete(Number(frame.re));
        if (frame.ok) p.resolve((frame.data ?? {}) as Record<string, unknown>);
        else p.reject(this.failure(`${p.cmd} failed: ${String(frame.error)}`));
      } else if (typeof frame.ev === 'string') {
        this.events.push(frame as SlixEvent);
        for (const w of [...this.waiters]) w();
      }
    }
  }
}

/**
 * A slixmpp client for `jid` connected to the test server `t` over STARTTLS, verifying the certificate the server
 * generated, with the harness's password (`pw-<local part>`): bound, roster fetched and initial presence sent
 * unless `connect` says otherwise (`notify` gives it XEP-0115 caps with those +notify features).
 */
export async function slixOnline(t: TestServer, jid: string, resource: string, connect: Parameters<SlixClient['connect']>[0] = {}): Promise<SlixClient> {
  const c = await SlixClient.start({
    port: t.server.xmpp!.ports.starttls!,
    jid,
    resource,
    password: `pw-${jid.split('@')[0]}`,
    cafile: join(t.dir, 'certs', 'localhost.crt'),
  });
  await c.connect(connect);
  return c;
}

/** Why `file` cannot use slixmpp here, also warned on the console (the file's tests are then skipped); null when it can. */
export function slixmppUnavailableFor(file: string): string | null {
  const why = slixmppUnavailable();
  if (why !== null) {
    console.warn(
      `\n*** SKIPPED: ${file} needs slixmpp importable by ${PYTHON} (${why}).\n` +
        `*** Install it: apt-get install -y --no-install-recommends python3-slixmpp\n`,
    );
  }
  return why;
}

/**
 * For the tests of a describe block that share one server and use slixmpp clients: starts the server before them
 * (`ready` receives it), kills every client after each test, and kills them and closes the server after all.
 */
export function serverForSlixmpp(ready: (t: TestServer) => void): void {
  let t: TestServer | undefined;
  beforeAll(async () => {
    t = await startServer();
    ready(t);
  });
  afterEach(() => SlixClient.killAll());
  afterAll(async () => {
    await SlixClient.killAll();
    await t?.close();
  });
}
