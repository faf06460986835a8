/**
 * A deliberately thin JSON-protocol client for load generation: no event buffering, no per-request promise on
 * the hot path (fire()), and an optional raw-frame hook that can look at a frame without parsing it. The SDK in
 * client/index.ts is the reference client; this one only saves load-generator CPU on a 2-core machine.
 */
import { WebSocket } from 'ws';

/** A frame from the server: a reply ({re, ok, data|error}) or an event ({ev, data}). */
export interface Frame {
  re?: number | null;
  ok?: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string };
  ev?: string;
}

/** Source address for connection number `i` (127.0.0.2 .. 127.0.0.(1+count)). */
export function sourceAddress(i: number, count: number): string {
  return `127.0.0.${2 + (i % count)}`;
}

export class LeanClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (d: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  /** Replies to fire()d requests. */
  onReply: ((f: Frame, at: number) => void) | null = null;
  /** Server events (parsed). */
  onEvent: ((f: Frame, at: number) => void) | null = null;
  /** Sees each raw frame first; return true to skip parsing it. */
  onRaw: ((raw: Buffer, at: number) => boolean) | null = null;
  /** Highest log position seen (for sync.ack). */
  position = 0;
  private acked = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  autoAck = false;
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (raw: Buffer) => this.onMessage(raw));
    ws.on('error', () => undefined);
    ws.once('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('connection closed'));
      this.pending.clear();
      if (this.ackTimer) clearTimeout(this.ackTimer);
    });
  }

  /** Opens the socket (no hello yet). */
  static open(url: string, localAddress?: string): Promise<LeanClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, ...(localAddress ? { localAddress } : {}) });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new LeanClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
  }

  /** Opens and says hello with a token. */
  static async connect(url: string, token: string, opts: { localAddress?: string; presence?: Record<string, unknown>; resource?: string } = {}): Promise<LeanClient> {
    const c = await LeanClient.open(url, opts.localAddress);
    const args: Record<string, unknown> = { token };
    if (opts.presence) args.presence = opts.presence;
    if (opts.resource) args.resource = opts.resource;
    try {
      const h = await c.request('hello', args);
      c.position = typeof h.position === 'number' ? h.position : 0;
      c.acked = c.position;
    } catch (e) {
      c.ws.terminate();
      throw e;
    }
    return c;
  }

  /** A request whose reply resolves a promise (setup, rare operations). */
  request(op: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, op, args }));
    });
  }

  /** A request whose reply goes to onReply (hot path). Returns the id. */
  fire(op: string, args: Record<string, unknown>): number {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, op, args }));
    return id;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  private onMessage(raw: Buffer): void {
    const at = performance.now();
    if (this.onRaw?.(raw, at)) return;
    const f = JSON.parse(raw.toString('utf8')) as Frame;
    if (f.re !== undefined) {
      const p = typeof f.re === 'number' ? this.pending.get(f.re) : undefined;
      if (p) {
        this.pending.delete(f.re as number);
        if (f.ok) p.resolve(f.data ?? {});
        else p.reject(new Error(`${f.error?.code}: ${f.error?.message}`));
        return;
      }
      this.onReply?.(f, at);
      return;
    }
    const seq = f.data?.seq;
    if (typeof seq === 'number' && seq > this.position) {
      this.position = seq;
      if (this.autoAck && !this.ackTimer) this.scheduleAck();
    }
    this.onEvent?.(f, at);
  }

  /** Like the SDK: acknowledge the highest position at most every 50 ms. */
  private scheduleAck(): void {
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.position > this.acked && this.ws.readyState === WebSocket.OPEN) {
        this.acked = this.position;
        this.fire('sync.ack', { upTo: this.position });
      }
    }, 50);
  }
}

/** Runs fn over items with at most `concurrency` in flight; returns the results in order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** IPC helpers for load processes forked by run.ts. */
export function send(msg: unknown): void {
  process.send?.(msg);
}

/** Resolves with the next IPC message from the parent satisfying `pred`. */
export function nextMessage<T = Record<string, unknown>>(pred: (m: Record<string, unknown>) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const h = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && pred(m as Record<string, unknown>)) {
        process.off('message', h);
        resolve(m as T);
      }
    };
    process.on('message', h);
  });
}

/** Standard process wiring of a load child: uncaught errors are reported to the parent, then exit. */
export function childMain(main: () => Promise<void>): void {
  process.on('disconnect', () => process.exit(0));
  main().catch((e: unknown) => {
    send({ type: 'error', message: (e as Error).stack ?? String(e) });
    setTimeout(() => process.exit(1), 100);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
