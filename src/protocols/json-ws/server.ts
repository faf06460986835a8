/** Accepts JSON-protocol WebSocket upgrades on an HTTP(S) server, checking Origin against the allow-list. */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Engine } from '../../engine/engine.js';
import type { Outbound } from '../../engine/outbound.js';
import type { ConnectionLimits, Unauthenticated } from '../connection-limits.js';
import { cookieToken } from '../http/web-session.js';
import { originAllowed, refuseBusy, refuseOrigin, routeUpgrade } from '../websocket-upgrade.js';
import { Connection, type ConnectionObserver, type ConnectionOptions } from './connection.js';

/** Options of the JSON WebSocket front door. */
export interface JsonWsOptions extends ConnectionOptions {
  path: string;
  /** Origins allowed besides the server's own; "*" allows any. Requests without Origin (non-browsers) pass. */
  allowedOrigins: string[];
  /** Per-address caps shared with the other front doors. */
  connections: ConnectionLimits;
}

/**
 * One connection's observer while it has not authenticated. Engine events reach a connection only once it has
 * a session, so the first one flushed says hello succeeded: the connection stops counting as unauthenticated.
 */
class Authenticating implements ConnectionObserver {
  constructor(
    private readonly inner: ConnectionObserver,
    private waiting: Unauthenticated | null,
  ) {}
  opened(): void {
    this.inner.opened();
  }
  closed(): void {
    this.inner.closed();
  }
  flushed(out: Outbound): void {
    if (this.waiting !== null) {
      this.waiting.done();
      this.waiting = null;
    }
    this.inner.flushed(out);
  }
}

/** A running JSON WebSocket front door. */
export interface JsonWsFrontDoor {
  /** Number of open connections. */
  readonly size: number;
  /** Stops accepting and closes every connection (with or without a session). */
  close(): void;
}

/** Attaches the front door to `server` at `opts.path` (see routeUpgrade: other WebSocket endpoints share the server). */
export function attachJsonWs(server: HttpServer | HttpsServer, engine: Engine, opts: JsonWsOptions, observer: ConnectionObserver): JsonWsFrontDoor {
  const tls = 'setSecureContext' in server;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // ws closes a connection past maxPayload; below it, oversize frames get an error reply and the connection goes on.
    maxPayload: Math.max(opts.maxFrameBytes * 4, 1 << 20),
    clientTracking: false,
  });
  const conns = new Set<Connection>();
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!originAllowed(req.headers.origin, req.headers.host, opts.allowedOrigins, tls)) {
      refuseOrigin(socket, req.headers.origin ?? '', '/ws', engine.ctx.log);
      return;
    }
    // Until hello succeeds the connection counts against its address's cap of unauthenticated connections.
    const waiting = opts.connections.unauthenticated(socket);
    if (waiting === null) {
      refuseBusy(socket);
      return;
    }
    const ip = req.socket.remoteAddress ?? 'unknown'; // read here: a closure naming `req` would keep it (~1 KB) per connection
    const cookie = cookieToken(req.headers.cookie);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.setNoDelay(true);
      const c = new Connection(ws, socket, engine, ip, opts, new Authenticating(observer, waiting), cookie);
      conns.add(c);
      ws.once('close', () => conns.delete(c));
    });
  };
  const release = routeUpgrade(server, opts.path, onUpgrade);
  const beat = setInterval(() => {
    for (const c of conns) c.heartbeat();
  }, opts.heartbeatMs);
  beat.unref();
  return {
    get size() {
      return conns.size;
    },
    close() {
      clearInterval(beat);
      release();
      wss.close();
      // wss.close() leaves accepted sockets open (noServer), and the engine closes only connections with a
      // session: one that has not said hello yet would hold the HTTP server's close until its hello timeout.
      for (const c of conns) c.close('shutdown', 'the server is shutting down');
    },
  };
}
