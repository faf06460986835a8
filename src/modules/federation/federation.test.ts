/**
 * Federation end to end between Parley servers in one test, each with its own domain, s2s port and certificate
 * from a test CA made with openssl (test-pki.ts), found through `resolve` overrides:
 *
 * - alpha.test and beta.test trust the CA: their streams authenticate by SASL EXTERNAL (XEP-0178), and a JSON
 *   user on each chats with the other both ways; the audit log records the connection with its method, TLS and
 *   certificate; the links listing shows it.
 * - gamma.test and delta.test have certificates from a CA neither trusts: they fall back to dialback (XEP-0220)
 *   and chat both ways.
 * - The outsider policy, changed live through the admin settings API: `closed` refuses a send with
 *   policy-violation and an audit entry; `partners` admits only the listed domain; `restrictToGroups` lets only
 *   a shared group's members out; a recipient's server that closes refuses inbound with an audit entry.
 * - A peer that authenticates as its own domain and then forges a `from` of another domain is cut off with
 *   invalid-from, and nothing it sent is delivered, while the other servers' links go on; a stream authenticated
 *   for a domain carries nothing for its room domain; a failed EXTERNAL is a SASL failure and a spoofed dialback
 *   key is refused by the authoritative server.
 * - An unreachable server: the pair backs off (links show it), a JSON send meanwhile is refused with
 *   remote-server-not-found, and an XMPP sender gets its queued message back as that stanza error.
 * - An idle outgoing stream is closed and made again on the next stanza; a peer whose policy closed meanwhile
 *   refuses the new stream at authentication (policy-violation), and the pair backs off.
 * - A burst of messages on one stream from two senders is stored and delivered in each sender's order (the stream
 *   does not wait for each commit), and a refused message in between stops nothing.
 * - An XMPP user of beta.test in a room of alpha.test (over real streams both ways): the owner's moderated setting
 *   and voice changes reach it as presence with its new role, its no-store payload is refused while it is a
 *   visitor and otherwise delivered live to the local occupant and back to it, and is not stored.
 * - XEP-0368 direct TLS; the per-server rate limit paces a flood without holding up another server's message;
 *   `parley federation links` prints the running server's links.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { login, ParleyApiError } from '../../../client/index.js';
import { runCli } from '../../app/cli.js';
import { addUser } from '../../engine/admin-service.js';
import { RawXmpp } from '../../../test/xmpp-raw.js';
import { startServer, type TestServer } from '../../../test/harness.js';
import { makeCa, type TestCa } from './test-pki.js';
import { openRawS2s, startRawS2sPeer, streamHeader, type RawS2sPeer } from './test-raw-s2s.js';
import { freePort } from '../testing.js';

type Json = Record<string, unknown>;

let dir = '';
let trusted: TestCa;
let other: TestCa;
const servers: Record<string, TestServer> = {};
const ports: Record<string, number> = {};
const tokens: Record<string, string> = {};
/** closer.test: a scripted receiving server that closes its first two streams right after authenticating them. */
let closer: RawS2sPeer;

/** A Parley server for `domain`, its certificate from `ca`, trusting `trusted`, knowing where `peers` listen. */
async function parley(domain: string, ca: TestCa, peers: string[], extra: Record<string, string> = {}, idleSeconds = 300): Promise<TestServer> {
  const { certFile, keyFile } = ca.issue([domain, `conference.${domain}`]);
  const t = await startServer({
    server: { defaultDomain: domain } as never,
    modules: {
      federation: {
        enabled: true,
        listen: { host: '127.0.0.1', port: ports[domain] },
        tls: { certFile, keyFile },
        trust: { caFile: trusted.caFile },
        dialback: { secret: `dialback-secret-of-${domain}` },
        resolve: { ...Object.fromEntries(peers.flatMap((p) => [[p, `127.0.0.1:${ports[p]}`], [`conference.${p}`, `127.0.0.1:${ports[p]}`]])), ...extra },
        stanzasPerSecond: 100,
        timeouts: { idleSeconds },
        directTls: { host: '127.0.0.1', port: 0 },
        backoff: { initialSeconds: 0.2, maxSeconds: 1 },
        policy: { default: { mode: 'open' } },
      },
    } as never,
  });
  await addUser(t.server.store, `root@${domain}`, 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  tokens[domain] = (await login(t.url, `root@${domain}`, 'pw-root')).token;
  return t;
}

/** An HTTP call as the domain's administrator. */
async function call(domain: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${servers[domain]!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[domain]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Sets the domain's outsider policy live (docs/settings.md). */
async function setPolicy(domain: string, policy: Json): Promise<void> {
  const r = await call(domain, 'PUT', '/api/v1/admin/settings/federation', { values: { policy } });
  expect(r.status).toBe(200);
}

/** The domain's audit entries of `type`. */
async function audit(domain: string, type: string): Promise<Json[]> {
  const r = await call(domain, 'GET', '/api/v1/audit');
  expect(r.status).toBe(200);
  return (r.body['entries'] as Json[]).filter((e) => e['type'] === type);
}

async function until<T>(f: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-federation-'));
  trusted = makeCa(dir, 'trusted');
  other = makeCa(dir, 'other');
  for (const d of ['alpha.test', 'beta.test', 'gamma.test', 'delta.test']) ports[d] = await freePort();
  // nowhere.test: a port where nothing listens.
  // Unreachable servers on port 1 (tcpmux), where nothing listens: a port found free and let go could be taken by
  // another test's listener meanwhile (tests run in parallel), which would then answer.
  closer = await startRawS2sPeer({ domain: 'closer.test', ...trusted.issue(['closer.test']), closeAfterAuth: 2 });
  servers['alpha.test'] = await parley('alpha.test', trusted, ['beta.test'], { 'nowhere.test': '127.0.0.1:1', 'void.test': '127.0.0.1:1', 'closer.test': `127.0.0.1:${closer.port}` });
  servers['beta.test'] = await parley('beta.test', trusted, ['alpha.test']);
  // gamma.test closes its idle outgoing streams after two seconds.
  servers['gamma.test'] = await parley('gamma.test', other, ['delta.test'], {}, 2);
  servers['delta.test'] = await parley('delta.test', other, ['gamma.test']);
  await servers['alpha.test']!.users('alice@alpha.test', 'carol@alpha.test');
  await servers['beta.test']!.users('bob@beta.test');
  await servers['gamma.test']!.users('gina@gamma.test');
  await servers['delta.test']!.users('dan@delta.test');
}, 60_000);

afterAll(async () => {
  for (const t of Object.values(servers)) await t.close().catch(() => undefined);
  await closer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('federation between two Parley servers', () => {
  it('SASL EXTERNAL when both trust the CA: chat both ways, the connection audited and listed', async () => {
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    await alice.send('bob@beta.test', 'hello from alpha');
    const got = await bob.waitFor('message', (d) => d.body === 'hello from alpha', 15_000);
    expect(String(got.data.from)).toMatch(/^alice@alpha\.test/);
    await bob.send('alice@alpha.test', 'hello from beta');
    await alice.waitFor('message', (d) => d.body === 'hello from beta', 15_000);

    const conn = await audit('alpha.test', 'federation.connection');
    const out = conn.find((e) => (e['data'] as Json)['direction'] === 'out');
    expect(out).toMatchObject({ subject: 'beta.test', data: { auth: 'sasl-external', local: 'alpha.test', version: expect.stringMatching(/^TLSv1\.[23]$/), certificate: { trusted: true, namesDomain: true } } });
    expect(String(((out!['data'] as Json)['certificate'] as Json)['fingerprint'])).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const inbound = (await audit('beta.test', 'federation.connection')).find((e) => (e['data'] as Json)['direction'] === 'in');
    expect(inbound).toMatchObject({ subject: 'alpha.test', data: { auth: 'sasl-external', local: 'beta.test' } });

    const links = await call('alpha.test', 'GET', '/api/v1/federation/links');
    expect(links.status).toBe(200);
    const rows = links.body['links'] as Json[];
    expect(rows.find((l) => l['direction'] === 'out' && l['remote'] === 'beta.test')).toMatchObject({ state: 'ready', auth: 'sasl-external', stanzasOut: expect.any(Number) });
    expect(rows.find((l) => l['direction'] === 'in' && l['remote'] === 'beta.test')).toMatchObject({ state: 'ready', auth: 'sasl-external' });
    // The CLI reads the same listing from the running server.
    vi.stubEnv('PARLEY_STORAGE__SQLITE__PATH', join(servers['alpha.test']!.dir, 'parley.db'));
    vi.stubEnv('PARLEY_MODULES__FEDERATION__ENABLED', 'true');
    let printed = '';
    const code = await runCli(['federation', 'links', '--url', servers['alpha.test']!.url, '--token', tokens['alpha.test']!], { out: (x) => (printed += x), err: (x) => (printed += x) });
    vi.unstubAllEnvs();
    expect({ code, printed }).toMatchObject({ code: 0 });
    expect(printed).toMatch(/out alpha\.test -> beta\.test {2}ready {2}sasl-external/);
    // Plain users may not read the links.
    const { token } = await login(servers['alpha.test']!.url, 'alice@alpha.test', 'pw-alice');
    expect((await fetch(`${servers['alpha.test']!.url}/api/v1/federation/links`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  }, 60_000);

  it('dialback when the certificates cannot be validated: chat both ways', async () => {
    const gina = await servers['gamma.test']!.connect('gina@gamma.test');
    const dan = await servers['delta.test']!.connect('dan@delta.test');
    await gina.send('dan@delta.test', 'dialback hello');
    await dan.waitFor('message', (d) => d.body === 'dialback hello', 15_000);
    await dan.send('gina@gamma.test', 'dialback answer');
    await gina.waitFor('message', (d) => d.body === 'dialback answer', 15_000);
    const out = (await audit('gamma.test', 'federation.connection')).find((e) => (e['data'] as Json)['direction'] === 'out');
    expect(out).toMatchObject({ subject: 'delta.test', data: { auth: 'dialback', certificate: { trusted: false } } });
    const inbound = (await audit('delta.test', 'federation.connection')).find((e) => (e['data'] as Json)['direction'] === 'in');
    expect(inbound).toMatchObject({ subject: 'gamma.test', data: { auth: 'dialback' } });
  }, 60_000);

  it('an idle stream is closed and made again on demand; a peer that closes meanwhile refuses the new stream', async () => {
    const gina = await servers['gamma.test']!.connect('gina@gamma.test');
    const dan = await servers['delta.test']!.connect('dan@delta.test');
    await gina.send('dan@delta.test', 'before idle');
    await dan.waitFor('message', (d) => d.body === 'before idle', 15_000);
    const outLink = async (): Promise<Json | undefined> => ((await call('gamma.test', 'GET', '/api/v1/federation/links')).body['links'] as Json[]).find((l) => l['direction'] === 'out' && l['remote'] === 'delta.test');
    // Idle for two seconds: the stream is closed (the link shows idle) and delta.test's incoming side is gone.
    await until(async () => ((await outLink())?.['state'] === 'idle' ? true : undefined), 10_000);
    await until(async () => (((await call('delta.test', 'GET', '/api/v1/federation/links')).body['links'] as Json[]).some((l) => l['direction'] === 'in' && l['remote'] === 'gamma.test') ? undefined : true), 10_000);
    await gina.send('dan@delta.test', 'after idle');
    await dan.waitFor('message', (d) => d.body === 'after idle', 15_000);
    expect((await outLink())?.['state']).toBe('ready');
    // delta.test closes; once gamma.test's stream is idle again, the next one is refused at authentication.
    await setPolicy('delta.test', { default: { mode: 'closed' } });
    await until(async () => ((await outLink())?.['state'] === 'idle' ? true : undefined), 10_000);
    await gina.send('dan@delta.test', 'into a closed server');
    const failed = await until(async () => {
      const l = await outLink();
      return l?.['state'] === 'backoff' ? l : undefined;
    });
    expect(String(failed['lastError'])).toMatch(/refused dialback for gamma\.test: policy-violation/);
    const refused = await audit('delta.test', 'federation.refused');
    expect(refused.some((e) => e['subject'] === 'gamma.test' && /policy: federation is closed/.test(String((e['data'] as Json)['reason'])))).toBe(true);
    expect(dan.received('message').some((d) => d.body === 'into a closed server')).toBe(false);
    await setPolicy('delta.test', { default: { mode: 'open' } });
  }, 60_000);

  it('closed refuses a send with policy-violation and an audit entry; partners admits only the listed domain', async () => {
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    await setPolicy('alpha.test', { default: { mode: 'closed' } });
    const refused = await alice.send('bob@beta.test', 'must not leave').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ParleyApiError);
    expect((refused as ParleyApiError).code).toBe('policy-violation');
    const entries = await audit('alpha.test', 'federation.refused');
    expect(entries.some((e) => e['subject'] === 'beta.test' && (e['data'] as Json)['user'] === 'alice@alpha.test' && /closed/.test(String((e['data'] as Json)['reason'])))).toBe(true);

    await setPolicy('alpha.test', { default: { mode: 'partners', partners: ['gamma.test'] } });
    const notPartner = await alice.send('bob@beta.test', 'not a partner').catch((e: unknown) => e);
    expect((notPartner as ParleyApiError).code).toBe('policy-violation');
    expect((notPartner as ParleyApiError).message).toMatch(/beta\.test is not a partner/);

    await setPolicy('alpha.test', { default: { mode: 'partners', partners: ['beta.test'] } });
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    await alice.send('bob@beta.test', 'partners may talk');
    await bob.waitFor('message', (d) => d.body === 'partners may talk', 15_000);
    expect(bob.received('message').some((d) => d.body === 'must not leave' || d.body === 'not a partner')).toBe(false);
  }, 60_000);

  it('restrictToGroups: only the trading desk may talk to the partner', async () => {
    await servers['alpha.test']!.server.engine.admin.addGroupMember('trading-desk', 'alice@alpha.test');
    await setPolicy('alpha.test', { default: { mode: 'partners', partners: ['beta.test'], restrictToGroups: ['trading-desk'] } });
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    const carol = await servers['alpha.test']!.connect('carol@alpha.test');
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    await alice.send('bob@beta.test', 'from the desk');
    await bob.waitFor('message', (d) => d.body === 'from the desk', 15_000);
    const refused = await carol.send('bob@beta.test', 'not from the desk').catch((e: unknown) => e);
    expect((refused as ParleyApiError).code).toBe('policy-violation');
    expect((refused as ParleyApiError).message).toMatch(/trading-desk/);
  }, 60_000);

  it('inbound: a server that closes refuses what arrives (audited), and nothing is delivered', async () => {
    await setPolicy('alpha.test', { default: { mode: 'open' } });
    await setPolicy('beta.test', { default: { mode: 'closed' } });
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    await alice.send('bob@beta.test', 'into a closed domain');
    const entry = await until(async () => (await audit('beta.test', 'federation.refused')).find((e) => (e['data'] as Json)['direction'] === 'in' && e['subject'] === 'alpha.test'));
    expect(String((entry['data'] as Json)['reason'])).toMatch(/closed/);
    await new Promise((r) => setTimeout(r, 300));
    expect(bob.received('message').some((d) => d.body === 'into a closed domain')).toBe(false);
    await setPolicy('beta.test', { default: { mode: 'open' } });
  }, 60_000);

  it('a peer that forges from is cut off with invalid-from, and its stanza is not delivered', async () => {
    const { certFile, keyFile } = trusted.issue(['evil.test']);
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    const raw = await openRawS2s({ host: '127.0.0.1', port: ports['beta.test']!, from: 'evil.test', to: 'beta.test', caFile: trusted.caFile, certFile, keyFile });
    raw.send(`<message from="alice@alpha.test/x" to="bob@beta.test" type="chat" id="f1"><body>forged</body></message>`);
    await raw.waitFor(/<stream:error><invalid-from/);
    await raw.closed;
    const entries = await audit('beta.test', 'federation.refused');
    expect(entries.some((e) => e['subject'] === 'alpha.test' && /not authenticated on this stream/.test(String((e['data'] as Json)['reason'])))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(bob.received('message').some((d) => d.body === 'forged')).toBe(false);
    // The other servers' links are not affected.
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    await alice.send('bob@beta.test', 'still here');
    await bob.waitFor('message', (d) => d.body === 'still here', 15_000);
  }, 60_000);

  it('a peer that closes its stream right after authentication: the stanza waits for a new stream and arrives once', async () => {
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    await alice.send('someone@closer.test', 'through a closing door');
    // The first two streams close in the write that makes them ready (RFC 6120 §4.4); the third carries it.
    await until(async () => (closer.received().includes('through a closing door') ? true : undefined));
    expect(closer.streams).toHaveLength(3);
    expect(closer.streams[2]!.received()).toContain('through a closing door');
    expect(closer.received().split('through a closing door')).toHaveLength(2);
    // The peer closes the open stream now; what is sent after its closing tag goes over a new stream.
    closer.streams[2]!.send('</stream:stream>');
    await until(async () => {
      const links = (await call('alpha.test', 'GET', '/api/v1/federation/links')).body['links'] as Json[];
      return links.some((l) => l['remote'] === 'closer.test' && l['state'] === 'idle') ? true : undefined;
    });
    await alice.send('someone@closer.test', 'after the close');
    await until(async () => (closer.streams[3]?.received().includes('after the close') ? true : undefined));
    expect(closer.received().split('after the close')).toHaveLength(2);
  }, 60_000);

  it('an unreachable server: queued stanzas bounce, the pair backs off, and a send meanwhile is refused at once', async () => {
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    await alice.send('nobody@nowhere.test', 'into the void');
    const row = await until(async () => {
      const links = (await call('alpha.test', 'GET', '/api/v1/federation/links')).body['links'] as Json[];
      return links.find((l) => l['remote'] === 'nowhere.test' && l['state'] === 'backoff');
    });
    expect(String(row['lastError'])).toMatch(/cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const refused = await alice.send('nobody@nowhere.test', 'again').catch((e: unknown) => e);
    expect((refused as ParleyApiError).code).toBe('remote-server-not-found');
    expect((refused as ParleyApiError).message).toMatch(/next attempt in/);
    const entries = await audit('alpha.test', 'federation.refused');
    expect(entries.some((e) => e['subject'] === 'nowhere.test' && (e['data'] as Json)['direction'] === 'out')).toBe(true);
  }, 60_000);

  it('an XMPP sender gets a queued stanza back as remote-server-not-found when the server cannot be reached', async () => {
    const c = await RawXmpp.open(servers['alpha.test']!.server.xmpp!.ports.directTls!, true);
    await c.open('alpha.test');
    let at = c.text.length;
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0carol\0pw-carol').toString('base64')}</auth>`);
    await c.until(/<success/, 5000, at);
    await c.open('alpha.test');
    at = c.text.length;
    c.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`);
    await c.until(/<jid>/, 5000, at);
    c.write('<presence/>');
    at = c.text.length;
    c.write(`<message to='someone@void.test' type='chat' id='v1'><body>anyone there?</body></message>`);
    const m = await c.until(/<message[^>]*type="error"[^>]*>.*?<\/message>/, 15_000, at);
    expect(m[0]).toMatch(/from="someone@void\.test"/);
    expect(m[0]).toMatch(/id="v1"/);
    expect(m[0]).toMatch(/<remote-server-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    expect(m[0]).toMatch(/ECONNREFUSED/);
    c.write('</stream:stream>');
  }, 60_000);

  it('XEP-0368 direct TLS: no STARTTLS, EXTERNAL offered at once, and stanzas flow', async () => {
    const links = (await call('beta.test', 'GET', '/api/v1/federation/links')).body;
    const port = links['directTlsPort'] as number;
    expect(port).toBeGreaterThan(0);
    const { certFile, keyFile } = trusted.issue(['direct.test']);
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'beta.test', ALPNProtocols: ['xmpp-server'], cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), ca: readFileSync(trusted.caFile, 'utf8') });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    expect(socket.alpnProtocol).toBe('xmpp-server');
    socket.write(streamHeader('direct.test', 'beta.test'));
    await until(async () => (/<\/stream:features>/.test(text) ? true : undefined));
    expect(text).not.toMatch(/starttls/);
    expect(text).toMatch(/<mechanism>EXTERNAL<\/mechanism>/);
    socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    await until(async () => (/<success/.test(text) ? true : undefined));
    socket.write(streamHeader('direct.test', 'beta.test'));
    socket.write(`<message from="d@direct.test/x" to="bob@beta.test" type="chat" id="d1"><body>over direct TLS</body></message>`);
    await bob.waitFor('message', (d) => d.body === 'over direct TLS', 15_000);
    socket.end('</stream:stream>');
  }, 60_000);

  it('a remote server over its rate is read more slowly, every stanza still arrives, and other servers are not held up', async () => {
    const { certFile, keyFile } = trusted.issue(['flood.test']);
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    const alice = await servers['alpha.test']!.connect('alice@alpha.test');
    const raw = await openRawS2s({ host: '127.0.0.1', port: ports['beta.test']!, from: 'flood.test', to: 'beta.test', caFile: trusted.caFile, certFile, keyFile });
    const started = Date.now();
    const N = 300;
    for (let i = 0; i < N; i += 10) {
      let batch = '';
      for (let j = i; j < i + 10; j++) batch += `<message from="f@flood.test/x" to="bob@beta.test" type="chat" id="m${j}"><body>flood ${j}</body></message>`;
      raw.send(batch);
      await new Promise((r) => setTimeout(r, 5));
    }
    // While the flood is paced (100 stanzas a second), another server's message gets through at once.
    const t0 = Date.now();
    await alice.send('bob@beta.test', 'not held up');
    await bob.waitFor('message', (d) => d.body === 'not held up', 15_000);
    expect(Date.now() - t0).toBeLessThan(1500);
    await bob.waitFor('message', (d) => d.body === `flood ${N - 1}`, 20_000);
    // 300 stanzas at 100 a second with a burst of 100: at least two seconds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
    expect(bob.received('message').filter((d) => /^flood /.test(String(d.body))).length).toBe(N);
  }, 60_000);

  it('a burst on one stream: each sender\'s messages are stored and delivered in the order sent, a refusal in between stops nothing', async () => {
    const { certFile, keyFile } = trusted.issue(['burst.test']);
    const bob = await servers['beta.test']!.connect('bob@beta.test');
    const raw = await openRawS2s({ host: '127.0.0.1', port: ports['beta.test']!, from: 'burst.test', to: 'beta.test', caFile: trusted.caFile, certFile, keyFile });
    // 60 stanzas in one write (within the rate's burst): two senders interleaved, and one message for an account
    // that does not exist in the middle (refused, RFC 6121 §8.5.1; its error goes back to burst.test).
    let batch = '';
    for (let i = 0; i < 60; i++) {
      const to = i === 30 ? 'nobody@beta.test' : 'bob@beta.test';
      batch += `<message from="${i % 2 === 0 ? 'p' : 'q'}@burst.test/x" to="${to}" type="chat" id="b${i}"><body>burst ${i}</body></message>`;
    }
    raw.send(batch);
    await bob.waitFor('message', (d) => d.body === 'burst 59', 15_000);
    await bob.waitFor('message', (d) => d.body === 'burst 58', 15_000);
    for (const sender of ['p', 'q']) {
      const live = bob.received('message').filter((d) => String(d.from).startsWith(`${sender}@burst.test`)).map((d) => Number(String(d.body).slice(6)));
      const sent = [...Array(60).keys()].filter((i) => i !== 30 && (i % 2 === 0) === (sender === 'p'));
      expect(live).toEqual(sent);
      const page = await bob.request<{ messages: Array<{ body: string; seq: number }> }>('history', { with: `${sender}@burst.test`, limit: 100 });
      expect(page.messages.map((m) => Number(m.body.slice(6)))).toEqual(sent);
    }
    raw.close();
  }, 60_000);

  it('each domain pair authenticates on its own: a stream for beta.test may not carry stanzas to its room domain', async () => {
    const { certFile, keyFile } = trusted.issue(['evil2.test']);
    const raw = await openRawS2s({ host: '127.0.0.1', port: ports['beta.test']!, from: 'evil2.test', to: 'beta.test', caFile: trusted.caFile, certFile, keyFile });
    raw.send(`<presence from="mallory@evil2.test/x" to="room@conference.beta.test/mallory"/>`);
    await raw.waitFor(/<stream:error><invalid-from/);
    await raw.closed;
  }, 60_000);

  it('EXTERNAL that fails gets a SASL failure and the stream stays; spoofed dialback for another domain is invalid', async () => {
    // A certificate the CA issued for evil3.test, used to claim alpha.test.
    const { certFile, keyFile } = trusted.issue(['evil3.test']);
    const raw = await openRawS2s({ host: '127.0.0.1', port: ports['beta.test']!, from: 'alpha.test', to: 'beta.test', caFile: trusted.caFile, certFile, keyFile, auth: 'none' });
    raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from('alpha.test').toString('base64')}</auth>`);
    await raw.waitFor(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized\/>/);
    expect(raw.received()).not.toMatch(/<stream:error/);
    // Dialback with a made-up key: beta.test asks alpha.test (the authoritative server), which says invalid.
    raw.send(`<db:result from='alpha.test' to='beta.test'>${'ab'.repeat(32)}</db:result>`);
    await raw.waitFor(/<db:result[^>]*type="invalid"/);
    // Still not authenticated: a stanza from alpha.test cuts the stream.
    raw.send(`<message from="alice@alpha.test/x" to="bob@beta.test" type="chat"><body>spoofed</body></message>`);
    await raw.waitFor(/<stream:error><invalid-from/);
    await raw.closed;
    const refused = await audit('beta.test', 'federation.refused');
    expect(refused.some((e) => e['subject'] === 'alpha.test' && /SASL EXTERNAL/.test(String((e['data'] as Json)['reason'])))).toBe(true);
    expect(refused.some((e) => e['subject'] === 'alpha.test' && /key is invalid/.test(String((e['data'] as Json)['reason'])))).toBe(true);
  }, 60_000);
  it('a remote occupant of a Parley room: voice taken and given back, the moderated setting, its no-store payload live to all', async () => {
    const alpha = servers['alpha.test']!;
    const room = 'forum@conference.alpha.test';
    await alpha.server.engine.rooms.create('alice@alpha.test', 'Forum', 'forum', false);
    const a = await RawXmpp.online(alpha.server.xmpp!.ports.directTls!, 'alice@alpha.test', 'desk', 'alpha.test');
    const b = await RawXmpp.online(servers['beta.test']!.server.xmpp!.ports.directTls!, 'bob@beta.test', 'desk', 'beta.test');
    try {
      let at = a.text.length;
      a.write(`<presence to='${room}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await a.until(/<subject>Forum<\/subject>/, 5000, at);
      at = a.text.length;
      let bt = b.text.length;
      b.write(`<presence to='${room}/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await b.until(/<subject>Forum<\/subject>/, 15_000, bt);
      await a.until(new RegExp(`<presence[^>]*from="${room}/bob"`), 5000, at);
      const stanzaFrom = (from: string): RegExp => new RegExp(`<(?:presence|message)[^>]*from="${from}"[^>]*>.*?</(?:presence|message)>`, 's');
      const configure = (moderated: boolean): string =>
        `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_moderatedroom'><value>${moderated ? 1 : 0}</value></field></x></query>`;

      // The owner makes the room moderated: the remote occupant hears of it (XEP-0045 §10.2.1, status 104).
      bt = b.text.length;
      expect(await a.iq('set', configure(true), room)).toContain('type="result"');
      await b.until(/<status code="104"\/>/, 15_000, bt);
      // §8.4: voice taken. The remote occupant gets its own presence as a visitor, with 110.
      bt = b.text.length;
      expect(await a.iq('set', `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='bob' role='visitor'/></query>`, room)).toContain('type="result"');
      const revoked = (await b.until(stanzaFrom(`${room}/bob`), 15_000, bt))[0];
      expect(revoked).toMatch(/role="visitor"/);
      expect(revoked).toContain('<status code="110"/>');

      // A visitor's no-store payload is refused (§7.4) and delivered to no one.
      const reaction = (id: string): string =>
        `<message to='${room}' type='groupchat' id='${id}'><reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>+1</reaction></reactions><no-store xmlns='urn:xmpp:hints'/></message>`;
      bt = b.text.length;
      at = a.text.length;
      b.write(reaction('r1'));
      expect((await b.until(/<message[^>]*type="error"[^>]*>.*?<\/message>/s, 15_000, bt))[0]).toContain('<forbidden ');
      await a.sync();
      expect(a.text.slice(at)).not.toContain('id="r1"');

      // The room made unmoderated gives everyone voice (§5.1): the occupant is re-announced as a participant,
      // before the room says its configuration changed (104).
      bt = b.text.length;
      expect(await a.iq('set', configure(false), room)).toContain('type="result"');
      await b.until(/<status code="104"\/>/, 15_000, bt);
      expect(b.text.slice(bt)).toMatch(new RegExp(`from="${room}/bob"[^>]*>.*?role="participant".*?<status code="104"/>`, 's'));

      // XEP-0334 §4: now its no-store payload reaches the local occupant and comes back to it (§7.4), live, from
      // its room address, without a stanza-id (nothing archived), and is not in the room's history.
      bt = b.text.length;
      at = a.text.length;
      b.write(reaction('r2'));
      const got = (await a.until(/<message[^>]*id="r2"[^>]*>.*?<\/message>/s, 15_000, at))[0];
      expect(got).toContain(`from="${room}/bob"`);
      expect(got).toContain('<reaction>+1</reaction>');
      expect(got).not.toContain('stanza-id');
      const echo = (await b.until(/<message[^>]*id="r2"[^>]*>.*?<\/message>/s, 15_000, bt))[0];
      expect(echo).toContain(`from="${room}/bob"`);
      expect(echo).toContain('<reaction>+1</reaction>');
      expect((await alpha.server.engine.history('alice@alpha.test', { with: room })).messages).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  }, 60_000);
});
