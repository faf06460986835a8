/**
 * The audit module's HTTP route, under /api/v1/audit, for administrators only (docs/admin-data.md): a page of
 * entries, newest first, filtered by type (exact, or a prefix ending in `*`), actor, subject and time. The query
 * is checked by a strict zod schema: an unknown parameter or a wrong value is bad-request naming it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseParams } from '../../protocols/params.js';
import type { HttpContext } from '../api.js';
import type { AuditEntry } from './entry.js';
import type { AuditArea } from './sqlite.js';

/** Most entries one page holds. */
export const MAX_PAGE = 1000;

const text = z.string().min(1).max(3071);
const epochMs = z.coerce.number().int().min(0);

/** The query of GET /api/v1/audit. */
export const auditQuery = z.strictObject({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  type: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^*]*\*?$/, 'an exact type, or a prefix ending in *')
    .optional(),
  actor: text.optional(),
  subject: text.optional(),
  from: epochMs.optional(),
  to: epochMs.optional(),
});

/** An entry as the API shows it (the node only when the server recorded it, not the CLI). */
export function entryView(e: AuditEntry): Record<string, unknown> {
  const { node, ...rest } = e;
  return node === null ? rest : { ...rest, node };
}

/** Registers the route on the module's scope. */
export function auditRoutes(app: FastifyInstance, ctx: HttpContext, area: AuditArea): void {
  app.get('/', async (req) => {
    await ctx.admin(req);
    const q = parseParams(auditQuery, req.query);
    const page = await area.list(q);
    return { entries: page.entries.map(entryView), next: page.next };
  });
}
