/**
 * The module host: what modules add is theirs alone (two modules, or a module and the core, claiming one
 * operation or iq payload fail the start naming both), HTTP routes live under the module's own prefix with the
 * server's authentication, and event handlers run in priority order, set-up order among equals.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testEngine, testPresence } from '../engine/test-engine.js';
import { authenticators, registerRoutes } from '../protocols/http/routes.js';
import { op } from '../protocols/json-ws/ops.js';
import { defineModule, type ModuleApi } from './api.js';
import type { AnyModule } from './host.js';
import { setupModules } from './testing.js';

const options = z.strictObject({ enabled: z.boolean().default(true).describe('Run it') });

/** A module named `name` whose setup is `setup`. */
const mod = (name: string, setup: (api: ModuleApi<{ enabled: boolean }>) => void): AnyModule =>
  defineModule({ name, summary: `test module ${name}`, options, setup });

const noop = op(z.strictObject({}), async () => ({}));

describe('ModuleHost', () => {
  it('refuses two modules adding one operation, naming both', async () => {
    const fixture = await testEngine(['a@example.com']);
    const first = mod('first', (api) => api.jsonOp('shared.op', noop));
    const second = mod('second', (api) => api.jsonOp('shared.op', noop));
    const err = (await setupModules([first, second], fixture).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'conflict' });
    expect(err.message).toBe('module second adds operation shared.op, which module first already added');
  });

  it('refuses two modules handling one iq payload, naming both', async () => {
    const fixture = await testEngine(['a@example.com']);
    const handler = { get: async () => null };
    const first = mod('first', (api) => api.xmppIq('urn:example:x', 'query', handler));
    const second = mod('second', (api) => api.xmppIq('urn:example:x', 'query', handler));
    const err = (await setupModules([first, second], fixture).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'conflict' });
    expect(err.message).toContain('first');
    expect(err.message).toContain('second');
    expect(err.message).toContain('urn:example:x query');
  });

  it('refuses a module taking a core operation or a core iq payload', async () => {
    const fixture = await testEngine(['a@example.com']);
    const opThief = mod('thief', (api) => api.jsonOp('message.send', noop));
    await expect(setupModules([opThief], fixture)).rejects.toThrow(/module thief adds operation message\.send, which the core has/);
    const iqThief = mod('thief', (api) => api.xmppIq('jabber:iq:roster', 'query', { get: async () => null }));
    await expect(setupModules([iqThief], fixture)).rejects.toThrow(/module thief handles iq jabber:iq:roster query, which the core handles/);
  });

  it('leaves out modules that are not enabled', async () => {
    const fixture = await testEngine(['a@example.com']);
    const off = mod('off', (api) => api.jsonOp('off.op', noop));
    const host = await setupModules([off], fixture, { off: { enabled: false } });
    expect(host.names).toEqual([]);
    expect(host.jsonOps.has('off.op')).toBe(false);
  });

  it('serves a module\'s routes under /api/v1/<name>, authenticated with the server\'s bearer tokens', async () => {
    const fixture = await testEngine(['a@example.com'], { password: 'secret-pw' });
    const { engine } = fixture;
    const greeter = mod('greeter', (api) =>
      api.http((app, ctx) => {
        app.get('/hello', async (req) => ({ hello: await ctx.user(req) }));
      }),
    );
    const host = await setupModules([greeter], fixture);
    const app = Fastify();
    registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}) });
    await host.registerHttp(app, authenticators(engine));
    const { token } = await engine.auth.login('a@example.com', 'secret-pw', '127.0.0.1');
    const ok = await app.inject({ method: 'GET', url: '/api/v1/greeter/hello', headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ hello: 'a@example.com' });
    const anonymous = await app.inject({ method: 'GET', url: '/api/v1/greeter/hello' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: { code: 'not-authorized' } });
    // Only under the module's prefix.
    expect((await app.inject({ method: 'GET', url: '/hello', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(404);
    await app.close();
  });

  it('gathers the modules\' health reports; a degraded one (or one that throws) makes the reasons', async () => {
    const fixture = await testEngine(['a@example.com']);
    let down = false;
    const scanner = mod('scanner', (api) => api.health(() => (down ? { state: 'down', degraded: 'uploads are refused' } : { state: 'up' })));
    const broken = mod('broken', (api) => api.health(() => {
      throw new Error('no state');
    }));
    const host = await setupModules([scanner, broken], fixture);
    expect(host.health()).toEqual({ checks: { scanner: { state: 'up' }, broken: { error: 'no state' } }, degraded: ['broken: its health report failed (no state)'] });
    down = true;
    expect(host.health().degraded).toEqual(['scanner: uploads are refused', 'broken: its health report failed (no state)']);
  });

  it('runs event handlers highest priority first, in set-up order among equals', async () => {
    const fixture = await testEngine(['a@example.com']);
    const seen: string[] = [];
    const early = mod('early', (api) => {
      api.on('room.created', () => void seen.push('early@0'));
      api.on('room.created', () => void seen.push('early@10'), 10);
    });
    const late = mod('late', (api) => {
      api.on('room.created', () => void seen.push('late@0'));
      api.on('room.created', () => void seen.push('late@5'), 5);
      api.on('room.created', () => void seen.push('late@-1'), -1);
    });
    await setupModules([early, late], fixture);
    await fixture.engine.rooms.create('a@example.com', 'Team', 'team', true);
    expect(seen).toEqual(['early@10', 'late@5', 'early@0', 'late@0', 'late@-1']);
  });

  it('shares typed services between modules: provided once, used by a later module, refused otherwise', async () => {
    const fixture = await testEngine(['a@example.com']);
    const key = 'apikeys' as const;
    const impl = { marker: true } as unknown as import('./api.js').ModuleServices[typeof key];
    let got: unknown = null;
    const provider = mod('provider', (api) => api.provide(key, impl));
    const user = mod('user', (api) => {
      got = api.use(key);
    });
    await setupModules([provider, user], fixture);
    expect(got).toBe(impl);
    // Used before (or without) a provider: a start-up error naming the service and the module.
    await expect(setupModules([user, provider], await testEngine(['a@example.com']))).rejects.toMatchObject({ code: 'service-unavailable' });
    await expect(setupModules([user], await testEngine(['a@example.com']))).rejects.toThrow(/module user uses the service apikeys/);
    const twice = mod('twice', (api) => api.provide(key, impl));
    await expect(setupModules([provider, twice], await testEngine(['a@example.com']))).rejects.toThrow(/module twice adds service apikeys, which module provider already added/);
  });

  it('pushes a module\'s own event to one session through the router, named after the module', async () => {
    const fixture = await testEngine(['a@example.com']);
    const sent: Array<{ ev: string; data: unknown }> = [];
    let push: ((s: import('../engine/session.js').Session) => boolean) | null = null;
    const pusher = mod('pusher', (api) => {
      push = (s) => api.push(s, 'ping', { n: 1 });
    });
    await setupModules([pusher], fixture);
    const { session } = await fixture.engine.openSession('a@example.com', 'r', { send: (out) => void sent.push(out.event), close: () => undefined }, testPresence);
    fixture.engine.goLive(session);
    sent.length = 0;
    expect(push!(session)).toBe(true);
    expect(sent).toEqual([{ ev: 'pusher.ping', data: { n: 1 } }]);
    await fixture.engine.closeSession(session);
    expect(push!(session)).toBe(false);
  });
});
