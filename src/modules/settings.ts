/**
 * Live options (docs/settings.md): the keys of a module's options an administrator may change while the server
 * runs (ParleyModule.live), stored by the core (Store.settings) and winning over the configuration file's. Pure
 * rules shared by the module host (the server) and the `parley settings` commands (the CLI): which keys a module
 * declares live, the JSON Schema of that part of its options, and the merge of configured options with stored
 * overrides, validated by the module's own options schema so the configuration file and the admin console can
 * never disagree on what is valid.
 */
import { z } from 'zod';
import { ParleyError } from '../core/errors.js';
import type { SettingRecord } from '../ports/store.js';
import type { ParleyModule } from './api.js';

/** What the settings rules need of a module. */
export type LiveModule = Pick<ParleyModule, 'name' | 'summary' | 'options' | 'live'>;

/** A module's options as parsed (every module's options are an object). */
export type OptionsObject = Record<string, unknown>;

/** One module's live options as the HTTP API and the CLI show them. */
export interface SettingsEntry {
  module: string;
  summary: string;
  enabled: boolean;
  /** The keys an administrator may change. */
  live: string[];
  /** The current value of each live key. */
  values: Record<string, unknown>;
  /** The live keys set at runtime (stored overrides in effect), sorted. */
  overridden: string[];
  /** JSON Schema (draft 2020-12) of the live keys' part of the module's options, with descriptions and defaults. */
  schema: Record<string, unknown>;
}

/**
 * The live keys a module declares, checked: each a top-level key of its options, never `enabled` (turning a module
 * on or off changes what the server serves, which takes a restart). Throws at start naming the module and key.
 */
export function liveKeysOf(m: LiveModule): readonly string[] {
  const keys = m.live ?? [];
  for (const k of keys) {
    if (k === 'enabled') throw new ParleyError('bad-request', `module ${m.name} declares "enabled" live; turning a module on or off takes a restart`);
    if (!Object.hasOwn(m.options.shape, k)) throw new ParleyError('bad-request', `module ${m.name} declares "${k}" live, which is not one of its options`);
  }
  return keys;
}

const schemaCache = new WeakMap<LiveModule, Record<string, unknown>>();

/** The JSON Schema of the live keys' part of a module's options (as input: keys with defaults may be left out). */
export function liveSchema(m: LiveModule): Record<string, unknown> {
  let s = schemaCache.get(m);
  if (s === undefined) {
    const shape = m.options.shape as Record<string, z.ZodType>;
    const part = z.strictObject(Object.fromEntries(liveKeysOf(m).map((k) => [k, shape[k]!])));
    s = z.toJSONSchema(part, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    schemaCache.set(m, s);
  }
  return s;
}

/** A value refused by the module's schema: bad-request with the key path in the message and `{path, issue}`. */
export function invalid(module: string, issue: z.core.$ZodIssue): ParleyError {
  const path = issue.path.map(String).join('.');
  return new ParleyError('bad-request', `modules.${module}${path ? `.${path}` : ''}: ${issue.message}`, { path: path || null, issue: issue.code });
}

/**
 * The options a module runs with: its configured options with `overrides` (live key -> value) in their place,
 * parsed by the module's own schema. Throws bad-request naming the first problem's path (invalid()).
 */
export function merge(m: LiveModule, configured: OptionsObject, overrides: Readonly<Record<string, unknown>>): OptionsObject {
  const r = m.options.safeParse({ ...configured, ...overrides });
  if (r.success) return r.data as OptionsObject;
  throw invalid(m.name, r.error.issues[0]!);
}

/**
 * The options from configured ones and stored records, dropping records that no longer validate (after an upgrade
 * changed the schema, say): each problem's top-level key is dropped in turn, and a problem that names no key (a
 * rule across keys) drops them all. Records of keys that are not live (any more) are dropped too.
 */
export function mergeStored(
  m: LiveModule,
  configured: OptionsObject,
  records: readonly SettingRecord[],
): { options: OptionsObject; applied: Map<string, SettingRecord>; ignored: Array<{ key: string; error: string }> } {
  const live = new Set(liveKeysOf(m));
  const applied = new Map<string, SettingRecord>();
  const ignored: Array<{ key: string; error: string }> = [];
  for (const r of records) {
    if (live.has(r.key)) applied.set(r.key, r);
    else ignored.push({ key: r.key, error: `modules.${m.name}.${r.key} is not a live option` });
  }
  for (;;) {
    const r = m.options.safeParse({ ...configured, ...valuesOf(applied) });
    if (r.success) return { options: r.data as OptionsObject, applied, ignored };
    const issue = r.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const drop = applied.has(key) ? [key] : [...applied.keys()];
    const error = invalid(m.name, issue).message;
    for (const k of drop) {
      applied.delete(k);
      ignored.push({ key: k, error });
    }
    // Nothing stored left to drop: the configuration itself is what fails, which the start already refused.
    if (drop.length === 0) return { options: configured, applied, ignored };
  }
}

/** The values of stored records by key. */
export function valuesOf(records: ReadonlyMap<string, SettingRecord>): Record<string, unknown> {
  return Object.fromEntries([...records].map(([k, r]) => [k, r.value]));
}

/**
 * The `values` of a change, checked against the module's live keys: an object naming at least one key, each live.
 * Refuses unknown keys and keys that are not live, naming them.
 */
export function checkValues(m: LiveModule, values: unknown): Record<string, unknown> {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ParleyError('bad-request', 'values: an object of option keys and their new values', { path: 'values', issue: 'invalid_type' });
  }
  const live = liveKeysOf(m);
  const keys = Object.keys(values);
  if (keys.length === 0) throw new ParleyError('bad-request', 'values: name at least one option', { path: 'values', issue: 'too_small' });
  const unknown = keys.filter((k) => !Object.hasOwn(m.options.shape, k));
  if (unknown.length > 0) {
    throw new ParleyError('bad-request', `modules.${m.name} has no option ${unknown.join(', ')}`, { path: unknown[0]!, issue: 'unrecognized_keys', fields: unknown });
  }
  const fixed = keys.filter((k) => !live.includes(k));
  if (fixed.length > 0) {
    throw new ParleyError('bad-request', `modules.${m.name}.${fixed.join(', ')} ${fixed.length === 1 ? 'is' : 'are'} not live: change the configuration file and restart (live: ${live.join(', ') || 'none'})`, {
      path: fixed[0]!,
      issue: 'not_live',
      fields: fixed,
    });
  }
  return values as Record<string, unknown>;
}

/** A live key of a module, or bad-request naming it. */
export function checkKey(m: LiveModule, key: string): string {
  checkValues(m, { [key]: null });
  return key;
}

/** One module's entry: its live keys' current values and which of them are set at runtime. */
export function entryOf(m: LiveModule, enabled: boolean, options: OptionsObject, overridden: Iterable<string>): SettingsEntry {
  const live = [...liveKeysOf(m)];
  return {
    module: m.name,
    summary: m.summary,
    enabled,
    live,
    values: Object.fromEntries(live.map((k) => [k, options[k]])),
    overridden: [...overridden].sort(),
    schema: liveSchema(m),
  };
}

/** Whether two options values are the same (JSON-equal: what an administrator could have changed). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
