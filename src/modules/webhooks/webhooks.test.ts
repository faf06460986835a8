/**
 * Webhooks in parts: the SSRF guard's ranges (IPv4-mapped and NAT64 forms included) and its allow-list, the
 * guard's lookup, signatures and their replay window, backoff and Retry-After, the client's reading of answers
 * over a real socket, and the storage area on both adapters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { retryAfterMs, WebhookClient } from './client.js';
import { embeddedIpv4, TargetGuard, TargetRefused } from './guard.js';
import { webhooks } from './index.js';
import { backoffMs, humanDuration } from './runner.js';
import { newSecret, signatureHeader, verifySignature } from './signature.js';
import { area, type WebhookRecord, type WebhooksArea } from './sqlite.js';

describe('the SSRF guard', () => {
  const strict = new TargetGuard({ allowPrivateTargets: false, allowCidrs: [] });

  it('refuses loopback, private, link-local, shared, unspecified, multicast and reserved addresses', () => {
    for (const a of [
      '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
      '100.127.255.255', '0.0.0.0', '224.0.0.1', '240.0.0.1', '255.255.255.255', '192.0.0.8', '198.18.0.1',
      '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fec0::1', 'ff02::1',
    ]) {
      expect(strict.refusal(a), a).not.toBeNull();
    }
  });

  it('judges IPv4-mapped and NAT64 IPv6 addresses by the IPv4 address they carry', () => {
    expect(embeddedIpv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(embeddedIpv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIpv4('0:0:0:0:0:ffff:a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIpv4('64:ff9b::10.0.0.1')).toBe('10.0.0.1');
    expect(embeddedIpv4('2001:db8::1')).toBeNull();
    for (const a of ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::a00:1', '::ffff:192.168.1.1']) expect(strict.refusal(a), a).toMatch(/embeds/);
    expect(strict.refusal('::ffff:8.8.8.8')).toBeNull();
  });

  it('lets public addresses through', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.253.1.1', '2606:4700::1111', '2001:4860:4860::8888']) expect(strict.refusal(a), a).toBeNull();
  });

  it('allows listed ranges only, or everything when told', () => {
    const some = new TargetGuard({ allowPrivateTargets: false, allowCidrs: ['10.1.2.0/24', 'fd00::/8', '127.0.0.2/32'] });
    expect(some.refusal('10.1.2.3')).toBeNull();
    expect(some.refusal('10.1.3.1')).not.toBeNull();
    expect(some.refusal('fd00::5')).toBeNull();
    expect(some.refusal('127.0.0.2')).toBeNull();
    expect(some.refusal('127.0.0.1')).not.toBeNull();
    expect(some.refusal('::ffff:10.1.2.3')).toBeNull();
    const all = new TargetGuard({ allowPrivateTargets: true, allowCidrs: [] });
    expect(all.refusal('127.0.0.1')).toBeNull();
    expect(() => new TargetGuard({ allowPrivateTargets: false, allowCidrs: ['10.0.0.0'] })).toThrow(/CIDR/);
  });

  it('refuses a host when any of its addresses is refused, and hands the lookup only checked addresses', async () => {
    const fake = ((host: string, _o: unknown, cb: (e: Error | null, a: Array<{ address: string; family: number }>) => void) => {
      cb(null, host === 'mixed.test' ? [{ address: '8.8.8.8', family: 4 }, { address: '10.0.0.1', family: 4 }] : [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800::1', family: 6 }]);
    }) as never;
    const g = new TargetGuard({ allowPrivateTargets: false, allowCidrs: [] }, fake);
    await expect(g.addresses('mixed.test')).rejects.toBeInstanceOf(TargetRefused);
    await expect(g.checkUrl('https://mixed.test/hook')).rejects.toMatchObject({ code: 'policy-violation' });
    await expect(g.checkUrl('https://public.test/hook')).resolves.toBeInstanceOf(URL);
    const one = await new Promise<[string, number]>((resolve, reject) => g.lookup('public.test', { family: 6 }, (e, a, f) => (e ? reject(e) : resolve([a as string, f as number]))));
    expect(one).toEqual(['2606:2800::1', 6]);
    const refused = await new Promise<unknown>((resolve) => g.lookup('mixed.test', {}, (e) => resolve(e)));
    expect(refused).toBeInstanceOf(TargetRefused);
    expect(() => g.checkLiteral('[::1]')).toThrow(TargetRefused);
    expect(() => g.checkLiteral('example.com')).not.toThrow();
  });

  it('takes http and https URLs only, without credentials', async () => {
    for (const u of ['ftp://x/', 'file:///etc/passwd', 'gopher://x/', 'data:text/plain,x']) await expect(strict.checkUrl(u)).rejects.toMatchObject({ code: 'bad-request', details: { issue: 'invalid_scheme' } });
    await expect(strict.checkUrl('http://u:p@8.8.8.8/')).rejects.toMatchObject({ code: 'bad-request', details: { issue: 'credentials' } });
  });
});

describe('signatures', () => {
  it('verify with the secret within the window, and not otherwise', () => {
    const secret = newSecret();
    const body = Buffer.from('{"id":"x"}');
    const now = 1_764_892_800_000;
    const h = signatureHeader(secret, body, now / 1000);
    expect(h).toMatch(/^t=1764892800,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, h, body, 300, now + 299_000)).toBe(true);
    expect(verifySignature(secret, h, body, 300, now + 301_000)).toBe(false);
    expect(verifySignature(newSecret(), h, body, 300, now)).toBe(false);
    expect(verifySignature(secret, h, Buffer.from('{"id":"y"}'), 300, now)).toBe(false);
    // A second v1 (during a change of secret) is accepted when one matches.
    expect(verifySignature(secret, `${h},v1=${'0'.repeat(64)}`, body, 300, now)).toBe(true);
    expect(verifySignature(secret, 'garbage', body, 300, now)).toBe(false);
  });
});

describe('retries', () => {
  it('back off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(1000, 1000, 60_000, () => 0.5)).toBe(45_000);
  });

  it('read Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', Date.parse('2026-01-01T00:00:00Z'))).toBe(60_000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });

  it('name durations for reasons', () => {
    expect(humanDuration(40_000)).toBe('40 s');
    expect(humanDuration(12 * 60_000)).toBe('12 min');
    expect(humanDuration(3_600_000)).toBe('1 h');
  });
});

describe('the client', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/429') res.writeHead(429, { 'retry-after': '7' }).end();
        else if (req.url === '/404') res.writeHead(404).end('no');
        else if (req.url === '/big') res.writeHead(200).end(Buffer.alloc(1 << 20));
        else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 2000);
        else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (allow = true, timeoutMs = 500) => new WebhookClient(new TargetGuard({ allowPrivateTargets: allow, allowCidrs: [] }), { timeoutMs, maxRedirects: 2, maxResponseBytes: 1024 });

  it('tells what to retry soon: 429 with its Retry-After, not 404; times out; caps redirects and bodies', async () => {
    const c = client();
    const body = Buffer.from('{}');
    expect(await c.post(`http://127.0.0.1:${port}/ok`, body, {})).toMatchObject({ status: 204, error: null });
    expect(await c.post(`http://127.0.0.1:${port}/429`, body, {})).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000 });
    expect(await c.post(`http://127.0.0.1:${port}/404`, body, {})).toMatchObject({ status: 404, retryable: false, error: 'HTTP 404' });
    expect(await c.post(`http://127.0.0.1:${port}/big`, body, {})).toMatchObject({ status: 200, error: null });
    const slow = await c.post(`http://127.0.0.1:${port}/slow`, body, {});
    expect(slow).toMatchObject({ status: null, retryable: true });
    expect(slow.error).toMatch(/timed out/);
    expect(await c.post(`http://127.0.0.1:${port}/loop`, body, {})).toMatchObject({ status: 302, retryable: false, error: 'more than 2 redirects' });
    expect(await c.post(`http://127.0.0.1:1/`, body, {})).toMatchObject({ status: null, retryable: true });
    c.close();
  });

  it('refuses to connect to a refused address, by name or literal', async () => {
    const c = client(false);
    const byName = await c.post(`http://localhost:${port}/ok`, Buffer.from('{}'), {});
    expect(byName).toMatchObject({ status: null, retryable: false });
    expect(byName.error).toMatch(/is loopback/);
    expect((await c.post(`http://127.0.0.1:${port}/ok`, Buffer.from('{}'), {})).error).toMatch(/is loopback/);
    c.close();
  });
});

describe('the storage area', () => {
  const stores: Store[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (kind: 'sqlite' | 'memory'): WebhooksArea => {
    let store: Store;
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'parley-webhooks-'));
      dirs.push(dir);
      store = createSqliteStore({ path: join(dir, 'parley.db'), modules: [{ name: 'webhooks', area }] });
    } else {
      store = createMemoryStore({ modules: [{ name: 'webhooks', memory: webhooks.storage!.memory }] });
    }
    stores.push(store);
    return store.area<WebhooksArea>('webhooks');
  };
  const hook = (id: string, owner: string): WebhookRecord => ({
    id, owner, url: 'https://example.com/hook', target: { addresses: ['a@example.com'] }, description: null, secret: 'whsec_x', disabled: null,
    position: 5, failures: 0, failingSince: null, lastError: null, createdAt: 1, updatedAt: 1,
  });

  for (const kind of ['sqlite', 'memory'] as const) {
    it(`${kind}: webhooks, positions, failures and a bounded log`, async () => {
      const a = open(kind);
      await a.create(hook('wh_1', 'o@example.com'), 2);
      await a.create(hook('wh_2', 'o@example.com'), 2);
      await expect(a.create(hook('wh_3', 'o@example.com'), 2)).rejects.toMatchObject({ code: 'policy-violation' });
      const attempt = (n: number, status: number) => ({ webhookId: 'wh_1', deliveryId: `wh_1.${n}`, event: 'presence.change', position: n, attempt: 1, at: n, status, durationMs: 3, error: status === 200 ? null : `HTTP ${status}` });
      await a.attempted(attempt(1, 500), 3, { ok: false, failures: 2, failingSince: 10, lastError: 'HTTP 500', disabled: null });
      expect(await a.get('wh_1')).toMatchObject({ failures: 2, failingSince: 10, lastError: 'HTTP 500', disabled: null, target: { addresses: ['a@example.com'] } });
      await a.delivered('wh_1', 9);
      await a.delivered('wh_1', null);
      await a.delivered('wh_1', 7);
      expect(await a.get('wh_1')).toMatchObject({ position: 9, failures: 0, failingSince: null, lastError: null });
      await a.attempted(attempt(2, 500), 3, { ok: false, failures: 3, failingSince: 10, lastError: 'HTTP 500', disabled: { at: 20, reason: 'HTTP 500 after 3 attempts over 10 ms' } });
      expect((await a.get('wh_1'))!.disabled).toEqual({ at: 20, reason: 'HTTP 500 after 3 attempts over 10 ms' });
      for (let i = 3; i <= 12; i++) await a.attempted(attempt(i, 200), 3, { ok: true, position: i });
      expect((await a.deliveries('wh_1', 10)).map((d) => d.position)).toEqual([12, 11, 10]);
      expect(await a.get('wh_1')).toMatchObject({ position: 12, failures: 0, lastError: null });
      expect(await a.list('o@example.com')).toHaveLength(2);
      await a.remove('wh_1');
      expect(await a.get('wh_1')).toBeNull();
      expect(await a.deliveries('wh_1', 10)).toEqual([]);
    });
  }
});
