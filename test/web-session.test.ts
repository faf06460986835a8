/** Web sessions over HTTP: the cookie login, CSRF on state-changing calls, the cookie on the JSON WebSocket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient } from '../client/index.js';
import { startServer, type TestServer } from './harness.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
  await t.users('alice@localhost');
});
afterAll(() => t.close());

async function webLogin(): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fetch(`${t.url}/api/v1/web/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'alice@localhost', password: 'pw-alice' }) });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = (await res.json()) as { address: string; csrf: string };
  expect(body.address).toBe('alice@localhost');
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, setCookie };
}

describe('web sessions', () => {
  it('the cookie is HttpOnly, SameSite=Strict, Secure on a loopback host, and holds no CSRF value in clear', async () => {
    const { setCookie, csrf, cookie } = await webLogin();
    expect(setCookie).toMatch(/^parley_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect(cookie.split('=')[1]).not.toBe(csrf);
  });

  it('GET works with the cookie alone; a POST needs the CSRF header of that session', async () => {
    const { cookie, csrf } = await webLogin();
    const who = (await (await fetch(`${t.url}/api/v1/web/session`, { headers: { cookie } })).json()) as { address: string; csrf: string };
    expect(who).toEqual({ address: 'alice@localhost', csrf, notices: [] });
    expect((await fetch(`${t.url}/api/v1/roster`, { headers: { cookie } })).status).toBe(200);

    const other = await webLogin();
    for (const header of [undefined, 'wrong', other.csrf]) {
      const res = await fetch(`${t.url}/api/v1/web/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...(header ? { 'x-parley-csrf': header } : {}) }, body: '{}' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    const out = await fetch(`${t.url}/api/v1/web/logout`, { method: 'POST', headers: { cookie, 'x-parley-csrf': csrf, 'content-type': 'application/json' }, body: '{}' });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^parley_session=; Max-Age=0/);
    // The token is revoked: the cookie no longer names anyone.
    expect(await (await fetch(`${t.url}/api/v1/web/session`, { headers: { cookie } })).json()).toEqual({ address: null });
    expect((await fetch(`${t.url}/api/v1/roster`, { headers: { cookie } })).status).toBe(401);
  });

  it('tells signed-in people what the modules want them told: nothing by default, that conversations are recorded when the archive is on', async () => {
    expect(((await webLogin().then(({ cookie }) => fetch(`${t.url}/api/v1/web/session`, { headers: { cookie } })).then((r) => r.json())) as { notices: string[] }).notices).toEqual([]);
    const archived = await startServer({ modules: { archive: { enabled: true } } });
    try {
      await archived.users('alice@localhost');
      const res = await fetch(`${archived.url}/api/v1/web/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'alice@localhost', password: 'pw-alice' }) });
      expect(((await res.json()) as { notices: string[] }).notices).toEqual(['Conversations on this server are recorded and kept for compliance.']);
    } finally {
      await archived.close();
    }
  });

  it('the JSON WebSocket takes the cookie with hello {cookie: true}, and refuses it when none came', async () => {
    const { cookie } = await webLogin();
    const c = await ParleyClient.connect({ url: t.wsUrl, cookie: true, wsOptions: { headers: { cookie } } });
    expect(c.hello.address).toBe('alice@localhost');
    await c.close();
    await expect(ParleyClient.connect({ url: t.wsUrl, cookie: true })).rejects.toMatchObject({ code: 'not-authorized' });
  });
});
