/**
 * The byte pipes under an XMPP stream: TCP with optional STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368).
 * A transport knows nothing of XML; the connection writes whole stanzas and the transport coalesces what is
 * written in one event-loop turn into one corked burst, so a fan-out or a replay leaves in few packets.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContextOptions, type TlsOptions } from 'node:tls';

/** What an XMPP connection needs from the layer below it. */
export interface Transport {
  /** The peer's address (for the login throttle and logs). */
  readonly remoteAddress: string;
  /** RFC 7395 WebSocket framing (<open/>, <close/>, one element per message) instead of a stream. */
  readonly framed: boolean;
  /** Which XMPP transport this is (the session's Sink.protocol). */
  readonly protocol: 'xmpp-tcp' | 'xmpp-websocket' | 'xmpp-bosh';
  /** Whether the bytes are protected by TLS now. */
  secure(): boolean;
  /** The TLS socket, for channel binding (null without TLS). */
  tlsSocket(): TLSSocket | null;
  /** STARTTLS can be offered (plain TCP with certificates available). */
  canStartTls(): boolean;
  /** Upgrades to TLS after <proceed/> was written (RFC 6120 §5.4.3.3). */
  startTls(): Promise<void>;
  /** Queues text (a stanza or a stream header); it is written with everything else queued this turn. */
  write(text: string): void;
  /** Bytes accepted but not yet sent (a peer that does not read makes this grow). */
  backlog(): number;
  /** Calls `fn` once, when the backlog has drained or the transport closed (flow control of replays). */
  onceDrained(fn: () => void): void;
  /**
   * Calls `fn` once everything written so far has been handed to the operating system; never when the
   * transport closes first (what was not written must not count as delivered).
   */
  afterWrite(fn: () => void): void;
  /** Stops (true) or resumes reading, for the per-connection rate limit. */
  pause(paused: boolean): void;
  /** Flushes and closes gracefully. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
  onData(fn: (chunk: Buffer | string) => void): void;
  onClose(fn: () => void): void;
}

const dirty = new Set<TcpTransport>();
let scheduled = false;
function flushAll(): void {
  scheduled = false;
  for (const t of dirty) t.flush();
  dirty.clear();
}

/**
 * Counts writes and their confirmations, for Transport.afterWrite: a callback waits until the writes made
 * before it was registered are confirmed (in order), and is dropped if the transport closes first.
 */
export class WriteTracker {
  /** Writes made, and writes the socket has confirmed. */
  private made = 0;
  private confirmed = 0;
  private waiting: Array<{ upTo: number; fn: () => void }> = [];
  private drained: Array<() => void> = [];
  private closed = false;

  /** Notes a write; returns its number, to confirm later. */
  wrote(): number {
    return ++this.made;
  }
  /** The socket has written everything up to write number `n`. */
  confirm(n: number): void {
    if (n <= this.confirmed) return;
    this.confirmed = n;
    if (this.waiting.length === 0) return;
    const due = this.waiting.filter((w) => w.upTo <= n);
    this.waiting = this.waiting.filter((w) => w.upTo > n);
    for (const w of due) w.fn();
  }
  /** Transport.afterWrite: dropped once the transport has closed (the writes will never be confirmed). */
  after(fn: () => void): void {
    if (this.closed) return;
    if (this.confirmed >= this.made) queueMicrotask(fn);
    else this.waiting.push({ upTo: this.made, fn });
  }
  /** Transport.onceDrained: at once (next microtask) once the transport has closed. */
  onceDrained(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.drained.push(fn);
  }
  /** The socket drained or closed: wake the flow-control waiters. */
  drain(): void {
    const d = this.drained;
    if (d.length === 0) return;
    this.drained = [];
    for (const fn of d) fn();
  }
  /** The transport closed: unconfirmed writes never will be. */
  close(): void {
    this.closed = true;
    this.waiting = [];
    this.drain();
  }
}

/** A TCP (or direct-TLS) socket. */
export class TcpTransport implements Transport {
  readonly framed = false;
  readonly protocol = 'xmpp-tcp';
  readonly remoteAddress: string;
  private socket: Socket;
  private queue: string[] = [];
  private queuedBytes = 0;
  private readonly writes = new WriteTracker();
  private dataFn: ((chunk: Buffer) => void) | null = null;
  private closeFn: (() => void) | null = null;
  private closed = false;
  private upgrading = false;

  constructor(
    socket: Socket,
    private readonly tlsOptions: (() => TlsOptions & SecureContextOptions) | null,
  ) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true);
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.dataFn?.(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => this.writes.drain());
    socket.on('close', () => {
      if (this.upgrading && socket !== this.socket) return;
      if (this.closed) return;
      this.closed = true;
      dirty.delete(this);
      this.writes.close();
      this.closeFn?.();
    });
  }

  secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }
  tlsSocket(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }
  canStartTls(): boolean {
    return !this.secure() && this.tlsOptions !== null;
  }

  startTls(): Promise<void> {
    const opts = this.tlsOptions;
    if (!opts) return Promise.reject(new Error('no TLS certificates'));
    this.flush();
    const raw = this.socket;
    raw.removeAllListeners('data');
    this.upgrading = true;
    const options = opts();
    const secure = new TLSSocket(raw, { ...options, isServer: true });
    this.socket = secure;
    return new Promise((resolve, reject) => {
      // tls.Server drops a handshake left unfinished after handshakeTimeout; a TLSSocket made by hand needs its
      // own timer (without one, only the stream's negotiation timeout would end it).
      const timer = setTimeout(() => secure.destroy(new Error('the TLS handshake timed out')), options.handshakeTimeout ?? 120_000);
      timer.unref();
      secure.once('close', () => clearTimeout(timer));
      secure.once('secure', () => {
        clearTimeout(timer);
        this.upgrading = false;
        resolve();
      });
      secure.once('error', (e) => reject(e));
      this.attach(secure);
    });
  }

  write(text: string): void {
    if (this.closed) return;
    this.queue.push(text);
    this.queuedBytes += text.length;
    this.writes.wrote();
    dirty.add(this);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushAll);
    }
  }

  /** Writes everything queued, as one string (one syscall, one TLS record run). */
  flush(): void {
    if (this.queue.length === 0) return;
    const text = this.queue.length === 1 ? this.queue[0]! : this.queue.join('');
    this.queue = [];
    this.queuedBytes = 0;
    if (this.closed || this.socket.destroyed) return;
    const upTo = this.writes.wrote();
    const room = this.socket.write(text, (err) => {
      if (!err) this.writes.confirm(upTo);
    });
    // Below the socket's high-water mark no 'drain' will come: wake replays waiting on the queued bytes now.
    if (room) this.writes.drain();
  }

  backlog(): number {
    return this.socket.writableLength + this.queuedBytes;
  }

  onceDrained(fn: () => void): void {
    this.writes.onceDrained(fn);
  }

  afterWrite(fn: () => void): void {
    this.writes.after(fn);
  }

  pause(paused: boolean): void {
    if (paused) this.socket.pause();
    else this.socket.resume();
  }

  end(): void {
    this.flush();
    dirty.delete(this);
    this.socket.end();
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  onData(fn: (chunk: Buffer | string) => void): void {
    this.dataFn = fn;
  }
  onClose(fn: () => void): void {
    this.closeFn = fn;
  }
}
