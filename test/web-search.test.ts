/**
 * Message search in the employee web client, in Debian's chromium driven by playwright-core against a real
 * server: the search box is reached with Ctrl+Shift+F, the hits show their conversation and the matches marked
 * (as <mark> elements; markup in a message stays text), another pair's conversation never shows, choosing a hit
 * opens its conversation, a room the user left is searched up to the leaving (never after it), and axe-core finds
 * no serious fault. The screenshots go to dist/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { webRoot } from '../src/protocols/http/web-static.js';
import { startServer, type TestServer } from './harness.js';

const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(webRoot(), '..', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let t: TestServer;
let browser: Browser;

/** Waits until `user`'s search for `q` finds `count` messages (the index follows the log a little behind). */
async function indexed(c: ParleyClient, q: string, count: number): Promise<void> {
  const end = Date.now() + 10_000;
  while ((await c.request<{ hits: unknown[] }>('search', { q })).hits.length < count) {
    if (Date.now() > end) throw new Error(`the index never showed ${count} hits for ${q}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  t = await startServer();
  await t.users('alice@localhost', 'bob@localhost', 'carol@localhost');
  const [a, b, c] = [await t.connect('alice@localhost'), await t.connect('bob@localhost'), await t.connect('carol@localhost')];
  await b.request('message.send', { to: 'alice@localhost', body: 'The Zürich <b>offer</b> is signed; see the draft from Tuesday for the details we agreed on.' });
  await a.request('message.send', { to: 'bob@localhost', body: 'Great, lunch in zurich then?' });
  await c.request('message.send', { to: 'bob@localhost', body: 'zurich rumours, keep it between us' });
  const { room } = await a.request<{ room: { address: string } }>('room.create', { name: 'Ops', membersOnly: true });
  await a.request('message.send', { to: room.address, body: 'Deploy to the Zurich cluster at five' });
  // A room Alice left: what was said before she left is hers to find, what was said after is not.
  const finance = (await b.request<{ room: { address: string } }>('room.create', { name: 'Finance', membersOnly: true })).room.address;
  await b.request('room.invite', { room: finance, user: 'alice@localhost' });
  await a.request('room.join', { room: finance });
  await b.request('message.send', { to: finance, body: 'The Basel forecast is in the shared folder' });
  await a.request('room.leave', { room: finance });
  await b.request('message.send', { to: finance, body: 'Basel forecast revised after Alice left' });
  await indexed(a, 'zurich', 3);
  await indexed(b, 'zurich', 3);
  await indexed(b, 'basel', 2);
  await Promise.all([a.close(), b.close(), c.close()]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** A page signed in as Alice on the desktop in the light theme; console errors and page errors go to `problems`. */
async function signedInAlice(problems: string[]): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  ctx.setDefaultTimeout(10_000);
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(t.url);
  await page.getByLabel('Address').fill('alice@localhost');
  await page.getByLabel('Password').fill('pw-alice');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
  return page;
}

const seriousViolations = async (page: Page): Promise<Array<{ id: string; impact: string }>> =>
  ((await page.evaluate(`${axeSource}; axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`)) as Array<{ id: string; impact: string }>).filter(
    (v) => v.impact === 'serious' || v.impact === 'critical',
  );

describe('message search in the web client', { timeout: 60_000 }, () => {
  it('finds, marks and opens a message; the page stays accessible', async () => {
    const problems: string[] = [];
    const page = await signedInAlice(problems);

    // Ctrl+Shift+F reaches the search box (Ctrl+K stays the conversation filter's).
    await page.keyboard.press('Control+Shift+F');
    await expect(page.evaluate('document.activeElement?.id')).resolves.toBe('message-search');
    await page.keyboard.type('zurich');
    await page.keyboard.press('Enter');
    const hits = page.getByRole('list', { name: 'Messages found' }).getByRole('listitem');
    await hits.first().waitFor();
    await expect(hits.count()).resolves.toBe(3);
    const texts = await hits.allTextContents();
    expect(texts[0]).toContain('Ops');
    expect(texts[0]).toContain('Deploy to the Zurich cluster at five');
    expect(texts.some((x) => x.includes('rumours'))).toBe(false);
    // The matches are <mark> elements; the <b> in the message is text, not an element.
    const offer = hits.filter({ hasText: 'offer' });
    await expect(offer.locator('mark').allTextContents()).resolves.toEqual(['Zürich']);
    await expect(offer.locator('b').count()).resolves.toBe(0);
    await expect(offer.textContent()).resolves.toContain('<b>offer</b>');
    await page.screenshot({ path: (mkdirSync(SHOTS, { recursive: true }), join(SHOTS, 'web-search-desktop-light.png')) });

    expect(await seriousViolations(page)).toEqual([]);

    // Choosing a hit opens its conversation.
    await offer.getByRole('button').click();
    await page.getByRole('main', { name: 'Conversation with bob@localhost' }).waitFor();
    await page.getByRole('list', { name: 'Messages', exact: true }).getByText('The Zürich <b>offer</b> is signed', { exact: false }).waitFor();

    // A query without words is refused with the server's message, shown as an alert.
    await page.getByLabel('Search messages (Ctrl+Shift+F)').fill('***');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('at least one word');
    await page.context().close();
    // The one console error expected: the 400 of the refused query.
    expect(problems.filter((p) => !p.includes('status of 400'))).toEqual([]);
  });

  it('finds what was said in a room the user left up to the leaving, not after it, and opens the room', async () => {
    const problems: string[] = [];
    const page = await signedInAlice(problems);
    await page.getByLabel('Search messages (Ctrl+Shift+F)').fill('basel');
    await page.keyboard.press('Enter');
    const hits = page.getByRole('list', { name: 'Messages found' }).getByRole('listitem');
    await hits.first().waitFor();
    await expect(hits.count()).resolves.toBe(1);
    // The left room's hit, with the room's name from the conversation list and its sender.
    const hit = hits.first();
    await expect(hit.locator('.name').textContent()).resolves.toBe('Finance');
    await expect(hit.locator('.sender').textContent()).resolves.toBe('bob@localhost');
    await expect(hit.locator('mark').allTextContents()).resolves.toEqual(['Basel']);
    await expect(page.getByRole('list', { name: 'Messages found' }).getByText('revised after Alice left').count()).resolves.toBe(0);
    await page.screenshot({ path: (mkdirSync(SHOTS, { recursive: true }), join(SHOTS, 'web-search-left-room.png')) });
    expect(await seriousViolations(page)).toEqual([]);
    // Choosing it opens the room as left, with its past up to the leaving.
    await hit.getByRole('button').click();
    await page.getByRole('main', { name: 'Conversation with Finance' }).waitFor();
    await page.getByRole('region', { name: 'You are not in this room' }).getByText('You left this room.').waitFor();
    const messages = page.getByRole('list', { name: 'Messages', exact: true });
    await messages.getByText('The Basel forecast is in the shared folder').waitFor();
    await expect(messages.getByText('revised after Alice left').count()).resolves.toBe(0);
    await page.context().close();
    expect(problems).toEqual([]);
  });
});
