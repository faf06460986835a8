/**
 * The apikeys service other modules use (`api.use('apikeys')`): who a request is (an API key, or a user with a
 * session token, who holds every scope), whether it holds the scope a route needs, and the per-caller rate
 * limit. One place decides, so every module that takes keys refuses the same way with the same codes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ParleyError } from '../../core/errors.js';
import { TokenBucket } from '../../protocols/token-bucket.js';
import type { Authenticate } from '../api.js';
import type { ApiKeysArea, ApiKeyRecord } from './sqlite.js';
import { looksLikeKey, parseToken, SCOPES, secretMatches, type Scope } from './token.js';

/** Who is calling. */
export interface Principal {
  /** The account the caller acts for: the key's owner, or the user of the session token. */
  owner: string;
  /** The key's id; null for a user's session token. */
  keyId: string | null;
  /** What the caller may do (a user's session token holds every scope). */
  scopes: readonly Scope[];
}

/** What the apikeys module provides to other modules (ModuleServices['apikeys']). */
export interface ApiKeyVerifier {
  /**
   * The principal of a bearer token that must hold `scope`: an API key (`pk_…`), or else a user's session token
   * through `user` (the module's HttpContext.user). Every call counts against the caller's rate. Refuses with
   * not-authorized (no or unknown token, revoked key), forbidden (scope missing) or rate-limited (with a
   * Retry-After header when `reply` is given).
   */
  authorize(req: FastifyRequest, scope: Scope, user: Authenticate, reply?: FastifyReply): Promise<Principal>;
  /** The principal of an API key token holding `scope` (no user tokens), charged against its rate. */
  verifyKey(token: string, scope: Scope): Promise<Principal>;
  /** Takes one request from `principal`'s rate; rate-limited when there is none left. */
  charge(principal: Principal, reply?: FastifyReply): void;
}

/**
 * The bearer token of a request; null when it has no Authorization header (a web session's cookie, which holds a
 * session token and never an API key: docs/web.md), not-authorized when the header is not a bearer token.
 */
export function bearerOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  if (!h.startsWith('Bearer ')) throw new ParleyError('not-authorized', 'send Authorization: Bearer <API key or session token>');
  return h.slice(7);
}

/** A key as cached by the verifier. */
interface CacheEntry {
  key: ApiKeyRecord;
  /** When it was read from the store. */
  at: number;
  /** The token whose secret matched the key's digest (a key has one token). */
  verified: string | null;
  principal: Principal | null;
}

/** Idle rate buckets are dropped after this long (a full bucket is the same as none). */
const BUCKET_IDLE_MS = 60_000;

/** The verifier over the module's storage. */
export function createVerifier(store: ApiKeysArea, opts: { requestsPerSecond: number; cacheSeconds: number }, now: () => number = Date.now): ApiKeyVerifier & { forget(id: string): void } {
  /**
   * Keys by id, read from the store at most every cacheSeconds. An entry also remembers the token whose secret
   * matched its digest and the principal it makes, so a key's later requests skip the hash and the scope
   * filtering; a reload or forget() replaces the entry, so a revoked key is refused as before.
   */
  const cache = new Map<string, CacheEntry>();
  const buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  let lastSweep = now();

  const load = async (id: string): Promise<CacheEntry | null> => {
    const hit = cache.get(id);
    const t = now();
    if (hit && t - hit.at < opts.cacheSeconds * 1000) return hit;
    const key = await store.get(id);
    // Unknown ids are not cached: a flood of made-up ids must not fill memory.
    if (!key) {
      cache.delete(id);
      return null;
    }
    const entry: CacheEntry = { key, at: t, verified: null, principal: null };
    cache.set(id, entry);
    return entry;
  };

  const charge = (p: Principal, reply?: FastifyReply): void => {
    const t = now();
    if (t - lastSweep > BUCKET_IDLE_MS) {
      lastSweep = t;
      for (const [k, b] of buckets) if (t - b.used > BUCKET_IDLE_MS) buckets.delete(k);
    }
    const id = p.keyId !== null ? `key:${p.keyId}` : `user:${p.owner}`;
    let b = buckets.get(id);
    if (!b) {
      b = { bucket: new TokenBucket(opts.requestsPerSecond, t), used: t };
      buckets.set(id, b);
    }
    b.used = t;
    if (!b.bucket.take(t)) {
      const retryAfterMs = Math.ceil(1000 / opts.requestsPerSecond);
      reply?.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      throw new ParleyError('rate-limited', `this ${p.keyId !== null ? 'API key' : 'user'} makes more than ${opts.requestsPerSecond} requests per second (modules.apikeys.requestsPerSecond); slow down`, { retryAfterMs });
    }
  };

  const verifyKey = async (token: string, scope: Scope): Promise<Principal> => {
    const parsed = parseToken(token);
    const entry = parsed ? await load(parsed.id) : null;
    // One answer for a malformed token, an unknown id and a wrong secret: nothing tells which part was wrong.
    if (!parsed || !entry || (entry.verified !== token && !secretMatches(parsed.secret, entry.key.hash))) throw new ParleyError('not-authorized', 'the API key is not valid');
    entry.verified = token;
    const { key } = entry;
    if (key.revokedAt !== null) throw new ParleyError('not-authorized', 'the API key was revoked');
    entry.principal ??= { owner: key.owner, keyId: key.id, scopes: key.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)) };
    return check(entry.principal, scope);
  };

  const check = (p: Principal, scope: Scope): Principal => {
    if (!p.scopes.includes(scope)) throw new ParleyError('forbidden', `this API key lacks the scope ${scope}`, { scope });
    return p;
  };

  return {
    async authorize(req, scope, user, reply) {
      const token = bearerOf(req);
      if (token !== null && looksLikeKey(token)) {
        const p = await verifyKey(token, scope);
        charge(p, reply);
        return p;
      }
      const p: Principal = { owner: await user(req), keyId: null, scopes: SCOPES };
      charge(p, reply);
      return p;
    },
    async verifyKey(token, scope) {
      const p = await verifyKey(token, scope);
      charge(p);
      return p;
    },
    charge,
    forget(id) {
      cache.delete(id);
    },
  };
}
