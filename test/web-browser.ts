/**
 * What the web client's browser tests share: Debian's chromium through playwright-core, pages signed in in their own
 * browser contexts and watched for console errors and CSP reports, screenshots into dist/screenshots/, axe-core.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ParleyClient } from '../client/index.js';
import { webRoot } from '../src/protocols/http/web-static.js';
import type { TestServer } from './harness.js';

const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(webRoot(), '..', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Starts chromium (headless, as the CI machine runs it). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** Options of a signed-in page. */
export interface PageOptions {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

/**
 * A signed-in page of its own browser context (its own cookies); console errors, page errors and CSP reports are
 * added to `problems`.
 */
export async function signedIn(browser: Browser, t: TestServer, address: string, problems: string[], o: PageOptions = {}): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: o.viewport ?? { width: 1280, height: 800 }, colorScheme: o.colorScheme ?? 'light' });
  ctx.setDefaultTimeout(10_000);
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${address}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${address}: ${e.message}`));
  await page.goto(t.url);
  await page.getByLabel('Address').fill(address);
  await page.getByLabel('Password').fill(`pw-${address.split('@')[0]}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
  return { ctx, page };
}

/** A screenshot into dist/screenshots/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** axe-core's serious and critical violations on the page as it is now (evaluated outside the page's CSP). */
export async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; nodes: number }>> {
  const all = (await page.evaluate(`${axeSource}; axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`)) as Array<{
    id: string;
    impact: string;
    nodes: number;
  }>;
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Makes two users contacts of each other (subscriptions both ways) over the JSON API. */
export async function befriend(a: ParleyClient, b: ParleyClient): Promise<void> {
  const [aa, ba] = [a.hello.address, b.hello.address];
  await a.request('roster.subscribe', { contact: ba });
  await b.waitFor('subscription', (d) => d.from === aa && d.action === 'subscribe');
  await b.request('roster.approve', { contact: aa });
  await b.request('roster.subscribe', { contact: aa });
  await a.waitFor('subscription', (d) => d.from === ba && d.action === 'subscribe');
  await a.request('roster.approve', { contact: ba });
}
