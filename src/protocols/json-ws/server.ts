/** Accepts JSON-protocol WebSocket upgrades on an HTTP(S) server, checking Origin against the allow-list. */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Engine } from '../../engine/engine.js';
import { originAllowed, routeUpgrade } from '../websocket-upgrade.js';
import { Connection, type ConnectionObserver, type ConnectionOptions } from './connection.js';

/** Options of the JSON WebSocket front door. */
export interface JsonWsOptions extends ConnectionOptions {
  path: string;
  /** Origins allowed besides the server's own; "*" allows any. Requests without Origin (non-browsers) pass. */
  allowedOrigins: string[];
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
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\norigin not allowed\n');
      return;
    }
    const ip = req.socket.remoteAddress ?? 'unknown'; // read here: a closure naming `req` would keep it (~1 KB) per connection
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.setNoDelay(true);
      const c = new Connection(ws, socket, engine, ip, opts, observer);
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
