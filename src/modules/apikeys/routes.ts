/**
 * The apikeys HTTP routes, under /api/v1/apikeys: keys are created, listed and revoked with a user's session
 * token (an administrator's for other owners), never with an API key, so a key cannot mint or keep keys.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import { normaliseUser } from '../../engine/admin-service.js';
import type { Engine } from '../../engine/engine.js';
import type { HttpContext, ModuleApi } from '../api.js';
import { parseInput } from '../input.js';
import type { ApiKeysOptions } from './options.js';
import type { ApiKeysArea } from './sqlite.js';
import { looksLikeKey, newToken, SCOPES } from './token.js';
import { bearerOf } from './verifier.js';

const createBody = z.strictObject({
  owner: z.string().min(1).max(3071).optional(),
  name: z.string().min(1).max(200),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
});
const listQuery = z.strictObject({ owner: z.string().min(1).max(3071).optional() });
const idParam = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex digits') });

/** Registers the routes. */
export function apikeysRoutes(
  app: FastifyInstance,
  ctx: HttpContext,
  deps: { store: ApiKeysArea; engine: Engine; options: ApiKeysOptions; forget(id: string): void; change: ModuleApi<unknown>['change'] },
): void {
  const { store, engine } = deps;
  // Live options (docs/settings.md): read per request, never kept.
  const options = (): ApiKeysOptions => deps.options;
  /** The caller with a session token (not an API key), and whether it is an administrator. */
  const caller = async (req: FastifyRequest): Promise<{ user: string; admin: boolean }> => {
    const token = bearerOf(req);
    if (token !== null && looksLikeKey(token)) throw new ParleyError('forbidden', 'API keys cannot manage API keys; use a session token');
    const user = await ctx.user(req);
    return { user, admin: await engine.admin.isAdmin(user) };
  };

  app.post('/keys', async (req, reply) => {
    const { user, admin } = await caller(req);
    const b = parseInput(createBody, req.body);
    const owner = b.owner === undefined ? user : normaliseUser(b.owner);
    if (owner !== user && !admin) throw new ParleyError('forbidden', 'only administrators create keys for other owners');
    if (owner === user && !admin && !options().usersMayCreate) throw new ParleyError('forbidden', 'keys are created by administrators here (modules.apikeys.usersMayCreate)');
    if (!(await engine.admin.accountExists(owner))) throw new ParleyError('item-not-found', `no account ${owner}`);
    const t = newToken();
    const scopes = [...new Set(b.scopes)];
    // Through the change gate, so the audit log and the archive record it (the token never: only the key's id).
    const key = await deps.change('created', { actor: user, subject: owner, data: keyData(t.id, b.name, scopes) }, () =>
      store.create({ id: t.id, owner, name: b.name, scopes, hash: t.hash, createdAt: Date.now(), createdBy: user, revokedAt: null, revokedBy: null }, options().maxKeysPerOwner),
    );
    void reply.status(201);
    // The token is shown here once; only its digest is kept.
    return { key, token: t.token };
  });

  app.get('/keys', async (req) => {
    const { user, admin } = await caller(req);
    const q = parseInput(listQuery, req.query);
    const owner = q.owner === undefined ? (admin ? null : user) : normaliseUser(q.owner);
    if (owner !== user && !admin) throw new ParleyError('forbidden', 'only administrators list the keys of other owners');
    return { keys: await store.list(owner) };
  });

  app.delete<{ Params: { id: string } }>('/keys/:id', async (req) => {
    const { user, admin } = await caller(req);
    const { id } = parseInput(idParam, req.params);
    const key = await store.get(id);
    // Someone else's key is reported as missing: ids do not leak whose they are.
    if (!key || (key.owner !== user && !admin)) throw new ParleyError('item-not-found', `no key ${id}`);
    const revoked = await deps.change('revoked', { actor: user, subject: key.owner, data: keyData(id, key.name, key.scopes) }, () => store.revoke(id, user, Date.now()));
    deps.forget(id);
    return { key: revoked };
  });
}

/** What the audit log and the archive keep of a key's creation or revocation: never its token or digest. */
export function keyData(id: string, name: string, scopes: readonly string[]): Record<string, unknown> {
  return { id, name, scopes: [...scopes] };
}
