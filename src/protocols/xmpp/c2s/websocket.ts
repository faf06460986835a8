/**
 * XMPP over WebSocket (RFC 7395) on the HTTP(S) port: the browser front door of the XMPP client protocol.
 *
 * Each WebSocket message carries one complete element (§3.3.3); the stream is opened and closed with <open/>
 * and <close/> in the framing namespace. The XML handling is XmppConnection's, in its framed
 * mode; this file only moves messages: a WsTransport is the Transport of one connection.
 *
 * Handshake (§3.1): the client must offer the "xmpp" subprotocol and the server selects it; a handshake that
 * does not offer it is refused with HTTP 400 (ws would otherwise complete it without any subprotocol, and the
 * client would be speaking XMPP to a server that never agreed to). The Origin is checked as on the JSON door.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { Engine } from '../../../engine/engine.js';
import type { ConnectionLimits } from '../../connection-limits.js';
import { originAllowed, refuseBusy, refuseOrigin, routeUpgrade } from '../../websocket-upgrade.js';
import { XmppConnection } from './connection.js';
import type { XmppObserver, XmppOptions } from './types.js';
import { WriteTracker, type Transport } from './transport.js';

/** The WebSocket subprotocol name registered by RFC 7395 §3.1. */
export const XMPP_SUBPROTOCOL = 'xmpp';

/** Options of the XMPP WebSocket front door. */
export interface XmppWebSocketOptions {
  /** HTTP path of the endpoint, e.g. /xmpp-websocket. */
  path: string;
  /** Origins allowed besides the server's own; "*" allows any. Requests without Origin (non-browsers) pass. */
  allowedOrigins: string[];
  /** Stream settings, shared with the TCP listeners. */
  xmpp: XmppOptions;
  /**
   * Largest WebSocket message; a bigger one closes the connection with 1009. Keep it above xmpp.maxStanzaBytes:
   * below it, the stream parser enforces the real limits (10,000 bytes before authentication) with a stream error.
   */
  maxMessageBytes: number;
  /** Per-address caps shared with the other front doors. */
  connections: ConnectionLimits;
}

/** A running XMPP WebSocket front door. */
export interface XmppWebSocketFrontDoor {
  /** Open connections. */
  readonly size: number;
  /** Stops accepting and closes every stream with system-shutdown. */
  close(): void;
}

/** Transports whose socket is corked this turn; uncorked together once it ends. */
const corked = new Set<WsTransport>();
let scheduled = false;
function uncorkAll(): void {
  scheduled = false;
  for (const t of corked) t.uncork();
  corked.clear();
}

/**
 * One WebSocket under an XMPP stream. Every write() is one WebSocket text message (RFC 7395 §3.3.3: one
 * complete element per message); the socket is corked for the rest of the event-loop turn so that a burst of
 * messages leaves in few packets, but messages are never merged.
 */
export class WsTransport implements Transport {
  readonly framed = true;
  readonly protocol = 'xmpp-websocket';
  readonly remoteAddress: string;
  private dataFn: ((chunk: Buffer | string) => void) | null = null;
  private closeFn: (() => void) | null = null;
  /** Called for a binary message (RFC 7395 carries XMPP in UTF-8 text messages); the front door ends the stream. */
  onBinary: (() => void) | null = null;
  private isCorked = false;
  private ending = false;
  private closed = false;
  private readonly writes = new WriteTracker();

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    remoteAddress: string,
  ) {
    this.remoteAddress = remoteAddress;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (this.closed) return;
      if (isBinary) {
        if (this.onBinary) this.onBinary();
        else this.end();
        return;
      }
      // ws has checked that a text message is valid UTF-8 (RFC 6455 §8.1).
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      this.dataFn?.(text);
    });
    // A protocol error (too big a message, bad framing): ws has already started the closing handshake with the
    // matching code; make sure a peer that does not answer it cannot keep the socket.
    ws.on('error', () => this.end());
    ws.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.uncork();
      corked.delete(this);
      this.writes.close();
      this.closeFn?.();
    });
    socket.on('drain', () => this.writes.drain());
  }

  secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }
  /**
   * No channel binding over WebSocket: behind a TLS-terminating proxy (the usual deployment of a browser
   * endpoint) the TLS session is not the client's, and browsers cannot compute channel-binding data anyway.
   * So no -PLUS mechanisms are offered here.
   */
  tlsSocket(): TLSSocket | null {
    return null;
  }
  canStartTls(): boolean {
    return false;
  }
  startTls(): Promise<void> {
    return Promise.reject(new Error('no STARTTLS over WebSocket: TLS is the WebSocket layer\'s (wss)'));
  }

  write(text: string): void {
    if (this.closed || this.ending || this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.isCorked) {
      this.isCorked = true;
      this.socket.cork();
      corked.add(this);
      if (!scheduled) {
        scheduled = true;
        setImmediate(uncorkAll);
      }
    }
    const n = this.writes.wrote();
    this.ws.send(text, (err) => {
      if (!err) this.writes.confirm(n);
    });
  }

  /** Releases what write() held back this turn. */
  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.socket.uncork();
    if (this.socket.writableLength < this.socket.writableHighWaterMark) this.writes.drain();
  }

  backlog(): number {
    return this.ws.bufferedAmount;
  }

  onceDrained(fn: () => void): void {
    this.writes.onceDrained(fn);
  }

  afterWrite(fn: () => void): void {
    this.writes.after(fn);
  }

  pause(paused: boolean): void {
    if (paused) this.ws.pause();
    else this.ws.resume();
  }

  /** Sends what is queued, then the WebSocket close frame (1000); a peer that never answers is cut after 2 s. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.uncork();
    corked.delete(this);
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  destroy(): void {
    this.uncork();
    corked.delete(this);
    this.ws.terminate();
  }

  onData(fn: (chunk: Buffer | string) => void): void {
    this.dataFn = fn;
  }
  onClose(fn: () => void): void {
    this.closeFn = fn;
  }
}

/** Whether the handshake offers the "xmpp" subprotocol (Sec-WebSocket-Protocol is a comma-separated token list). */
function offersXmpp(req: IncomingMessage): boolean {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return false;
  return header.split(',').some((p) => p.trim() === XMPP_SUBPROTOCOL);
}

function refuse(socket: Socket, status: string, text: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${text}\n`);
}

/** Attaches the XMPP WebSocket endpoint to `server` at `opts.path`. */
export function attachXmppWebSocket(
  server: HttpServer | HttpsServer,
  engine: Engine,
  opts: XmppWebSocketOptions,
  observer: XmppObserver,
): XmppWebSocketFrontDoor {
  const tls = 'setSecureContext' in server;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: opts.maxMessageBytes,
    clientTracking: false,
    // RFC 7395 §3.1: the server selects "xmpp" (offersXmpp() has refused a handshake without it).
    handleProtocols: (protocols) => (protocols.has(XMPP_SUBPROTOCOL) ? XMPP_SUBPROTOCOL : false),
  });
  // requireTls means "STARTTLS before authentication" on the TCP port. There is no STARTTLS here: TLS is the
  // HTTP listener's (server.tls) or a reverse proxy's, which the server cannot see, so a stream it sees as
  // plain is still offered SCRAM. PLAIN still waits for TLS the server can see (or allowPlainWithoutTls).
  const xmpp: XmppOptions = { ...opts.xmpp, requireTls: false };
  const connections = new Set<XmppConnection>();
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!originAllowed(req.headers.origin, req.headers.host, opts.allowedOrigins, tls)) {
      refuseOrigin(socket, req.headers.origin ?? '', opts.path, engine.ctx.log);
      return;
    }
    if (!offersXmpp(req)) {
      refuse(socket, '400 Bad Request', 'this endpoint speaks the "xmpp" WebSocket subprotocol (RFC 7395); offer it in Sec-WebSocket-Protocol');
      return;
    }
    // Until it binds a resource the stream counts against its address's cap of unauthenticated connections.
    const waiting = opts.connections.unauthenticated(socket);
    if (waiting === null) {
      refuseBusy(socket);
      return;
    }
    const ip = req.socket.remoteAddress ?? 'unknown'; // read here: a closure naming `req` would keep it per connection
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.setNoDelay(true);
      const transport = new WsTransport(ws, socket, ip);
      const conn = new XmppConnection(transport, engine, xmpp, {
        opened: () => observer.opened(),
        closed: () => {
          connections.delete(conn);
          observer.closed();
        },
      });
      waiting.probe = () => conn.session !== null;
      transport.onBinary = () => conn.streamError('unsupported-encoding', 'XMPP over WebSocket is sent in text messages, not binary ones (RFC 7395)');
      connections.add(conn);
    });
  };
  const release = routeUpgrade(server, opts.path, onUpgrade);
  return {
    get size() {
      return connections.size;
    },
    close() {
      release();
      wss.close();
      for (const c of [...connections]) c.close('shutdown', 'the server is shutting down');
    },
  };
}
