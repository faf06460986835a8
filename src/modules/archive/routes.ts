/**
 * The archive's HTTP routes, under /api/v1/archive. The checkpoint, the verifier key and consistency proofs are
 * public (witnesses and auditors fetch them, C2SP tlog-checkpoint, RFC 9162 §2.1.4); everything that shows
 * content is for compliance officers only, except the review queue, which is for supervision reviewers only
 * (roles.ts), and every such read is itself journaled. Officers grant and revoke both roles.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { HttpContext } from '../api.js';
import { eventDraft } from './entry.js';
import { parse, roleGuard } from './http-helpers.js';
import { searchRoutes } from './search-routes.js';
import { normaliseUser } from '../../engine/admin-service.js';
import type { ArchiveOptions } from './options.js';
import { isArchiveRole, type ArchiveRole } from './roles.js';
import { RETENTION_WORDS, runRetention } from './retention.js';
import type { ArchiveArea } from './sqlite.js';

const sizes = z.strictObject({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) });
const indexParam = z.strictObject({ index: z.coerce.number().int().min(0) });
const idParam = z.strictObject({ id: z.coerce.number().int().min(1) });
const policyScope = z.strictObject({ domain: z.string().min(1).optional(), room: z.string().min(1).optional() });
/** A number of days in a policy, refused in the words of the console's form (RETENTION_WORDS names the field). */
const WHOLE_DAYS = 'must be a whole number of days, 0 or more';
const dayCount = () => z.number({ error: WHOLE_DAYS }).int({ error: WHOLE_DAYS }).min(0, { error: WHOLE_DAYS });
const policyBody = z.strictObject({
  domain: z.string().min(1).optional(),
  room: z.string().min(1).optional(),
  minDays: dayCount().default(0),
  maxDays: dayCount().nullable(),
});
const holdBody = z.strictObject({
  person: z.string().min(1).optional(),
  room: z.string().min(1).optional(),
  search: z.record(z.string(), z.unknown()).optional(),
  reason: z.string(),
});
const reviewQuery = z.strictObject({
  state: z.enum(['new', 'reviewed', 'escalated']).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const markBody = z.strictObject({ state: z.enum(['reviewed', 'escalated']), comment: z.string() });
const terms = z.array(z.string()).max(1000).optional();
const lexiconBody = z.strictObject({
  name: z.string(),
  domain: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  words: terms,
  phrases: terms,
  patterns: terms,
});
/** Drops the keys whose value is undefined (optional properties are exact). */
const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };

const text = (reply: FastifyReply, body: string): FastifyReply => reply.header('content-type', 'text/plain; charset=utf-8').send(body);

/** Registers the routes on the module's scope. */
export function archiveRoutes(
  app: FastifyInstance,
  ctx: HttpContext,
  store: ArchiveArea,
  options: ArchiveOptions,
  userExists: (address: string) => Promise<boolean>,
): void {
  const { origin } = options;
  const roles = roleGuard(ctx, store);
  const { asOfficer, asReviewer } = roles;
    // Public, for witnesses and auditors (C2SP tlog-checkpoint, RFC 9162 §2.1.4).
    app.get('/checkpoint', async (_req, reply) => {
      const cp = (await store.latestCheckpoint()) ?? (await store.checkpoint(origin, Date.now()));
      return text(reply, cp.note);
    });
    app.get<{ Params: { size: string } }>('/checkpoint/:size', async (req, reply) => {
      const { size } = parse(z.strictObject({ size: z.coerce.number().int().min(0) }), req.params);
      const cp = await store.checkpointAt(size);
      if (!cp) throw new ParleyError('item-not-found', `no checkpoint of size ${size}`);
      return text(reply, cp.note);
    });
    app.get('/key', async (_req, reply) => text(reply, `${await store.verifierKey(origin, Date.now())}\n`));
    app.get('/consistency', async (req) => {
      const { from, to } = parse(sizes, req.query);
      if (from > to) throw new ParleyError('bad-request', 'from is larger than to');
      return { from, to, proof: await store.consistencyProof(from, to) };
    });
    // Signing on demand: an administrator or an officer.
    app.post('/checkpoint', async (req) => {
      const user = await ctx.user(req);
      if (!(await store.hasRole(user, 'officer'))) await ctx.admin(req);
      const cp = await store.checkpoint(origin, Date.now());
      await store.journal([eventDraft('archive.checkpoint', Date.now(), { actor: user, data: { size: cp.size } })]);
      return cp;
    });
    // One entry with its inclusion proof in the latest checkpoint: officers only (it holds message content).
    app.get<{ Params: { index: string } }>('/entries/:index', async (req) => {
      const user = await asOfficer(req);
      const { index } = parse(indexParam, req.params);
      const cp = await store.latestCheckpoint();
      const e = await store.entry(index);
      if (!e || !cp || index >= cp.size) throw new ParleyError('item-not-found', `no entry ${index} under the latest checkpoint`);
      await store.journal([eventDraft('archive.read', Date.now(), { actor: user, data: { index } })]);
      return { ...e, checkpoint: cp.note, size: cp.size, inclusionProof: await store.inclusionProof(index, cp.size) };
    });
    // eDiscovery: search and export, officers only (search-routes.ts).
    searchRoutes(app, roles, store, origin);

    // Retention policies, legal holds and supervision: compliance officers only; every action is journaled.
    app.get('/retention', async (req) => {
      await asOfficer(req);
      return { policies: await store.retentionList() };
    });
    app.put('/retention', async (req) => {
      const user = await asOfficer(req);
      const b = parse(policyBody, req.body, RETENTION_WORDS);
      return store.retentionSet(defined(b), options.retention, user, Date.now());
    });
    app.delete('/retention', async (req) => {
      const user = await asOfficer(req);
      return store.retentionRemove(defined(parse(policyScope, req.query)), user, Date.now());
    });
    app.post('/retention/run', async (req) => {
      const user = await asOfficer(req);
      const { dryRun } = parse(z.strictObject({ dryRun: z.boolean().default(false) }), req.body);
      return runRetention(store, { now: Date.now(), dryRun, limits: options.retention, actor: user });
    });
    app.get('/holds', async (req) => {
      await asOfficer(req);
      const { all } = parse(z.strictObject({ all: z.enum(['true', 'false']).default('false') }), req.query);
      return { holds: await store.holdList(all === 'true') };
    });
    app.post('/holds', async (req) => {
      const user = await asOfficer(req);
      return store.holdAdd(defined(parse(holdBody, req.body)), user, Date.now());
    });
    app.post<{ Params: { id: string } }>('/holds/:id/release', async (req) => {
      const user = await asOfficer(req);
      return store.holdRelease(parse(idParam, req.params).id, user, Date.now());
    });
    app.get('/review', async (req) => {
      const user = await asReviewer(req);
      return { items: await store.reviewList(defined(parse(reviewQuery, req.query)), user, Date.now()) };
    });
    app.post<{ Params: { id: string } }>('/review/:id', async (req) => {
      const user = await asReviewer(req);
      const { id } = parse(idParam, req.params);
      const b = parse(markBody, req.body);
      return store.reviewMark(id, b.state, b.comment, user, Date.now());
    });
    app.get('/review/lexicons', async (req) => {
      await asOfficer(req);
      return { lexicons: await store.lexiconList() };
    });
    app.post('/review/lexicons', async (req) => {
      const user = await asOfficer(req);
      const b = parse(lexiconBody, req.body);
      if (b.domain !== undefined && b.group !== undefined) throw new ParleyError('bad-request', 'a lexicon applies to a domain or a group, not both');
      const scope = b.domain !== undefined ? { kind: 'domain' as const, domain: b.domain } : b.group !== undefined ? { kind: 'group' as const, group: b.group } : { kind: 'all' as const };
      return store.lexiconAdd({ name: b.name, scope, terms: defined({ words: b.words, phrases: b.phrases, patterns: b.patterns }) }, user, Date.now());
    });
    app.delete<{ Params: { id: string } }>('/review/lexicons/:id', async (req) => {
      const user = await asOfficer(req);
      return store.lexiconRemove(parse(idParam, req.params).id, user, Date.now());
    });

    // Roles: officers grant and revoke them; each change is journaled in its own transaction.
    app.get('/roles', async (req) => {
      await asOfficer(req);
      return { officers: await store.roleHolders('officer'), reviewers: await store.roleHolders('reviewer') };
    });
    const roleParams = async (req: FastifyRequest): Promise<{ user: string; role: ArchiveRole; address: string }> => {
      const user = await asOfficer(req);
      const p = parse(z.strictObject({ role: z.string(), address: z.string().min(1) }), req.params);
      if (!isArchiveRole(p.role)) throw new ParleyError('item-not-found', `no role ${p.role} (officer or reviewer)`);
      return { user, role: p.role, address: normaliseUser(p.address) };
    };
    app.put<{ Params: { role: string; address: string } }>('/roles/:role/:address', async (req) => {
      const { user, role, address } = await roleParams(req);
      if (!(await userExists(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
      return { role, address, changed: await store.setRole(address, role, true, user, Date.now()) };
    });
    app.delete<{ Params: { role: string; address: string } }>('/roles/:role/:address', async (req) => {
      const { user, role, address } = await roleParams(req);
      // Over HTTP the officers manage themselves: the last one stays (the operator's CLI can still remove it).
      const officers = await store.roleHolders('officer');
      if (role === 'officer' && officers.length === 1 && officers[0] === address) {
        throw new ParleyError('not-allowed', `${address} is the last compliance officer; name another first (or use the parley CLI)`);
      }
      return { role, address, changed: await store.setRole(address, role, false, user, Date.now()) };
    });
}
