/**
 * The module host's live options (docs/settings.md): stored overrides win over the configured options at start
 * (those that no longer validate are ignored and reported), api.options is always current, a change passes the
 * change gate, reaches the module's onOptions, the other nodes of a cluster (the bus) and a server whose store
 * another process wrote (store.changed); a form that follows a live option changes disco and the caps hash.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ParleyError } from '../core/errors.js';
import type { Change } from '../engine/events.js';
import { LocalBus } from '../engine/local-bus.js';
import { silentLog, testEngine } from '../engine/test-engine.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { authenticators, registerRoutes } from '../protocols/http/routes.js';
import { discoOf } from '../protocols/xmpp/c2s/iq-handlers.js';
import { defineModule, type ModuleApi } from './api.js';
import { ModuleHost, type ModuleOptions } from './host.js';
import { setupModules, silentHostLog } from './testing.js';

const options = z.strictObject({
  enabled: z.boolean().default(true),
  limit: z.number().int().min(1).default(10).describe('Most things at once'),
  path: z.string().default('/tmp'),
});
type Options = z.output<typeof options>;

/** A module with live `limit` that records what it was told and reads `limit` per use. */
function thing(seen: Array<{ next: number; previous: number }> = [], got: { api?: ModuleApi<Options> } = {}) {
  return defineModule({
    name: 'thing',
    summary: 'a test module',
    options,
    live: ['limit'],
    setup(api) {
      got.api = api;
      api.onOptions((next, previous) => void seen.push({ next: next.limit, previous: previous.limit }));
    },
  });
}

describe('live options in the module host', () => {
  it('starts on stored overrides over the configured options; ignores and reports one that no longer validates', async () => {
    const fixture = await testEngine(['a@example.com']);
    await fixture.store.settings.put({ module: 'thing', key: 'limit', value: 25, updatedAt: 1, updatedBy: 'x@example.com' });
    const got: { api?: ModuleApi<Options> } = {};
    const host = await setupModules([thing([], got)], fixture);
    expect(got.api!.options.limit).toBe(25);
    expect(host.settings.get('thing')).toMatchObject({ module: 'thing', enabled: true, live: ['limit'], values: { limit: 25 }, overridden: ['limit'] });
    expect(host.health().degraded).toEqual([]);

    const broken = await testEngine(['a@example.com']);
    await broken.store.settings.put({ module: 'thing', key: 'limit', value: 0, updatedAt: 1, updatedBy: 'x@example.com' });
    const got2: { api?: ModuleApi<Options> } = {};
    const host2 = await setupModules([thing([], got2)], broken);
    expect(got2.api!.options.limit).toBe(10);
    expect(host2.settings.get('thing').overridden).toEqual([]);
    const h = host2.health();
    expect(h.checks['settings']).toEqual({ ignored: [{ module: 'thing', key: 'limit', error: expect.stringMatching(/^modules\.thing\.limit: /) }] });
    expect(h.degraded[0]).toMatch(/^settings: stored live options ignored .*thing\.limit/);
  });

  it('refuses to start a module that declares enabled or an unknown option live', async () => {
    const fixture = await testEngine(['a@example.com']);
    const bad = defineModule({ name: 'thing', summary: 'bad', options, live: ['enabled'], setup: () => undefined });
    await expect(setupModules([bad], fixture)).rejects.toThrow(/module thing declares "enabled" live/);
    const unknown = defineModule({ name: 'thing', summary: 'bad', options, live: ['colour'], setup: () => undefined });
    await expect(setupModules([unknown], fixture)).rejects.toThrow(/declares "colour" live, which is not one of its options/);
  });

  it('applies a change at once through the change gate, tells the module, and resets to the configured value', async () => {
    const fixture = await testEngine(['a@example.com']);
    const seen: Array<{ next: number; previous: number }> = [];
    const got: { api?: ModuleApi<Options> } = {};
    const host = await setupModules([thing(seen, got)], fixture, { thing: { limit: 5 } });
    const gated: Change[] = [];
    const notified: unknown[] = [];
    fixture.engine.events.on('change.check', (c) => void gated.push(c));
    fixture.engine.events.on('settings.changed', (c) => void notified.push(c));

    const entry = await host.settings.set('thing', { limit: 7 }, 'admin@example.com');
    expect(entry).toMatchObject({ values: { limit: 7 }, overridden: ['limit'] });
    expect(got.api!.options.limit).toBe(7);
    expect(seen).toEqual([{ next: 7, previous: 5 }]);
    expect(gated).toEqual([{ type: 'settings.changed', module: 'thing', keys: ['limit'], by: 'admin@example.com' }]);
    expect(notified).toEqual([{ module: 'thing', keys: ['limit'], by: 'admin@example.com' }]);
    expect(await fixture.store.settings.get('thing', 'limit')).toMatchObject({ value: 7, updatedBy: 'admin@example.com' });

    await expect(host.settings.set('thing', { limit: 0 }, 'admin@example.com')).rejects.toMatchObject({ code: 'bad-request', details: { path: 'limit', issue: 'too_small' } });
    await expect(host.settings.set('thing', { path: '/x' }, 'admin@example.com')).rejects.toThrow(/modules\.thing\.path is not live/);
    expect(got.api!.options.limit).toBe(7);

    await host.settings.reset('thing', 'limit', 'admin@example.com');
    expect(got.api!.options.limit).toBe(5);
    expect(seen.at(-1)).toEqual({ next: 5, previous: 7 });
    expect(await fixture.store.settings.get('thing', 'limit')).toBeNull();
    expect(host.settings.get('thing').overridden).toEqual([]);
  });

  it('a change the gate refuses is neither stored nor applied', async () => {
    const fixture = await testEngine(['a@example.com']);
    const got: { api?: ModuleApi<Options> } = {};
    const host = await setupModules([thing([], got)], fixture);
    fixture.engine.events.on('change.check', () => {
      throw new ParleyError('service-unavailable', 'the journal is down');
    });
    await expect(host.settings.set('thing', { limit: 3 }, 'admin@example.com')).rejects.toMatchObject({ code: 'service-unavailable' });
    expect(got.api!.options.limit).toBe(10);
    expect(await fixture.store.settings.list()).toEqual([]);
  });

  it('another node sharing the store and the bus applies a change at once and tells its module', async () => {
    const store = createMemoryStore();
    const bus = new LocalBus(silentLog);
    const a = await testEngine(['a@example.com'], { store, bus });
    const b = await testEngine(['a@example.com'], { store, bus });
    const parsed: ModuleOptions = { thing: options.parse({}) };
    const seenB: Array<{ next: number; previous: number }> = [];
    const gotB: { api?: ModuleApi<Options> } = {};
    const hostA = await ModuleHost.setup([thing()], parsed, { engine: a.engine, store, bus, log: silentHostLog });
    const hostB = await ModuleHost.setup([thing(seenB, gotB)], parsed, { engine: b.engine, store, bus, log: silentHostLog });
    await hostA.settings.set('thing', { limit: 42 }, 'admin@example.com');
    await expect.poll(() => gotB.api!.options.limit).toBe(42);
    expect(seenB).toEqual([{ next: 42, previous: 10 }]);
    expect(hostB.settings.get('thing').overridden).toEqual(['limit']);
    await hostA.close();
    await hostB.close();
  });

  it("picks up another process's write (the CLI) when the engine says the store changed", async () => {
    const fixture = await testEngine(['a@example.com']);
    const seen: Array<{ next: number; previous: number }> = [];
    const got: { api?: ModuleApi<Options> } = {};
    await setupModules([thing(seen, got)], fixture);
    await fixture.store.settings.put({ module: 'thing', key: 'limit', value: 33, updatedAt: 1, updatedBy: 'cli:root' });
    await fixture.engine.events.emit('store.changed', {});
    await expect.poll(() => got.api!.options.limit).toBe(33);
    expect(seen).toEqual([{ next: 33, previous: 10 }]);
  });

  it('a form that follows a live option changes disco#info and the caps hash', async () => {
    const fixture = await testEngine(['a@example.com']);
    const announcer = defineModule({
      name: 'thing',
      summary: 'announces its limit',
      options,
      live: ['limit'],
      setup(api) {
        const replace = api.xmppForm({ formType: 'urn:example:thing', fields: { limit: String(api.options.limit) } });
        api.onOptions((next) => replace({ limit: String(next.limit) }));
      },
    });
    const host = await setupModules([announcer], fixture);
    const before = discoOf(host.xmpp);
    expect(before.serverForms).toEqual([{ formType: 'urn:example:thing', fields: { limit: '10' } }]);
    await host.settings.set('thing', { limit: 11 }, 'admin@example.com');
    const after = discoOf(host.xmpp);
    expect(after.serverForms).toEqual([{ formType: 'urn:example:thing', fields: { limit: '11' } }]);
    expect(after.capsVer).not.toBe(before.capsVer);
  });

  it('serves the settings to administrators only over HTTP, with the JSON Schema of the live keys', async () => {
    const fixture = await testEngine([], { password: 'secret-pw' });
    const { engine } = fixture;
    await engine.admin.addUser('a@example.com', 'secret-pw', true, 'root@example.com');
    await engine.admin.addUser('b@example.com', 'secret-pw', false, 'root@example.com');
    const host = await setupModules([thing()], fixture);
    const app = Fastify();
    registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}) });
    await host.registerHttp(app, authenticators(engine));
    const admin = { authorization: `Bearer ${(await engine.auth.login('a@example.com', 'secret-pw', '127.0.0.1')).token}` };
    const user = { authorization: `Bearer ${(await engine.auth.login('b@example.com', 'secret-pw', '127.0.0.1')).token}` };
    const list = await app.inject({ method: 'GET', url: '/api/v1/admin/settings', headers: admin });
    expect(list.statusCode).toBe(200);
    expect(list.json().modules).toEqual([
      expect.objectContaining({ module: 'thing', live: ['limit'], values: { limit: 10 }, overridden: [], schema: expect.objectContaining({ properties: { limit: expect.objectContaining({ default: 10, description: 'Most things at once' }) } }) }),
    ]);
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/settings', headers: user })).statusCode).toBe(403);
    const put = await app.inject({ method: 'PUT', url: '/api/v1/admin/settings/thing', headers: admin, payload: { values: { limit: 'many' } } });
    expect(put.statusCode).toBe(400);
    expect(put.json().error).toMatchObject({ code: 'bad-request', path: 'limit', issue: 'invalid_type', message: expect.stringMatching(/^modules\.thing\.limit: /) });
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/settings/nothing', headers: admin })).statusCode).toBe(404);
    await app.close();
  });
});
