/**
 * One JSON-over-WebSocket connection: frame parsing, hello, dispatch, per-connection rate limit, heartbeat,
 * and an outgoing queue flushed once per event-loop turn (the socket is corked around a burst so many frames
 * leave in one write).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { ParleyError, toParleyError, type ErrorCode } from '../../core/errors.js';
import { validatePresence } from '../../core/presence.js';
import type { Engine } from '../../engine/engine.js';
import type { Authenticated } from '../../engine/auth-service.js';
import type { Outbound, ServerEvent } from '../../engine/outbound.js';
import { REPLAY_LOW_WATER, type Session, type Sink } from '../../engine/session.js';
import { parseParams } from '../params.js';
import { TokenBucket } from '../token-bucket.js';
import { opOf, type OpDef } from './ops.js';

/** Limits and timings for connections. */
export interface ConnectionOptions {
  maxFrameBytes: number;
  requestsPerSecond: number;
  heartbeatMs: number;
  helloTimeoutMs: number;
  /** Close a connection whose unsent output exceeds this (a client that does not read). */
  maxBufferedBytes: number;
  /** Operations the configured modules add (names never clash with the core's: ModuleHost checks). */
  moduleOps?: ReadonlyMap<string, OpDef>;
}

/** Hooks for metrics. */
export interface ConnectionObserver {
  opened(): void;
  closed(): void;
  flushed(out: Outbound): void;
}

const helloSchema = z.strictObject({
  token: z.string().min(1).max(512).optional(),
  address: z.string().min(1).max(3071).optional(),
  password: z.string().min(1).max(1024).optional(),
  apiKey: z.string().min(1).max(512).optional(),
  resource: z.string().min(1).max(1023).optional(),
  since: z.number().int().min(0).nullable().optional(),
  presence: z.record(z.string(), z.unknown()).optional(),
  cookie: z.literal(true).optional(),
});

const encodeJson = (e: ServerEvent): string => JSON.stringify({ ev: e.ev, data: e.data });

/**
 * A complete unmasked server text frame (RFC 6455 §5.2: FIN, opcode 1, payload length, payload) in one Buffer,
 * the text encoded straight into it (one copy). Written by hand because `ws` builds the header per send and hands
 * the socket two buffers (a writev per session), and its frame builder is not part of its typed API: at 10,000
 * subscribers of one change the per-session header, string-to-Buffer copy and writev were about a quarter of the
 * server's main thread. (Building the payload Buffer first and copying it into the frame cost the message
 * benchmark about 5 % of its rate, where most events go to one session.)
 */
export function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text, 'utf8');
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = Buffer.allocUnsafe(head + n);
  f[0] = 0x81;
  if (n < 126) f[1] = n;
  else if (n < 65536) {
    f[1] = 126;
    f.writeUInt16BE(n, 2);
  } else {
    f[1] = 127;
    f.writeUInt32BE(0, 2);
    f.writeUInt32BE(n, 6);
  }
  f.write(text, head, 'utf8');
  return f;
}

/** An event's frame, built once per Outbound and written as is to every session that gets it. */
const encodeFrame = (out: Outbound): Buffer => out.encode('json-ws-frame', (e) => textFrame(encodeJson(e)));

const dirty = new Set<Connection>();
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  for (const c of dirty) c.flush();
  dirty.clear();
}

/** A JSON WebSocket connection; it is the engine's Sink for its session. */
export class Connection implements Sink {
  readonly protocol = 'json';
  private session: Session | null = null;
  private queue: Array<string | Outbound> = [];
  /** The frame rate limit (requestsPerSecond, burst = rate): a frame over it is refused with rate-limited. */
  private readonly rate: TokenBucket;
  private alive = true;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  /** A hello is being processed: a second one must not open a second session on this connection. */
  private helloPending = false;
  /** Replays waiting for the next flush (see pressure()). */
  private readonly flushed = new Set<() => void>();

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly engine: Engine,
    private readonly ip: string,
    private readonly opts: ConnectionOptions,
    private readonly observer: ConnectionObserver,
    /** The web session token of the upgrade's cookie (http/web-session.ts), for `hello {cookie: true}`. */
    private readonly cookieToken: string | null = null,
  ) {
    this.rate = new TokenBucket(opts.requestsPerSecond, Date.now());
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.onClose());
    ws.on('error', () => ws.terminate());
    this.timer = setTimeout(() => {
      if (!this.session) this.close('not-authorized', 'no hello within the time limit');
    }, opts.helloTimeoutMs);
    observer.opened();
  }

  /** Queue an event; the queue is flushed once per turn. */
  send(out: Outbound): void {
    this.enqueue(out);
  }

  /**
   * Sink flow control: a replay waits while events are queued for this turn's flush or the socket holds more
   * than REPLAY_LOW_WATER unsent bytes; it goes on after the flush or when the socket drains.
   */
  pressure(): Promise<void> | null {
    if (this.closing) return null;
    if (this.queue.length === 0 && this.ws.bufferedAmount <= REPLAY_LOW_WATER) return null;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.socket.off('drain', done);
        this.socket.off('close', done);
        this.flushed.delete(done);
        resolve();
      };
      // Re-checked at least this often, whatever happens: the promise must never hang a replay.
      const timer = setTimeout(done, 1000);
      if (this.queue.length > 0) this.flushed.add(done);
      else this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private enqueue(item: string | Outbound): void {
    if (this.closing) return;
    this.queue.push(item);
    dirty.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  /** Writes everything queued in one corked burst. */
  flush(): void {
    if (this.flushed.size > 0) {
      const waiting = [...this.flushed];
      this.flushed.clear();
      queueMicrotask(() => waiting.forEach((f) => f()));
    }
    const q = this.queue;
    if (q.length === 0 || this.ws.readyState !== this.ws.OPEN) {
      this.queue = [];
      return;
    }
    this.queue = [];
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      this.close('policy-violation', 'the client is not reading its events');
      // A client that does not read cannot complete a close handshake either: drop the socket now, so the
      // session ends (and messages go to the offline queue) without waiting for the 2 s close timeout.
      this.ws.terminate();
      return;
    }
    const cork = q.length > 1;
    if (cork) this.socket.cork();
    for (const item of q) {
      if (typeof item === 'string') this.ws.send(item);
      else {
        // Straight to the socket, after whatever ws.send wrote before: with permessage-deflate off (server.ts)
        // ws writes every frame synchronously, so the order on the wire is the queue's.
        this.socket.write(encodeFrame(item));
        this.observer.flushed(item);
      }
    }
    if (cork) this.socket.uncork();
  }

  /** Closes with a final error event so the client knows why. */
  close(code: ErrorCode | 'normal' | 'conflict' | 'shutdown', message: string): void {
    if (this.closing) return;
    // Set before flushing: flush() calls close() itself when the client is not reading, and that inner call
    // must be a no-op (it used to recurse until the stack overflowed and took the whole server down).
    this.closing = true;
    this.enqueueFinal(code, message);
    this.flush();
    // RFC 6455 §7.4.1: 1000 normal, 1001 going away, 1011 server error, 1008 policy (everything else).
    this.ws.close(code === 'normal' ? 1000 : code === 'shutdown' ? 1001 : code === 'internal-server-error' ? 1011 : 1008, code);
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private enqueueFinal(code: string, message: string): void {
    this.queue.push(JSON.stringify({ ev: 'session.closing', data: { code, message } }));
  }

  /** Heartbeat: ping each interval; a connection that did not answer the previous ping is gone. */
  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private reply(re: unknown, data: unknown): void {
    this.enqueue(JSON.stringify({ re, ok: true, data }));
  }

  private fail(re: unknown, e: unknown): void {
    const err = toParleyError(e);
    if (err.code === 'internal-server-error') {
      this.engine.ctx.log.error({ err: e, ip: this.ip }, 'request failed');
    }
    this.enqueue(JSON.stringify({ re, ok: false, error: { code: err.code, message: err.message, ...(err.details ?? {}) } }));
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    const startedAt = Date.now();
    // Every frame counts against the rate, malformed ones too (each costs an error reply). Over the rate, the
    // reply is rate-limited, still carrying the request's id when the frame has one.
    const limited = !this.rate.take(startedAt);
    const refuse = (re: string | number | null, e: ParleyError): void =>
      this.fail(re, limited ? new ParleyError('rate-limited', 'too many requests on this connection; slow down') : e);
    if (data.length > this.opts.maxFrameBytes) {
      refuse(null, new ParleyError('frame-too-large', `the frame has ${data.length} bytes; the limit is ${this.opts.maxFrameBytes}`));
      return;
    }
    if (isBinary) {
      refuse(null, new ParleyError('bad-request', 'frames are JSON text, not binary'));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch {
      refuse(null, new ParleyError('bad-json', 'the frame is not valid JSON'));
      return;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      refuse(null, new ParleyError('bad-request', 'a frame is a JSON object with "id" and "op"'));
      return;
    }
    const { id, op, args, ...rest } = frame as Record<string, unknown>;
    const re = typeof id === 'string' || typeof id === 'number' ? id : null;
    if (re === null) {
      refuse(null, new ParleyError('bad-request', 'every request needs an "id" (string or number)'));
      return;
    }
    if (limited) {
      refuse(re, new ParleyError('rate-limited'));
      return;
    }
    if (typeof op !== 'string') {
      this.fail(re, new ParleyError('bad-request', 'every request needs an "op"'));
      return;
    }
    const extra = Object.keys(rest);
    if (extra.length > 0) {
      this.fail(re, new ParleyError('bad-request', `unknown frame field "${extra[0]}"; parameters go in "args"`));
      return;
    }
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      this.fail(re, new ParleyError('bad-request', '"args" must be an object'));
      return;
    }
    const params = (args ?? {}) as Record<string, unknown>;
    if (op === 'hello') {
      this.hello(re, params).catch((e: unknown) => this.fail(re, e));
      return;
    }
    this.dispatch(op, params, startedAt).then(
      (result) => this.reply(re, result),
      (e: unknown) => this.fail(re, e),
    );
  }

  private async dispatch(op: string, params: Record<string, unknown>, startedAt: number): Promise<unknown> {
    const def = opOf(op, this.opts.moduleOps);
    if (!def) throw new ParleyError('unknown-op', `unknown op "${op}"`);
    const session = this.session;
    if (!session) throw new ParleyError('not-authorized', 'send hello first');
    const p = parseParams(def.schema, params);
    return (def.run as (c: unknown, p: unknown) => Promise<unknown>)({ engine: this.engine, session, startedAt }, p);
  }

  /**
   * hello authenticates (token, password, or a bot's API key), opens the session, replies, then replays what was missed.
   * It replies itself (before the replay), so a failure after the reply closes the connection instead.
   */
  private async hello(re: unknown, params: Record<string, unknown>): Promise<void> {
    if (this.session) throw new ParleyError('unexpected-request', 'this connection already has a session');
    // hello awaits authentication before it sets this.session; without this guard a second hello sent before
    // the first is answered would open another session that this connection never closes (a ghost session).
    if (this.helloPending) throw new ParleyError('unexpected-request', 'a hello is already in progress on this connection');
    this.helloPending = true;
    try {
      await this.openHello(re, params);
    } finally {
      this.helloPending = false;
    }
  }

  private async openHello(re: unknown, params: Record<string, unknown>): Promise<void> {
    const p = parseParams(helloSchema, params);
    const { engine } = this;
    let auth: Authenticated;
    if (p.token) auth = await engine.auth.resolveSession(p.token);
    else if (p.cookie) {
      // The upgrade passed the Origin check (server.ts), so the cookie was sent by a page the server allows.
      if (this.cookieToken === null) throw new ParleyError('not-authorized', 'no web session cookie came with this connection');
      auth = await engine.auth.resolveSession(this.cookieToken);
    } else if (p.address && p.password) auth = await engine.auth.authenticate(p.address, p.password, this.ip);
    // A bot's API key: the engine asks the verifier registered for it (credential-verifiers.ts).
    else if (p.apiKey) auth = await engine.auth.authenticateWith('apiKey', p.apiKey);
    else throw new ParleyError('bad-request', 'hello needs a token, an address and a password, a bot\'s apiKey, or cookie: true');
    const { user } = auth;
    if (this.closing) throw new ParleyError('service-unavailable', 'the connection is closing');
    const presence = validatePresence(p.presence ?? {}, engine.ctx.now());
    const { session, position } = await engine.openSession(user, p.resource ?? null, this, presence, {
      credentials: auth.credentials,
      ...(auth.credentialRef !== undefined ? { credentialRef: auth.credentialRef } : {}),
    });
    if (this.closing) {
      await engine.closeSession(session); // the socket went away while we were opening
      return;
    }
    this.session = session;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // The reply goes first, then the replay, then live events: the client sees a clean sequence.
    this.reply(re, { address: user, resource: session.resource, session: session.id, position });
    try {
      await engine.catchUp(session, p.since ?? null, position);
    } catch (e) {
      engine.ctx.log.error({ err: e, user }, 'catch-up failed');
      this.close('internal-server-error', 'could not replay missed events; reconnect');
    }
  }

  private onClose(): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    dirty.delete(this);
    this.observer.closed();
    const s = this.session;
    if (s) {
      this.session = null;
      this.engine.closeSession(s).catch((e: unknown) => this.engine.ctx.log.error({ err: e }, 'close failed'));
    }
  }
}
