/**
 * What the admin console's browser tests share: Debian's chromium (playwright-core) signed in to a real server's
 * console or client, axe-core's serious faults, the console's menu, screenshots, and an SDK client over a web
 * session from Node.js.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AdminClient } from '../client/admin.js';
import { runCli } from '../src/app/cli.js';
import { webRoot } from '../src/protocols/http/web-static.js';
import type { TestServer } from './harness.js';

/** The browser the tests drive. */
export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
/** A desktop window. */
export const DESKTOP = { width: 1280, height: 860 };
/** A phone's window. */
export const PHONE = { width: 390, height: 844 };

const SHOTS = join(webRoot(), '..', 'screenshots');
const DOC_SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Options of a signed-in page. */
export interface SignInOptions {
  path?: string;
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
  password?: string;
}

/** The helpers, bound to one server and one browser; `problems` collects the pages' console errors. */
export interface ConsoleRig {
  problems: string[];
  signedIn(address: string, opts?: SignInOptions): Promise<{ ctx: BrowserContext; page: Page }>;
  shot(page: Page, name: string): Promise<void>;
  axe(page: Page): Promise<Array<{ id: string; impact: string; nodes: string[] }>>;
  open(page: Page, menu: string, heading?: string): Promise<void>;
  sdkFor(address: string, password?: string): Promise<AdminClient>;
}

/** The helpers for `t` and `browser`. */
export function consoleRig(t: TestServer, browser: () => Browser): ConsoleRig {
  const problems: string[] = [];
  return {
    problems,
    /** A page of its own browser context, signed in to `path` (the console or the client), watched for console errors. */
    async signedIn(address, opts = {}) {
      const ctx = await browser().newContext({ viewport: opts.viewport ?? DESKTOP, colorScheme: opts.colorScheme ?? 'light', acceptDownloads: true });
      // Generous: the browser, the server and the tests share a busy machine.
      ctx.setDefaultTimeout(20_000);
      const page = await ctx.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`${address}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`${address}: ${e.message}`));
      await page.goto(`${t.url}${opts.path ?? '/admin'}`);
      await page.getByLabel('Address').fill(address);
      await page.getByLabel('Password').fill(opts.password ?? `pw-${address.split('@')[0]}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Signed in (the cookie set) once the form is gone, whatever the reader may see next. Not once the button
      // "Sign in" is gone: while the login is under way it reads "Signing in…", and a test that navigated then
      // would abort the login before its cookie was set (on a busy machine the login takes a while).
      await page.locator('#signin-title').waitFor({ state: 'detached' });
      return { ctx, page };
    },
    /** A full-page screenshot in the build's screenshots; also in docs/screenshots when that has none of the name. */
    async shot(page, name) {
      mkdirSync(SHOTS, { recursive: true });
      const file = join(SHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      const doc = join(DOC_SHOTS, `${name}.png`);
      if (existsSync(DOC_SHOTS) && !existsSync(doc)) copyFileSync(file, doc);
    },
    /** axe-core's serious and critical violations on the page as it is now (evaluated outside the page's CSP). */
    async axe(page) {
      const all = (await page.evaluate(
        `${axeSource}; axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')) })))`,
      )) as Array<{ id: string; impact: string; nodes: string[] }>;
      return all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    },
    /** Opens a page of the console through its menu and waits for its heading. */
    async open(page, menu, heading = menu) {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: menu, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    },
    /** An SDK client for `address` from Node.js, over the web session cookie like the console's. */
    async sdkFor(address, password = `pw-${address.split('@')[0]}`) {
      const res = await fetch(`${t.url}/api/v1/web/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, password }) });
      const { csrf } = (await res.json()) as { csrf: string };
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
      return new AdminClient({ base: t.url, csrf, fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie } }) });
    },
  };
}

/**
 * Names `who` a compliance officer or a supervision reviewer the way an operator does: with the archive's CLI on
 * the server's own database. Throws with the CLI's complaint when it fails.
 */
export async function archiveRole(t: TestServer, role: 'officer' | 'reviewer', who: string): Promise<void> {
  const config = join(t.dir, 'cli.yaml');
  writeFileSync(config, `storage:\n  sqlite:\n    path: ${join(t.dir, 'parley.db')}\nmodules:\n  archive:\n    enabled: true\n`);
  let err = '';
  const code = await runCli(['--config', config, 'archive', role, 'add', who], { out: () => undefined, err: (s) => (err += s) });
  if (code !== 0 || err !== '') throw new Error(`parley archive ${role} add ${who}: exit ${code}: ${err}`);
}
