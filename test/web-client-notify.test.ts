/**
 * Notifications of the presence platform (the notify module) and things' presence in the employee web client, in a
 * real browser (Debian's chromium) against a real server: a notification posted through the API arrives from
 * notify@localhost as a card with its severity, title, text and Acknowledge / Resolve buttons; acknowledging from
 * the page changes its state (and the server's), a resolution made elsewhere shows on the card; axe-core finds no
 * serious fault. A thing among the contacts (the presentities module) is listed with its kind, availability, status
 * and custom fields, and follows their changes.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { startServer, type TestServer } from './harness.js';
import { launchChromium, seriousViolations, shot, signedIn } from './web-browser.js';

let t: TestServer;
let browser: Browser;
let rootToken: string;
const problems: string[] = [];

beforeAll(async () => {
  t = await startServer({
    modules: { notify: { enabled: true, defaultPolicy: { steps: [{ delaySeconds: 300 }], repeats: 0 } }, apikeys: { enabled: true }, presentities: { enabled: true } } as never,
  });
  await t.users('alice@localhost', 'bob@localhost');
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  rootToken = (await login(t.url, 'root@localhost', 'pw-root')).token;
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** A request to the notify API as root. */
/** An HTTP call under /api/v1 with a bearer token. */
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.url}/api/v1/notify${path}`, {
    method,
    headers: { authorization: `Bearer ${rootToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('notifications in the web client', { timeout: 60_000 }, () => {
  it('a notification is a card with Acknowledge and Resolve; its state follows the page\'s action and others\'', async () => {
    const a = await signedIn(browser, t, 'alice@localhost', problems);
    const posted = await api('POST', '/notifications', {
      title: 'Database primary down',
      body: 'db-1 stopped answering.',
      severity: 'error',
      link: 'https://status.example.com/incidents/42',
      target: { type: 'person', address: 'alice@localhost' },
    });
    expect(posted.status).toBe(201);
    const id = (posted.json.notification as { id: number }).id;

    await a.page.getByRole('button', { name: /notify@localhost/ }).click();
    const card = a.page.getByRole('article', { name: 'Database primary down' });
    await card.waitFor();
    await expect(card.textContent()).resolves.toContain('db-1 stopped answering.');
    await expect(card.getByText('ERROR').count()).resolves.toBe(1);
    await expect(card.getByText('Open', { exact: true }).count()).resolves.toBe(1);
    await shot(a.page, 'web-client-notification');

    await card.getByRole('button', { name: 'Acknowledge: Database primary down' }).click();
    await card.getByText('Acknowledged by alice@localhost').waitFor();
    await expect(card.getByRole('button', { name: /Acknowledge:/ }).count()).resolves.toBe(0);
    const after = await api('GET', `/notifications/${id}`);
    expect((after.json.notification as { state: string; acknowledgedBy: string }).state).toBe('acknowledged');
    await expect(a.page.locator('[aria-live="polite"][aria-atomic="true"]').textContent()).resolves.toBe('Acknowledge: Database primary down is now acknowledged.');
    expect(await seriousViolations(a.page)).toEqual([]);

    // Resolved elsewhere (the API, as another client would): the card shows it once the service writes again.
    expect((await api('POST', `/notifications/${id}/resolve`)).status).toBe(200);
    await api('POST', '/notifications', { title: 'Disk almost full', severity: 'warning', target: { type: 'person', address: 'alice@localhost' } });
    await a.page.getByRole('article', { name: 'Disk almost full' }).waitFor();
    await card.getByText('Resolved by root@localhost').waitFor();
    await expect(card.getByRole('button').count()).resolves.toBe(0);
    await shot(a.page, 'web-client-notification-resolved');
    await a.ctx.close();
    expect(problems).toEqual([]);
  });

  it('a thing among the contacts shows its kind, availability, status and fields, and their changes', async () => {
    const session = (await login(t.url, 'bob@localhost', 'pw-bob')).token;
    const key = (await call('POST', '/apikeys/keys', session, { name: 'printers', scopes: ['presence:write:things'] })).json.token as string;
    const press = '/presentities/things/press-7@localhost';
    expect((await call('PUT', press, key, { kind: 'thing', fields: { temperature: 'number', state: 'string' } })).status).toBe(200);
    await call('POST', `${press}/presence`, key, { availability: 'dnd', status: 'printing', fields: { temperature: 81.5, state: 'fault' } });
    const bob = await t.connect('bob@localhost');
    await bob.request('roster.subscribe', { contact: 'press-7@localhost' });
    await bob.waitFor('presence', (d) => d.user === 'press-7@localhost');
    await bob.close();

    const b = await signedIn(browser, t, 'bob@localhost', problems);
    const entry = b.page.getByRole('button', { name: /press-7@localhost/ });
    await entry.getByText('Thing · Busy · printing · temperature 81.5, state fault').waitFor();
    // The list cuts a long line; the conversation's header shows it whole.
    await entry.click();
    await b.page.getByRole('main', { name: 'Conversation with press-7@localhost' }).getByText('Thing · Busy · printing · temperature 81.5, state fault').waitFor();
    await shot(b.page, 'web-client-things');
    await call('POST', `${press}/presence`, key, { availability: 'available', status: 'idle', fields: { temperature: 40, state: 'ok' } });
    await entry.getByText('Thing · Available · idle · temperature 40, state ok').waitFor();
    expect(await seriousViolations(b.page)).toEqual([]);
    await b.ctx.close();
    expect(problems).toEqual([]);
  });
});
