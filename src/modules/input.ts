/**
 * Input checking for modules' HTTP routes: a zod schema failure becomes bad-request naming the field, with the
 * field's path (`field`) and zod's issue code (`issue`, e.g. unrecognized_keys, invalid_type, too_small) as
 * stable details, and for unknown keys the keys themselves (`fields`).
 */
import type { z } from 'zod';
import { ParleyError } from '../core/errors.js';

/** Parses route input with `schema`, or throws bad-request describing the first problem. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.');
  const keys = issue.code === 'unrecognized_keys' ? { fields: issue.keys } : {};
  throw new ParleyError('bad-request', `${path ? `${path}: ` : ''}${issue.message}`, { field: path || null, issue: issue.code, ...keys });
}
