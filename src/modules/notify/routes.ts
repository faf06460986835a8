/**
 * The notify module's HTTP routes, under /api/v1/notify (docs/notifications.md#http-api). Business systems post
 * notifications; people acknowledge and resolve; administrators manage escalation policies, rotas and e-mail
 * addresses. Bodies and queries are checked by strict zod schemas: an unknown field or a wrong type is
 * bad-request naming the field. Errors have the API's usual shape, `{ error: { code, message } }`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { normaliseUser } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import { parseParams } from '../../protocols/params.js';
import type { HttpContext } from '../api.js';
import { nameSchema, notificationSchema, policySchema, policyUpdateSchema, rotaSchema, rotaUpdateSchema, targetKey, targetSchema } from './model.js';
import type { NotifyOptions } from './options.js';
import type { NotifyService } from './service.js';
import type { NotifyArea } from './sqlite.js';

/** Who posted a notification, and how they proved it. */
export interface Poster {
  /** The actor recorded on the notification: an administrator's address, or later `apikey:<name>`. */
  actor: string;
  via: 'admin' | 'api-key';
}

/**
 * Checks a request carrying a scoped API key: the key's name when the request carries one with `scope`, null
 * when it carries none (forbidden or not-authorized for a key that is wrong or lacks the scope). The apikeys
 * module's verifier plugs in here when that module is on (index.ts).
 */
export type ApiKeyCheck = (req: FastifyRequest, scope: string) => Promise<string | null>;

/**
 * Who may post notifications and read them back: a request with an API key with the `notify` scope (when the
 * apikeys module is on), else an administrator's bearer token. The one place that decides it.
 */
export function posterAuth(ctx: HttpContext, apiKey: ApiKeyCheck | null = null): (req: FastifyRequest) => Promise<Poster> {
  return async (req) => {
    const key = apiKey === null ? null : await apiKey(req, 'notify');
    if (key !== null) return { actor: `apikey:${key}`, via: 'api-key' };
    return { actor: await ctx.admin(req), via: 'admin' };
  };
}

const idParam = z.strictObject({ id: z.coerce.number().int().min(1) });
const nameParam = z.strictObject({ name: nameSchema });
const addressParam = z.strictObject({ address: z.string().min(3).max(3071) });
const empty = z.strictObject({}).optional();
const emailBody = z.strictObject({ email: z.email().max(254) });

/** Registers the routes on the module's scope. */
export function notifyRoutes(app: FastifyInstance, ctx: HttpContext, service: NotifyService, store: NotifyArea, options: NotifyOptions, apiKey: ApiKeyCheck | null = null): void {
  const poster = posterAuth(ctx, apiKey);
  const post = notificationSchema(options.limits);
  const listQuery = z.strictObject({
    state: z.enum(['open', 'triggered', 'acknowledged', 'resolved']).optional(),
    target: z.string().min(1).max(3100).optional(),
    assignee: z.string().min(3).max(3071).optional(),
    after: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(options.limits.listMax).default(50),
  });

  /** The caller as a person, and whether they are an administrator. */
  const person = async (req: FastifyRequest): Promise<{ user: string; admin: boolean }> => {
    const user = await ctx.user(req);
    return { user, admin: await service.isAdmin(user) };
  };
  /** A reader of one notification: a poster (an API key sees everything, as an administrator does), or a person. */
  const reader = async (req: FastifyRequest): Promise<{ user: string; admin: boolean }> => {
    const key = apiKey === null ? null : await apiKey(req, 'notify');
    return key !== null ? { user: `apikey:${key}`, admin: true } : person(req);
  };

  app.post('/notifications', async (req, reply) => {
    const startedAt = Date.now();
    const who = await poster(req);
    const p = parseParams(post, req.body);
    const r = await service.post(p, who.actor, startedAt);
    return reply.status(r.duplicate ? 200 : 201).send(r);
  });
  app.get('/notifications', async (req) => {
    await poster(req);
    const q = parseParams(listQuery, req.query);
    let target = q.target;
    // A target may be given as its key (group:ops) or as JSON.
    if (target !== undefined && target.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(target);
      } catch {
        throw new ParleyError('bad-request', 'target: neither a target key nor JSON');
      }
      target = targetKey(parseParams(targetSchema, parsed));
    }
    const notifications = await store.list({ state: q.state, target, assignee: q.assignee === undefined ? undefined : normaliseUser(q.assignee), after: q.after, limit: q.limit });
    const last = notifications[notifications.length - 1];
    return { notifications, next: notifications.length === q.limit && last ? last.id : null };
  });
  app.get('/notifications/:id', async (req) => {
    const { id } = parseParams(idParam, req.params);
    // A poster, or a person it went to.
    const { user, admin } = await reader(req);
    return service.view(id, user, admin);
  });
  for (const [path, action] of [['ack', 'acknowledge'], ['resolve', 'resolve']] as const) {
    app.post(`/notifications/:id/${path}`, async (req) => {
      const { id } = parseParams(idParam, req.params);
      parseParams(empty, req.body ?? undefined);
      const { user, admin } = await person(req);
      return service.act(id, user, action, 'http', admin);
    });
  }

  // Escalation policies: administrators.
  app.get('/policies', async (req) => {
    await ctx.admin(req);
    return { policies: await store.policyList(), default: { name: 'default', ...options.defaultPolicy } };
  });
  app.get('/policies/:name', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    const p = await store.policyGet(name);
    if (!p) throw new ParleyError('item-not-found', `no policy ${name}`);
    return p;
  });
  app.post('/policies', async (req, reply) => {
    const by = await ctx.admin(req);
    const p = parseParams(policySchema, req.body);
    for (const s of p.steps) if (s.target !== undefined) await service.resolve(s.target);
    return reply.status(201).send(await store.policyPut({ ...p, description: p.description ?? null }, by, false));
  });
  app.put('/policies/:name', async (req) => {
    const by = await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    const p = parseParams(policyUpdateSchema, req.body);
    for (const s of p.steps) if (s.target !== undefined) await service.resolve(s.target);
    return store.policyPut({ name, ...p, description: p.description ?? null }, by, true);
  });
  app.delete('/policies/:name', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    if (!(await store.policyDelete(name))) throw new ParleyError('item-not-found', `no policy ${name}`);
    return {};
  });

  // Rotas: administrators.
  app.get('/rotas', async (req) => {
    await ctx.admin(req);
    return { rotas: await store.rotaList() };
  });
  app.get('/rotas/:name', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    const r = await store.rotaGet(name);
    if (!r) throw new ParleyError('item-not-found', `no rota ${name}`);
    return r;
  });
  app.post('/rotas', async (req, reply) => {
    await ctx.admin(req);
    const r = parseParams(rotaSchema, req.body);
    return reply.status(201).send(await store.rotaPut({ ...r, members: r.members.map(normaliseUser) }, false));
  });
  app.put('/rotas/:name', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    const r = parseParams(rotaUpdateSchema, req.body);
    return store.rotaPut({ name, ...r, members: r.members.map(normaliseUser) }, true);
  });
  app.post('/rotas/:name/advance', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    parseParams(empty, req.body ?? undefined);
    return store.rotaAdvance(name);
  });
  app.delete('/rotas/:name', async (req) => {
    await ctx.admin(req);
    const { name } = parseParams(nameParam, req.params);
    if (!(await store.rotaDelete(name))) throw new ParleyError('item-not-found', `no rota ${name}`);
    return {};
  });

  // E-mail addresses of people for the fallback: administrators.
  app.get('/emails/:address', async (req) => {
    await ctx.admin(req);
    const address = normaliseUser(parseParams(addressParam, req.params).address);
    const email = (await store.emailsOf([address]))[address];
    if (email === undefined) throw new ParleyError('item-not-found', `no e-mail address set for ${address}`);
    return { address, email };
  });
  app.put('/emails/:address', async (req) => {
    await ctx.admin(req);
    const address = normaliseUser(parseParams(addressParam, req.params).address);
    const { email } = parseParams(emailBody, req.body);
    await store.setEmail(address, email);
    return { address, email };
  });
  app.delete('/emails/:address', async (req) => {
    await ctx.admin(req);
    const address = normaliseUser(parseParams(addressParam, req.params).address);
    await store.setEmail(address, null);
    return {};
  });
}
