/**
 * The presentities HTTP API under /api/v1/presentities (docs/presence.md): things and processes defined and
 * updated by their owners, reads, queries and Server-Sent Event subscriptions. Every route takes an API key
 * (apikeys module) or a user's session token, checks the route's scope and counts against the caller's rate.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { HttpContext } from '../api.js';
import type { ApiKeyVerifier, Principal, Scope } from '../apikeys/index.js';
import { parseInput } from '../input.js';
import type { PresentityHub, Subscription } from './hub.js';
import { defineBody, KINDS, PRESENTITY_AVAILABILITIES, targetBody, targetShape, updateSchema, type Target, type UpdateBody } from './model.js';
import type { PresentitiesOptions } from './options.js';
import { SseStream } from './sse.js';

const addressParam = z.strictObject({ address: z.string().min(3).max(3071) });
const readBody = z.strictObject({ addresses: z.array(z.string().min(1).max(3071)).min(1).max(1_000_000) });
const position = z.coerce.number().int().min(0);
const streamBody = z
  .strictObject({ ...targetShape, since: position.optional() })
  .refine((t) => t.addresses !== undefined || t.group !== undefined, 'name addresses, a group, or both');
const list = <T extends z.ZodType<string, string>>(what: T) => z.string().transform((s) => s.split(',').filter((x) => x !== '')).pipe(z.array(what).min(1));
const streamQuery = z
  .strictObject({
    addresses: list(z.string().min(1).max(3071)).optional(),
    group: z.string().min(1).max(256).optional(),
    kind: list(z.enum(KINDS)).optional(),
    availability: list(z.enum(PRESENTITY_AVAILABILITIES as [string, ...string[]])).optional(),
    since: position.optional(),
  })
  .refine((t) => t.addresses !== undefined || t.group !== undefined, 'name addresses, a group, or both');

/** Registers the routes. */
export function presentitiesRoutes(app: FastifyInstance, ctx: HttpContext, deps: { hub: PresentityHub; keys: ApiKeyVerifier; options: PresentitiesOptions }): void {
  const { hub, keys, options } = deps;
  const auth = (req: FastifyRequest, reply: FastifyReply, scope: Scope) => keys.authorize(req, scope, ctx.user, reply);
  const big = { bodyLimit: options.maxRequestBytes };
  const streams = new Set<SseStream>();

  // Event streams stay open until the client leaves: end them when the server stops, or closing would wait.
  app.addHook('preClose', async () => {
    for (const s of [...streams]) s.end();
  });

  // ---- things and processes (their owners) ----
  app.put<{ Params: { address: string } }>('/things/:address', async (req, reply) => {
    const p = await auth(req, reply, 'presence:write:things');
    const { address } = parseInput(addressParam, req.params);
    return hub.define(p.owner, address, parseInput(defineBody, req.body ?? {}));
  });
  app.get('/things', async (req, reply) => {
    const p = await auth(req, reply, 'presence:write:things');
    return { things: hub.ownedBy(p.owner) };
  });
  app.get<{ Params: { address: string } }>('/things/:address', async (req, reply) => {
    const p = await auth(req, reply, 'presence:write:things');
    return hub.definition(p.owner, parseInput(addressParam, req.params).address);
  });
  app.delete<{ Params: { address: string } }>('/things/:address', async (req, reply) => {
    const p = await auth(req, reply, 'presence:write:things');
    await hub.remove(p.owner, parseInput(addressParam, req.params).address);
    return {};
  });
  app.post<{ Params: { address: string } }>('/things/:address/presence', async (req, reply) => {
    const p = await auth(req, reply, 'presence:write:things');
    const { address } = parseInput(addressParam, req.params);
    const u = parseInput(updateSchema(hub.fieldsOf(p.owner, address)), req.body ?? {}) as UpdateBody;
    return { presentity: await hub.update(p.owner, address, u) };
  });

  // ---- reads ----
  app.get<{ Params: { address: string } }>('/presence/:address', async (req, reply) => {
    const p = await auth(req, reply, 'presence:read');
    const { address } = parseInput(addressParam, req.params);
    const { presentities } = await hub.read(await hub.viewerOf(p.owner), [address]);
    // Unknown and not visible answer alike.
    if (presentities.length === 0) throw new ParleyError('item-not-found', `no presentity ${address} you may see`);
    return { presentity: presentities[0] };
  });
  app.post('/presence/read', big, async (req, reply) => {
    const p = await auth(req, reply, 'presence:read');
    const { addresses } = parseInput(readBody, req.body);
    return { position: hub.position, ...(await hub.read(await hub.viewerOf(p.owner), addresses)) };
  });
  app.post('/query', big, async (req, reply) => {
    const p = await auth(req, reply, 'presence:read');
    return hub.query(await hub.viewerOf(p.owner), parseInput(targetBody, req.body));
  });

  // ---- streams ----
  const stream = async (req: FastifyRequest, reply: FastifyReply, p: Principal, target: Target, since: number | undefined): Promise<void> => {
    const last = req.headers['last-event-id'];
    let from: number | null = since ?? null;
    if (typeof last === 'string' && last !== '') {
      const r = position.safeParse(last);
      if (!r.success) throw new ParleyError('bad-request', 'Last-Event-ID: a position is a whole number', { field: 'Last-Event-ID', issue: 'invalid_type' });
      from = r.data;
    }
    reply.hijack();
    let sub: Subscription | null = null;
    const sse = new SseStream(reply.raw, { heartbeatMs: options.sseHeartbeatSeconds * 1000, maxBufferedBytes: options.sseMaxBufferedBytes }, () => {
      streams.delete(sse);
      if (sub) hub.unsubscribe(sub);
    });
    streams.add(sse);
    try {
      sub = await hub.subscribe(p.owner, target, from, sse);
      if (!streams.has(sse)) hub.unsubscribe(sub);
    } catch (e) {
      req.log.error({ err: e }, 'starting an event stream failed');
      sse.end();
    }
  };
  app.get('/stream', async (req, reply) => {
    const p = await auth(req, reply, 'presence:read');
    const q = parseInput(streamQuery, req.query);
    const where = q.kind || q.availability ? { ...(q.kind ? { kind: q.kind } : {}), ...(q.availability ? { availability: q.availability } : {}) } : undefined;
    const target = { ...(q.addresses ? { addresses: q.addresses } : {}), ...(q.group ? { group: q.group } : {}), ...(where ? { where } : {}) } as Target;
    await stream(req, reply, p, target, q.since);
  });
  app.post('/stream', big, async (req, reply) => {
    const p = await auth(req, reply, 'presence:read');
    const { since, ...target } = parseInput(streamBody, req.body);
    await stream(req, reply, p, target as Target, since);
  });
}
