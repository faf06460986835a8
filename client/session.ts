/**
 * The core of the Parley TypeScript client SDK, with no Node.js import, so the same code runs in Node.js (the
 * entry client/index.ts, over the `ws` package) and in browsers (the web apps in web/, over the browser's own
 * WebSocket): HTTP login, a JSON WebSocket session with request/reply matching, event subscription, resume
 * position tracking and automatic acknowledgement.
 */

/**
 * What the client needs of a WebSocket: the WHATWG interface that browsers have and that the `ws` package also
 * offers (addEventListener with `data`, `code` and `reason` on its events).
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', fn: (e: { data: unknown }) => void): void;
  addEventListener(type: 'close', fn: (e: { code: number; reason: string }) => void): void;
}

/** WebSocket readyState values (the same in every implementation). */
const CONNECTING = 0;
const OPEN = 1;

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

/** Options of a session's hello (and, for ParleyClient.connect, where to connect). */
export interface SessionOptions {
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
  /** Authenticate with the web session cookie that came with the WebSocket upgrade (browsers: docs/web.md). */
  cookie?: boolean;
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

/** One JSON WebSocket session over any SocketLike (ParleyClient is the Node.js one, over `ws`). */
export class ClientSession<S extends SocketLike = SocketLike> {
  /** The highest log position received (pass it as `since` when reconnecting). */
  position = 0;
  /** Every event received so far (when keepEvents). */
  readonly events: ParleyEvent[] = [];
  hello!: HelloResult;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly waiters = new Set<{ ev: string; pred: (d: Record<string, unknown>) => boolean; resolve: (e: ParleyEvent) => void }>();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private acked = 0;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  protected constructor(
    readonly ws: S,
    private readonly opts: SessionOptions,
  ) {
    this.closed = new Promise((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: String(e.reason) })));
    ws.addEventListener('message', (e) => this.onFrame(String(e.data)));
    ws.addEventListener('close', () => {
      for (const p of this.pending.values()) p.reject(new ParleyApiError('service-unavailable', 'the connection closed'));
      this.pending.clear();
      if (this.ackTimer) clearTimeout(this.ackTimer);
    });
  }

  /** Says hello on an open socket and resolves once the server replied (replayed events follow). */
  protected async start(): Promise<void> {
    if (this.opts.since) this.position = this.opts.since;
    const params: Record<string, unknown> = {};
    for (const k of ['token', 'address', 'password', 'apiKey', 'resource', 'since', 'presence', 'cookie'] as const) if (this.opts[k] !== undefined) params[k] = this.opts[k];
    try {
      this.hello = await this.request<HelloResult>('hello', params);
    } catch (e) {
      this.ws.close();
      throw e;
    }
  }

  /** Sends a request and resolves with its reply's data (rejects with ParleyApiError). */
  request<T = Record<string, unknown>>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.ws.readyState !== OPEN) {
        reject(new ParleyApiError('service-unavailable', 'the connection is not open'));
        return;
      }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, op, args: params }));
    });
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
    if (this.ws.readyState === OPEN || this.ws.readyState === CONNECTING) this.ws.close(1000);
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
      if (this.position > this.acked && this.ws.readyState === OPEN) {
        this.acked = this.position;
        this.request('sync.ack', { upTo: this.position }).catch(() => undefined);
      }
    }, 50);
  }
}
