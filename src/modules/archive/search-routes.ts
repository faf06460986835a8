/**
 * eDiscovery over HTTP, for compliance officers only (an administrator without the role is forbidden):
 * `GET /api/v1/archive/search` answers JSON, `POST /api/v1/archive/export` streams the bundle as a POSIX tar
 * archive (docs/archive-search.md). Each call is journaled with the officer as actor by the area itself.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pack as tarPack } from 'tar-stream';
import { z } from 'zod';
import { writeBundle } from './export.js';
import { parse, type RoleGuard } from './http-helpers.js';
import { parseTime, type SearchQuery } from './query.js';
import type { ArchiveArea } from './sqlite.js';

const text = z.string().max(3071).optional();
const time = z.union([z.number(), z.string().max(64)]).optional();
const filterFields = {
  participant: text,
  room: text,
  domain: text,
  from: time,
  to: time,
  keywords: z.string().max(1000).optional(),
  types: z.array(z.string().max(64)).max(32).optional(),
};
const exportBody = z.strictObject(filterFields);
const searchParams = z.strictObject({
  ...filterFields,
  q: z.string().max(1000).optional(),
  types: z.union([z.string().max(2000), z.array(z.string().max(64)).max(32)]).optional(),
  type: z.union([z.string().max(2000), z.array(z.string().max(64)).max(32)]).optional(),
  limit: z.coerce.number().int().optional(),
  before: z.coerce.number().int().optional(),
});

const timeOf = (v: number | string | undefined, field: 'from' | 'to'): number | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? v : parseTime(v, field);

/** The filters of a request as a SearchQuery (the area checks them further). */
function filtersOf(p: z.output<typeof exportBody>): SearchQuery {
  return { participant: p.participant, room: p.room, domain: p.domain, from: timeOf(p.from, 'from'), to: timeOf(p.to, 'to'), keywords: p.keywords, types: p.types };
}

/** Registers the search and export routes on the archive's scope. */
export function searchRoutes(app: FastifyInstance, { asOfficer }: RoleGuard, store: ArchiveArea, origin: string): void {
  app.get('/search', async (req) => {
    const user = await asOfficer(req);
    const p = parse(searchParams, req.query);
    const given = p.types ?? p.type;
    const types = given === undefined ? undefined : Array.isArray(given) ? given : given.split(',');
    const query: SearchQuery = { ...filtersOf({ ...p, types }), keywords: p.keywords ?? p.q, limit: p.limit, before: p.before };
    return store.search(query, user, Date.now());
  });

  app.post('/export', async (req, reply) => {
    const user = await asOfficer(req);
    const query = filtersOf(parse(exportBody, req.body));
    const dir = await mkdtemp(join(tmpdir(), 'parley-export-'));
    try {
      const summary = await writeBundle(store, query, { dir, actor: user, origin, now: Date.now() });
      // Entries are added one after another: tar-stream takes the next only when the previous one ended.
      const tar = tarPack();
      const cleanup = (): void => void rm(dir, { recursive: true, force: true });
      tar.on('close', cleanup);
      tar.on('error', cleanup);
      void (async () => {
        try {
          tar.entry({ name: 'eml/', type: 'directory', mode: 0o755 });
          for (const name of summary.files) {
            const path = join(dir, name);
            const { size } = await stat(path);
            const sink = tar.entry({ name, size, mode: 0o644, mtime: new Date() });
            await new Promise<void>((resolve, reject) => {
              createReadStream(path).on('error', reject).pipe(sink).on('finish', resolve).on('error', reject);
            });
          }
          tar.finalize();
        } catch (e) {
          tar.destroy(e as Error);
        }
      })();
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-disposition', `attachment; filename="archive-export-${summary.audit}.tar"`)
        .header('x-parley-export-records', String(summary.records))
        .send(tar);
    } catch (e) {
      // The officer gets the error; the operator needs to know too (a full disk, say).
      req.log.warn({ err: e }, 'archive export failed');
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  });
}
