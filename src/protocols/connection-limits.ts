/**
 * Connections per source address, shared by every front door (JSON WebSocket, XMPP on TCP, TLS and
 * WebSocket, and the HTTP listener the WebSocket doors share). Front doors own connections, so this lives with
 * them: the engine never sees a connection refused here.
 *
 * Two caps per address, keyed like the login throttle (an IPv4 address, an IPv6 /64: sourceKey()):
 *  - every connection, from TCP accept until the socket closes (loose: many staff may share one NAT address);
 *  - connections that have not authenticated yet (tight): a TLS handshake in progress, an XMPP stream before
 *    resource binding, a WebSocket before its session opened. They cost memory and timers while proving
 *    nothing, so one address cannot hold thousands of them.
 *
 * Past a cap a front door refuses early and cheaply: a TCP connection is closed at once (on the XMPP port
 * after a stream error, which costs one write), a WebSocket upgrade gets HTTP 503.
 */
import type { Server, Socket } from 'node:net';
import { sourceKey } from '../auth/throttle.js';

/** The caps (configuration: limits.connectionsPerAddress, limits.unauthenticatedPerAddress). */
export interface ConnectionLimitOptions {
  /** Connections from one source address, authenticated or not. */
  perAddress: number;
  /** Connections from one source address that have not authenticated yet. */
  unauthenticatedPerAddress: number;
}

/** What is counted for one source address. */
export interface Tally {
  total: number;
  /** Connections not authenticated yet (null when none, which is the usual case). */
  waiting: Set<Unauthenticated> | null;
}

/** One connection counted as unauthenticated, until done() or until its socket closes. */
export class Unauthenticated {
  /**
   * For a connection that cannot report its authentication: asked when its address is at the cap, true once
   * it has authenticated (it then stops counting).
   */
  probe: (() => boolean) | null = null;
  private released = false;

  constructor(
    private readonly limits: ConnectionLimits,
    readonly socket: Socket,
    readonly key: string,
    readonly tally: Tally,
  ) {}

  /** The connection authenticated (or went away): it no longer counts against the unauthenticated cap. */
  done(): void {
    if (this.released) return;
    this.released = true;
    this.probe = null;
    this.limits.leave(this);
  }
}

/** Per-address connection counters; one instance serves every listener of a server. */
export class ConnectionLimits {
  private readonly tallies = new Map<string, Tally>();
  /** Sockets counted in a tally's total, and their key. */
  private readonly counted = new WeakMap<Socket, string>();
  /** Sockets counted as unauthenticated. */
  private readonly waiting = new WeakMap<Socket, Unauthenticated>();
  /** TLS handshakes in progress by peer "address|port": the TLS socket a server hands over is another object. */
  private readonly handshakes = new Map<string, Unauthenticated>();
  /** Connections refused so far, by cap (tests and metrics). */
  readonly refused = { total: 0, unauthenticated: 0 };
  /** One 'close' listener for every socket (`this` is the socket), so a counted socket costs no closure. */
  private readonly onClose: (this: Socket) => void;

  constructor(private readonly opts: ConnectionLimitOptions) {
    const limits = this;
    this.onClose = function (this: Socket) {
      limits.closed(this);
    };
  }

  /**
   * Counts a newly accepted TCP connection until its socket closes. Returns false past the address's cap
   * (nothing is counted; the caller closes the socket).
   */
  accept(socket: Socket): boolean {
    const key = keyOf(socket);
    const t = this.tallies.get(key) ?? { total: 0, waiting: null };
    if (t.total >= this.opts.perAddress) {
      this.refused.total += 1;
      return false;
    }
    t.total += 1;
    this.tallies.set(key, t);
    this.watch(socket);
    this.counted.set(socket, key);
    return true;
  }

  /**
   * Counts `socket` as unauthenticated until the returned entry's done() or the socket's close. Returns null
   * past the address's cap (nothing is counted; the caller refuses the connection).
   */
  unauthenticated(socket: Socket): Unauthenticated | null {
    const key = keyOf(socket);
    const t = this.tallies.get(key) ?? { total: 0, waiting: null };
    if (t.waiting !== null && t.waiting.size >= this.opts.unauthenticatedPerAddress) {
      // Some may have authenticated without saying so: ask them before refusing.
      for (const u of [...t.waiting]) if (u.probe?.() === true) u.done();
    }
    if (t.waiting !== null && t.waiting.size >= this.opts.unauthenticatedPerAddress) {
      this.refused.unauthenticated += 1;
      return null;
    }
    this.waiting.get(socket)?.done();
    const u = new Unauthenticated(this, socket, key, t);
    (t.waiting ??= new Set()).add(u);
    this.tallies.set(key, t);
    this.watch(socket);
    this.waiting.set(socket, u);
    return u;
  }

  /**
   * Applies the caps to a listening server at TCP accept, before it does any work on the socket (TLS, HTTP
   * parsing): a socket past a cap is destroyed at once. On a TLS server (`tls`) the handshake counts as
   * unauthenticated until it completes.
   */
  guard(server: Server, tls: boolean): void {
    server.prependListener('connection', (socket: Socket) => {
      if (!this.accept(socket)) {
        socket.destroy();
        return;
      }
      if (!tls) return;
      const u = this.unauthenticated(socket);
      if (u === null) {
        socket.destroy();
        return;
      }
      this.handshakes.set(peerOf(socket), u);
    });
    // Prepended too: a front door that counts its stream from here on must not find the handshake still counted.
    if (tls) server.prependListener('secureConnection', (s: Socket) => this.endHandshake(peerOf(s)));
  }

  /** Connections counted now from the address of `ip` (tests). */
  countOf(ip: string): { total: number; unauthenticated: number } {
    const t = this.tallies.get(sourceKey(ip));
    return { total: t?.total ?? 0, unauthenticated: t?.waiting?.size ?? 0 };
  }

  /** Ends an Unauthenticated entry (called by its done()). */
  leave(u: Unauthenticated): void {
    u.tally.waiting?.delete(u);
    // Forgotten now, not at close: an authenticated connection keeps nothing here but its place in the total.
    if (this.waiting.get(u.socket) === u) this.waiting.delete(u.socket);
    this.prune(u.key, u.tally);
  }

  private endHandshake(peer: string): void {
    const u = this.handshakes.get(peer);
    if (!u) return;
    this.handshakes.delete(peer);
    u.done();
  }

  private closed(socket: Socket): void {
    const u = this.waiting.get(socket);
    if (u) {
      if (this.handshakes.get(peerOf(socket)) === u) this.handshakes.delete(peerOf(socket));
      u.done();
    }
    const key = this.counted.get(socket);
    if (key === undefined) return;
    this.counted.delete(socket);
    const t = this.tallies.get(key);
    if (!t) return;
    t.total -= 1;
    this.prune(key, t);
  }

  private prune(key: string, t: Tally): void {
    if (t.waiting !== null && t.waiting.size === 0) t.waiting = null;
    if (t.total <= 0 && t.waiting === null && this.tallies.get(key) === t) this.tallies.delete(key);
  }

  private watch(socket: Socket): void {
    if (!this.counted.has(socket) && !this.waiting.has(socket)) socket.on('close', this.onClose);
  }
}

function keyOf(socket: Socket): string {
  return sourceKey(socket.remoteAddress ?? 'unknown');
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
