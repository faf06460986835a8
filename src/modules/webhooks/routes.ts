/**
 * The webhooks HTTP API under /api/v1/webhooks (docs/webhooks.md). Every route takes an API key holding both
 * `webhooks` and `presence:read` (a webhook delivers what its owner may read), or a user's session token; the
 * webhook belongs to the key's owner. Every call counts against the caller's rate (apikeys).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { HttpContext } from '../api.js';
import type { ApiKeyVerifier, Principal } from '../apikeys/index.js';
import { parseInput } from '../input.js';
import { targetBody, type Target } from '../presentities/model.js';
import type { WebhooksOptions } from './options.js';
import type { WebhookService } from './service.js';

const url = z.string().min(1).max(2048);
const description = z.string().max(200);
const createBody = z.strictObject({ url, target: targetBody, description: description.optional() });
const patchBody = z
  .strictObject({
    url: url.optional(),
    target: targetBody.optional(),
    description: description.nullable().optional(),
    enabled: z.boolean().optional(),
    rotateSecret: z.literal(true).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'name something to change');
const idParam = z.strictObject({ id: z.string().regex(/^wh_[0-9a-f]{16}$/, 'a webhook id is wh_ and 16 hex digits') });

/** Registers the routes. */
export function webhooksRoutes(app: FastifyInstance, ctx: HttpContext, deps: { hooks: WebhookService; keys: ApiKeyVerifier; options: WebhooksOptions }): void {
  const { hooks, keys, options } = deps;
  const deliveriesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(options.deliveryLogKeep).optional() });
  const auth = async (req: FastifyRequest, reply: FastifyReply): Promise<Principal> => {
    const p = await keys.authorize(req, 'webhooks', ctx.user, reply);
    if (!p.scopes.includes('presence:read')) throw new ParleyError('forbidden', 'this API key lacks the scope presence:read (a webhook delivers what its owner may read)', { scope: 'presence:read' });
    return p;
  };
  const id = (req: FastifyRequest): string => parseInput(idParam, req.params).id;

  app.post('/', async (req, reply) => {
    const p = await auth(req, reply);
    const b = parseInput(createBody, req.body);
    const created = await hooks.create(p.owner, { url: b.url, target: b.target as Target, description: b.description }, p.keyId);
    void reply.status(201);
    // The secret is shown here once.
    return created;
  });
  app.get('/', async (req, reply) => {
    const p = await auth(req, reply);
    return { webhooks: await hooks.list(p.owner) };
  });
  app.get('/:id', async (req, reply) => {
    const p = await auth(req, reply);
    return { webhook: await hooks.get(p.owner, id(req)) };
  });
  app.patch('/:id', async (req, reply) => {
    const p = await auth(req, reply);
    const wid = id(req);
    const b = parseInput(patchBody, req.body ?? {});
    return hooks.update(p.owner, wid, { ...b, target: b.target as Target | undefined }, p.keyId === null ? p.owner : `${p.owner} (API key ${p.keyId})`, p.keyId);
  });
  app.delete('/:id', async (req, reply) => {
    const p = await auth(req, reply);
    await hooks.remove(p.owner, id(req), p.keyId);
    return {};
  });
  app.get('/:id/deliveries', async (req, reply) => {
    const p = await auth(req, reply);
    const wid = id(req);
    const q = parseInput(deliveriesQuery, req.query);
    return { deliveries: await hooks.deliveries(p.owner, wid, q.limit ?? options.deliveryLogKeep) };
  });
  app.post('/:id/test', async (req, reply) => {
    const p = await auth(req, reply);
    const wid = id(req);
    if (req.body !== undefined && req.body !== null) parseInput(z.strictObject({}), req.body);
    void reply.status(202);
    return { deliveryId: await hooks.test(p.owner, wid) };
  });
}
