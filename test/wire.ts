/**
 * A raw JSON WebSocket peer for protocol-level tests: sends arbitrary frames (bad ones included) and records
 * every frame the server sends back, in order, so a test can assert the exact reply (`re`, `ok`, `error.code`).
 */
import { WebSocket, type ClientOptions } from 'ws';

/** One frame from the server, parsed. */
export interface Frame {
  re?: string | number | null;
  ok?: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string; [k: string]: unknown };
  ev?: string;
}

/** A raw connection. */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new Set<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }>();
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString('utf8')) as Frame;
      this.frames.push(f);
      for (const w of this.waiters) {
        if (w.pred(f)) {
          this.waiters.delete(w);
          w.resolve(f);
        }
      }
    });
  }

  /** Opens a connection (no hello). */
  static async open(url: string, opts: ClientOptions = {}): Promise<RawPeer> {
    const ws = new WebSocket(url, opts);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    return new RawPeer(ws);
  }

  /** Sends text or binary as is. */
  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first frame (already received or future) matching `pred`; frames are scanned from `from`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const seen = this.frames.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (f: Frame) => (clearTimeout(t), resolve(f)) };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error('timed out waiting for a frame'));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /**
   * Sends `text` and resolves with the next reply frame (a frame with `re`) that arrives after it. Only use
   * when no other request of this peer is in flight.
   */
  async exchange(text: string | Buffer, binary = false): Promise<Frame> {
    const from = this.frames.length;
    this.send(text, binary);
    return this.waitFor((f) => f.re !== undefined, 5000, from);
  }

  /** A well-formed request; resolves with its reply frame (ok or not). */
  request(op: string, args: Record<string, unknown> = {}): Promise<Frame> {
    const id = `r${this.nextId++}`;
    this.send(JSON.stringify({ id, op, args }));
    return this.waitFor((f) => f.re === id);
  }

  /** Closes and waits. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    await this.closed;
  }
}
