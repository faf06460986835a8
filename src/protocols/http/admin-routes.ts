/**
 * The HTTP administration API (/api/v1/admin, docs/protocol.md §8): domains, accounts (disabled, administrator
 * rights, passwords, sessions), the sessions of every node, rooms and shared groups. Every route requires an
 * administrator, except /api/v1/admin/me, which tells any signed-in user what the console may show them.
 * Translation only: the engine's AdminService does and checks everything.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseParams } from '../params.js';
import type { Engine } from '../../engine/engine.js';

/** What the admin routes need: the engine, the callers' checks and the roles modules give users. */
export interface AdminRouteDeps {
  engine: Engine;
  user: (req: FastifyRequest) => Promise<string>;
  admin: (req: FastifyRequest) => Promise<string>;
  /** Roles the modules give a user (ModuleApi.roles). */
  roles: (user: string) => Promise<string[]>;
}

const address = z.string().min(1).max(3071);
/** A person with a password, or a bot (`kind: "bot"`, no password: it logs in with an API key). */
const newUser = z
  .strictObject({
    address,
    password: z.string().min(1).max(1024).optional(),
    admin: z.boolean().optional(),
    kind: z.enum(['person', 'bot']).optional(),
  })
  .refine((u) => (u.kind === 'bot' ? u.password === undefined : u.password !== undefined), 'a person needs a password; a bot has none (it logs in with an API key)');
const paging = {
  q: z.string().max(3071).optional(),
  after: address.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
};
const usersQuery = z.strictObject({ domain: z.string().min(1).max(1023).optional(), ...paging });
const roomsQuery = z.strictObject(paging);
const patchUser = z.strictObject({ disabled: z.boolean().optional(), admin: z.boolean().optional() });
const password = z.strictObject({ password: z.string().min(1).max(1024) });
const destroyRoom = z.strictObject({ reason: z.string().min(1).max(1024).optional() });
const displayName = z.string().min(1).max(200);
const newGroup = z.strictObject({ name: z.string().min(1).max(64), displayName: displayName.optional() });
const patchGroup = z.strictObject({ displayName });

type AddressParams = { Params: { address: string } };

/** Registers the administration routes. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { engine, user, admin } = deps;
  const views = engine.admin.views;
  /** An account as the listing shows it. */
  const summary = async (a: string): Promise<unknown> => {
    const { sessions: _s, groups: _g, ...u } = await views.userDetail(a);
    return u;
  };

  app.get('/api/v1/admin/me', async (req) => {
    const me = await user(req);
    return { address: me, admin: await engine.admin.isAdmin(me), roles: await deps.roles(me) };
  });

  app.get('/api/v1/admin/domains', async (req) => {
    await admin(req);
    return { domains: await engine.admin.domains() };
  });
  app.post('/api/v1/admin/domains', async (req, reply) => {
    const by = await admin(req);
    const p = parseParams(z.strictObject({ domain: z.string().min(1) }), req.body);
    const domain = await engine.admin.addDomain(p.domain, by);
    return reply.status(201).send({ domain });
  });
  app.delete<{ Params: { domain: string } }>('/api/v1/admin/domains/:domain', async (req) => {
    const by = await admin(req);
    return { domain: await engine.admin.removeDomain(req.params.domain, by) };
  });

  app.get('/api/v1/admin/users', async (req) => {
    await admin(req);
    const q = parseParams(usersQuery, req.query);
    const page = await views.users(q.domain, q);
    return { users: page.items, next: page.next };
  });
  app.post('/api/v1/admin/users', async (req, reply) => {
    const by = await admin(req);
    const p = parseParams(newUser, req.body);
    const kind = p.kind ?? 'person';
    const created = await engine.admin.addUser(p.address, p.password ?? null, p.admin ?? false, by, kind);
    return reply.status(201).send({ address: created, kind });
  });
  app.get<AddressParams>('/api/v1/admin/users/:address', async (req) => {
    await admin(req);
    return views.userDetail(req.params.address);
  });
  app.patch<AddressParams>('/api/v1/admin/users/:address', async (req) => {
    const by = await admin(req);
    const p = parseParams(patchUser, req.body ?? {});
    let a = req.params.address;
    // Rights first: a bot refused there has changed nothing yet.
    if (p.admin !== undefined) a = await engine.admin.setAdmin(a, p.admin, by);
    if (p.disabled !== undefined) a = await engine.admin.setDisabled(a, p.disabled, by);
    return summary(a);
  });
  app.delete<AddressParams>('/api/v1/admin/users/:address', async (req) => {
    const by = await admin(req);
    return { address: await engine.admin.removeUser(req.params.address, by) };
  });
  app.post<AddressParams>('/api/v1/admin/users/:address/password', async (req) => {
    const by = await admin(req);
    const p = parseParams(password, req.body);
    return { address: await engine.admin.resetPassword(req.params.address, p.password, by) };
  });
  app.delete<AddressParams>('/api/v1/admin/users/:address/sessions', async (req) => {
    await admin(req);
    return { ended: await engine.admin.endUserSessions(req.params.address) };
  });
  app.delete<{ Params: { address: string; resource: string } }>('/api/v1/admin/users/:address/sessions/:resource', async (req) => {
    await admin(req);
    await engine.admin.endUserSession(req.params.address, req.params.resource);
    return { ended: 1 };
  });

  app.get('/api/v1/admin/sessions', async (req) => {
    await admin(req);
    return views.sessions();
  });

  app.get('/api/v1/admin/rooms', async (req) => {
    await admin(req);
    const page = await views.rooms(parseParams(roomsQuery, req.query));
    return { rooms: page.items, next: page.next };
  });
  app.get<{ Params: { room: string } }>('/api/v1/admin/rooms/:room', async (req) => {
    await admin(req);
    return views.roomDetail(req.params.room);
  });
  app.delete<{ Params: { room: string } }>('/api/v1/admin/rooms/:room', async (req) => {
    const by = await admin(req);
    const p = parseParams(destroyRoom, req.body ?? {});
    const room = await views.roomDetail(req.params.room);
    await engine.admin.destroyRoom(room.address, by, p.reason ?? null);
    return { room: room.address };
  });

  app.get('/api/v1/admin/shared-groups', async (req) => {
    await admin(req);
    return { groups: await engine.admin.groups() };
  });
  app.post('/api/v1/admin/shared-groups', async (req, reply) => {
    const by = await admin(req);
    const p = parseParams(newGroup, req.body);
    return reply.status(201).send(await engine.admin.createGroup(p.name, p.displayName ?? null, by));
  });
  app.patch<{ Params: { name: string } }>('/api/v1/admin/shared-groups/:name', async (req) => {
    const by = await admin(req);
    const p = parseParams(patchGroup, req.body);
    return engine.admin.renameGroup(req.params.name, p.displayName, by);
  });
  app.delete<{ Params: { name: string } }>('/api/v1/admin/shared-groups/:name', async (req) => {
    const by = await admin(req);
    await engine.admin.removeGroup(req.params.name, by);
    return { name: req.params.name };
  });
  app.put<{ Params: { name: string; user: string } }>('/api/v1/admin/shared-groups/:name/members/:user', async (req) => {
    const by = await admin(req);
    const added = await engine.admin.addGroupMember(req.params.name, req.params.user, by);
    return { group: req.params.name, user: added };
  });
  app.delete<{ Params: { name: string; user: string } }>('/api/v1/admin/shared-groups/:name/members/:user', async (req) => {
    const by = await admin(req);
    await engine.admin.removeGroupMember(req.params.name, req.params.user, by);
    return {};
  });
}
