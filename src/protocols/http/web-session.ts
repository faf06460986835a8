/**
 * Web sessions for Parley's own web apps (web/): the login token lives in an HttpOnly cookie that page scripts
 * cannot read, so a cross-site script cannot steal it, and SameSite=Strict keeps other sites' pages from sending
 * it (RFC 6265bis §5.6.7.1). State-changing calls made with the cookie must also carry the header
 * `X-Parley-CSRF` with a value derived from the token (the app reads it from the login reply or from
 * GET /api/v1/web/session): a cross-site form can neither read it nor set a custom header without a CORS
 * preflight, which Parley never grants. Bearer-token clients (bots, other services) are unaffected: their
 * credential is not ambient, so they need no CSRF value. The JSON WebSocket accepts the same cookie on its
 * upgrade (`hello {cookie: true}`), where the Origin check stands in for CSRF protection.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { parseParams } from '../params.js';

/** The cookie holding a web session's token. */
export const SESSION_COOKIE = 'parley_session';
/** The header that must repeat the session's CSRF value on state-changing calls made with the cookie. */
export const CSRF_HEADER = 'x-parley-csrf';

/** The CSRF value of a session token: a one-way digest, so knowing it does not reveal the token. */
export function csrfFor(token: string): string {
  return createHash('sha256').update('parley-csrf\0').update(token).digest('base64url');
}

/** The session token in a Cookie header, or null (RFC 6265 §5.4). */
export function cookieToken(header: string | undefined): string | null {
  if (!header) return null;
  const v = parseCookie(header)[SESSION_COOKIE];
  return v && v.length <= 512 ? v : null;
}

/** Methods that change nothing (RFC 9110 §9.2.1), so they need no CSRF value. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The token a request authenticates with: its bearer token, else (for a browser) its session cookie, with the
 * CSRF header checked on unsafe methods. Null when it has neither.
 */
export function requestToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h !== undefined) {
    if (!h.startsWith('Bearer ')) throw new ParleyError('not-authorized', 'send Authorization: Bearer <token>');
    return h.slice(7);
  }
  const token = cookieToken(req.headers.cookie);
  if (token === null) return null;
  if (!SAFE.has(req.method)) {
    const given = req.headers[CSRF_HEADER];
    const want = Buffer.from(csrfFor(token));
    if (typeof given !== 'string' || given.length !== want.length || !timingSafeEqual(Buffer.from(given), want)) {
      throw new ParleyError('forbidden', `a call made with the session cookie needs the ${CSRF_HEADER} header of that session`);
    }
  }
  return token;
}

/** Options of the web session routes. */
export interface WebSessionOptions {
  /** `always`: cookies are Secure; `auto`: Secure when the request came over TLS or to a loopback host name. */
  secureCookies: 'auto' | 'always';
  /** What every signed-in person is told (the modules' user notices, e.g. that conversations are recorded). */
  notices: () => readonly string[];
}

const login = z.strictObject({ address: z.string().min(1).max(3071), password: z.string().min(1).max(1024) });

/**
 * Whether a cookie set in reply to `req` gets the Secure attribute. Browsers treat http://localhost and loopback
 * addresses as secure contexts and accept Secure cookies from them, so a developer's server works too.
 */
function secure(req: FastifyRequest, opts: WebSessionOptions): boolean {
  if (opts.secureCookies === 'always' || req.protocol === 'https') return true;
  const host = (req.hostname ?? '').replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || host === '::1' || host.startsWith('127.');
}

function setCookie(reply: FastifyReply, req: FastifyRequest, opts: WebSessionOptions, value: string, maxAgeSeconds: number): void {
  void reply.header(
    'set-cookie',
    serializeCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', path: '/', secure: secure(req, opts), maxAge: maxAgeSeconds }),
  );
}

/**
 * POST /api/v1/web/login (password login, sets the cookie; throttled like every login), GET /api/v1/web/session
 * (who the cookie is, with its CSRF value and the notices for signed-in people; `{address: null}` when not
 * signed in), POST /api/v1/web/logout (ends the session, clears the cookie).
 */
export function registerWebSession(app: FastifyInstance, engine: Engine, opts: WebSessionOptions): void {
  app.post('/api/v1/web/login', async (req, reply) => {
    const p = parseParams(login, req.body);
    const s = await engine.auth.login(p.address, p.password, req.ip);
    setCookie(reply, req, opts, s.token, Math.max(0, Math.floor((s.expiresAt - Date.now()) / 1000)));
    void reply.header('cache-control', 'no-store');
    return { address: s.address, csrf: csrfFor(s.token), expiresAt: s.expiresAt, notices: opts.notices() };
  });
  // Not signed in is an answer here, not an error: `{address: null}` (the page then shows the sign-in form).
  app.get('/api/v1/web/session', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const token = cookieToken(req.headers.cookie);
    if (token === null) return { address: null };
    try {
      const who = await engine.auth.resolveSession(token);
      return { address: who.user, csrf: csrfFor(token), notices: opts.notices() };
    } catch (e) {
      if (e instanceof ParleyError && e.code === 'not-authorized') return { address: null };
      throw e;
    }
  });
  app.post('/api/v1/web/logout', async (req, reply) => {
    const token = requestToken(req);
    if (token !== null) await engine.auth.logout(token);
    setCookie(reply, req, opts, '', 0);
    return {};
  });
}
