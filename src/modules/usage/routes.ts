/**
 * The usage module's HTTP route, under /api/v1/usage, for administrators only (docs/admin-data.md): the daily
 * figures of the last `days` days (this node's counts flushed first, so they are current) and what is connected
 * now across the cluster, from the engine's memory.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Engine } from '../../engine/engine.js';
import { parseParams } from '../../protocols/params.js';
import type { HttpContext } from '../api.js';
import { dayOf } from './model.js';
import { dailyReport, MAX_DAYS } from './report.js';
import type { UsageArea } from './sqlite.js';

const usageQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(MAX_DAYS).default(30) });

/** Registers the route on the module's scope; `flush` writes what this node counted so far. */
export function usageRoutes(app: FastifyInstance, ctx: HttpContext, engine: Engine, area: UsageArea, flush: () => Promise<void>): void {
  app.get('/', async (req) => {
    await ctx.admin(req);
    const q = parseParams(usageQuery, req.query);
    await flush();
    const days = await dailyReport(area, q.days, dayOf(Date.now()));
    const live = engine.liveCounts();
    return { days, now: { sessions: live.sessions, byProtocol: live.byProtocol, onlineUsers: live.onlineUsers } };
  });
}
