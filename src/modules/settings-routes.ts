/**
 * The administrators' HTTP API of live options (docs/settings.md), under /api/v1/admin/settings: every module's
 * live keys with their current values, which are set at runtime, and their JSON Schema; a change (PUT) validated by
 * the module's own options schema; a reset (DELETE) back to the configuration file's value. Administrators only.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseParams } from '../protocols/params.js';
import type { HttpContext } from './api.js';
import type { LiveSettings } from './live-settings.js';

const moduleParams = z.strictObject({ module: z.string().min(1).max(64) });
const keyParams = z.strictObject({ module: z.string().min(1).max(64), key: z.string().min(1).max(128) });

/** Registers the routes in `app` (prefix /api/v1/admin/settings). */
export function settingsRoutes(app: FastifyInstance, ctx: HttpContext, settings: LiveSettings): void {
  app.get('/', async (req) => {
    await ctx.admin(req);
    return { modules: settings.list() };
  });
  app.get('/:module', async (req) => {
    await ctx.admin(req);
    const { module } = parseParams(moduleParams, req.params);
    return settings.get(module);
  });
  app.put('/:module', async (req) => {
    const by = await ctx.admin(req);
    const { module } = parseParams(moduleParams, req.params);
    const body = req.body;
    const values = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { values?: unknown }).values : undefined;
    return settings.set(module, values, by);
  });
  app.delete('/:module/:key', async (req) => {
    const by = await ctx.admin(req);
    const { module, key } = parseParams(keyParams, req.params);
    return settings.reset(module, key, by);
  });
}
