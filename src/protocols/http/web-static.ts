/**
 * Serves the built web apps (web/, built by `npm run build:web` into dist/web/): the employee client at `/` and
 * the admin console at `/admin` (its pages are client-side routes under `/admin/`, so each serves admin.html).
 * Every page gets a strict Content-Security-Policy with no inline script or style (the apps are bundled files
 * only), no framing and no referrer; hashed assets are cached for a year, pages never (so a new build is picked
 * up at once). When the apps were not built, `/` says how to build them instead of failing obscurely.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The policy of every page: scripts, styles, fonts and connections to this origin only (CSP Level 3 lets
 * 'self' cover the same host's ws: and wss:), images also from data: and blob: URLs (avatars, file previews).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The folder the web apps are built into: dist/web/ of the package that holds this file. */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, 'dist', 'web');
}

function pageHeaders(reply: FastifyReply): void {
  void reply
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin');
}

/** Registers the web apps' pages and assets (root: webRoot() unless given). */
export async function registerWebApps(app: FastifyInstance, root = webRoot()): Promise<void> {
  const client = join(root, 'client.html');
  if (!existsSync(client)) {
    const unbuilt = async (_req: FastifyRequest, reply: FastifyReply): Promise<string> => {
      pageHeaders(reply);
      void reply.status(503).type('text/plain; charset=utf-8');
      return 'The Parley web apps are not built: run `npm run build:web` (npm start does it), then reload.\n';
    };
    for (const path of ['/', '/admin', '/admin/*']) app.get(path, unbuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/assets/',
    wildcard: false,
    index: false,
    setHeaders: (res) => {
      void res.header('cache-control', 'public, max-age=31536000, immutable');
      void res.header('x-content-type-options', 'nosniff');
    },
  });
  app.get('/', async (_req, reply) => {
    pageHeaders(reply);
    void reply.header('cache-control', 'no-cache');
    return reply.sendFile('client.html', root);
  });
  // The console's own routes (/admin/users, /admin/audit, …) are drawn by the page, so a reload or a bookmark of
  // any of them gets the same document.
  const adminPage = async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    pageHeaders(reply);
    void reply.header('cache-control', 'no-cache');
    return reply.sendFile('admin.html', root);
  };
  app.get('/admin', adminPage);
  app.get('/admin/*', adminPage);
}
