/** What the archive's HTTP routes share: input parsing with zod and the role checks (roles.ts). */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import type { HttpContext } from '../api.js';
import type { ArchiveRole } from './roles.js';
import type { ArchiveArea } from './sqlite.js';

/**
 * Parses route input (a missing body or query counts as empty), answering bad-request with the fields; `path`
 * names the first refused field, so a form can say it next to that field. `words` names fields in the words of
 * the form that sends them (the field's label), so the message a person reads says no JSON key; the schema's
 * messages for those fields then read on from the label ("must be …").
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, words: Readonly<Record<string, string>> = {}): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const first = r.error.issues[0]?.path.join('.') ?? '';
    const said = (i: z.core.$ZodIssue): string => {
      const at = i.path.join('.');
      return words[at] !== undefined ? `"${words[at]}" ${i.message}` : `${at || 'input'}: ${i.message}`;
    };
    throw new ParleyError('bad-request', r.error.issues.map(said).join('; '), first === '' ? undefined : { path: first });
  }
  return r.data;
}

/** What each role's refusal says. */
const ONLY: Record<ArchiveRole, string> = { officer: 'compliance officers only', reviewer: 'supervision reviewers only' };

/** The role checks of the routes: the caller's address when it holds the role, else forbidden. */
export interface RoleGuard {
  /** Forbidden unless `user` holds `role` (an administrator without it included). */
  require(user: string, role: ArchiveRole): Promise<void>;
  /** The caller, when a compliance officer. */
  asOfficer(req: FastifyRequest): Promise<string>;
  /** The caller, when a supervision reviewer. */
  asReviewer(req: FastifyRequest): Promise<string>;
}

/** The role checks over the archive's storage. */
export function roleGuard(ctx: HttpContext, store: ArchiveArea): RoleGuard {
  const require = async (user: string, role: ArchiveRole): Promise<void> => {
    if (!(await store.hasRole(user, role))) throw new ParleyError('forbidden', ONLY[role]);
  };
  const as = (role: ArchiveRole) => async (req: FastifyRequest): Promise<string> => {
    const user = await ctx.user(req);
    await require(user, role);
    return user;
  };
  return { require, asOfficer: as('officer'), asReviewer: as('reviewer') };
}
