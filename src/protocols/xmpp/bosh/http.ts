/**
 * The HTTP side of BOSH and of connection discovery, on Parley's HTTP(S) listener:
 *
 * - POST at the BOSH path (XEP-0124 §4: `text/xml; charset=utf-8` both ways, every answer HTTP 200 with a
 *   <body/>, terminal errors as §17.2 conditions), CORS for the allowed origins only (the Origin check of the
 *   WebSocket doors, server.allowedOrigins), and the OPTIONS preflight browsers send before a cross-origin POST.
 * - XEP-0156 §3: /.well-known/host-meta (XRD) and /.well-known/host-meta.json listing the BOSH and XMPP
 *   WebSocket URLs, readable from any origin as §3 asks.
 *
 * Routes are registered when the server is built; the BoshFrontDoor behind them starts with the listener.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { originAllowed, reportOrigin, type OriginLog } from '../../websocket-upgrade.js';
import { terminateBody } from './body.js';
import type { BoshFrontDoor } from './server.js';

/** What the BOSH routes need. */
export interface BoshHttpOptions {
  /** The BOSH path (xmpp.bosh.path), or null when BOSH is off. */
  path: string | null;
  /** The XMPP WebSocket path (xmpp.websocketPath), for discovery, or null. */
  websocketPath: string | null;
  /** Origins allowed besides the server's own (server.allowedOrigins). */
  allowedOrigins: string[];
  /** The listener is HTTPS. */
  tls: boolean;
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** The running front door (null until the server listens). */
  door: () => BoshFrontDoor | null;
  log: OriginLog;
}

const XML = 'text/xml; charset=utf-8';
/** A Host header as RFC 9110 §7.2 allows (name or address, optional port); anything else is not echoed. */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** Registers the BOSH endpoint and the XEP-0156 host-meta files on `app`. */
export function registerBoshRoutes(app: FastifyInstance, opts: BoshHttpOptions): void {
  if (opts.path === null && opts.websocketPath === null) return;
  registerHostMeta(app, opts);
  const path = opts.path;
  if (path === null) return;
  void app.register(async (scope) => {
    // Any content type is read as text: clients send text/xml, application/xml or none at all (§4 allows them).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: { statusCode?: number; code?: string }, req, reply) => {
      cors(req, reply, opts);
      // The body could not be read (too big, or cut): no session can be named, none is touched.
      const tooBig = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      void reply.code(tooBig ? 413 : 400).type(XML).send(terminateBody(tooBig ? 'policy-violation' : 'bad-request'));
    });
    scope.options(path, (req, reply) => {
      if (!cors(req, reply, opts)) return;
      void reply.code(204).header('access-control-max-age', '86400').send();
    });
    scope.get(path, (_req, reply) => {
      void reply.code(405).header('allow', 'POST, OPTIONS').type('text/plain; charset=utf-8').send('this is an XMPP over BOSH endpoint (XEP-0206): POST <body/> elements\n');
    });
    scope.post(path, { bodyLimit: opts.maxBodyBytes }, (req, reply) => {
      if (!cors(req, reply, opts)) return;
      const door = opts.door();
      if (door === null) {
        void reply.code(503).type(XML).send(terminateBody('remote-connection-failed'));
        return;
      }
      const text = typeof req.body === 'string' ? req.body : '';
      door.handle(
        text,
        { remoteAddress: req.socket.remoteAddress ?? 'unknown', secure: opts.tls },
        {
          send(xml, written) {
            if (reply.sent) return;
            if (written) reply.raw.once('finish', written);
            void reply.code(200).type(XML).header('cache-control', 'no-store').send(xml);
          },
        },
      );
    });
  });
}

/**
 * CORS (Fetch standard §3.2) for an allowed Origin; a request from a page whose origin is not allowed gets 403
 * and the operator a log line, as on the WebSocket doors. Returns false when refused.
 */
function cors(req: FastifyRequest, reply: FastifyReply, opts: BoshHttpOptions): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (!originAllowed(origin, req.headers.host, opts.allowedOrigins, opts.tls)) {
    reportOrigin(origin, opts.path ?? '', 'a BOSH request', opts.log);
    void reply.code(403).type('text/plain; charset=utf-8').send('origin not allowed: this server does not list your page\'s origin in server.allowedOrigins\n');
    return false;
  }
  void reply
    .header('access-control-allow-origin', origin)
    .header('vary', 'Origin')
    .header('access-control-allow-methods', 'POST, OPTIONS')
    .header('access-control-allow-headers', 'Content-Type');
  return true;
}

/** XEP-0156 §3: the connection methods of this host, as XRD and as JSON (RFC 6415). */
function registerHostMeta(app: FastifyInstance, opts: BoshHttpOptions): void {
  const links = (req: FastifyRequest): Array<{ rel: string; href: string }> | null => {
    const host = req.headers.host;
    if (host === undefined || !HOST.test(host)) return null;
    // Behind a TLS-terminating proxy the listener is plain HTTP; the proxy says so in X-Forwarded-Proto.
    const secure = opts.tls || req.headers['x-forwarded-proto'] === 'https';
    const out: Array<{ rel: string; href: string }> = [];
    if (opts.path !== null) out.push({ rel: 'urn:xmpp:alt-connections:xbosh', href: `${secure ? 'https' : 'http'}://${host}${opts.path}` });
    if (opts.websocketPath !== null) out.push({ rel: 'urn:xmpp:alt-connections:websocket', href: `${secure ? 'wss' : 'ws'}://${host}${opts.websocketPath}` });
    return out;
  };
  app.get('/.well-known/host-meta', (req, reply) => {
    const l = links(req);
    if (l === null) return reply.code(400).send();
    const body = l.map((x) => `  <Link rel="${x.rel}" href="${x.href}"/>\n`).join('');
    return reply
      .header('access-control-allow-origin', '*')
      .type('application/xrd+xml; charset=utf-8')
      .send(`<?xml version="1.0" encoding="utf-8"?>\n<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n${body}</XRD>\n`);
  });
  app.get('/.well-known/host-meta.json', (req, reply) => {
    const l = links(req);
    if (l === null) return reply.code(400).send();
    return reply.header('access-control-allow-origin', '*').type('application/json; charset=utf-8').send(JSON.stringify({ links: l }));
  });
}
