/** The archive's command-line arguments: one parser for every `parley archive ...` command. */
import { ParleyError } from '../../core/errors.js';

/** Parsed arguments: `--name value` flags (repeatable), switches, and the rest in order. */
export interface Args {
  positional: string[];
  /** The last value of a flag. */
  one(name: string): string | undefined;
  /** Every value of a repeatable flag, in order. */
  all(name: string): string[];
  /** Whether a flag or switch was given. */
  has(name: string): boolean;
}

/**
 * Splits arguments into flags, switches (no value) and positionals; `--` ends the flags. A flag without its value
 * is bad-request, and so is a flag outside `known` when it is given.
 */
export function parseArgs(args: readonly string[], opts: { switches?: readonly string[]; known?: readonly string[] } = {}): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    if (opts.switches?.includes(a)) {
      flags.set(a, ['']);
      continue;
    }
    if (opts.known !== undefined && !opts.known.includes(a)) throw new ParleyError('bad-request', `unknown option ${a}`);
    const v = args[i + 1];
    if (v === undefined) throw new ParleyError('bad-request', `${a} needs a value`);
    flags.set(a, [...(flags.get(a) ?? []), v]);
    i++;
  }
  return { positional, one: (n) => flags.get(n)?.at(-1), all: (n) => flags.get(n) ?? [], has: (n) => flags.has(n) };
}

/** A whole number argument up to `max`, or bad-request naming `what`. */
export function int(v: string | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) > max) throw new ParleyError('bad-request', `${what}: expected a whole number up to ${max}`);
  return Number(v);
}

/** As int, undefined when the argument was not given. */
export const optionalInt = (v: string | undefined, what: string, max?: number): number | undefined => (v === undefined ? undefined : int(v, what, max));
