/**
 * WebSocket endpoints sharing one HTTP(S) server: the JSON door at /ws and the XMPP one (RFC 7395) at its own
 * path. One 'upgrade' listener per server routes by path; both doors check the Origin the same way.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

/** Whether a browser page at `origin` may open a WebSocket to this server (RFC 6455 §10.2). */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: string[], tls: boolean): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  return host !== undefined && origin === `${tls ? 'https' : 'http'}://${host}`;
}

/** Where a refused Origin is reported. */
export interface OriginLog {
  warn(obj: object, msg: string): void;
}

/** Origins already reported, with when: each is logged at most once a minute, however often a page retries. */
const reportedOrigins = new Map<string, number>();
const ORIGIN_REPORT_MS = 60_000;
const ORIGIN_REPORT_MAX = 1000;

/**
 * Refuses an upgrade whose Origin is not allowed (RFC 6455 §4.2.2: 403) and tells the operator which origin
 * and which setting would allow it, since the browser shows its user only a failed connection.
 */
export function refuseOrigin(socket: Socket, origin: string, endpoint: string, log: OriginLog, now = Date.now()): void {
  reportOrigin(origin, endpoint, 'a WebSocket upgrade', log, now);
  socket.end(
    'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
      'origin not allowed: this server does not list your page\'s origin in server.allowedOrigins\n',
  );
}

/**
 * Logs a refused Origin (at most once a minute per origin) with the setting that would allow it; `what` names
 * the refused request ("a WebSocket upgrade", "a BOSH request").
 */
export function reportOrigin(origin: string, endpoint: string, what: string, log: OriginLog, now = Date.now()): void {
  const last = reportedOrigins.get(origin);
  if (last !== undefined && now - last < ORIGIN_REPORT_MS) return;
  if (reportedOrigins.size >= ORIGIN_REPORT_MAX) reportedOrigins.clear();
  reportedOrigins.set(origin, now);
  log.warn({ origin, endpoint, setting: 'server.allowedOrigins' }, `refused ${what} from a page at ${origin}: add it to server.allowedOrigins to allow it`);
}

/**
 * Refuses an upgrade because its source address already has too many connections that have not
 * authenticated (protocols/connection-limits.ts): HTTP 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3), the
 * status proxies also use for per-address connection limits.
 */
export function refuseBusy(socket: Socket): void {
  socket.end(
    'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
      'too many connections from your address are not authenticated yet; try again later\n',
  );
  socket.destroySoon();
}

/** Handles one WebSocket upgrade request on a path claimed with routeUpgrade(). */
export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

/** Per HTTP server: the upgrade paths claimed by the WebSocket endpoints on it, and the one listener that routes them. */
const upgradeRoutes = new WeakMap<HttpServer | HttpsServer, { paths: Map<string, UpgradeHandler>; listener: UpgradeHandler }>();

/**
 * Routes WebSocket upgrades for `path` on `server` to `handler` (the JSON door at /ws, the XMPP one at its own
 * path). One 'upgrade' listener per server dispatches by path; an upgrade on a path nobody claimed gets 404.
 * Returns the release: after it, upgrades on `path` get 404 too; the last release removes the listener.
 * Throws when `path` is already claimed.
 */
export function routeUpgrade(server: HttpServer | HttpsServer, path: string, handler: UpgradeHandler): () => void {
  let routes = upgradeRoutes.get(server);
  if (!routes) {
    const paths = new Map<string, UpgradeHandler>();
    const listener: UpgradeHandler = (req, socket, head) => {
      const target = paths.get((req.url ?? '/').split('?')[0]!);
      if (target) {
        target(req, socket, head);
        return;
      }
      // Node hands an upgrade to its 'upgrade' listeners and nothing else; when this is the only one, no one
      // else will answer, so refuse instead of leaving the socket open until the client gives up.
      if (server.listenerCount('upgrade') <= 1) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nno WebSocket endpoint here\n');
      }
    };
    routes = { paths, listener };
    upgradeRoutes.set(server, routes);
    server.on('upgrade', listener);
  }
  if (routes.paths.has(path)) throw new Error(`two WebSocket endpoints at ${path}`);
  routes.paths.set(path, handler);
  const r = routes;
  return () => {
    if (r.paths.get(path) !== handler) return;
    r.paths.delete(path);
    if (r.paths.size === 0 && upgradeRoutes.get(server) === r) {
      server.off('upgrade', r.listener);
      upgradeRoutes.delete(server);
    }
  };
}
