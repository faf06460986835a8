/**
 * Sharing files from the employee web client in a real browser (Debian's chromium) against a real server with the
 * files module and a private clamd (test/clamd.ts): an image attached with the button is uploaded with its progress
 * and previewed inline on the other page, in a box reserved at its size; a text file arrives as a download link with
 * its name and size, and the message carries the file as an XEP-0066 link in `xml`; a file dropped on the
 * conversation or pasted into the composer is shared the same way; a file too large, one the
 * scanner refuses and any file while the scanner is down are refused with a clear alert.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findClamd, INFECTED, TestClamd } from './clamd.js';
import { startServer, type TestServer } from './harness.js';
import { befriend, launchChromium, seriousViolations, shot, signedIn } from './web-browser.js';

const CLAMD = findClamd();
const MAX = 200_000;

/** A PNG of w×h pixels in two colours (RFC 2083: signature, IHDR, IDAT, IEND). */
function png(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  const rows: Buffer[] = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set(x < w / 2 ? [29, 78, 216] : [21, 128, 61], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

describe.skipIf(CLAMD === null)('sharing files from the web client (real clamd)', { timeout: 90_000 }, () => {
  let dir: string;
  let clamd: TestClamd;
  let t: TestServer;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-web-files-'));
    clamd = await TestClamd.start(CLAMD!, dir, '1M');
    t = await startServer({
      modules: { files: { enabled: true, directory: join(dir, 'files'), maxFileBytes: MAX, clamd: { socket: clamd.socket, timeoutMs: 5000, checkSeconds: 1 } } } as never,
    });
    await t.users('alice@localhost', 'bob@localhost');
    const [a, b] = [await t.connect('alice@localhost'), await t.connect('bob@localhost')];
    await befriend(a, b);
    await a.close();
    await b.close();
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await clamd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an image is previewed inline at its size, another file is a download link; refusals are shown', async () => {
    const a = await signedIn(browser, t, 'alice@localhost', problems);
    const b = await signedIn(browser, t, 'bob@localhost', problems);
    await a.page.getByRole('button', { name: /bob@localhost/ }).click();
    await b.page.getByRole('button', { name: /alice@localhost/ }).click();
    const bList = b.page.getByRole('list', { name: 'Messages' });

    // The attach button opens the file picker; the image goes up and is shown on both pages.
    const chooser = a.page.waitForEvent('filechooser');
    await a.page.getByRole('button', { name: /Attach a file/ }).click();
    await (await chooser).setFiles({ name: 'diagram.png', mimeType: 'image/png', buffer: png(480, 240) });
    const img = bList.getByRole('img', { name: 'diagram.png' });
    await img.waitFor();
    // Drawn at most 320 px wide, its box reserved from the message's metadata (XEP-0446) before it loads.
    await expect(img.getAttribute('width')).resolves.toBe('320');
    await expect(img.getAttribute('height')).resolves.toBe('160');
    await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(480);
    await shot(b.page, 'web-client-file-image');

    // A text file through the same picker: a download link with its name and size; the message carries it in `xml`.
    const bob = await t.connect('bob@localhost');
    await a.page.getByLabel('Message to bob@localhost').focus();
    await a.page.locator('input[type=file]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Minutes of the release meeting\n'.repeat(100)) });
    const link = bList.getByRole('link', { name: 'notes.txt (3 KB)' });
    await link.waitFor();
    const m = await bob.waitFor('message', (d) => typeof d.xml === 'string' && String(d.xml).includes('notes.txt'));
    expect(String(m.data.xml)).toContain('<x xmlns="jabber:x:oob"><url>');
    expect(m.data.body).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/files\/[^/]+\/notes\.txt$/);
    await expect(link.getAttribute('href')).resolves.toBe(m.data.body);
    await bob.close();

    // Dropped on the conversation, or pasted into the composer: shared the same way.
    const transfer = (name: string): string =>
      `(() => { const dt = new DataTransfer(); dt.items.add(new File(['${name} content'], '${name}', { type: 'text/plain' })); return dt; })()`;
    await a.page.locator('main.chat').dispatchEvent('drop', { dataTransfer: await a.page.evaluateHandle(transfer('dropped.txt')) });
    await bList.getByRole('link', { name: /^dropped\.txt/ }).waitFor();
    await a.page.evaluate(`document.getElementById('compose').dispatchEvent(new ClipboardEvent('paste', { clipboardData: ${transfer('pasted.txt')}, bubbles: true, cancelable: true }))`);
    await bList.getByRole('link', { name: /^pasted\.txt/ }).waitFor();

    // Refusals: too large (before any upload), the scanner's verdict, the scanner down.
    const input = a.page.locator('input[type=file]');
    const alert = a.page.locator('.composer [role=alert]');
    await input.setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MAX + 1) });
    await expect.poll(() => alert.textContent()).toBe('huge.bin: The file is too large: the limit is 200 KB.');
    await input.setInputFiles({ name: 'sample.txt', mimeType: 'text/plain', buffer: INFECTED });
    await expect.poll(() => alert.textContent()).toMatch(/^sample\.txt: The virus scanner refused this file/);
    await shot(a.page, 'web-client-file-refused');
    await clamd.stop();
    await input.setInputFiles({ name: 'later.txt', mimeType: 'text/plain', buffer: Buffer.from('later') });
    await expect.poll(() => alert.textContent(), { timeout: 15_000 }).toBe('later.txt: The virus scanner is not available, so the file was not accepted. Try again later.');

    for (const p of [a.page, b.page]) expect(await seriousViolations(p)).toEqual([]);
    await a.ctx.close();
    await b.ctx.close();
    // The refused PUTs are logged by the browser as failed requests; nothing else may be.
    expect(problems.filter((p) => !/status of (403|413|503)/.test(p))).toEqual([]);
  });
});
