/**
 * The employee web client's everyday features in a real browser (Debian's chromium through playwright-core) against
 * a real server serving the built app: a long conversation in a virtualised list (few rows in the page, opened at
 * the newest message, older pages loaded while scrolling up without the view jumping, keyboard scrolling, new
 * messages followed and announced), replies (XEP-0461) from the page and from an XMPP client, quoted and linked to
 * their original. Screenshots go to dist/screenshots/; axe-core finds no serious fault.
 */
import type { Browser, Page } from 'playwright-core';
import { client, xml, type XmlElement } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, trustServerCertificate, type TestServer } from './harness.js';
import { befriend, launchChromium, seriousViolations, shot, signedIn } from './web-browser.js';

const LONG = 600;
/** Message n; one in seven is several lines long (rows differ in height), its first line still "Message n". */
const body = (n: number): string => (n % 7 === 0 ? `Message ${n}\n${'A longer message that wraps over several lines, as status reports do. '.repeat(1 + (n % 5))}` : `Message ${n}`);

let t: TestServer;
let browser: Browser;
let restoreTls: (() => void) | null = null;
const problems: string[] = [];

beforeAll(async () => {
  t = await startServer();
  restoreTls = trustServerCertificate(t, 'localhost');
  await t.users('alice@localhost', 'bob@localhost');
  const [a, b] = [await t.connect('alice@localhost'), await t.connect('bob@localhost')];
  await befriend(a, b);
  // A long conversation, sent in pipelined batches (one session's messages are stored in the order sent).
  for (let i = 1; i <= LONG; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, LONG - i + 1) }, (_, k) => b.send('alice@localhost', body(i + k))));
  }
  await a.close();
  await b.close();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  restoreTls?.();
  await browser?.close();
  await t?.close();
});

/** The vertical position of a message's row relative to the scroller's top, or null when it is not in the page. */
async function rowTop(page: Page, text: string): Promise<number | null> {
  return (await page.evaluate(`(() => {
    const scroller = document.querySelector('.scroller');
    const row = [...document.querySelectorAll('.messages > li')].find((li) => li.querySelector('.body')?.textContent === ${JSON.stringify(text)});
    return row ? row.getBoundingClientRect().top - scroller.getBoundingClientRect().top : null;
  })()`)) as number | null;
}

/** The number of the first "Message n" row in the scroller's view. */
/** Resolves once the scroller's position has stayed put for about three frames (a smooth scroll has ended). */
async function settled(page: Page): Promise<void> {
  await page.locator('.scroller').evaluate(
    (el) =>
      new Promise<void>((done) => {
        let last = -1;
        let still = 0;
        const look = (): void => {
          still = el.scrollTop === last ? still + 1 : 0;
          last = el.scrollTop;
          if (still >= 3) done();
          else setTimeout(look, 16);
        };
        setTimeout(look, 16);
      }),
  );
}

async function firstVisible(page: Page): Promise<number> {
  return (await page.evaluate(`(() => {
    const top = document.querySelector('.scroller').getBoundingClientRect().top;
    const rows = [...document.querySelectorAll('.messages > li')].filter((li) => li.getBoundingClientRect().bottom > top + 4);
    rows.sort((x, y) => x.getBoundingClientRect().top - y.getBoundingClientRect().top);
    const text = rows.map((li) => li.querySelector('.body')?.textContent ?? '').find((x) => /^Message \\d+$/.test(x)) ?? '';
    return Number(text.slice('Message '.length));
  })()`)) as number;
}

describe('the web client\'s everyday features', { timeout: 90_000 }, () => {
  it('a long conversation is a virtualised list: opened at its end, paged back while scrolling up without a jump, followed and announced', async () => {
    const a = await signedIn(browser, t, 'alice@localhost', problems);
    await a.page.getByRole('button', { name: /bob@localhost/ }).click();
    const list = a.page.getByRole('list', { name: 'Messages' });
    await list.getByText(`Message ${LONG}`, { exact: true }).waitFor();
    // Only the rows in and near the view are in the page.
    const rows = await list.getByRole('listitem').count();
    expect(rows).toBeGreaterThan(5);
    expect(rows).toBeLessThan(40);
    const bottom = await rowTop(a.page, `Message ${LONG}`);
    const height = await a.page.locator('.scroller').evaluate((el) => el.clientHeight);
    expect(bottom).not.toBeNull();
    expect(bottom!).toBeGreaterThan(height - 120); // the newest message sits at the bottom of the view

    // Keyboard: the history is focusable and Home scrolls to the top of what is loaded; the page before is put in
    // above, and the reader stays at the messages they were looking at (without anchoring, the view would show the
    // new page's first messages instead).
    const firstLoaded = LONG - 49;
    const history = a.page.getByRole('region', { name: /Message history/ });
    const loaded = (): Promise<number> => history.evaluate((el) => el.scrollHeight);
    const before = await loaded();
    await history.focus();
    await a.page.keyboard.press('Home');
    await expect.poll(loaded).toBeGreaterThan(before * 2);
    await a.page.waitForTimeout(300);
    // Home put the oldest loaded message just under the "Show older messages" row (52 px); it is still there, with
    // the page before above it and at most the row before it peeking in.
    const kept = await rowTop(a.page, `Message ${firstLoaded}`);
    expect(kept).not.toBeNull();
    expect(Math.abs(kept! - 52)).toBeLessThan(16);
    expect(await firstVisible(a.page)).toBeGreaterThanOrEqual(firstLoaded - 2);
    await shot(a.page, 'web-client-long-conversation');

    // Page Up goes on paging back, through the whole conversation.
    // Each press waits for its smooth scroll to end: a press during the animation restarts it from where it is, so
    // quick presses would move the view a fraction of a page each.
    for (let i = 0; i < 400 && (await list.getByText('Message 1', { exact: true }).count()) === 0; i++) {
      await a.page.keyboard.press('PageUp');
      await settled(a.page);
    }
    await list.getByText('Message 1', { exact: true }).waitFor();
    await expect(list.getByRole('button', { name: /older messages/ }).count()).resolves.toBe(0);
    expect(await list.getByRole('listitem').count()).toBeLessThan(40);

    // End returns to the newest message; one arriving there is followed and announced.
    await a.page.keyboard.press('End');
    await list.getByText(`Message ${LONG}`, { exact: true }).waitFor();
    const bob = await t.connect('bob@localhost');
    await bob.send('alice@localhost', 'A new one');
    await list.getByText('A new one', { exact: true }).waitFor();
    await expect.poll(() => rowTop(a.page, 'A new one')).toBeGreaterThan(height - 120);
    await expect(a.page.locator('[aria-live="polite"][aria-atomic="true"]').textContent()).resolves.toBe('New message from bob@localhost: A new one');
    await bob.close();
    await a.ctx.close();
  });

  it('replies: the page answers one message (Escape cancels), the other page shows the quote and jumps to the original; an XMPP client\'s reply looks the same', async () => {
    const a = await signedIn(browser, t, 'alice@localhost', problems);
    const b = await signedIn(browser, t, 'bob@localhost', problems);
    await a.page.getByRole('button', { name: /bob@localhost/ }).click();
    await b.page.getByRole('button', { name: /alice@localhost/ }).click();
    const aList = a.page.getByRole('list', { name: 'Messages' });
    const bList = b.page.getByRole('list', { name: 'Messages' });
    const bob = await t.connect('bob@localhost');
    await bob.send('alice@localhost', 'Can we ship today?');
    await bob.close();
    await aList.getByText('Can we ship today?', { exact: true }).waitFor();

    await a.page.getByRole('button', { name: 'Reply to: Can we ship today?' }).click();
    const replying = a.page.getByRole('group', { name: 'Replying to' });
    await expect(replying.textContent()).resolves.toContain('Can we ship today?');
    // The composer has the focus, and Escape cancels the reply.
    await a.page.keyboard.press('Escape');
    await replying.waitFor({ state: 'detached' });
    await a.page.getByRole('button', { name: 'Reply to: Can we ship today?' }).click();
    await a.page.keyboard.type('Agreed, ship it');
    await shot(a.page, 'web-client-reply-composer');
    await a.page.keyboard.press('Enter');
    await replying.waitFor({ state: 'detached' });

    // Bob's page: the reply with its quote; the fallback text ("> …") is not shown as the body.
    const reply = bList.getByRole('listitem').filter({ hasText: 'Agreed, ship it' });
    await reply.waitFor();
    const quote = reply.getByRole('button', { name: /In reply to\s*bob@localhost\s*:\s*Can we ship today\?/ });
    await quote.waitFor();
    await expect(reply.locator('.body').textContent()).resolves.toBe('Agreed, ship it');
    // A click brings the original into view and gives it the focus.
    await quote.click();
    await expect.poll(() => b.page.evaluate("document.activeElement?.querySelector('.body')?.textContent")).toBe('Can we ship today?');

    // An XMPP client (xmpp.js) answers Alice's question, naming it by the id its stanza carried (XEP-0461 §3).
    const x = client({ service: `xmpp://127.0.0.1:${t.server.xmpp!.ports.starttls}`, domain: 'localhost', resource: 'xmppjs', username: 'bob', password: 'pw-bob', timeout: 10_000 });
    const received: XmlElement[] = [];
    x.on('element', (el: XmlElement) => received.push(el));
    await x.start();
    await x.send(xml('presence'));
    await a.page.getByLabel('Message to bob@localhost').fill('Which release?');
    await a.page.getByLabel('Message to bob@localhost').press('Enter');
    await expect.poll(() => received.some((el) => el.is('message') && el.getChildText('body') === 'Which release?'), { timeout: 10_000 }).toBe(true);
    const question = received.find((el) => el.is('message') && el.getChildText('body') === 'Which release?')!;
    const fallback = '> Which release?\n';
    await x.send(
      xml(
        'message',
        { type: 'chat', to: 'alice@localhost', id: 'xmpp-reply-1' },
        xml('body', {}, `${fallback}The one on Friday`),
        xml('reply', { xmlns: 'urn:xmpp:reply:0', to: 'alice@localhost', id: String(question.attrs.id) }),
        xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' }, xml('body', { start: '0', end: String(fallback.length) })),
      ),
    );
    const xmppReply = aList.getByRole('listitem').filter({ hasText: 'The one on Friday' });
    await xmppReply.getByRole('button', { name: /In reply to\s*alice@localhost\s*:\s*Which release\?/ }).waitFor();
    await expect(xmppReply.locator('.body').textContent()).resolves.toBe('The one on Friday');
    await shot(a.page, 'web-client-replies');
    x.reconnect.stop();
    await x.stop().catch(() => undefined);

    for (const p of [a.page, b.page]) expect(await seriousViolations(p)).toEqual([]);
    await a.ctx.close();
    await b.ctx.close();
    expect(problems).toEqual([]);
  });

  it('read markers after a reload: a page opened after the other person read the conversation shows "Read"', async () => {
    const alice = await t.connect('alice@localhost');
    const bob = await t.connect('bob@localhost');
    const sent = await alice.send('bob@localhost', 'Read before the page was opened');
    await bob.waitFor('message', (d) => d.id === sent.id);
    await bob.request('message.receipt', { id: sent.id, kind: 'read' });
    await alice.close();
    await bob.close();
    const a = await signedIn(browser, t, 'alice@localhost', problems);
    await a.page.getByRole('button', { name: /bob@localhost/ }).click();
    const mine = a.page.getByRole('list', { name: 'Messages' }).getByRole('listitem').filter({ hasText: 'Read before the page was opened' });
    await mine.filter({ hasText: '· Read' }).waitFor();
    await shot(a.page, 'web-client-read-after-reload');
    await a.ctx.close();
  });
});
