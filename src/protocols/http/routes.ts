/**
 * The HTTP API: login/logout, history and roster reads, /health and /metrics; the administration API is
 * admin-routes.ts.
 * Errors are JSON `{ error: { code, message } }` with the status from the error registry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ERRORS, ParleyError, toParleyError } from '../../core/errors.js';
import { parseParams } from '../params.js';
import { registerAdminRoutes } from './admin-routes.js';
import { requestToken } from './web-session.js';
import type { Engine } from '../../engine/engine.js';

/** What the routes need besides the engine. */
export interface HttpDeps {
  engine: Engine;
  metrics: () => Promise<{ contentType: string; body: string }>;
  health: () => Record<string, unknown>;
  /** Bearer token that lets a client other than loopback read /metrics (null: loopback only). */
  metricsToken: string | null;
  /** Roles the modules give a user (ModuleApi.roles), for GET /api/v1/admin/me; none when absent. */
  roles?: (user: string) => Promise<string[]>;
}

/** Whether `ip` is a loopback address (127.0.0.0/8, ::1, or 127.x mapped into IPv6, RFC 4291 §2.5.5.2). */
export function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  const v4 = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return ip === '::1';
}

/**
 * /metrics tells anyone who reads it about load, users online and the software's internals, so it is not
 * public: a loopback client (a scraper on the same host) may read it; any other client needs the configured
 * bearer token. A request that came through a proxy (Forwarded or X-Forwarded-For, RFC 7239) is not treated as
 * loopback even when the proxy connects from it, or a reverse proxy on the same host would open it to everyone.
 */
function authorizeMetrics(req: FastifyRequest, token: string | null): void {
  const proxied = req.headers.forwarded !== undefined || req.headers['x-forwarded-for'] !== undefined;
  if (!proxied && isLoopback(req.socket.remoteAddress)) return;
  if (token === null) {
    throw new ParleyError('forbidden', 'GET /metrics is served to loopback clients only; set server.metricsToken to let a scraper elsewhere in with Authorization: Bearer');
  }
  const h = req.headers.authorization;
  const given = h?.startsWith('Bearer ') ? h.slice(7) : '';
  // Compared as hashes, in constant time, so neither the token nor its length leaks through timing.
  const digest = (v: string): Buffer => createHash('sha256').update(v, 'utf8').digest();
  if (!timingSafeEqual(digest(given), digest(token))) {
    throw new ParleyError('not-authorized', 'GET /metrics from here needs Authorization: Bearer <server.metricsToken>');
  }
}

const login = z.strictObject({ address: z.string().min(1).max(3071), password: z.string().min(1).max(1024) });
const historyQuery = z.strictObject({
  with: z.string().min(1).max(3071),
  before: z.coerce.number().int().min(0).optional(),
  after: z.coerce.number().int().min(0).optional(),
  start: z.coerce.number().int().min(0).optional(),
  end: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).optional(),
});

function bearer(req: FastifyRequest): string {
  const token = requestToken(req);
  if (token === null) throw new ParleyError('not-authorized', 'send Authorization: Bearer <token>');
  return token;
}

/**
 * Who calls: the user of the request's bearer token (a session token, or a credential a registered verifier
 * recognises, such as a bot's API key: AuthService.resolveBearer) or of its web session cookie (web-session.ts,
 * with the CSRF header on state-changing calls), and the same when it is an administrator's.
 */
export function authenticators(engine: Engine): { user: (req: FastifyRequest) => Promise<string>; admin: (req: FastifyRequest) => Promise<string> } {
  const user = async (req: FastifyRequest): Promise<string> => (await engine.auth.resolveBearer(bearer(req))).user;
  const admin = async (req: FastifyRequest): Promise<string> => {
    const u = await user(req);
    await engine.admin.requireAdmin(u);
    return u;
  };
  return { user, admin };
}

/** Registers every route on the fastify instance (the modules' own follow, each in its scope). */
export function registerRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { engine } = deps;
  const { user, admin } = authenticators(engine);

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    let e = toParleyError(err);
    const fe = err as { statusCode?: number; code?: string; message?: string };
    if (!(err instanceof ParleyError) && fe.statusCode && fe.statusCode < 500) {
      const code = fe.statusCode === 413 ? 'frame-too-large' : fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'bad-json' : 'bad-request';
      e = new ParleyError(code, fe.message);
    }
    if (e.code === 'internal-server-error') req.log.error({ err }, 'request failed');
    void reply.status(ERRORS[e.code].status).send({ error: { code: e.code, message: e.message, ...(e.details ?? {}) } });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'item-not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  app.get('/health', async () => deps.health());
  app.get('/metrics', async (req, reply) => {
    authorizeMetrics(req, deps.metricsToken);
    const m = await deps.metrics();
    void reply.header('content-type', m.contentType);
    return m.body;
  });

  app.post('/api/v1/login', async (req) => {
    const p = parseParams(login, req.body);
    return engine.auth.login(p.address, p.password, req.ip);
  });
  app.post('/api/v1/logout', async (req) => {
    await user(req);
    await engine.auth.logout(bearer(req));
    return {};
  });
  app.get('/api/v1/history', async (req) => engine.history(await user(req), parseParams(historyQuery, req.query)));
  app.get('/api/v1/roster', async (req) => ({ items: await engine.rosters.get(await user(req)) }));

  registerAdminRoutes(app, { engine, user, admin, roles: deps.roles ?? (async () => []) });
}
