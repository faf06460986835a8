/**
 * The web client's conversation list from the server (the conversations module) in a real browser (Debian's
 * chromium through playwright-core), two browser contexts signed in as the same person against a real server on
 * SQLite: a non-contact's conversation is listed after a reload with its unread count; reading it in one context
 * clears the count in the other; a room mention shows a mention badge, is announced, and the message is marked;
 * the server restarted mid-conversation, the list and counts are right once the page has reconnected (the message
 * sent meanwhile counted once: no gap, no duplicate); without the module the page still works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { startServer, type TestServer } from './harness.js';
import { launchChromium, seriousViolations, shot, signedIn } from './web-browser.js';

const ALICE = 'alice@localhost';
const BOB = 'bob@localhost';
const CAROL = 'carol@localhost';

let t: TestServer;
let browser: Browser;
let dir = '';
const problems: string[] = [];

/** A server on the test's own database file (so a restart finds it), on `port` (0: any). */
const start = (port = 0): Promise<TestServer> => startServer({ server: { port }, storage: { sqlite: { path: join(dir, 'parley.db'), synchronous: 'normal', worker: true } } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-conv-'));
  t = await start();
  await t.users(ALICE, BOB, CAROL);
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The sidebar button of a conversation or a room. */
const entry = (page: Page, name: string | RegExp) => page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name });
/** The unread badge's number on a conversation's button (0 when there is none). */
async function unread(page: Page, name: string | RegExp): Promise<number> {
  const badge = entry(page, name).locator('.unread');
  return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
}

describe('the web client\'s conversation list', { timeout: 120_000 }, () => {
  let carol: ParleyClient;
  let room = '';

  it('lists a non-contact\'s conversation after a reload with the right unread count', async () => {
    carol = await t.connect(CAROL);
    // Carol is no contact of Alice's; she wrote before Alice's page was open, and goes on while it is.
    await carol.send(ALICE, 'Hello Alice, a question about the invoice');
    const a = await signedIn(browser, t, ALICE, problems);
    await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(1);
    await carol.send(ALICE, 'It is number 4411');
    await carol.send(ALICE, 'Due on Friday');
    await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(3);
    await a.page.reload();
    await a.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(3);
    // Not a contact, so no presence to show: the newest message's preview says what the conversation is about.
    await expect(entry(a.page, /carol@localhost/).locator('.detail').textContent()).resolves.toBe('Due on Friday');
    await shot(a.page, 'web-conversations-after-reload');
    // The same list over HTTP with the page's session cookie (GET /api/v1/conversations).
    const http = (await a.page.evaluate(`fetch('/api/v1/conversations').then((r) => r.json())`)) as { conversations: Array<{ with: string; unread: number; last: { preview: string } | null }> };
    expect(http.conversations.map((c) => [c.with, c.unread, c.last?.preview])).toEqual([[CAROL, 3, 'Due on Friday']]);
    await a.ctx.close();
  });

  it('reading a conversation in one browser clears its count in the other', async () => {
    const one = await signedIn(browser, t, ALICE, problems);
    const two = await signedIn(browser, t, ALICE, problems);
    await expect.poll(() => unread(two.page, /carol@localhost/)).toBe(3);
    await expect.poll(() => unread(one.page, /carol@localhost/)).toBe(3);
    await entry(one.page, /carol@localhost/).click();
    await one.page.getByRole('list', { name: 'Messages' }).getByText('Due on Friday').waitFor();
    await expect.poll(() => unread(two.page, /carol@localhost/)).toBe(0);
    // And after a reload of the other one too: the server keeps the position.
    await two.page.reload();
    await two.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await entry(two.page, /carol@localhost/).waitFor();
    expect(await unread(two.page, /carol@localhost/)).toBe(0);
    await one.ctx.close();
    await two.ctx.close();
  });

  it('a room mention shows a mention badge, is announced, and the message is marked', async () => {
    const bob = await t.connect(BOB);
    const alice = await t.connect(ALICE);
    room = (await bob.request<{ room: { address: string } }>('room.create', { name: 'Budget', membersOnly: true })).room.address;
    await bob.request('room.invite', { room, user: ALICE });
    await alice.request('room.join', { room });
    const a = await signedIn(browser, t, ALICE, problems);
    const other = await signedIn(browser, t, ALICE, problems);
    await entry(a.page, /Budget/).waitFor();
    await bob.send(room, 'Morning all');
    await bob.send(room, '@alice can you check the totals?');
    await bob.send(room, 'bobby tables says hi');
    const badge = entry(a.page, /Budget/).locator('.mention-count');
    await expect.poll(async () => ((await badge.count()) === 0 ? '' : await badge.textContent())).toBe('@1');
    expect(await badge.getAttribute('aria-label')).toBe('1 mention of you');
    // Painted, not only present: a colour of the client's theme behind it.
    expect(await a.page.evaluate(`getComputedStyle(document.querySelector('.mention-count')).backgroundColor`)).not.toBe('rgba(0, 0, 0, 0)');
    await expect.poll(() => unread(a.page, /Budget/)).toBe(3);
    await expect.poll(() => a.page.locator('[aria-live="polite"][aria-atomic="true"]').textContent()).toBe('1 mention of you in Budget');
    await expect.poll(() => other.page.locator(`button:has-text("Budget") .mention-count`).count()).toBe(1);
    await shot(a.page, 'web-conversations-mention-badge');
    await entry(a.page, /Budget/).click();
    const marked = a.page.locator('.mentions-me');
    await marked.getByText('@alice can you check the totals?').waitFor();
    expect(await marked.count()).toBe(1);
    expect(await a.page.evaluate(`getComputedStyle(document.querySelector('.mentions-me .bubble')).boxShadow`)).not.toBe('none');
    await expect.poll(() => badge.count()).toBe(0);
    // Read here, so read on the other device: neither badge stays there.
    await expect.poll(() => other.page.locator(`button:has-text("Budget") .mention-count`).count()).toBe(0);
    await expect.poll(() => unread(other.page, /Budget/)).toBe(0);
    await shot(a.page, 'web-conversations-mention-highlight');
    expect(await seriousViolations(a.page)).toEqual([]);
    await a.ctx.close();
    await other.ctx.close();
    await bob.close();
    await alice.close();
  });

  it('after a server restart mid-conversation, the reconnected page lists the right counts: no gap, no duplicate', async () => {
    const a = await signedIn(browser, t, ALICE, problems);
    const b = await signedIn(browser, t, ALICE, problems);
    await carol.send(ALICE, 'Are you there?');
    await carol.send(ALICE, 'Still about the invoice');
    await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(2);
    await expect.poll(() => unread(b.page, /carol@localhost/)).toBe(2);
    // The server goes away and comes back on the same port and database; Carol writes before the pages are back.
    const port = Number(new URL(t.url).port);
    const before = problems.length;
    await t.server.close();
    rmSync(t.dir, { recursive: true, force: true });
    await expect.poll(() => a.page.getByRole('status').filter({ hasText: /Reconnecting/i }).count()).toBe(1);
    t = await start(port);
    carol = await t.connect(CAROL);
    await carol.send(ALICE, 'Sent while you were away');
    for (const p of [a.page, b.page]) {
      await p.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
      await expect.poll(() => unread(p, /carol@localhost/)).toBe(3);
    }
    // The pages' tries to reconnect while the server was away are refused (the browser logs them); nothing else.
    const meanwhile = problems.splice(before);
    expect(meanwhile.filter((x) => !x.includes('net::ERR_CONNECTION_REFUSED'))).toEqual([]);
    // Stays at three (a replayed message counted once), and reading in one clears the other.
    await a.page.waitForTimeout(500);
    expect(await unread(a.page, /carol@localhost/)).toBe(3);
    await entry(a.page, /carol@localhost/).click();
    await a.page.getByRole('list', { name: 'Messages' }).getByText('Sent while you were away').waitFor();
    await expect.poll(() => unread(b.page, /carol@localhost/)).toBe(0);
    expect(await unread(b.page, /Budget/)).toBe(0);
    await a.ctx.close();
    await b.ctx.close();
  });

  it('a room left stays in the list, readable up to the leaving; removed or banned says why; rejoin when allowed; removed from the list', async () => {
    const bob = await t.connect(BOB);
    // An open room: anyone may join it, so joining again is offered after leaving (not after a ban).
    const hall = (await bob.request<{ room: { address: string } }>('room.create', { name: 'Town hall', membersOnly: false })).room.address;
    const alice = await t.connect(ALICE);
    await alice.request('room.join', { room: hall });
    await bob.send(hall, 'Welcome to the town hall');
    const a = await signedIn(browser, t, ALICE, problems);
    const other = await signedIn(browser, t, ALICE, problems);
    const messages = a.page.getByRole('list', { name: 'Messages' });
    await entry(a.page, /Town hall/).click();
    await messages.getByText('Welcome to the town hall').waitFor();
    await a.page.getByRole('button', { name: 'Leave' }).click();
    // Still open, with its past, and what happened said in place of the composer.
    const banner = a.page.getByRole('region', { name: 'You are not in this room' });
    await banner.getByText('You left this room.').waitFor();
    await expect(a.page.getByLabel(/Message to town-hall@/).count()).resolves.toBe(0);
    await expect(messages.getByText('Welcome to the town hall').count()).resolves.toBe(1);
    await expect(entry(a.page, /Town hall/).locator('.detail').textContent()).resolves.toBe('You left this room');
    // The other device follows (conversations.update).
    await expect.poll(() => entry(other.page, /Town hall/).locator('.detail').textContent()).toBe('You left this room');
    // Nothing said after the leaving reaches the page, nor its history after a reload.
    await bob.send(hall, 'Said after Alice left');
    await a.page.reload();
    await a.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await entry(a.page, /Town hall/).click();
    await messages.getByText('Welcome to the town hall').waitFor();
    await expect(messages.getByText('Said after Alice left').count()).resolves.toBe(0);
    await shot(a.page, 'web-conversations-room-left');
    expect(await seriousViolations(a.page)).toEqual([]);

    // Joining again (the room is open): the composer is back, and so is what was said meanwhile.
    await banner.getByRole('button', { name: 'Rejoin' }).click();
    await a.page.getByLabel(/Message to town-hall@/).waitFor();
    await messages.getByText('Said after Alice left').waitFor();
    // Removed by the owner, with a reason: said in the conversation and in the list; rejoining is still allowed.
    await bob.request('room.kick', { room: hall, user: ALICE, reason: 'wrong room for this' });
    await banner.getByText('Removed by bob@localhost: wrong room for this.').waitFor();
    await expect(entry(a.page, /Town hall/).locator('.detail').textContent()).resolves.toBe('Removed by bob@localhost: wrong room for this');
    await banner.getByRole('button', { name: 'Rejoin' }).click();
    await a.page.getByLabel(/Message to town-hall@/).waitFor();
    // Banned: said, and no way back in.
    await bob.request('room.ban', { room: hall, target: ALICE, reason: 'spam' });
    await banner.getByText('Banned by bob@localhost: spam.').waitFor();
    await expect(banner.getByRole('button', { name: 'Rejoin' }).count()).resolves.toBe(0);
    await expect.poll(() => entry(other.page, /Town hall/).locator('.detail').textContent()).toBe('Banned by bob@localhost: spam');
    await shot(a.page, 'web-conversations-room-banned');
    expect(await seriousViolations(a.page)).toEqual([]);

    // Removed from the list: gone on both devices, and its history with it.
    await banner.getByRole('button', { name: 'Remove from list' }).click();
    await a.page.getByText('Choose a conversation.').waitFor();
    await expect(entry(a.page, /Town hall/).count()).resolves.toBe(0);
    await expect.poll(() => entry(other.page, /Town hall/).count()).toBe(0);
    await expect(alice.request('history', { with: hall })).rejects.toMatchObject({ code: 'forbidden' });
    await a.ctx.close();
    await other.ctx.close();
    await alice.close();
    await bob.close();
  });

  it('without the conversations module the page still works, counting what arrives while it is open', async () => {
    const off = await startServer({ modules: { conversations: { enabled: false } } });
    try {
      await off.users(ALICE, CAROL);
      const c = await off.connect(CAROL);
      const a = await signedIn(browser, off, ALICE, problems);
      await c.send(ALICE, 'Hello without the list');
      await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(1);
      await entry(a.page, /carol@localhost/).click();
      await a.page.getByRole('list', { name: 'Messages' }).getByText('Hello without the list').waitFor();
      await expect.poll(() => unread(a.page, /carol@localhost/)).toBe(0);
      await a.ctx.close();
    } finally {
      await off.close();
    }
    expect(problems).toEqual([]);
  });
});
