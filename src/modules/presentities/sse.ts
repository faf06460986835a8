/**
 * One subscription over Server-Sent Events (WHATWG HTML §9.2): `id:` is the change's position, so a reader
 * that reconnects sends it back as Last-Event-ID and resumes after it. The snapshot comes first, then changes;
 * a comment line every few seconds keeps proxies from closing an idle stream. A reader that falls further
 * behind than `maxBufferedBytes` is disconnected rather than held in memory: it resumes from its last id.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Presentity } from './model.js';
import type { SubscriptionOut } from './hub.js';

/**
 * The bytes of one event as written to the socket: an HTTP/1.1 chunk (size, CRLF, the event, CRLF) when the
 * response is chunked, as it is for every HTTP/1.1 client, else the event as is. The stream writes these
 * itself rather than through `res.write`, which hands the socket three buffers per event (a writev per stream
 * per change): with 5,000 streams that was most of the fan-out's main-thread time.
 */
function wire(event: Buffer, chunked: boolean): Buffer {
  if (!chunked) return event;
  const head = `${event.length.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(head.length + event.length + 2);
  out.write(head, 0, 'latin1');
  event.copy(out, head.length);
  out.write('\r\n', head.length + event.length, 'latin1');
  return out;
}

/** A change frame per state, chunked and not: one state fanned out to many streams is serialised once. */
const frames = new WeakMap<Presentity, { plain: Buffer; chunked: Buffer | null }>();

/** The `change` frame of a state that matches, on the wire. */
function changeFrame(position: number, p: Presentity, chunked: boolean): Buffer {
  let f = frames.get(p);
  if (f === undefined) {
    f = { plain: Buffer.from(`id: ${position}\nevent: change\ndata: ${JSON.stringify({ position, address: p.address, match: true, presentity: p })}\n\n`), chunked: null };
    frames.set(p, f);
  }
  if (!chunked) return f.plain;
  return (f.chunked ??= wire(f.plain, true));
}

/** Streams with frames waiting for this turn's flush. */
const dirty = new Set<SseStream>();
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  for (const s of dirty) s.flush();
  dirty.clear();
}

/** The response headers of an event stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx buffers responses unless told not to.
  'x-accel-buffering': 'no',
};

/**
 * An event stream on one HTTP response. Frames are queued and written once per event-loop turn, all of a
 * turn's frames in one write: changes stored in one group commit reach a stream in one system call.
 */
export class SseStream implements SubscriptionOut {
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** The socket the events go to as ready bytes; null when the response has none yet (then `res.write`). */
  private readonly socket: Socket | null;
  /** Whether this stream frames its events as HTTP chunks itself (see wire()). */
  private readonly chunked: boolean;
  private pending: Buffer[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: { heartbeatMs: number; maxBufferedBytes: number },
    private readonly onEnd: () => void,
  ) {
    res.writeHead(200, SSE_HEADERS);
    // The head goes now; from here on the events go to the socket as ready bytes (see wire()).
    res.flushHeaders();
    // A response queued behind another on its connection (HTTP pipelining) has no socket yet: it goes through
    // `res.write`, which frames the chunks itself.
    this.socket = res.socket;
    this.chunked = this.socket !== null && res.chunkedEncoding;
    // How long a browser waits before reconnecting (it then sends Last-Event-ID).
    this.write('retry: 2000\n\n');
    this.timer = setInterval(() => this.write(': keep-alive\n\n'), opts.heartbeatMs);
    this.timer.unref();
    res.on('close', () => this.end());
  }

  snapshot(position: number, presentities: Presentity[], reset: boolean): void {
    this.write(`id: ${position}\nevent: snapshot\ndata: ${JSON.stringify({ position, reset, presentities })}\n\n`);
  }

  resumed(from: number, position: number): void {
    this.write(`event: resumed\ndata: ${JSON.stringify({ from, position })}\n\n`);
  }

  change(position: number, address: string, presentity: Presentity | null, match: boolean): void {
    if (presentity !== null && match) this.queue(changeFrame(position, presentity, this.chunked));
    else this.write(`id: ${position}\nevent: change\ndata: ${JSON.stringify({ position, address, match: false })}\n\n`);
  }

  /** Ends the stream (shutdown, or a reader too far behind). */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    dirty.delete(this);
    // What is queued goes before the end of the response, unless the reader is too far behind to take it.
    if (this.pending.length > 0 && !this.tooFarBehind()) this.send();
    this.pending = [];
    if (!this.res.writableEnded) this.res.end();
    this.onEnd();
  }

  /** Writes what this turn queued, in one write. */
  flush(): void {
    if (this.closed || this.pending.length === 0) return;
    this.send();
    this.pending = [];
    if (this.tooFarBehind()) this.end();
  }

  private send(): void {
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const s = this.socket;
    if (s === null) this.res.write(data);
    else if (!s.destroyed) s.write(data);
  }

  private tooFarBehind(): boolean {
    return (this.socket?.writableLength ?? this.res.writableLength) > this.opts.maxBufferedBytes;
  }

  private write(text: string): void {
    this.queue(wire(Buffer.from(text), this.chunked));
  }

  private queue(frame: Buffer): void {
    if (this.closed) return;
    this.pending.push(frame);
    dirty.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }
}
