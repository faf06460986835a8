/**
 * The Parley TypeScript client SDK: HTTP login, a JSON WebSocket session with request/reply matching,
 * event subscription, resume position tracking and automatic acknowledgement. Used by tests, bench and bots
 * (the bot SDK, ParleyBot, is built on it: client/bot.ts).
 */
import { WebSocket } from 'ws';

export { ParleyBot, type BotOptions, type MessageContext, type CommandHandler, type MessageHandler } from './bot.js';

/** An error reply from the server: a stable code and a message (see docs/protocol.md). */
export class ParleyApiError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.code = code;
    this.details = details;
  }
}

/** A server-pushed event. */
export interface ParleyEvent {
  ev: string;
  data: Record<string, unknown>;
}

/** Options of ParleyClient.connect. */
export interface ConnectOptions {
  /** ws://host:port/ws */
  url: string;
  token?: string;
  address?: string;
  password?: string;
  /** A bot's API key (a key of the bot account with the `bot` scope; docs/bots.md), instead of token or password. */
  apiKey?: string;
  resource?: string;
  /** Resume: replay everything after this log position instead of the offline queue. */
  since?: number | null;
  presence?: Record<string, unknown>;
  /** Acknowledge received messages automatically (drops them from the offline queue). Default true. */
  autoAck?: boolean;
  /** Keep received events for waitFor (tests). Default true; turn off for load generators. */
  keepEvents?: boolean;
  /** Extra WebSocket options (e.g. localAddress, headers). */
  wsOptions?: ConstructorParameters<typeof WebSocket>[2];
}

/** What hello answered. */
export interface HelloResult {
  address: string;
  resource: string;
  session: string;
  position: number;
}

/** Logs in over HTTP and returns a session token. */
export async function login(baseUrl: string, address: string, password: string): Promise<{ address: string; token: string; expiresAt: number }> {
  const res = await fetch(`${baseUrl}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, password }) });
  const body = (await res.json()) as { error?: { code: string; message: string } } & { address: string; token: string; expiresAt: number };
  if (!res.ok || body.error) throw new ParleyApiError(body.error?.code ?? 'internal-server-error', body.error?.message ?? res.statusText);
  return body;
}

type Handler = (e: ParleyEvent) => void;

/** One JSON WebSocket session. */
export class ParleyClient {
  /** The highest log position received (pass it as `since` when reconnecting). */
  position = 0;
  /** Every event received so far (when keepEvents). */
  readonly events: ParleyEvent[] = [];
  hello!: HelloResult;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly waiters = new Set<{ ev: string; pred: (d: Record<string, unknown>) => boolean; resolve: (e: ParleyEvent) => void }>();
  private ackTimer: NodeJS.Timeout | null = null;
  private acked = 0;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    private readonly opts: ConnectOptions,
  ) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (raw) => this.onFrame(raw.toString()));
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new ParleyApiError('service-unavailable', 'the connection closed'));
      this.pending.clear();
      if (this.ackTimer) clearTimeout(this.ackTimer);
    });
  }

  /** Opens a socket, says hello and resolves once the server replied (replayed events follow). */
  static async connect(opts: ConnectOptions): Promise<ParleyClient> {
    const ws = new WebSocket(opts.url, opts.wsOptions);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new ParleyApiError('forbidden', `upgrade refused: HTTP ${res.statusCode}`)));
    });
    ws.on('error', () => undefined);
    const c = new ParleyClient(ws, opts);
    if (opts.since) c.position = opts.since;
    const params: Record<string, unknown> = {};
    for (const k of ['token', 'address', 'password', 'apiKey', 'resource', 'since', 'presence'] as const) if (opts[k] !== undefined) params[k] = opts[k];
    try {
      c.hello = await c.request<HelloResult>('hello', params);
    } catch (e) {
      ws.close();
      throw e;
    }
    return c;
  }

  /** Sends a request and resolves with its reply's data (rejects with ParleyApiError). */
  request<T = Record<string, unknown>>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, op, args: params }), (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  /** Sends a raw text frame (tests of bad input). */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Sends a chat message; resolves with the server's acknowledgement. */
  send(to: string, body: string, clientId?: string): Promise<{ id: string; seq: number; ts: number; duplicate: boolean }> {
    return this.request('message.send', clientId ? { to, body, clientId } : { to, body });
  }

  /** Subscribes to an event name ('*' for all). */
  on(ev: string, h: Handler): () => void {
    let s = this.handlers.get(ev);
    if (!s) this.handlers.set(ev, (s = new Set()));
    s.add(h);
    return () => s.delete(h);
  }

  /** Resolves with the first event (already received or future) matching name and predicate. */
  waitFor(ev: string, pred: (d: Record<string, unknown>) => boolean = () => true, timeoutMs = 10_000): Promise<ParleyEvent> {
    const seen = this.events.find((e) => e.ev === ev && pred(e.data));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { ev, pred, resolve: (e: ParleyEvent) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out waiting for ${ev}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Events of one name received so far. */
  received(ev: string): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.ev === ev).map((e) => e.data);
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    await this.closed;
  }

  private onFrame(text: string): void {
    const f = JSON.parse(text) as { re?: number; ok?: boolean; data?: unknown; error?: { code: string; message: string }; ev?: string };
    if (f.re !== undefined) {
      const p = f.re === null ? undefined : this.pending.get(f.re);
      if (!p) {
        if (f.error) this.dispatch({ ev: 'error', data: f.error as unknown as Record<string, unknown> });
        return;
      }
      this.pending.delete(f.re);
      if (f.ok) p.resolve(f.data);
      else {
        const { code, message, ...details } = f.error!;
        p.reject(new ParleyApiError(code, message, details));
      }
      return;
    }
    if (f.ev) this.dispatch({ ev: f.ev, data: (f.data ?? {}) as Record<string, unknown> });
  }

  private dispatch(e: ParleyEvent): void {
    // Records carry their seq; `synced` carries the position the replay reached (it covers the whole log up to
    // the session's start, including records that were not for this user).
    const seq = e.ev === 'synced' ? e.data.position : e.data.seq;
    if (typeof seq === 'number' && seq > this.position) {
      this.position = seq;
      this.scheduleAck();
    }
    if (this.opts.keepEvents !== false) this.events.push(e);
    for (const w of this.waiters) {
      if (w.ev === e.ev && w.pred(e.data)) {
        this.waiters.delete(w);
        w.resolve(e);
      }
    }
    for (const h of this.handlers.get(e.ev) ?? []) h(e);
    for (const h of this.handlers.get('*') ?? []) h(e);
  }

  private scheduleAck(): void {
    if (this.opts.autoAck === false || this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.position > this.acked && this.ws.readyState === WebSocket.OPEN) {
        this.acked = this.position;
        this.request('sync.ack', { upTo: this.position }).catch(() => undefined);
      }
    }, 50);
  }
}
