/**
 * Files end to end over real sockets with a real clamd (Debian clamav-daemon) on a private signature database
 * (test/clamd.ts): a clean upload with slixmpp's own XEP-0363 code, then the download with its security headers;
 * the infected test file and EICAR refused and never downloadable; files past clamd's StreamMaxLength or its
 * MaxFileSize (AlertExceedsMax) refused as unscanned; PUTs with the wrong size or content type, late or twice, refused; the daily quota and the size limit
 * as XEP-0363 errors; slots through the JSON and HTTP APIs; and, last, clamd killed: uploads refused with 503 and
 * /health showing the scanner down.
 *
 * Without clamd the suite reports itself skipped, loudly; without slixmpp only its slixmpp cases are.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import type { Change } from '../src/engine/events.js';
import { EICAR, findClamd, INFECTED, INFECTED_SIGNATURE, TestClamd } from './clamd.js';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { PYTHON, SlixClient, slixmppUnavailable } from './xmpp/slix.js';

const CLAMD = findClamd();
if (CLAMD === null) {
  console.warn(
    '\n*** SKIPPED: test/files.test.ts needs clamd (Debian clamav-daemon) to scan uploads with.\n' +
      '*** Install it: apt-get install -y --no-install-recommends clamav-daemon (.ci/run does)\n',
  );
}
const NO_SLIX = slixmppUnavailable();
if (CLAMD !== null && NO_SLIX !== null) console.warn(`\n*** SKIPPED: the slixmpp cases of test/files.test.ts need slixmpp importable by ${PYTHON} (${NO_SLIX}).\n`);

const MiB = 1 << 20;
const MAX = 4 * MiB;
const DAILY = 6 * MiB;

type Json = Record<string, unknown>;

describe.skipIf(CLAMD === null)('files with malware scanning (real clamd)', () => {
  let dir: string;
  let clamd: TestClamd;
  let t: TestServer;
  const journal: Array<Extract<Change, { type: 'module.change' }>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-files-'));
    clamd = await TestClamd.start(CLAMD!, dir, '1M');
    t = await startServer({
      modules: {
        files: {
          enabled: true,
          directory: join(dir, 'files'),
          maxFileBytes: MAX,
          perUserDailyBytes: DAILY,
          slotSeconds: 3,
          clamd: { socket: clamd.socket, timeoutMs: 5000, checkSeconds: 1 },
        },
      } as never,
    });
    t.server.engine.events.on(
      'change.check',
      (c) => {
        if (c.type === 'module.change' && c.module === 'files') journal.push(c);
      },
      { owner: 'test' },
    );
  }, 90_000);
  afterAll(async () => {
    await SlixClient.killAll();
    await t?.close();
    await clamd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A session token for a new user. */
  async function token(name: string): Promise<{ user: string; token: string }> {
    const [user] = await freshUsers(t, name);
    const { token } = await login(t.url, user!, `pw-${user!.split('@')[0]}`);
    return { user: user!, token };
  }

  async function slot(tok: string, body: Json): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${t.url}/api/v1/files/slots`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Json };
  }

  async function put(url: string, data: Buffer | string, contentType = 'application/octet-stream'): Promise<{ status: number; body: Json }> {
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body: data });
    return { status: res.status, body: (await res.json()) as Json };
  }

  /** A slot through HTTP and its PUT. */
  async function upload(tok: string, filename: string, data: Buffer | string, contentType = 'application/octet-stream'): Promise<{ status: number; body: Json; url: string }> {
    const s = await slot(tok, { filename, size: Buffer.byteLength(data), contentType });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    const url = (s.body.put as { url: string }).url;
    return { ...(await put(url, data, contentType)), url };
  }

  it('/health shows the scanner up with clamd\'s version', async () => {
    const h = (await (await fetch(`${t.url}/health`)).json()) as { checks: { files: { scanner: Json } } };
    await expect.poll(async () => ((await (await fetch(`${t.url}/health`)).json()) as typeof h).checks.files.scanner.state, { timeout: 10_000 }).toBe('up');
    const again = (await (await fetch(`${t.url}/health`)).json()) as typeof h;
    expect(again.checks.files.scanner).toMatchObject({ state: 'up', required: true, clamd: clamd.socket });
    expect(String(again.checks.files.scanner.version)).toMatch(/^ClamAV \d/);
    expect((again as unknown as { status: string }).status).toBe('ok');
  });

  it.skipIf(NO_SLIX !== null)('slixmpp uploads with XEP-0363 (disco, slot, PUT); the GET returns the same bytes as an attachment with nosniff and a CSP', async () => {
    const [alice] = await freshUsers(t, 'alice');
    const c = await SlixClient.start({ port: t.server.xmpp!.ports.starttls!, jid: alice!, password: `pw-${alice!.split('@')[0]}`, cafile: join(t.dir, 'certs', 'localhost.crt') });
    await c.connect();
    const data = Buffer.from('a clean report, nothing to see here\n'.repeat(2000));
    const r = await c.request('upload', { filename: 'report <1>.txt', content_type: 'text/plain', data: data.toString('base64') }, 30_000);
    expect(r.service).toBe('localhost');
    expect(r.max_file_size).toBe(MAX);
    const url = String(r.url);
    expect(url).toMatch(/\/api\/v1\/files\/[A-Za-z0-9_-]{43}\/report%20%3C1%3E\.txt$/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="report <1>.txt"; filename*=UTF-8''report%20%3C1%3E.txt`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect([part.status, part.headers.get('content-range'), part.headers.get('content-disposition')?.startsWith('attachment')]).toEqual([206, `bytes 10-19/${data.length}`, true]);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);
    expect((await fetch(url, { headers: { range: `bytes=${data.length}-` } })).status).toBe(416);
    const head = await fetch(url, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), head.headers.get('x-content-type-options')]).toEqual([200, String(data.length), 'nosniff']);
    const stored = journal.find((j) => j.kind === 'stored' && j.actor === alice);
    expect(stored?.data).toMatchObject({ name: 'report <1>.txt', size: data.length, contentType: 'text/plain', scanned: true });
    expect(stored?.data.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.skipIf(NO_SLIX !== null)('XEP-0363 errors: file-too-large with the limit, the daily quota as resource-constraint with a retry stamp', async () => {
    const [bob] = await freshUsers(t, 'bob');
    const c = await SlixClient.start({ port: t.server.xmpp!.ports.starttls!, jid: bob!, password: `pw-${bob!.split('@')[0]}`, cafile: join(t.dir, 'certs', 'localhost.crt') });
    await c.connect();
    const big = await c.request('upload_slot', { filename: 'big.bin', size: MAX + 1 });
    expect(big.error).toMatchObject({ type: 'modify', condition: 'not-acceptable' });
    expect(String(big.xml)).toContain(`<file-too-large xmlns="urn:xmpp:http:upload:0"><max-file-size>${MAX}</max-file-size></file-too-large>`);
    for (let i = 0; i < 2; i++) expect((await c.request('upload_slot', { filename: `part${i}.bin`, size: 3 * MiB })).put).toBeTruthy();
    const over = await c.request('upload_slot', { filename: 'one-more.bin', size: 1 });
    expect(over.error).toMatchObject({ type: 'wait', condition: 'resource-constraint' });
    expect(String(over.xml)).toMatch(/<retry xmlns="urn:xmpp:http:upload:0" stamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" ?\/>/);
    const bad = await c.request('upload_slot', { filename: '../etc/passwd', size: 10 });
    expect(bad.error).toMatchObject({ condition: 'bad-request' });
  });

  it('the MD5-signature test file is refused with its signature name, journaled, and never downloadable', async () => {
    const { user, token: tok } = await token('carol');
    const r = await upload(tok, 'invoice.pdf', INFECTED, 'application/pdf');
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'file-infected', signature: INFECTED_SIGNATURE });
    expect((await fetch(r.url)).status).toBe(404);
    const refused = journal.find((j) => j.kind === 'refused' && j.actor === user);
    expect(refused?.data).toMatchObject({ signature: INFECTED_SIGNATURE, name: 'invoice.pdf', size: INFECTED.length });
    // The slot is spent: a second try is refused too.
    expect((await put(r.url, INFECTED, 'application/pdf')).status).toBe(409);
  });

  it('EICAR is refused', async () => {
    const { token: tok } = await token('dave');
    const r = await upload(tok, 'eicar.com', EICAR, 'application/octet-stream');
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'file-infected', signature: 'Parley.Test.EICAR.UNOFFICIAL' });
    expect((await fetch(r.url)).status).toBe(404);
  });

  it("a file past clamd's StreamMaxLength is refused as unscanned (503), nothing stored", async () => {
    const { token: tok } = await token('erin');
    const r = await upload(tok, 'large.bin', Buffer.alloc(Math.round(1.5 * MiB), 7));
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'service-unavailable' });
    expect(String((r.body.error as Json).message)).toContain('StreamMaxLength');
    expect((await fetch(r.url)).status).toBe(404);
  });

  it("a file past clamd's MaxFileSize (reported with AlertExceedsMax, not as OK) is refused as unscanned (503)", async () => {
    const { token: tok } = await token('ivan');
    const r = await upload(tok, 'medium.bin', Buffer.alloc(700 * 1024, 3));
    expect(r.status).toBe(503);
    expect(String((r.body.error as Json).message)).toContain('Heuristics.Limits.Exceeded.MaxFileSize');
    expect((await fetch(r.url)).status).toBe(404);
  });

  it('a PUT with the wrong size or content type is refused; the right one then succeeds once; late slots are refused', async () => {
    const { token: tok } = await token('frank');
    const data = 'twelve bytes';
    const s = await slot(tok, { filename: 'notes.txt', size: data.length, contentType: 'text/plain' });
    const url = (s.body.put as { url: string }).url;
    expect((await put(url, `${data}!`, 'text/plain')).status).toBe(400);
    expect((await put(url, data, 'text/html')).status).toBe(400);
    expect((await put(url, data, 'text/plain')).status).toBe(201);
    expect((await put(url, data, 'text/plain')).status).toBe(409);
    expect(await (await fetch(url)).text()).toBe(data);
    const late = await slot(tok, { filename: 'late.txt', size: 4, contentType: 'text/plain' });
    await new Promise((r) => setTimeout(r, 3200));
    const refused = await put((late.body.put as { url: string }).url, 'late', 'text/plain');
    expect(refused.status).toBe(403);
    expect(String((refused.body.error as Json).message)).toContain('expired');
    expect((await fetch(`${t.url}/api/v1/files/${'A'.repeat(43)}/nothing.txt`)).status).toBe(404);
  });

  it('slots through HTTP and JSON: size limit, quota and bad names as the API\'s errors', async () => {
    const { user, token: tok } = await token('grace');
    const big = await slot(tok, { filename: 'big.bin', size: MAX + 1 });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ code: 'file-too-large', maxFileSize: MAX });
    expect((await slot(tok, { filename: 'a/b', size: 1 })).status).toBe(400);
    expect((await slot(tok, { filename: 'x.bin', size: 1, contentType: 'not a type' })).status).toBe(400);
    expect((await fetch(`${t.url}/api/v1/files/slots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"filename":"x","size":1}' })).status).toBe(401);
    const ws = await t.connect(user, { resource: 'json' });
    const s = await ws.request<{ put: { url: string }; get: { url: string } }>('files.slot', { filename: 'hello.txt', size: 5, contentType: 'text/plain' });
    expect((await put(s.put.url, 'hello', 'text/plain')).status).toBe(201);
    expect(await (await fetch(s.get.url)).text()).toBe('hello');
    await ws.request('files.slot', { filename: 'first.bin', size: 3 * MiB });
    await expect(ws.request('files.slot', { filename: 'second.bin', size: 3 * MiB })).rejects.toMatchObject({ code: 'quota-exceeded' });
  });

  it('with clamd gone, uploads are refused with 503 and /health shows the scanner down', async () => {
    const { token: tok } = await token('heidi');
    await clamd.stop();
    const r = await upload(tok, 'clean.txt', 'perfectly clean', 'text/plain');
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'service-unavailable', reason: 'scanner' });
    expect((await fetch(r.url)).status).toBe(404);
    const h = (await (await fetch(`${t.url}/health`)).json()) as { status: string; degraded?: string[]; checks: { files: { scanner: Json } } };
    expect(h.checks.files.scanner).toMatchObject({ state: 'down' });
    expect(String(h.checks.files.scanner.error)).toContain('unreachable');
    // The server says it is degraded (and why), and still answers 200: everything but uploads works.
    expect(h.status).toBe('degraded');
    expect(h.degraded).toEqual([expect.stringMatching(/^files: uploads are refused: clamd cannot scan/)]);
  });
});
