/**
 * `npm run bench:web`: the employee web client in Debian's chromium (playwright-core, headless) against this build
 * of the server (a child process, SQLite). One user, alice, has 200 contacts (200 conversations in her list) and a
 * conversation of 10,000 messages with bob (one in seven several lines long, so rows differ in height). Measures:
 *
 *   (a) list: from navigation (performance.now() of the page, 0 = navigation start) to a conversation list with
 *       its 200 conversations in the page, the page already signed in (its cookie);
 *   (b) scroll: the conversation opened at its newest message, then scrolled up with the mouse wheel through all
 *       10,000 messages (older pages load as the list nears its top); frames over 50 ms are the Long Animation
 *       Frame API's entries (PerformanceObserver 'long-animation-frame', each a frame that took over 50 ms),
 *       against all frames drawn (requestAnimationFrame callbacks).
 *
 * Prints one JSON line per run and a summary with medians.
 *
 *   npm run bench:web                 5 list runs, 3 scroll runs
 *   npm run bench:web -- 3 1          fewer
 */
import { rmSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { ParleyClient } from '../client/index.js';
import { seedDatabase, startServer } from './lib/server.js';
import { round } from './lib/stats.js';

const LIST_RUNS = Number(process.argv[2] ?? 5);
const SCROLL_RUNS = Number(process.argv[3] ?? 3);
const MESSAGES = 10_000;
/** Pixels per wheel step, one step a frame: a fast fling (about 60 rows a second at 60 frames a second would be 60 px). */
const WHEEL = Number(process.env.BENCH_WEB_WHEEL ?? 600);
const CONTACTS = 200;
const ENTRIES = 'nav[aria-label="Conversations"] > ul.conversations > li > button';
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A body of one to six lines. */
function body(i: number): string {
  if (i % 7 !== 0) return `Message ${i}`;
  return `Message ${i}\n${'A longer message that wraps over several lines in the conversation, as status reports do. '.repeat(1 + (i % 5))}`;
}

/** Scrolls the open conversation up to its first message; returns the frame counts. */
async function scrollThrough(page: Page): Promise<{ ms: number; frames: number; longFrames: number; longest: number; loafSupported: boolean }> {
  await page.evaluate(`(() => {
    window.bench = { frames: 0, long: [], on: true, supported: PerformanceObserver.supportedEntryTypes.includes('long-animation-frame') };
    window.bench.worst = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) {
      window.bench.long.push(e.duration);
      const s = [...(e.scripts || [])].sort((a, b) => b.duration - a.duration)[0];
      window.bench.worst.push({ d: Math.round(e.duration), render: Math.round(e.renderStart ? e.startTime + e.duration - e.renderStart : 0), style: Math.round(e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0), script: s ? s.invoker + ' ' + Math.round(s.duration) : '' });
    } }).observe({ type: 'long-animation-frame' });
    const tick = () => { if (!window.bench.on) return; window.bench.frames++; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  })()`);
  const box = (await page.locator('.scroller').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const t0 = Date.now();
  const first = page.locator('.messages .body').filter({ hasText: /^Message 1$/ });
  while ((await first.count()) === 0) {
    if (Date.now() - t0 > 600_000) throw new Error('did not reach the first message within 10 minutes');
    await page.mouse.wheel(0, -WHEEL);
    await page.waitForTimeout(16);
  }
  const ms = Date.now() - t0;
  await page.waitForTimeout(500); // the last frames' entries
  const r = (await page.evaluate('(() => { window.bench.on = false; return window.bench; })()')) as { frames: number; long: number[]; supported: boolean; worst: Array<Record<string, unknown>> };
  if (process.env.BENCH_WEB_DETAIL) console.error(JSON.stringify(r.worst.sort((a, b) => Number(b.d) - Number(a.d)).slice(0, 12)));
  return { ms, frames: r.frames, longFrames: r.long.filter((d) => d > 50).length, longest: round(Math.max(0, ...r.long), 1), loafSupported: r.supported };
}

async function main(): Promise<void> {
  const contacts = Array.from({ length: CONTACTS }, (_, i) => `c${String(i).padStart(3, '0')}`);
  const { dir, dbPath, users } = await seedDatabase({
    users: ['alice', 'bob', ...contacts],
    iterations: 4096,
    subscriptions: [['alice', 'bob'], ...contacts.map((c): [string, string] => ['alice', c])],
  });
  const server = await startServer({ dir, dbPath });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    // The conversation: bob's 10,000 messages, pipelined 200 at a time.
    const bob = await ParleyClient.connect({ url: server.wsUrl, token: users.get('bob')!.token, resource: 'fill', keepEvents: false });
    const fill0 = Date.now();
    for (let i = 1; i <= MESSAGES; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, MESSAGES - i + 1) }, (_, k) => bob.send(`alice@localhost`, body(i + k))));
    }
    await bob.close();
    console.error(`filled ${MESSAGES} messages in ${Date.now() - fill0} ms`);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(server.baseUrl);
    await page.getByLabel('Address').fill('alice@localhost');
    await page.getByLabel('Password').fill(users.get('alice')!.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();

    // The moment the list is complete, taken in the page by a mutation observer (installed before the app's
    // script runs, outside the page's CSP) rather than when this process notices.
    await page.addInitScript(`new MutationObserver((_, o) => {
      if (document.querySelectorAll('${ENTRIES}').length > ${CONTACTS}) { window.listReadyAt = performance.now(); o.disconnect(); }
    }).observe(document, { childList: true, subtree: true });`);
    const list: number[] = [];
    for (let run = 0; run < LIST_RUNS; run++) {
      await page.goto(server.baseUrl);
      await page.locator(ENTRIES).nth(CONTACTS).waitFor({ state: 'attached', timeout: 60_000 });
      const ms = (await page.evaluate('window.listReadyAt')) as number;
      list.push(round(ms, 1));
      console.log(JSON.stringify({ run, listReadyMs: round(ms, 1) }));
    }

    const scrolls: Array<Awaited<ReturnType<typeof scrollThrough>>> = [];
    for (let run = 0; run < SCROLL_RUNS; run++) {
      await page.goto(server.baseUrl);
      await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
      await page.getByRole('button', { name: /bob@localhost/ }).click();
      await page.locator('.messages .body').filter({ hasText: new RegExp(`^Message ${MESSAGES}$`) }).waitFor().catch(async (e: unknown) => {
        await page.screenshot({ path: 'bench-web-client-failure.png' });
        throw e;
      });
      await page.waitForTimeout(500);
      const r = await scrollThrough(page);
      scrolls.push(r);
      console.log(JSON.stringify({ run, scroll: r }));
    }
    console.log(
      JSON.stringify({
        summary: {
          listReadyMsMedian: median(list),
          scrollMsMedian: median(scrolls.map((s) => s.ms)),
          framesMedian: median(scrolls.map((s) => s.frames)),
          framesOver50msMedian: median(scrolls.map((s) => s.longFrames)),
          longestFrameMsMedian: median(scrolls.map((s) => s.longest)),
          longAnimationFrameApi: scrolls.every((s) => s.loafSupported),
        },
      }),
    );
  } finally {
    await browser.close();
    await server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
