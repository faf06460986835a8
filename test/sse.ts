/** A Server-Sent Events reader for tests: opens a stream over HTTP and collects its events in order. */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** One event as the stream sent it. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: Record<string, unknown>;
}

/** An open event stream. */
export class SseReader {
  readonly events: SseEvent[] = [];
  /** Comment lines received (keep-alives). */
  comments = 0;
  /** The last `id:` received (what a browser would send back as Last-Event-ID). */
  lastId: string | null = null;
  ended = false;
  private buf = '';

  private constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('end', () => {
      this.ended = true;
    });
    res.on('error', () => {
      this.ended = true;
    });
  }

  /** Opens `url` (GET, or POST with `body`) with the bearer `token`; resolves on the response head. */
  static open(url: string, token: string, opts: { body?: unknown; lastEventId?: string } = {}): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
      if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
      const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const req = request(url, { method: payload === undefined ? 'GET' : 'POST', headers, agent: false }, (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${text}`), { status: res.statusCode, body: text })));
          return;
        }
        resolve(new SseReader(req, res));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end < 0) return;
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      let id: string | null = null;
      let event = 'message';
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments++;
          continue;
        }
        const i = line.indexOf(':');
        const name = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        fields++;
        if (name === 'id') id = value;
        else if (name === 'event') event = value;
        else if (name === 'data') data.push(value);
      }
      if (id !== null) this.lastId = id;
      if (fields === 0 || data.length === 0) continue;
      this.events.push({ id, event, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
    }
  }

  /** Waits for an event of type `event` (after index `from`) that satisfies `pred`. */
  async waitFor(event: string, pred: (d: Record<string, unknown>) => boolean = () => true, ms = 5000, from = 0): Promise<SseEvent> {
    const end = Date.now() + ms;
    for (;;) {
      const e = this.events.slice(from).find((x) => x.event === event && pred(x.data));
      if (e) return e;
      if (Date.now() > end) throw new Error(`no ${event} event; got ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Drops the connection (as a network failure would). */
  close(): void {
    this.req.destroy();
    this.res.destroy();
  }
}
