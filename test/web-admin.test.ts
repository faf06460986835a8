/**
 * The admin console in a real browser: Debian's chromium driven by playwright-core against a real server (with
 * the compliance archive on) serving the built console at /admin. An administrator creates an account that then
 * signs in to the client, tightens the naming policy through the Policies form (a creation that breaks it is
 * refused with the rule's message; a bad pattern is refused next to its field), finds both in the audit log and
 * ends a session; a compliance officer (named with the archive's CLI) sees only the archive's pages, searches and
 * downloads an export; a plain user sees "no access" and is refused every administrator's, officer's and
 * reviewer's call of the SDK. axe-core finds no serious fault on any page; screenshots at desktop and phone
 * width, light and dark, go to dist/screenshots/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CALLS, AdminApiError, type AdminCallName } from '../client/admin.js';
import { addUser } from '../src/engine/admin-service.js';
import { makeCa } from '../src/modules/federation/test-pki.js';
import { startServer, type TestServer } from './harness.js';
import { CHROMIUM, PHONE, archiveRole, consoleRig, type ConsoleRig } from './web-admin-rig.js';

let t: TestServer;
let pki: string | undefined;
let browser: Browser;
let rig: ConsoleRig;
let problems: string[] = [];
const signedIn: ConsoleRig['signedIn'] = (...a) => rig.signedIn(...a);
const shot: ConsoleRig['shot'] = (...a) => rig.shot(...a);
const axe: ConsoleRig['axe'] = (...a) => rig.axe(...a);
const open: ConsoleRig['open'] = (...a) => rig.open(...a);
const sdkFor: ConsoleRig['sdkFor'] = (...a) => rig.sdkFor(...a);

beforeAll(async () => {
  // Federation on, so the health page lists links and Policies has the outsider policy; a partner whose server
  // cannot be reached (port 1, where nothing listens) gives a link in backoff.
  pki = mkdtempSync(join(tmpdir(), 'parley-admin-pki-'));
  const { certFile, keyFile } = makeCa(pki, 'admin').issue(['localhost', 'conference.localhost']);
  t = await startServer({
    modules: {
      archive: { enabled: true },
      apikeys: { enabled: true },
      federation: { enabled: true, listen: { host: '127.0.0.1', port: 0 }, tls: { certFile, keyFile }, resolve: { 'partner.example': '127.0.0.1:1' }, policy: { default: { mode: 'open' } } },
    } as never,
  });
  rig = consoleRig(t, () => browser);
  problems = rig.problems;
  await addUser(t.server.store, 'boss@localhost', 'pw-boss', { admin: true, iterations: 4096, now: Date.now() });
  await t.users('alice@localhost', 'bob@localhost', 'olive@localhost', 'rita@localhost');
  // The compliance officer and the reviewer are named by the operator with the archive's CLI.
  await archiveRole(t, 'officer', 'olive@localhost');
  await archiveRole(t, 'reviewer', 'rita@localhost');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  if (pki !== undefined) rmSync(pki, { recursive: true, force: true });
});

describe('the admin console', { timeout: 90_000 }, () => {
  it('is served at /admin and under it with the strict policy and no inline script', async () => {
    for (const path of ['/admin', '/admin/', '/admin/users/bob@localhost']) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      const html = await res.text();
      expect(html).toContain('<title>Parley admin</title>');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle=/);
    }
  });

  it('an administrator creates an account that then signs in to the client', async () => {
    const { ctx, page } = await signedIn('boss@localhost');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByLabel('Address', { exact: true }).fill('dana@localhost');
    await page.getByLabel('Password', { exact: true }).fill('pw-dana');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('table').getByRole('link', { name: 'dana@localhost' }).waitFor();
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-users-desktop-light');

    const dana = await signedIn('dana@localhost', { path: '/', password: 'pw-dana' });
    await dana.page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await dana.ctx.close();
    await ctx.close();
  });

  it('the naming policy changed in the Policies form refuses a new account with the rule\'s message; a bad pattern is shown at its field', async () => {
    const { ctx, page } = await signedIn('boss@localhost');
    await open(page, 'Policies');
    await page.getByRole('navigation', { name: 'Modules' }).getByRole('link', { name: /^Naming/ }).click();
    const form = page.getByRole('form', { name: 'Naming' });
    const defaults = form.getByRole('group', { name: 'Default' });
    await defaults.getByLabel('Blocked').fill('muscles');
    await form.getByRole('button', { name: 'Save naming settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved the naming settings.' }).waitFor();

    // The server validates: a pattern that does not compile is refused, and said next to its field.
    await defaults.getByLabel('Local pattern').fill('([a-z');
    await form.getByRole('button', { name: 'Save naming settings' }).click();
    const fieldError = defaults.locator('.field', { has: page.getByLabel('Local pattern') }).getByRole('alert');
    await expect(fieldError.textContent()).resolves.toMatch(/regular expression/);
    await expect(defaults.getByLabel('Local pattern').getAttribute('aria-invalid')).resolves.toBe('true');
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-policies-desktop-light');
    await form.getByRole('button', { name: 'Undo changes' }).click();

    await open(page, 'Users');
    await page.getByLabel('Address', { exact: true }).fill('bigmuscles@localhost');
    await page.getByLabel('Password', { exact: true }).fill('pw-big');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/blocked word "muscles"/);
    await ctx.close();
  });

  it('the audit log shows those changes, filtered by subject', async () => {
    const { ctx, page } = await signedIn('boss@localhost');
    await open(page, 'Audit log');
    const table = page.getByRole('table');
    await table.getByRole('row').filter({ hasText: 'dana@localhost' }).first().waitFor();
    await table.getByRole('row').filter({ hasText: 'naming' }).first().waitFor();
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-audit-desktop-light');
    await page.getByLabel('Subject').fill('dana@localhost');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(async () => (await table.getByRole('row').allTextContents()).slice(1).every((r) => r.includes('dana@localhost'))).toBe(true);
    await ctx.close();
  });

  it('ends a user\'s session from the user\'s page', async () => {
    const bob = await t.connect('bob@localhost', { resource: 'desk' });
    const { ctx, page } = await signedIn('boss@localhost');
    await page.goto(`${t.url}/admin/users/bob@localhost`);
    await page.getByRole('heading', { level: 1, name: 'bob@localhost' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'desk' });
    await expect(row.textContent()).resolves.toContain('JSON WebSocket');
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-user-desktop-light');
    await page.getByRole('button', { name: 'End session desk' }).click();
    await bob.closed;
    await page.getByText('No sessions.').waitFor();
    await ctx.close();
  });

  it('domains, shared groups and accounts are changed, and removals are confirmed first', async () => {
    const { ctx, page } = await signedIn('boss@localhost');
    await open(page, 'Domains');
    await page.getByLabel('Domain', { exact: true }).fill('branch.example');
    await page.getByRole('button', { name: 'Add domain' }).click();
    const domains = page.getByRole('list', { name: 'Hosted domains' });
    await domains.getByText('branch.example', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Remove branch.example' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove branch.example?' });
    await expect(dialog.textContent()).resolves.toContain('every account under it');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(domains.getByText('branch.example', { exact: true }).count()).resolves.toBe(1);
    await page.getByRole('button', { name: 'Remove branch.example' }).click();
    await dialog.getByRole('button', { name: 'Remove domain and its accounts' }).click();
    await expect.poll(() => domains.getByText('branch.example', { exact: true }).count()).toBe(0);

    await open(page, 'Shared groups');
    await page.getByLabel('Name', { exact: true }).fill('sales');
    await page.getByLabel('Display name', { exact: true }).fill('Sales');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByLabel('Add member to sales').fill('alice@localhost');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('list', { name: 'Members of sales' }).getByText('alice@localhost').waitFor();
    await page.getByLabel('Display name of sales').fill('Sales team');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('heading', { name: /Sales team/ }).waitFor();
    expect(await axe(page)).toEqual([]);
    await page.getByRole('button', { name: 'Delete group sales' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete group' }).click();
    await page.getByText('No shared groups yet.').waitFor();

    // A room's members with their roles, and the room destroyed with a reason.
    const owner = await t.connect('bob@localhost', { resource: 'rooms' });
    const { room } = await owner.request<{ room: { address: string } }>('room.create', { name: 'Launch plan' });
    await open(page, 'Rooms');
    await page.getByRole('link', { name: 'Launch plan' }).click();
    await page.getByRole('list', { name: 'Members of Launch plan' }).getByText('bob@localhost').waitFor();
    await expect(page.getByRole('list', { name: 'Members of Launch plan' }).textContent()).resolves.toContain('owner');
    expect(await axe(page)).toEqual([]);
    await page.getByRole('button', { name: 'Destroy room' }).click();
    const destroy = page.getByRole('dialog', { name: `Destroy ${room.address}?` });
    await destroy.getByLabel('Reason (told to the members)').fill('Project cancelled');
    await destroy.getByRole('button', { name: 'Destroy room' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'Launch plan' }).count()).toBe(0);
    await owner.close();

    // An account disabled, enabled again, then deleted after its confirmation.
    await t.users('erin@localhost');
    await page.goto(`${t.url}/admin/users/erin@localhost`);
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByRole('button', { name: 'Enable account' }).waitFor();
    await expect(fetch(`${t.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'erin@localhost', password: 'pw-erin' }) }).then((r) => r.status)).resolves.not.toBe(200);
    await page.getByRole('button', { name: 'Enable account' }).click();
    await page.getByRole('button', { name: 'Disable account' }).waitFor();
    await page.getByRole('button', { name: 'Delete account' }).click();
    await page.getByRole('dialog', { name: 'Delete erin@localhost?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await expect(page.getByRole('link', { name: 'erin@localhost' }).count()).resolves.toBe(0);
    await ctx.close();
  });

  it('every other page passes axe, and the usage and health pages draw their figures', async () => {
    // Some traffic of today for the charts.
    const alice = await t.connect('alice@localhost', { resource: 'laptop' });
    for (const text of ['Morning!', 'Stand-up in five', 'Notes are in the wiki']) await alice.send('bob@localhost', text);
    const { ctx, page } = await signedIn('boss@localhost');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    for (const [menu, heading] of [['Domains'], ['Shared groups'], ['Rooms'], ['Usage'], ['API keys and webhooks'], ['Health']] as Array<[string, string?]>) {
      await open(page, menu, heading);
      await page.getByText('Loading…').waitFor({ state: 'detached' }).catch(() => undefined);
      expect({ page: menu, violations: await axe(page) }).toEqual({ page: menu, violations: [] });
    }
    await open(page, 'Usage');
    await page.getByRole('img', { name: 'Messages per day' }).waitFor();
    await page.getByText('Figures: Messages per day').click();
    await expect(page.getByRole('figure', { name: 'Messages per day' }).getByRole('row').last().textContent()).resolves.toMatch(/^\d{4}-\d{2}-\d{2}3/);
    await page.getByText('Figures: Messages per day').click();
    await shot(page, 'web-admin-usage-desktop-light');
    // A new API key's token is shown once, and the key is listed.
    await open(page, 'API keys and webhooks');
    await page.getByLabel('Name', { exact: true }).fill('deploy');
    await page.getByLabel('presence:read').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await expect(page.locator('.secret code').textContent()).resolves.toMatch(/^pk_[0-9a-f]{16}_/);
    await page.getByRole('row').filter({ hasText: 'deploy' }).waitFor();
    // The webhooks module is off on this server: its section says so instead of failing.
    await page.getByText('The webhooks module is not enabled on this server.').waitFor();
    expect(await axe(page)).toEqual([]);
    await open(page, 'Health');
    await page.getByText(/Status:/).waitFor();
    // A message to a partner whose server cannot be reached: its link is listed, backing off, with the reason.
    await alice.send('someone@partner.example', 'hello partner').catch(() => undefined);
    const boss = await sdkFor('boss@localhost');
    await expect.poll(async () => (await boss.federationLinks()).links.some((l) => l.remote === 'partner.example' && l.state === 'backoff'), { timeout: 15_000 }).toBe(true);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const link = page.getByRole('region', { name: 'Federation links' }).getByRole('row').filter({ hasText: 'partner.example' });
    await link.waitFor();
    await expect(link.textContent()).resolves.toMatch(/outgoing.*localhost.*backoff.*ECONNREFUSED/);
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-health-federation');
    // The outsider policy is one of the Policies forms, generated from the federation module's schema.
    await open(page, 'Policies');
    await page.getByRole('navigation', { name: 'Modules' }).getByRole('link', { name: /^Federation/ }).click();
    const form = page.locator('form.settings');
    await form.getByRole('heading', { name: 'Federation' }).waitFor();
    expect(await axe(page)).toEqual([]);
    // Closed for every domain: saved, in effect at once, and a message to the partner is refused.
    await form.getByLabel('Mode').first().selectOption('closed');
    await shot(page, 'web-admin-policies-federation');
    await form.getByRole('button', { name: 'Save federation settings' }).click();
    await page.getByText('Saved the federation settings.').waitFor();
    const policyOf = async (): Promise<unknown> => ((await boss.listSettings()).modules.find((m) => m.module === 'federation')?.values as { policy?: { default?: { mode?: string } } }).policy?.default?.mode;
    await expect(policyOf()).resolves.toBe('closed');
    await expect(alice.send('someone@partner.example', 'still there?')).rejects.toMatchObject({ code: 'policy-violation' });
    await ctx.close();

    const phone = await signedIn('boss@localhost', { viewport: PHONE, colorScheme: 'dark' });
    await phone.page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    expect(await axe(phone.page)).toEqual([]);
    await shot(phone.page, 'web-admin-users-phone-dark');
    await open(phone.page, 'Usage');
    await phone.page.getByRole('img', { name: 'Messages per day' }).waitFor();
    expect(await axe(phone.page)).toEqual([]);
    await shot(phone.page, 'web-admin-usage-phone-dark');
    await phone.ctx.close();
    const dark = await signedIn('boss@localhost', { colorScheme: 'dark' });
    await open(dark.page, 'Policies');
    await dark.page.getByRole('navigation', { name: 'Modules' }).getByRole('link', { name: /^Naming/ }).click();
    expect(await axe(dark.page)).toEqual([]);
    await shot(dark.page, 'web-admin-policies-desktop-dark');
    await dark.ctx.close();
  });

  it('a compliance officer sees only the archive\'s pages, searches and downloads an export', async () => {
    const alice = await t.connect('alice@localhost');
    await alice.send('bob@localhost', 'The quarterly numbers are final');
    const { ctx, page } = await signedIn('olive@localhost');
    await page.getByRole('heading', { level: 1, name: 'Archive search' }).waitFor();
    const menu = await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();
    expect(menu).toEqual(['Archive search', 'Legal holds', 'Retention and lexicons']);
    await page.getByLabel('Keywords').fill('quarterly');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.getByRole('row').filter({ hasText: 'The quarterly numbers are final' });
    await hit.waitFor();
    await expect(hit.textContent()).resolves.toContain('alice@localhost');
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-archive-desktop-light');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download export' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^archive-export-\d+\.tar$/);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.length).toBeGreaterThan(1024);
    expect(bytes.toString('latin1')).toContain('The quarterly numbers are final');

    for (const menuItem of ['Legal holds', 'Retention and lexicons']) {
      await open(page, menuItem);
      expect({ page: menuItem, violations: await axe(page) }).toEqual({ page: menuItem, violations: [] });
    }
    // Pages it may not use are not there even by address: it lands on its own first page.
    await page.goto(`${t.url}/admin/users`);
    await page.getByRole('heading', { level: 1, name: 'Archive search' }).waitFor();
    await ctx.close();
  });

  it('a supervision reviewer sees only the review queue', async () => {
    const { ctx, page } = await signedIn('rita@localhost');
    await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents()).toEqual(['Review queue']);
    await page.getByText(/Nothing to review|Item \d+/).first().waitFor();
    expect(await axe(page)).toEqual([]);
    await ctx.close();
  });

  it('a plain user sees "no access" and is refused every call of the SDK that is not theirs', async () => {
    const { ctx, page } = await signedIn('alice@localhost');
    await page.getByRole('heading', { level: 1, name: 'No access' }).waitFor();
    expect(await axe(page)).toEqual([]);
    await shot(page, 'web-admin-no-access');
    const phone = await signedIn('alice@localhost', { viewport: PHONE, colorScheme: 'dark' });
    await phone.page.getByRole('heading', { level: 1, name: 'No access' }).waitFor();
    expect(await axe(phone.page)).toEqual([]);
    await phone.ctx.close();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await ctx.close();

    const sdk = await sdkFor('alice@localhost');
    await expect(sdk.me()).resolves.toMatchObject({ address: 'alice@localhost', admin: false, roles: [] });
    const params = { address: 'bob@localhost', resource: 'desk', domain: 'localhost', name: 'staff', user: 'bob@localhost', room: 'x@conference.localhost', module: 'naming', key: 'enabled', id: '1' };
    const refused: string[] = [];
    const names = Object.keys(ADMIN_CALLS) as AdminCallName[];
    for (const name of names) {
      const call = ADMIN_CALLS[name];
      if (call.role === 'signed-in' || call.role === 'public') continue;
      const status = await sdk.raw(name, { params, ...(call.method === 'GET' ? {} : { body: {} }) }).then(
        (r) => r.status,
        (e: unknown) => (e instanceof AdminApiError ? e.status : -1),
      );
      if (status === 403) refused.push(name);
      else problems.push(`${name} answered ${status} to a plain user`);
    }
    expect(refused.length).toBe(names.filter((n) => !['signed-in', 'public'].includes(ADMIN_CALLS[n].role)).length);
  });

  it('left no console error or CSP violation on any page', () => {
    // The refusals the tests provoke on purpose are logged by the browser as failed loads.
    expect(problems.filter((p) => !/status of (400|403|404)/.test(p))).toEqual([]);
  });
});
