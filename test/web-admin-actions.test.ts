/**
 * The admin console's actions in a real browser (Debian's chromium driven by playwright-core) against a real
 * server with the compliance archive on, each checked on the server through the HTTP API too, not only on the
 * page: an administrator resets a password (the new one signs in, the old one is refused), makes a user an
 * administrator and takes it back (the console follows), and ends all of a user's sessions (a JSON client and a
 * web page); a compliance officer places and releases legal holds, sets retention (a policy the server refuses
 * is said at its field) and adds and removes a supervision lexicon; a supervision reviewer works a queue of
 * messages the lexicon flagged, marking one reviewed and escalating another. axe-core finds no serious fault.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApiError } from '../client/admin.js';
import { login, ParleyClient } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { startServer, type TestServer } from './harness.js';
import { CHROMIUM, PHONE, archiveRole, consoleRig, type ConsoleRig } from './web-admin-rig.js';

let t: TestServer;
let browser: Browser;
let rig: ConsoleRig;

/** The HTTP status of a password login (RFC 6749-style token endpoint of the JSON API). */
const loginStatus = (address: string, password: string): Promise<number> =>
  fetch(`${t.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, password }) }).then((r) => r.status);

/** The HTTP status an SDK call ends with (200 when it succeeds). */
const statusOf = (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: unknown) => (e instanceof AdminApiError ? e.status : -1));

/** Records every text the web client's connection status shows from now on (the status changes quickly). */
async function watchLink(page: Page): Promise<void> {
  // A string, evaluated in the page (Node's types have no DOM); outside the page's CSP, like axe's.
  await page.evaluate(`(() => {
    const el = document.querySelector('.topbar [role="status"]');
    const seen = [el.textContent];
    window.linkSeen = seen;
    new MutationObserver(() => seen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  })()`);
}

/** The texts the status showed since watchLink. */
const linkSeen = (page: Page): Promise<string[]> => page.evaluate('window.linkSeen') as Promise<string[]>;

beforeAll(async () => {
  // A configured floor for retention: no policy may keep message content for less than a week.
  t = await startServer({ modules: { archive: { enabled: true, retention: { minimumDays: 7, defaultMaxDays: null, runHours: 0 } } } });
  rig = consoleRig(t, () => browser);
  await addUser(t.server.store, 'boss@localhost', 'pw-boss', { admin: true, iterations: 4096, now: Date.now() });
  await t.users('alice@localhost', 'bob@localhost', 'carl@localhost', 'dave@localhost', 'erin@localhost', 'olive@localhost', 'rita@localhost');
  await archiveRole(t, 'officer', 'olive@localhost');
  await archiveRole(t, 'reviewer', 'rita@localhost');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('the admin console\'s actions', { timeout: 90_000 }, () => {
  it('an administrator resets a password: the new one signs in to the client, the old one is refused', async () => {
    const before = await t.connect('carl@localhost', { resource: 'phone' });
    const { ctx, page } = await rig.signedIn('boss@localhost');
    await page.goto(`${t.url}/admin/users/carl@localhost`);
    await page.getByRole('heading', { level: 1, name: 'carl@localhost' }).waitFor();
    await page.getByLabel('New password').fill('carl-2nd-secret');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('status').filter({ hasText: 'New password set for carl@localhost.' }).waitFor();
    // The form is emptied, so the password does not linger on the page.
    await expect(page.getByLabel('New password').inputValue()).resolves.toBe('');
    // A password change ends the sessions it made stale (docs/SECURITY.md).
    await expect(before.closed).resolves.toMatchObject({ code: expect.any(Number) });
    expect(await loginStatus('carl@localhost', 'pw-carl')).toBe(401);
    expect(await loginStatus('carl@localhost', 'carl-2nd-secret')).toBe(200);

    const fresh = await rig.signedIn('carl@localhost', { path: '/', password: 'carl-2nd-secret' });
    await fresh.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await fresh.ctx.close();
    const stale = await browser.newContext();
    const old = await stale.newPage();
    await old.goto(`${t.url}/`);
    await old.getByLabel('Address').fill('carl@localhost');
    await old.getByLabel('Password').fill('pw-carl');
    await old.getByRole('button', { name: 'Sign in' }).click();
    await expect(old.getByRole('alert').textContent()).resolves.toMatch(/password|not authori[sz]ed/i);
    await expect(old.getByRole('button', { name: 'Sign in' }).count()).resolves.toBe(1);
    await stale.close();
    await ctx.close();
  });

  it('an administrator whose password is reset is signed out of the console at its next call', async () => {
    await addUser(t.server.store, 'fay@localhost', 'pw-fay', { admin: true, iterations: 4096, now: Date.now() });
    const fay = await rig.signedIn('fay@localhost');
    await fay.page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    const faySdk = await rig.sdkFor('fay@localhost');
    const { ctx, page } = await rig.signedIn('boss@localhost');
    await page.goto(`${t.url}/admin/users/fay@localhost`);
    await page.getByLabel('New password').fill('fay-new-secret');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('status').filter({ hasText: 'New password set for fay@localhost.' }).waitFor();
    // Every token of hers was revoked, the web session's too.
    expect(await statusOf(faySdk.me())).toBe(401);
    // Her open console finds out at its next call and asks her to sign in again.
    await fay.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Domains', exact: true }).click();
    await fay.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await fay.page.getByLabel('Address').fill('fay@localhost');
    await fay.page.getByLabel('Password').fill('fay-new-secret');
    await fay.page.getByRole('button', { name: 'Sign in' }).click();
    await fay.page.getByRole('heading', { level: 1, name: 'Domains' }).waitFor();
    await fay.ctx.close();
    await ctx.close();
  });

  it('an administrator makes a user an administrator and takes it back: the user\'s console follows', async () => {
    const boss = await rig.sdkFor('boss@localhost');
    const { ctx, page } = await rig.signedIn('boss@localhost');
    await page.goto(`${t.url}/admin/users/dave@localhost`);
    const facts = page.locator('dl.facts');
    await expect(facts.textContent()).resolves.toContain('AdministratorNo');
    await page.getByRole('button', { name: 'Make administrator' }).click();
    await page.getByRole('status').filter({ hasText: 'dave@localhost is now an administrator.' }).waitFor();
    await page.getByRole('button', { name: 'Revoke administrator' }).waitFor();
    await expect(facts.textContent()).resolves.toContain('AdministratorYes');
    expect((await boss.getUser('dave@localhost')).admin).toBe(true);

    const dave = await rig.signedIn('dave@localhost');
    await dave.page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    expect(await dave.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users', exact: true }).count()).toBe(1);
    const daveSdk = await rig.sdkFor('dave@localhost');
    expect(await statusOf(daveSdk.listUsers({}))).toBe(200);

    await page.getByRole('button', { name: 'Revoke administrator' }).click();
    await page.getByRole('status').filter({ hasText: 'dave@localhost is no longer an administrator.' }).waitFor();
    await page.getByRole('button', { name: 'Make administrator' }).waitFor();
    expect((await boss.getUser('dave@localhost')).admin).toBe(false);
    // The rights are read from the store on every call, so the demotion counts at once.
    expect(await statusOf(daveSdk.listUsers({}))).toBe(403);
    // The console dave still has open follows at its next call: refused, it asks who dave is and shows "No access".
    await dave.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Domains', exact: true }).click();
    await dave.page.getByRole('heading', { level: 1, name: 'No access' }).waitFor();
    expect(await dave.page.getByRole('navigation', { name: 'Console' }).count()).toBe(0);
    await dave.page.reload();
    await dave.page.getByRole('heading', { level: 1, name: 'No access' }).waitFor();
    await dave.ctx.close();
    await ctx.close();
  });

  it('an administrator ends all of a user\'s sessions: a JSON client and a web page both end and must sign in again', async () => {
    const boss = await rig.sdkFor('boss@localhost');
    const { token: jsonToken } = await login(t.url, 'erin@localhost', 'pw-erin');
    const json = await ParleyClient.connect({ url: t.wsUrl, token: jsonToken, resource: 'desk' });
    const web = await rig.signedIn('erin@localhost', { path: '/' });
    await web.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    const resources = async (): Promise<string[]> => (await boss.getUser('erin@localhost')).sessions.map((s) => s.resource).sort();
    const live = await resources();
    expect(live).toHaveLength(2);
    expect(live).toContain('desk');
    const webResource = live.find((r) => r !== 'desk')!;
    expect(webResource).toMatch(/^web-/);
    await watchLink(web.page);

    const { ctx, page } = await rig.signedIn('boss@localhost');
    await page.goto(`${t.url}/admin/users/erin@localhost`);
    await page.getByRole('row').filter({ hasText: 'desk' }).waitFor();
    await page.getByRole('row').filter({ hasText: webResource }).waitFor();
    await page.getByRole('button', { name: 'End all sessions' }).click();
    await page.getByRole('status').filter({ hasText: 'Ended every session of erin@localhost.' }).waitFor();

    // The JSON client is closed by the server, and the page saw its connection drop.
    await json.closed;
    await expect.poll(() => linkSeen(web.page)).toContain('Reconnecting…');
    // Its session token was revoked with the sessions: the page does not sign straight back in with its cookie,
    // it shows the sign-in form and says why.
    await web.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await expect(web.page.locator('.signin').getByRole('status').textContent()).resolves.toMatch(/signed out on every device/);
    await rig.shot(web.page, 'web-client-signed-out-everywhere');
    const after = await resources();
    expect(after).not.toContain('desk');
    expect(after).not.toContain(webResource);
    // The old tokens are refused with a clear code: the page's cookie and the JSON client's token.
    const cookie = (await web.ctx.cookies()).find((c) => c.name === 'parley_session')!;
    const old = await fetch(`${t.url}/api/v1/conversations`, { headers: { cookie: `parley_session=${cookie.value}` } });
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ error: { code: 'not-authorized', message: expect.stringMatching(/revoked/) } });
    await expect(ParleyClient.connect({ url: t.wsUrl, token: jsonToken, resource: 'desk' })).rejects.toMatchObject({ code: 'not-authorized' });
    // The password still signs in, on the page and over the API.
    await web.page.getByLabel('Address').fill('erin@localhost');
    await web.page.getByLabel('Password').fill('pw-erin');
    await web.page.getByRole('button', { name: 'Sign in' }).click();
    await web.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    expect(await loginStatus('erin@localhost', 'pw-erin')).toBe(200);
    await ctx.close();
    await web.ctx.close();
  });

  it('a compliance officer places legal holds on a person and a room, sees them listed and releases one', async () => {
    const owner = await t.connect('bob@localhost', { resource: 'rooms' });
    const { room } = await owner.request<{ room: { address: string } }>('room.create', { name: 'Deal room' });
    const olive = await rig.sdkFor('olive@localhost');
    const { ctx, page } = await rig.signedIn('olive@localhost');
    await rig.open(page, 'Legal holds');
    await page.getByText('No holds.').waitFor();
    const place = async (kind: 'A person' | 'A room', who: string, reason: string): Promise<void> => {
      await page.getByLabel('On', { exact: true }).selectOption({ label: kind });
      await page.getByLabel('Address', { exact: true }).fill(who);
      await page.getByLabel('Reason', { exact: true }).fill(reason);
      await page.getByRole('button', { name: 'Place hold' }).click();
      await page.getByRole('status').filter({ hasText: `Placed a hold on ${who}.` }).waitFor();
    };
    // An address that is not one is refused inside the form, and nothing is held.
    await page.getByLabel('On', { exact: true }).selectOption({ label: 'A person' });
    await page.getByLabel('Address', { exact: true }).fill('not@an@address');
    await page.getByLabel('Reason', { exact: true }).fill('Matter 41');
    await page.getByRole('button', { name: 'Place hold' }).click();
    await expect(page.getByRole('form', { name: 'Place a hold' }).getByRole('alert').textContent()).resolves.toMatch(/forbidden character "@"/);
    expect((await olive.listHolds(true)).holds).toEqual([]);
    await place('A person', 'alice@localhost', 'Matter 42: supplier dispute');
    await place('A room', room.address, 'Matter 43: acquisition');
    const table = page.getByRole('table', { name: 'Legal holds' });
    const personRow = table.getByRole('row').filter({ hasText: 'person alice@localhost' });
    const roomRow = table.getByRole('row').filter({ hasText: `room ${room.address}` });
    await expect(personRow.textContent()).resolves.toMatch(/Matter 42: supplier dispute.*by olive@localhost.*Active/);
    await expect(roomRow.textContent()).resolves.toMatch(/Matter 43: acquisition.*Active/);
    // The form was emptied for the next hold.
    await expect(page.getByLabel('Reason', { exact: true }).inputValue()).resolves.toBe('');
    const held = (await olive.listHolds()).holds;
    expect(held.map((h) => h.scope)).toEqual(expect.arrayContaining([{ kind: 'person', address: 'alice@localhost' }, { kind: 'room', room: room.address }]));
    expect(held.every((h) => h.createdBy === 'olive@localhost' && h.releasedAt === null)).toBe(true);
    expect(await rig.axe(page)).toEqual([]);
    await rig.shot(page, 'web-admin-holds-desktop-light');

    // Release is confirmed first: cancelling changes nothing.
    await page.getByRole('button', { name: 'Release hold on person alice@localhost' }).click();
    const dialog = page.getByRole('dialog', { name: 'Release this hold?' });
    await expect(dialog.textContent()).resolves.toContain('Retention applies again to person alice@localhost');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await olive.listHolds()).holds).toHaveLength(2);
    await page.getByRole('button', { name: 'Release hold on person alice@localhost' }).click();
    await dialog.getByRole('button', { name: 'Release hold' }).click();
    await page.getByRole('status').filter({ hasText: 'Released the hold on person alice@localhost.' }).waitFor();
    await expect.poll(() => personRow.count()).toBe(0);
    await expect(roomRow.count()).resolves.toBe(1);
    const active = (await olive.listHolds()).holds;
    expect(active.map((h) => h.scope)).toEqual([{ kind: 'room', room: room.address }]);
    const released = (await olive.listHolds(true)).holds.find((h) => h.scope.kind === 'person')!;
    expect(released.releasedBy).toBe('olive@localhost');
    expect(released.releasedAt).toBeGreaterThan(0);
    // Released holds are still there to read.
    await page.getByLabel('Show released holds too').check();
    await expect(personRow.textContent()).resolves.toMatch(/Released .* by olive@localhost/);
    await owner.close();
    await ctx.close();
  });

  it('a compliance officer sets retention: a valid policy is saved and shown, an invalid one is refused at its field', async () => {
    const olive = await rig.sdkFor('olive@localhost');
    const { ctx, page } = await rig.signedIn('olive@localhost');
    await rig.open(page, 'Retention and lexicons');
    const policies = page.getByRole('list', { name: 'Retention policies' });
    await policies.getByText('No policies: the configured defaults apply.').waitFor();
    const set = async (scope: string, min: string, max: string): Promise<void> => {
      await page.getByLabel('Applies to', { exact: true }).first().selectOption('domain');
      await page.getByLabel('Domain or room address').fill(scope);
      await page.getByLabel('Keep at least (days)').fill(min);
      await page.getByLabel('Keep at most (days, empty: forever)').fill(max);
      await page.getByRole('button', { name: 'Set retention' }).click();
    };
    await set('localhost', '10', '30');
    await page.getByRole('status').filter({ hasText: 'Retention set for localhost.' }).waitFor();
    await policies.getByText('domain localhost: at least 10 days, at most 30 days').waitFor();
    await expect(policies.textContent()).resolves.toContain('by olive@localhost');
    expect((await olive.listRetention()).policies).toMatchObject([{ kind: 'domain', scope: 'localhost', minDays: 10, maxDays: 30, setBy: 'olive@localhost' }]);

    const max = page.getByLabel('Keep at most (days, empty: forever)');
    const maxError = page.locator('.field', { has: max }).getByRole('alert');
    // At most below at least.
    await set('localhost', '10', '5');
    // Said in the form's words (its labels), never by the API's keys (minDays, maxDays) or an option's name.
    await expect.poll(() => maxError.textContent()).toBe('"Keep at most" (5 days) is less than "Keep at least" (10 days)');
    await expect(max.getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(max.getAttribute('aria-describedby')).resolves.toBe('ret-max-error');
    expect(await rig.axe(page)).toEqual([]);
    await rig.shot(page, 'web-admin-retention-desktop-light');
    // Below the configured floor (modules.archive.retention.minimumDays: 7).
    await set('localhost', '0', '3');
    await expect.poll(() => maxError.textContent()).toBe('"Keep at most" (3 days) is below the shortest retention this server allows (7 days)');
    // Over the API, the field refused is named in `path` whichever check refused it (zod's or the policy's).
    const refusal = async (p: Promise<unknown>): Promise<{ status: number; path: ReadonlyArray<string | number> | null }> => {
      const e = await p.then(() => null, (x: unknown) => x);
      return e instanceof AdminApiError ? { status: e.status, path: e.path } : { status: 200, path: null };
    };
    expect(await refusal(olive.setRetention({ domain: 'localhost', minDays: -1, maxDays: 30 }))).toEqual({ status: 400, path: ['minDays'] });
    expect(await refusal(olive.setRetention({ domain: 'localhost', minDays: 3, maxDays: 2 }))).toEqual({ status: 400, path: ['maxDays'] });
    expect(await refusal(olive.setRetention({ domain: 'localhost', minDays: 0, maxDays: 6 }))).toEqual({ status: 406, path: ['maxDays'] });
    // The schema's refusal is worded by the field's label too, whatever number the form let through.
    const fraction = await olive.setRetention({ domain: 'localhost', minDays: 1.5, maxDays: 30 }).then(() => null, (x: unknown) => x);
    expect(fraction).toBeInstanceOf(AdminApiError);
    expect((fraction as AdminApiError).message).toContain('"Keep at least" must be a whole number of days, 0 or more');
    expect((fraction as AdminApiError).message).not.toMatch(/minDays|maxDays/);
    // Neither was saved.
    expect((await olive.listRetention()).policies).toMatchObject([{ scope: 'localhost', minDays: 10, maxDays: 30 }]);
    await expect(policies.getByRole('listitem').count()).resolves.toBe(1);
    // A valid one again clears the error at the field.
    await set('localhost', '7', '');
    await policies.getByText('domain localhost: at least 7 days, kept forever').waitFor();
    await expect(maxError.count()).resolves.toBe(0);
    await expect(max.getAttribute('aria-invalid')).resolves.toBeNull();
    expect((await olive.listRetention()).policies).toMatchObject([{ scope: 'localhost', minDays: 7, maxDays: null }]);
    await ctx.close();
  });

  it('a compliance officer adds a supervision lexicon and removes it after confirming', async () => {
    const olive = await rig.sdkFor('olive@localhost');
    const { ctx, page } = await rig.signedIn('olive@localhost');
    await rig.open(page, 'Retention and lexicons');
    const lexicons = page.getByRole('list', { name: 'Lexicons' });
    await lexicons.getByText('No lexicons.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Market abuse');
    await page.getByLabel('Words (one per line)').fill('guarantee\nfrontrun');
    await page.getByLabel('Phrases (one per line)').fill('keep this between us');
    await page.getByRole('button', { name: 'Add lexicon' }).click();
    await page.getByRole('status').filter({ hasText: 'Added the lexicon Market abuse.' }).waitFor();
    await lexicons.getByRole('listitem').filter({ hasText: 'Market abuse (everyone): guarantee, frontrun, "keep this between us"' }).waitFor();
    const stored = (await olive.listLexicons()).lexicons;
    expect(stored).toMatchObject([{ name: 'Market abuse', scope: { kind: 'all' }, terms: { words: ['guarantee', 'frontrun'], phrases: ['keep this between us'] } }]);
    expect(await rig.axe(page)).toEqual([]);

    // A pattern the server refuses (ReDoS-prone) is said, and nothing is added.
    await page.getByLabel('Name', { exact: true }).fill('Risky');
    await page.getByLabel('Patterns (regular expressions, one per line)').fill('(a+)+');
    await page.getByRole('button', { name: 'Add lexicon' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/\(a\+\)\+/);
    expect((await olive.listLexicons()).lexicons).toHaveLength(1);

    await page.getByRole('button', { name: 'Remove lexicon Market abuse' }).click();
    await page.getByRole('dialog', { name: 'Remove the lexicon Market abuse?' }).getByRole('button', { name: 'Remove lexicon' }).click();
    await page.getByRole('status').filter({ hasText: 'Removed the lexicon Market abuse.' }).waitFor();
    await lexicons.getByText('No lexicons.').waitFor();
    expect((await olive.listLexicons()).lexicons).toEqual([]);
    await ctx.close();
  });

  it('a reviewer works a queue of flagged messages: one marked reviewed, one escalated, each under its state', async () => {
    const olive = await rig.sdkFor('olive@localhost');
    const rita = await rig.sdkFor('rita@localhost');
    await olive.addLexicon({ name: 'Promises', words: ['guarantee', 'riskless'] });
    const alice = await t.connect('alice@localhost', { resource: 'desk' });
    await alice.send('bob@localhost', 'I guarantee the returns on this one');
    await alice.send('bob@localhost', 'Lunch at noon?');
    await alice.send('bob@localhost', 'It is completely riskless, trust me');
    // Flagging happens as the archive records the messages.
    await expect.poll(async () => (await rita.reviewQueue({ state: 'new' })).items.length, { timeout: 10_000 }).toBe(2);
    const queued = (await rita.reviewQueue({ state: 'new' })).items;

    const { ctx, page } = await rig.signedIn('rita@localhost');
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    const item = (text: string) => page.getByRole('article').filter({ hasText: text });
    await expect(item('I guarantee the returns').textContent()).resolves.toContain('Why: Promises: "guarantee"');
    await expect(item('completely riskless').textContent()).resolves.toContain('Why: Promises: "riskless"');
    await expect(page.getByText('Lunch at noon?').count()).resolves.toBe(0);
    expect(await rig.axe(page)).toEqual([]);
    await rig.shot(page, 'web-admin-review-desktop-light');

    const first = queued.find((i) => (i.entry ?? '').includes('guarantee'))!;
    const second = queued.find((i) => (i.entry ?? '').includes('riskless'))!;
    await page.getByLabel(`Comment on item ${first.id}`).fill('Sales talk, no promise made');
    await item('I guarantee the returns').getByRole('button', { name: 'Mark reviewed' }).click();
    await page.getByRole('status').filter({ hasText: `Item ${first.id} reviewed.` }).waitFor();
    await page.getByLabel(`Comment on item ${second.id}`).fill('Misleading claim to a client');
    await item('completely riskless').getByRole('button', { name: 'Escalate' }).click();
    await page.getByRole('status').filter({ hasText: `Item ${second.id} escalated.` }).waitFor();
    await page.getByText('Nothing to review.').waitFor();

    const show = page.getByLabel('Show');
    await show.selectOption('reviewed');
    await expect(item('I guarantee the returns').textContent()).resolves.toContain('rita@localhost');
    await expect(item('I guarantee the returns').textContent()).resolves.toContain('Sales talk, no promise made');
    await expect(page.getByRole('article').count()).resolves.toBe(1);
    await show.selectOption('escalated');
    await item('completely riskless').waitFor();
    await expect(item('completely riskless').textContent()).resolves.toContain('Misleading claim to a client');
    await expect(page.getByRole('article').count()).resolves.toBe(1);
    await show.selectOption('new');
    await page.getByText('Nothing to review.').waitFor();

    const reviewed = (await rita.reviewQueue({ state: 'reviewed' })).items;
    const escalated = (await rita.reviewQueue({ state: 'escalated' })).items;
    expect(reviewed).toMatchObject([{ id: first.id, state: 'reviewed', reviewer: 'rita@localhost', comment: 'Sales talk, no promise made' }]);
    expect(escalated).toMatchObject([{ id: second.id, state: 'escalated', reviewer: 'rita@localhost', comment: 'Misleading claim to a client' }]);
    expect((await rita.reviewQueue({ state: 'new' })).items).toEqual([]);
    await alice.close();
    await ctx.close();
  });

  it('the officer\'s and the reviewer\'s pages, with what the cases above left in them, pass axe at phone width in the dark theme', async () => {
    const olive = await rig.signedIn('olive@localhost', { viewport: PHONE, colorScheme: 'dark' });
    for (const menu of ['Legal holds', 'Retention and lexicons']) {
      await rig.open(olive.page, menu);
      await olive.page.getByText('Loading…').waitFor({ state: 'detached' }).catch(() => undefined);
      expect({ page: menu, violations: await rig.axe(olive.page) }).toEqual({ page: menu, violations: [] });
      // Nothing wider than the phone: wide tables scroll inside their own region, not the page.
      expect({ page: menu, overflow: await olive.page.evaluate('document.documentElement.scrollWidth - innerWidth') }).toEqual({ page: menu, overflow: 0 });
    }
    await rig.open(olive.page, 'Legal holds');
    await olive.page.getByRole('table', { name: 'Legal holds' }).getByRole('row').filter({ hasText: 'Matter 43' }).waitFor();
    await rig.shot(olive.page, 'web-admin-holds-phone-dark');
    await olive.ctx.close();
    const rita = await rig.signedIn('rita@localhost', { viewport: PHONE, colorScheme: 'dark' });
    await rita.page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    await rita.page.getByLabel('Show').selectOption('escalated');
    await rita.page.getByRole('article').filter({ hasText: 'completely riskless' }).waitFor();
    expect(await rig.axe(rita.page)).toEqual([]);
    await rig.shot(rita.page, 'web-admin-review-phone-dark');
    await rita.ctx.close();
  });

  it('left no console error or CSP violation on any page', () => {
    // The refusals the tests provoke on purpose are logged by the browser as failed loads.
    expect(rig.problems.filter((p) => !/status of (400|401|403|404|406)/.test(p))).toEqual([]);
  });
});
