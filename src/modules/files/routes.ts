/**
 * The files module's HTTP routes, under /api/v1/files: slots for a caller with a session token, and the PUT and
 * GET URLs of slots (the long random path is their only credential, as XEP-0363 §5 lets it be). Downloads are
 * always attachments whose type the browser may not guess and in which nothing may run, so a file uploaded as
 * HTML or SVG can never act in the server's origin.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseParams } from '../../protocols/params.js';
import type { HttpContext } from '../api.js';
import type { FilesService } from './service.js';

/** The body of POST /api/v1/files/slots (and of the JSON operation files.slot). */
export const slotSchema = z.strictObject({
  filename: z.string().min(1).max(1024),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  contentType: z.string().min(1).max(255).optional(),
});

const fileParams = z.strictObject({ token: z.string().min(1).max(64), name: z.string().min(1).max(1024) });

/** RFC 6266 §4.3 / RFC 8187: an ASCII fallback name and the exact one, percent-encoded as UTF-8. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/**
 * One byte range of a Range header (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-` or `bytes=-n`, clipped to the
 * file. Null serves the whole file: no header, or one the server may ignore (several ranges, another unit,
 * malformed; §14.2). Unsatisfiable when the range starts past the end.
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  const m = header === undefined ? null : /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** Registers the routes on the module's scope. */
export function filesRoutes(app: FastifyInstance, ctx: HttpContext, service: FilesService): void {
  app.post('/slots', async (req, reply) => {
    const user = await ctx.user(req);
    const p = parseParams(slotSchema, req.body);
    return reply.status(201).send(await service.slot(user, p));
  });

  /** The file's headers on a GET or HEAD; its path and size. */
  const found = async (req: FastifyRequest, reply: FastifyReply): Promise<{ path: string; size: number }> => {
    const p = parseParams(fileParams, req.params);
    const { file, path, size } = await service.download(p.token, p.name);
    void reply
      .header('content-type', file.contentType)
      .header('content-disposition', contentDisposition(file.filename))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'")
      .header('cache-control', 'private, no-transform')
      .header('accept-ranges', 'bytes');
    return { path, size };
  };
  // exposeHeadRoute: false, or the GET's handler would open the file and read it through for every HEAD.
  app.get('/:token/:name', { exposeHeadRoute: false }, async (req, reply) => {
    const { path, size } = await found(req, reply);
    const range = byteRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      // RFC 9110 §15.5.17: 416 with the current length.
      return reply.status(416).header('content-range', `bytes */${size}`).header('content-type', 'text/plain').send('');
    }
    if (range === null) return reply.header('content-length', String(size)).send(createReadStream(path));
    return reply
      .status(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
      .header('content-length', String(range.end - range.start + 1))
      .send(createReadStream(path, { start: range.start, end: range.end }));
  });
  app.head('/:token/:name', async (req, reply) => {
    const { size } = await found(req, reply);
    return reply.header('content-length', String(size)).send();
  });

  // The PUT reads the raw body as it arrives (streamed to disk and clamd), so no parser may buffer it first.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    scope.put('/:token/:name', async (req, reply) => {
      const p = parseParams(fileParams, req.params);
      const stored = await service.receive(p.token, p.name, { contentLength: req.headers['content-length'], contentType: req.headers['content-type'] }, req.raw);
      return reply.status(201).send(stored);
    });
  });
}
