/**
 * Live options: the live keys a module declares, the JSON Schema of their part of its options, and the merge of
 * configured options with stored overrides, validated by the module's own schema (docs/settings.md).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SettingRecord } from '../ports/store.js';
import { defineModule } from './api.js';
import { files } from './files/index.js';
import { naming } from './naming/index.js';
import { checkValues, liveKeysOf, liveSchema, merge, mergeStored } from './settings.js';

const options = z
  .strictObject({
    enabled: z.boolean().default(true),
    limit: z.number().int().min(1).default(10).describe('Most things at once'),
    floor: z.number().int().min(0).default(0).describe('Fewest things'),
    path: z.string().default('/tmp').describe('Where things live'),
  })
  .refine((o) => o.floor <= o.limit, 'floor must not exceed limit');

const thing = defineModule({ name: 'thing', summary: 'a test module', options, live: ['limit', 'floor'], setup: () => undefined });
const configured = options.parse({});
const record = (key: string, value: unknown): SettingRecord => ({ module: 'thing', key, value, updatedAt: 1, updatedBy: 'admin@example.com' });

describe('live options', () => {
  it('refuses a module that declares enabled or an unknown key live, naming it', () => {
    expect(() => liveKeysOf({ ...thing, live: ['enabled'] })).toThrow(/declares "enabled" live/);
    expect(() => liveKeysOf({ ...thing, live: ['nope'] })).toThrow(/declares "nope" live, which is not one of its options/);
    expect(liveKeysOf(thing)).toEqual(['limit', 'floor']);
  });

  it('describes only the live keys, with their descriptions and defaults, as JSON Schema', () => {
    const s = liveSchema(thing) as { type: string; properties: Record<string, { default: unknown; description: string; type: string }>; additionalProperties: boolean };
    expect(s.type).toBe('object');
    expect(Object.keys(s.properties)).toEqual(['limit', 'floor']);
    expect(s.properties['limit']).toMatchObject({ type: 'integer', minimum: 1, default: 10, description: 'Most things at once' });
    expect(s.additionalProperties).toBe(false);
  });

  it("gives naming's and files' live parts a schema with their rules", () => {
    const n = liveSchema(naming) as { properties: Record<string, { properties?: Record<string, { description?: string }> }> };
    expect(Object.keys(n.properties)).toEqual(['default', 'domains']);
    expect(n.properties['default']!.properties!['localPattern']!.description).toMatch(/Regular expression/);
    const f = liveSchema(files) as { properties: Record<string, { default?: unknown }> };
    expect(f.properties['maxFileBytes']!.default).toBe(100 * (1 << 20));
    expect(Object.keys(f.properties)).not.toContain('directory');
  });

  it('merges overrides over the configured options and validates the result with the module schema', () => {
    expect(merge(thing, configured, { limit: 20 })).toMatchObject({ limit: 20, floor: 0, path: '/tmp', enabled: true });
    expect(() => merge(thing, configured, { limit: 0 })).toThrow(expect.objectContaining({ code: 'bad-request', details: { path: 'limit', issue: 'too_small' } }));
    expect(() => merge(thing, configured, { limit: 'x' })).toThrow(/modules\.thing\.limit: /);
    // A rule across keys: no single path.
    expect(() => merge(thing, configured, { floor: 11 })).toThrow(expect.objectContaining({ message: 'modules.thing: floor must not exceed limit', details: { path: null, issue: 'custom' } }));
  });

  it('reports the nested path of a value the schema refuses', () => {
    const n = naming.options.parse({});
    expect(() => merge(naming, n, { default: { minLength: 0 } })).toThrow(expect.objectContaining({ details: { path: 'default.minLength', issue: 'too_small' } }));
    expect(() => merge(naming, n, { domains: { 'example.com': { localPattern: '(' } } })).toThrow(/modules\.naming\.domains\.example\.com\.localPattern: not a valid regular expression/);
  });

  it('refuses values that are not an object, name no key, name unknown keys or keys that are not live, naming them', () => {
    expect(() => checkValues(thing, [1])).toThrow(expect.objectContaining({ code: 'bad-request', details: { path: 'values', issue: 'invalid_type' } }));
    expect(() => checkValues(thing, {})).toThrow(/name at least one option/);
    expect(() => checkValues(thing, { limit: 1, bogus: 2 })).toThrow(expect.objectContaining({ message: 'modules.thing has no option bogus', details: expect.objectContaining({ fields: ['bogus'] }) }));
    expect(() => checkValues(thing, { path: '/x' })).toThrow(/modules\.thing\.path is not live/);
    expect(() => checkValues(thing, { enabled: false })).toThrow(/enabled is not live/);
    expect(checkValues(thing, { limit: 3 })).toEqual({ limit: 3 });
  });

  it('drops stored overrides that no longer validate, keeping the others, and says why', () => {
    const r = mergeStored(thing, configured, [record('limit', 20), record('floor', -1), record('path', '/x')]);
    expect(r.options).toMatchObject({ limit: 20, floor: 0, path: '/tmp' });
    expect([...r.applied.keys()]).toEqual(['limit']);
    expect(r.ignored).toEqual([
      { key: 'path', error: 'modules.thing.path is not a live option' },
      { key: 'floor', error: expect.stringMatching(/^modules\.thing\.floor: /) },
    ]);
  });

  it('drops every override when they break a rule across keys together', () => {
    const r = mergeStored(thing, configured, [record('limit', 2), record('floor', 5)]);
    expect(r.options).toEqual(configured);
    expect(r.applied.size).toBe(0);
    expect(r.ignored.map((i) => i.key)).toEqual(['limit', 'floor']);
  });
});
