/**
 * Builds Parley's web apps (the employee client, client.html; the admin console, admin.html) into dist/web/ (served by the server: src/protocols/http/web-static.ts). Preact's JSX
 * through Vite's own transform (no Babel); no inline script, so the pages run under a strict CSP; hashed asset
 * names, so they can be cached for good.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
    rollupOptions: { input: { client: here('client.html'), admin: here('admin.html') } },
  },
});
