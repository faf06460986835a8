/**
 * SASL on the XMPP front door (RFC 6120 §6): SCRAM over STARTTLS and direct TLS, -PLUS with both channel
 * binding types (RFC 9266 tls-exporter on TLS 1.3, RFC 5929 tls-server-end-point on TLS 1.2), the RFC 5802 §6
 * downgrade check, and the same lockout as the JSON login; exchanges left unfinished lock nobody out.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient, login } from '../client/index.js';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
const open: RawXmpp[] = [];

async function conn(tls: boolean, tlsOptions = {}): Promise<RawXmpp> {
  const c = await RawXmpp.open(tls ? t.server.xmpp!.ports.directTls! : t.server.xmpp!.ports.starttls!, tls, tlsOptions);
  open.push(c);
  return c;
}
const local = (u: string): string => u.split('@')[0]!;

beforeAll(async () => {
  t = await startServer({ auth: { freeFailures: 0, lockAfter: 3, lockMinutes: 1, loginExchangeSeconds: 1 } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

describe('xmpp: SASL', () => {
  it('SCRAM-SHA-256 after STARTTLS on the plain port, then binds', async () => {
    const [u] = await freshUsers(t, 'sam');
    const c = await conn(false);
    await c.open();
    await c.starttls();
    await c.open();
    expect(c.text).toContain('<mechanism>SCRAM-SHA-256</mechanism>');
    expect(await c.scram('SCRAM-SHA-256', local(u!), `pw-${local(u!)}`)).toMatch(/^<success/);
    await c.open();
    c.write(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    await c.until(new RegExp(`<jid>${u}/[^<]+</jid>`));
  });

  it('SCRAM-SHA-256-PLUS with tls-exporter on TLS 1.3', async () => {
    const [u] = await freshUsers(t, 'plus');
    const c = await conn(true);
    await c.open();
    expect(c.tls!.getProtocol()).toBe('TLSv1.3');
    expect(c.text).toContain('<channel-binding type="tls-exporter"/>');
    const data = c.tls!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    expect(await c.scram('SCRAM-SHA-256-PLUS', local(u!), `pw-${local(u!)}`, { type: 'tls-exporter', data })).toMatch(/^<success/);
  });

  it('SCRAM-SHA-1-PLUS with tls-server-end-point on TLS 1.2 (no tls-exporter there)', async () => {
    const [u] = await freshUsers(t, 'plus12');
    const c = await conn(true, { maxVersion: 'TLSv1.2' });
    await c.open();
    expect(c.tls!.getProtocol()).toBe('TLSv1.2');
    expect(c.text).not.toContain('tls-exporter');
    const data = createHash('sha256').update(c.tls!.getPeerCertificate().raw).digest();
    expect(await c.scram('SCRAM-SHA-1-PLUS', local(u!), `pw-${local(u!)}`, { type: 'tls-server-end-point', data })).toMatch(/^<success/);
  });

  it('refuses channel binding data of another connection', async () => {
    const [u] = await freshUsers(t, 'mitm');
    const other = await conn(true);
    const c = await conn(true);
    await c.open();
    const data = other.tls!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    expect(await c.scram('SCRAM-SHA-256-PLUS', local(u!), `pw-${local(u!)}`, { type: 'tls-exporter', data })).toMatch(/<not-authorized\/>.*channel-bindings-dont-match/s);
  });

  it('refuses the "y" flag while -PLUS is offered (a downgrade), but not after the client tried -PLUS', async () => {
    const [u] = await freshUsers(t, 'why');
    const c = await conn(true);
    await c.open();
    expect(await c.scram('SCRAM-SHA-256', local(u!), `pw-${local(u!)}`, { flag: 'y' })).toMatch(/<not-authorized\/>.*server-does-support-channel-binding/s);
    const d = await conn(true);
    await d.open();
    // A client that knows only tls-unique (absent on TLS 1.3) tries it, fails, and falls back with "y".
    expect(await d.scram('SCRAM-SHA-256-PLUS', local(u!), `pw-${local(u!)}`, { type: 'tls-unique', data: Buffer.alloc(12) })).toMatch(/<not-authorized\/>/);
    expect(await d.scram('SCRAM-SHA-256', local(u!), `pw-${local(u!)}`, { flag: 'y' })).toMatch(/^<success/);
  });

  it('locks an account after repeated SCRAM failures, like the JSON login, and the lock holds for the right password', async () => {
    const [u] = await freshUsers(t, 'locked');
    for (let i = 0; i < 3; i++) {
      const c = await conn(true);
      await c.open();
      expect(await c.scram('SCRAM-SHA-256', local(u!), 'wrong password')).toMatch(/<not-authorized\/>/);
      c.close();
    }
    const c = await conn(true);
    await c.open();
    expect(await c.scram('SCRAM-SHA-256', local(u!), `pw-${local(u!)}`)).toMatch(/<temporary-auth-failure\/>.*locked/s);
    // The JSON login sees the same lock.
    await expect(t.connect(u!)).rejects.toThrow(/locked/);
  });
});

/** POST /api/v1/login from `localAddress`; resolves with the status. */
function httpLogin(address: string, password: string, localAddress: string): Promise<number> {
  const u = new URL('/api/v1/login', t.url);
  return new Promise((resolve, reject) => {
    const req = request({ method: 'POST', host: u.hostname, port: u.port, path: u.pathname, localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ address, password }));
  });
}

describe('xmpp: SCRAM exchanges left unfinished', () => {
  it('ten idle exchanges for a victim from one address lock nobody out, and fail after loginExchangeSeconds', async () => {
    const [victim] = await freshUsers(t, 'victim');
    // The attacker: ten streams that send the client-first-message for the victim and then go quiet.
    const idle = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = await conn(true);
        await c.open();
        return { c, answer: await c.scramFirst('SCRAM-SHA-256', local(victim!)) };
      }),
    );
    // One address holds at most lockAfter − 1 (2) of the account's attempts in flight; the others are refused.
    const held = idle.filter((x) => x.answer.startsWith('<challenge'));
    expect(held).toHaveLength(2);
    for (const x of idle.filter((y) => !y.answer.startsWith('<challenge'))) expect(x.answer).toMatch(/<temporary-auth-failure\/>/);

    // The victim, from another address, logs in over HTTP and over XMPP meanwhile.
    expect(await httpLogin(victim!, `pw-${local(victim!)}`, '127.0.0.2')).toBe(200);
    const v = await conn(true, { localAddress: '127.0.0.2' });
    await v.open();
    expect(await v.scram('SCRAM-SHA-256', local(victim!), `pw-${local(victim!)}`)).toMatch(/^<success/);

    // The idle exchanges fail on their streams once their time is up, and stop counting against the account.
    for (const { c } of held) await c.until(/<failure[^>]*><temporary-auth-failure\/><text[^>]*>the authentication exchange took too long/, 3000);
    const again = await conn(true);
    await again.open();
    expect(await again.scram('SCRAM-SHA-256', local(victim!), `pw-${local(victim!)}`)).toMatch(/^<success/);
  });
});

describe('password change (XEP-0077 §3.3)', () => {
  it('ends the account’s other sessions on both front doors; the changing stream stays; old tokens open nothing', async () => {
    const [u] = await freshUsers(t, 'changer');
    const name = local(u!);
    const { token: oldToken } = await login(t.url, u!, `pw-${name}`);
    const json = await t.connect(u!);
    const closing = json.waitFor('session.closing', () => true, 5000);
    const other = await conn(true);
    await other.login(u!, `pw-${name}`, 'other');
    const me = await conn(true);
    await me.login(u!, `pw-${name}`, 'me');

    const from = me.text.length;
    me.write(`<iq type='set' id='pw1'><query xmlns='jabber:iq:register'><username>${name}</username><password>brand-new-secret</password></query></iq>`);
    await me.until(/<iq[^>]*id="pw1"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="pw1"/, 5000, from);

    expect((await closing).data.code).toBe('not-authorized');
    await json.closed;
    await other.until(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await other.untilClosed();
    // The stream that changed the password goes on.
    const ping = me.text.length;
    me.write(`<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await me.until(/id="ping1"/, 5000, ping);
    expect(me.closed).toBe(false);
    // A token issued before the change opens no session; the new password does.
    await expect(ParleyClient.connect({ url: t.wsUrl, token: oldToken })).rejects.toMatchObject({ code: 'not-authorized' });
    const fresh = await ParleyClient.connect({ url: t.wsUrl, address: u!, password: 'brand-new-secret' });
    expect(fresh.hello.address).toBe(u);
    await fresh.close();
  });
});
