/**
 * Hostile cases against authentication, on a server in its own process with the control pair chatting:
 *  - SCRAM exchanges that send their first message for a victim and go idle (an attempt to keep the victim
 *    out of login without ever failing a password);
 *  - a password changed with `parley user passwd` (another process) while sessions opened with the old
 *    password are online on both front doors.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParleyClient, login } from '../../client/index.js';
import { RawXmpp } from '../xmpp-raw.js';
import { expectControlHeld, killHostile, startControlPair, startHostile, type HostileServer } from './lib.js';

afterAll(killHostile);

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'parley.js');
/** The attacker's address and the legitimate user's: both loopback, distinct for the throttle. */
const ATTACKER = '127.0.0.1';
const ELSEWHERE = '127.0.0.2';

/** POST /api/v1/login from `localAddress`; resolves with the status and the error code, if any. */
function httpLogin(url: string, address: string, password: string, localAddress: string): Promise<{ status: number; code?: string }> {
  const u = new URL('/api/v1/login', url);
  return new Promise((resolve, reject) => {
    const req = request({ method: 'POST', host: u.hostname, port: u.port, path: u.pathname, localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        const body = JSON.parse(text) as { error?: { code: string } };
        resolve({ status: res.statusCode ?? 0, ...(body.error ? { code: body.error.code } : {}) });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ address, password }));
  });
}

/** A direct-TLS XMPP stream from `localAddress`, opened to localhost. */
async function xmpp(srv: HostileServer, localAddress = ATTACKER): Promise<RawXmpp> {
  const c = await RawXmpp.open(srv.xmppTlsPort, true, { localAddress });
  await c.open();
  return c;
}

/** `parley user passwd <address>` as the operator runs it: another process on the same database. */
function passwd(srv: HostileServer, address: string, password: string): Promise<number | null> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, { PARLEY_STORAGE__SQLITE__PATH: srv.dbPath, PARLEY_AUTH__SCRAM_ITERATIONS: '4096' });
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, 'user', 'passwd', address], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    p.on('error', reject);
    p.on('close', resolve);
    p.stdin.end(`${password}\n`);
  });
}

describe('hostile: authentication', () => {
  it('idle SCRAM exchanges for a victim keep nobody out, lapse on their own, and the control pair flows', async () => {
    const srv = await startHostile(['victim'], {
      PARLEY_AUTH__LOGIN_EXCHANGE_SECONDS: '2',
      // Small enough to show the total cap as well: one address cannot park unlimited exchanges either.
      PARLEY_AUTH__IP_MAX_IN_FLIGHT: '20',
    });
    const open: RawXmpp[] = [];
    try {
      const ctl = await startControlPair(srv.url);
      // 12 streams send the client-first-message for the victim and go quiet.
      const victimRuns = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const c = await xmpp(srv);
          open.push(c);
          return { c, answer: await c.scramFirst('SCRAM-SHA-256', 'victim') };
        }),
      );
      const held = victimRuns.filter((r) => r.answer.startsWith('<challenge'));
      // auth.ipAccountMaxInFlight (3): the rest of the burst is refused at once as a temporary failure.
      expect(held).toHaveLength(3);
      for (const r of victimRuns.filter((x) => !x.answer.startsWith('<challenge'))) expect(r.answer).toMatch(/<temporary-auth-failure\/>/);
      // 30 more for 30 other names: the address's total (20 with the 3 above) caps them.
      const others = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const c = await xmpp(srv);
          open.push(c);
          return c.scramFirst('SCRAM-SHA-256', `someone${i}`);
        }),
      );
      expect(others.filter((a) => a.startsWith('<challenge'))).toHaveLength(17);

      // Meanwhile the victim logs in from another address, over HTTP and over XMPP, without delay.
      const started = Date.now();
      expect(await httpLogin(srv.url, 'victim@localhost', 'pw-victim', ELSEWHERE)).toEqual({ status: 200 });
      const v = await xmpp(srv, ELSEWHERE);
      open.push(v);
      expect(await v.scram('SCRAM-SHA-256', 'victim', 'pw-victim')).toMatch(/^<success/);
      expect(Date.now() - started).toBeLessThan(1000);

      // The idle exchanges fail on their streams when their 2 s are up, and free the account and the address.
      for (const { c } of held) await c.until(/<temporary-auth-failure\/><text[^>]*>the authentication exchange took too long/, 4000);
      expect(await httpLogin(srv.url, 'victim@localhost', 'pw-victim', ATTACKER)).toEqual({ status: 200 });

      const s = await ctl.stop();
      expectControlHeld(s);
      expect(srv.peakRssMiB()).toBeLessThan(200);
    } finally {
      for (const c of open) c.close();
      await srv.stop();
    }
  });

  it('`parley user passwd` ends the sessions opened with the old password on both front doors within ~2 s', async () => {
    const srv = await startHostile(['pat']);
    const open: RawXmpp[] = [];
    try {
      const ctl = await startControlPair(srv.url);
      const wsUrl = `${srv.url.replace(/^http/, 'ws')}/ws`;
      const { token } = await login(srv.url, 'pat@localhost', 'pw-pat');
      const json = await ParleyClient.connect({ url: wsUrl, token, resource: 'desk' });
      const closing = json.waitFor('session.closing', () => true, 6000);
      const stream = await RawXmpp.open(srv.xmppTlsPort, true);
      open.push(stream);
      expect(await stream.login('pat@localhost', 'pw-pat', 'phone')).toBe('pat@localhost/phone');
      // Both sessions work before the change.
      expect(await json.request('ping')).toEqual({});

      expect(await passwd(srv, 'pat@localhost', 'changed-by-the-operator')).toBe(0);
      const changed = Date.now();
      expect((await closing).data).toMatchObject({ code: 'not-authorized', message: 'the password was changed' });
      await json.closed;
      await stream.until(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, 3000);
      await stream.untilClosed(1000);
      expect(Date.now() - changed).toBeLessThan(2500);

      // The token from before the change opens nothing; the new password does.
      await expect(ParleyClient.connect({ url: wsUrl, token })).rejects.toMatchObject({ code: 'not-authorized' });
      const again = await ParleyClient.connect({ url: wsUrl, address: 'pat@localhost', password: 'changed-by-the-operator' });
      await again.close();

      expectControlHeld(await ctl.stop());
    } finally {
      for (const c of open) c.close();
      await srv.stop();
    }
  });
});
