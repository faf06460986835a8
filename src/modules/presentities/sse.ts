/**
 * One subscription over Server-Sent Events (WHATWG HTML §9.2): `id:` is the change's position, so a reader
 * that reconnects sends it back as Last-Event-ID and resumes after it. The snapshot comes first, then changes;
 * a comment line every few seconds keeps proxies from closing an idle stream. A reader that falls further
 * behind than `maxBufferedBytes` is disconnected rather than held in memory: it resumes from its last id.
 */
import type { ServerResponse } from 'node:http';
import type { Presentity } from './model.js';
import type { SubscriptionOut } from './hub.js';

/** A change frame per state: one state fanned out to many streams is serialised and encoded once. */
const frames = new WeakMap<Presentity, Buffer>();

/** The `change` frame of a state that matches. */
function changeFrame(position: number, p: Presentity): Buffer {
  let f = frames.get(p);
  if (f === undefined) {
    f = Buffer.from(`id: ${position}\nevent: change\ndata: ${JSON.stringify({ position, address: p.address, match: true, presentity: p })}\n\n`);
    frames.set(p, f);
  }
  return f;
}

/** The response headers of an event stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx buffers responses unless told not to.
  'x-accel-buffering': 'no',
};

/** An event stream on one HTTP response. */
export class SseStream implements SubscriptionOut {
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: { heartbeatMs: number; maxBufferedBytes: number },
    private readonly onEnd: () => void,
  ) {
    res.writeHead(200, SSE_HEADERS);
    // How long a browser waits before reconnecting (it then sends Last-Event-ID).
    res.write('retry: 2000\n\n');
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
    if (presentity !== null && match) this.write(changeFrame(position, presentity));
    else this.write(`id: ${position}\nevent: change\ndata: ${JSON.stringify({ position, address, match: false })}\n\n`);
  }

  /** Ends the stream (shutdown, or a reader too far behind). */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (!this.res.writableEnded) this.res.end();
    this.onEnd();
  }

  private write(frame: string | Buffer): void {
    if (this.closed) return;
    this.res.write(frame);
    if (this.res.writableLength > this.opts.maxBufferedBytes) this.end();
  }
}
