/** Parameter validation shared by the front doors: a zod schema failure becomes bad-request naming the field. */
import type { z } from 'zod';
import { ParleyError } from '../core/errors.js';

/** Validates params with the op's schema; a failure is bad-request naming the field. */
export function parseParams<S extends z.ZodType>(schema: S, params: unknown): z.infer<S> {
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.');
  throw new ParleyError('bad-request', path ? `${path}: ${issue.message}` : issue.message);
}
