/**
 * The files module without a real clamd: the INSTREAM protocol against a scripted daemon on a unix socket
 * (framing, strict replies, timeouts), the service's slots, quotas, uploads, refusals, expiry and fail-open
 * switch over an in-memory area, and the XMPP face (disco#info form and identity, XEP-0363 errors). The real
 * clamd and real clients are test/files.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticators, registerRoutes } from '../../protocols/http/routes.js';
import { archive } from '../archive/index.js';
import type { ArchiveArea } from '../archive/sqlite.js';
import { isParleyError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { discoOf, NO_EXTENSIONS } from '../../protocols/xmpp/c2s/iq-handlers.js';
import { openSqliteAreaInMemory } from '../sqlite-memory.js';
import { testEngine } from '../../engine/test-engine.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { detachedAreaContext, setupModules, silentHostLog, TestXmppClient } from '../testing.js';
import { InstreamScan, parseInstreamReply } from './clamd.js';
import { ModuleHost } from '../host.js';
import { files } from './index.js';
import { filesOptions, type FilesOptions } from './options.js';
import { byteRange } from './routes.js';
import { Scanner } from './scanner.js';
import { FilesService, type SlotRequest } from './service.js';
import { area, DAY_MS } from './sqlite.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, fatal: () => undefined, trace: () => undefined };

/** A scripted clamd: records what each connection sent and answers with `answer(bytes so far)`. */
class FakeClamd {
  readonly received: Buffer[] = [];
  private readonly open = new Set<Socket>();
  answer: (got: Buffer, conn: Socket) => void = () => undefined;
  private server!: Server;

  static async start(path: string): Promise<FakeClamd> {
    const f = new FakeClamd();
    f.server = createServer((conn) => {
      let got = Buffer.alloc(0);
      const n = f.received.push(got) - 1;
      f.open.add(conn);
      conn.on('close', () => f.open.delete(conn));
      conn.on('data', (b: Buffer) => {
        got = Buffer.concat([got, b]);
        f.received[n] = got;
        f.answer(got, conn);
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((r) => f.server.listen(path, r));
    return f;
  }

  close(): Promise<void> {
    for (const c of this.open) c.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Whether an INSTREAM body is complete (ends with the zero-length chunk); the data sent in it. */
function instream(got: Buffer): { done: boolean; data: Buffer; chunks: number } {
  if (!got.subarray(0, 10).equals(Buffer.from('zINSTREAM\0'))) return { done: false, data: Buffer.alloc(0), chunks: 0 };
  const parts: Buffer[] = [];
  for (let at = 10; at + 4 <= got.length; ) {
    const len = got.readUInt32BE(at);
    if (len === 0) return { done: true, data: Buffer.concat(parts), chunks: parts.length };
    if (at + 4 + len > got.length) break;
    parts.push(got.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { done: false, data: Buffer.concat(parts), chunks: parts.length };
}

let dir: string;
let fake: FakeClamd;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-files-unit-'));
  socket = join(dir, 'clamd.sock');
  fake = await FakeClamd.start(socket);
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Clean unless the data contains "EVIL"; answers VERSION too. */
const verdicts = (got: Buffer, conn: Socket): void => {
  if (got.toString() === 'zVERSION\0') conn.end('ClamAV 1.4.6/27000/fake\0');
  const s = instream(got);
  if (s.done) conn.end(s.data.includes('EVIL') ? 'stream: Test.Evil FOUND\0' : 'stream: OK\0');
};

describe('the INSTREAM client', () => {
  it('parses replies strictly: only "stream: OK" is clean', () => {
    expect(parseInstreamReply('stream: OK')).toEqual({ kind: 'clean' });
    expect(parseInstreamReply('stream: Eicar-Signature FOUND')).toEqual({ kind: 'infected', signature: 'Eicar-Signature' });
    expect(parseInstreamReply('stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND')).toMatchObject({ kind: 'failed' });
    expect(parseInstreamReply('INSTREAM size limit exceeded. ERROR')).toMatchObject({ kind: 'failed', reason: expect.stringContaining('StreamMaxLength') });
    for (const r of ['stream: ok', 'stream: OK ', 'OK', '', 'stream:  FOUND', 'PONG']) expect(parseInstreamReply(r).kind).toBe('failed');
  });

  it('frames the file as length-prefixed chunks after zINSTREAM and ends with a zero length', async () => {
    fake.answer = verdicts;
    const data = Buffer.alloc(150_000, 1);
    const scan = await InstreamScan.open({ socket }, 2000);
    await scan.write(data);
    expect(await scan.finish()).toEqual({ kind: 'clean' });
    const s = instream(fake.received.at(-1)!);
    expect(s).toMatchObject({ done: true, chunks: 3 });
    expect(s.data.equals(data)).toBe(true);
  });

  it('fails closed: no verdict in time, a reply cut off, or garbage', async () => {
    fake.answer = () => undefined;
    let scan = await InstreamScan.open({ socket }, 200);
    await scan.write(Buffer.from('x'));
    expect(await scan.finish()).toMatchObject({ kind: 'failed', reason: expect.stringContaining('no verdict'), down: true });
    fake.answer = (got, conn) => {
      if (instream(got).done) conn.end('stream: O');
    };
    scan = await InstreamScan.open({ socket }, 2000);
    expect(await scan.finish()).toMatchObject({ kind: 'failed', reason: expect.stringContaining('without a complete reply') });
    fake.answer = (got, conn) => {
      if (instream(got).done) conn.end('stream: fine\0');
    };
    scan = await InstreamScan.open({ socket }, 2000);
    expect(await scan.finish()).toMatchObject({ kind: 'failed', reason: expect.stringContaining('unexpected') });
    await expect(InstreamScan.open({ socket: join(dir, 'nothing.sock') }, 500)).rejects.toThrow(/unreachable/);
  });
});

/** A service over an in-memory area; its journal is what api.change saw. */
function service(over: Omit<Partial<FilesOptions>, 'clamd'> & { clamd?: Partial<FilesOptions['clamd']> } = {}): { svc: FilesService; journal: Array<{ kind: string; data: Record<string, unknown> }>; options: FilesOptions } {
  const options = filesOptions.parse({ enabled: true, directory: join(dir, `files-${Math.random().toString(36).slice(2)}`), publicUrl: 'https://chat.example.com/', ...over, clamd: { socket, timeoutMs: 2000, ...over.clamd } });
  const journal: Array<{ kind: string; data: Record<string, unknown> }> = [];
  const api = {
    change: async <T>(kind: string, about: { data?: Record<string, unknown> }, write: () => Promise<T>): Promise<T> => {
      journal.push({ kind, data: about.data ?? {} });
      return write();
    },
    httpUrl: () => null,
  };
  const store = openSqliteAreaInMemory(area, detachedAreaContext());
  return { svc: new FilesService(store, () => options, new Scanner(options.clamd, silent), api, silent), journal, options };
}

async function* body(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

const tokenOf = (url: string): { token: string; name: string } => {
  const [token, name] = url.split('/api/v1/files/')[1]!.split('/');
  return { token: token!, name: decodeURIComponent(name!) };
};

describe('byte ranges', () => {
  it('serves one range, clipped; ignores what it may; refuses a start past the end', () => {
    expect(byteRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(byteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 });
    for (const h of [undefined, 'bytes=0-1,5-6', 'items=0-1', 'bytes=9-2', 'bytes=-', 'bytes=a-b']) expect(byteRange(h, 100)).toBeNull();
    expect(byteRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(byteRange('bytes=-0', 100)).toBe('unsatisfiable');
  });
});

describe('the files service', () => {
  it('hands out slots under the public URL with 256-bit paths, and checks name, size and content type', async () => {
    const { svc } = service({ maxFileBytes: 1000 });
    await svc.prepare();
    const s = await svc.slot('a@example.com', { filename: 'photo 1.png', size: 10, contentType: 'image/png' });
    expect(s.put.url).toBe(s.get.url);
    expect(s.put.url).toMatch(/^https:\/\/chat\.example\.com\/api\/v1\/files\/[A-Za-z0-9_-]{43}\/photo%201\.png$/);
    const refused = async (r: SlotRequest): Promise<unknown> => svc.slot('a@example.com', r).catch((e: unknown) => e);
    expect(await refused({ filename: 'big', size: 1001 })).toMatchObject({ code: 'file-too-large', details: { maxFileSize: 1000 } });
    for (const filename of ['', '.', '..', 'a/b', 'a\\b', 'a\nb', ' lead', 'x'.repeat(256), 'photo\u202egpj.exe']) expect(await refused({ filename, size: 1 })).toMatchObject({ code: 'bad-request' });
    for (const contentType of ['text', 'text/plain; charset', 'a b/c', 'text/plain\r\nX: y']) expect(await refused({ filename: 'f', size: 1, contentType })).toMatchObject({ code: 'bad-request' });
  });

  it('counts open slots and stored files against the daily and total quotas; the daily one says when to retry', async () => {
    const { svc } = service({ perUserDailyBytes: 100, totalBytes: 150 });
    await svc.prepare();
    await svc.slot('a@example.com', { filename: 'one', size: 60 });
    const e = await svc.slot('a@example.com', { filename: 'two', size: 60 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'quota-exceeded', details: { quota: 'perUserDailyBytes', limit: 100, used: 60, retryAt: expect.stringMatching(/Z$/) } });
    await svc.slot('b@example.com', { filename: 'three', size: 80 });
    expect(await svc.slot('c@example.com', { filename: 'four', size: 20 }).catch((x: unknown) => x)).toMatchObject({ code: 'quota-exceeded', details: { quota: 'totalBytes' } });
  });

  it('stores a clean upload with its SHA-256 (journaled), refuses malware (journaled), and expires files by policy', async () => {
    fake.answer = verdicts;
    const { svc, journal, options } = service({ expiryDays: 1 });
    await svc.prepare();
    const clean = Buffer.from('hello world');
    const s = await svc.slot('a@example.com', { filename: 'hello.txt', size: clean.length, contentType: 'text/plain' });
    const { token, name } = tokenOf(s.put.url);
    const stored = await svc.receive(token, name, { contentLength: String(clean.length), contentType: 'Text/Plain' }, body(clean));
    expect(stored.sha256).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    const d = await svc.download(token, name);
    expect(readFileSync(d.path, 'utf8')).toBe('hello world');
    expect(journal.at(-1)).toMatchObject({ kind: 'stored', data: { name: 'hello.txt', size: 11, contentType: 'text/plain', sha256: stored.sha256, scanned: true } });

    const evil = Buffer.from('so EVIL');
    const e = await svc.slot('a@example.com', { filename: 'evil.bin', size: evil.length });
    const t2 = tokenOf(e.put.url);
    const err = await svc.receive(t2.token, t2.name, { contentLength: String(evil.length), contentType: undefined }, body(evil)).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: 'file-infected', details: { signature: 'Test.Evil' } });
    expect(journal.at(-1)).toMatchObject({ kind: 'refused', data: { signature: 'Test.Evil', name: 'evil.bin' } });
    await expect(svc.download(t2.token, t2.name)).rejects.toMatchObject({ code: 'item-not-found' });

    // A file in place without a record (a stop between the rename and the commit) goes at the next start.
    const orphan = join(options.directory, 'B'.repeat(43));
    writeFileSync(orphan, 'left over');
    await svc.prepare();
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(d.path)).toBe(true);

    expect(await svc.sweep(Date.now() + options.expiryDays * DAY_MS + 1000)).toBe(1);
    expect(journal.at(-1)).toMatchObject({ kind: 'expired', data: { name: 'hello.txt', sha256: stored.sha256 } });
    await expect(svc.download(token, name)).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('refuses uploads while clamd is unreachable, unless clamd.required is false (stored unscanned)', async () => {
    const data = Buffer.from('fine');
    for (const required of [true, false]) {
      const { svc, journal } = service({ clamd: { socket: join(dir, 'gone.sock'), required } });
      await svc.prepare();
      const s = await svc.slot('a@example.com', { filename: 'f.txt', size: data.length });
      const { token, name } = tokenOf(s.put.url);
      const r = await svc.receive(token, name, { contentLength: '4', contentType: undefined }, body(data)).catch((x: unknown) => x);
      if (required) {
        expect(isParleyError(r, 'service-unavailable')).toBe(true);
        expect(journal).toEqual([]);
      } else {
        expect(r).toMatchObject({ size: 4 });
        expect(journal.at(-1)).toMatchObject({ kind: 'stored', data: { scanned: false } });
      }
    }
  });
});

/** The module on a test engine whose memory store has its area. */
async function fixture(options: Record<string, unknown>): Promise<{ engine: Engine; host: ModuleHost }> {
  const store = createMemoryStore({ modules: [{ name: 'files', memory: files.storage!.memory }] });
  const { engine } = await testEngine(['a@example.com'], { password: 'secret-pw', store });
  const host = await setupModules([files], { engine, store }, { files: { enabled: true, ...options } });
  return { engine, host };
}

describe('the XMPP face', () => {
  it('announces the upload service on the server: feature, store/file identity and the max-file-size form (in the caps hash)', async () => {
    const { host } = await fixture({ directory: join(dir, 'fx'), maxFileBytes: 5000 });
    const disco = discoOf(host.xmpp);
    expect(disco.serverFeatures).toContain('urn:xmpp:http:upload:0');
    expect(disco.serverIdentities).toContainEqual({ category: 'store', type: 'file', name: 'HTTP File Upload' });
    expect(disco.serverForms).toEqual([{ formType: 'urn:xmpp:http:upload:0', fields: { 'max-file-size': '5000' } }]);
    expect(disco.capsVer).not.toBe(discoOf(NO_EXTENSIONS).capsVer);
  });

  it('answers a slot request to the domain, and file-too-large with the limit (XEP-0363 §4.2)', async () => {
    const { engine, host } = await fixture({ directory: join(dir, 'fy'), maxFileBytes: 5000, publicUrl: 'https://x.example.com' });
    const c = await TestXmppClient.login(engine, host.xmpp);
    const info = await c.iq('get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'example.com');
    expect(info.reply).toContain('<identity category="store" type="file" name="HTTP File Upload"/>');
    expect(info.reply).toContain('<x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:http:upload:0</value></field><field var="max-file-size"><value>5000</value></field></x>');
    const ok = await c.iq('get', "<request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='10' content-type='text/plain'/>", 'example.com');
    expect(ok.reply).toMatch(/<slot xmlns="urn:xmpp:http:upload:0"><put url="https:\/\/x\.example\.com\/api\/v1\/files\/[A-Za-z0-9_-]{43}\/a\.txt"\/><get url="[^"]+"\/><\/slot>/);
    const big = await c.iq('get', "<request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='5001'/>", 'example.com');
    expect(big.reply).toContain('<error type="modify"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(big.reply).toContain('<file-too-large xmlns="urn:xmpp:http:upload:0"><max-file-size>5000</max-file-size></file-too-large>');
    const bad = await c.iq('get', "<request xmlns='urn:xmpp:http:upload:0' filename='a.txt'/>", 'example.com');
    expect(bad.reply).toContain('<bad-request');
    c.close();
  });
});

describe('with the compliance archive on', () => {
  it('journals each stored file (hash and metadata) and each refusal for malware, uploaded over HTTP', async () => {
    fake.answer = verdicts;
    const store = createMemoryStore({ modules: [{ name: 'archive', memory: archive.storage!.memory }, { name: 'files', memory: files.storage!.memory }] });
    const { engine } = await testEngine(['a@example.com'], { password: 'secret-pw', store });
    const options = {
      archive: { ...archive.options.parse({ enabled: true, checkpointSeconds: 3600 }), enabled: true },
      files: { ...filesOptions.parse({ enabled: true, directory: join(dir, 'fz'), publicUrl: 'http://localhost', clamd: { socket, timeoutMs: 2000 } }), enabled: true },
    };
    const host = await ModuleHost.setup([archive, files], options, { engine, store, bus: engine.bus, log: silentHostLog });
    host.start();
    const app = Fastify();
    registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}) });
    await host.registerHttp(app, authenticators(engine));
    try {
      const { token } = await engine.auth.login('a@example.com', 'secret-pw', '127.0.0.1');
      const journal = store.area<ArchiveArea>('archive');
      const before = await journal.size();
      const send = async (filename: string, data: string): Promise<number> => {
        const s = await app.inject({ method: 'POST', url: '/api/v1/files/slots', headers: { authorization: `Bearer ${token}` }, payload: { filename, size: data.length, contentType: 'text/plain' } });
        expect(s.statusCode).toBe(201);
        const url = new URL((s.json() as { put: { url: string } }).put.url).pathname;
        return (await app.inject({ method: 'PUT', url, headers: { 'content-type': 'text/plain' }, payload: data })).statusCode;
      };
      expect(await send('ok.txt', 'all good')).toBe(201);
      expect(await send('bad.txt', 'EVIL inside')).toBe(403);
      const entries: Array<Record<string, unknown>> = [];
      for (let i = before; i < (await journal.size()); i++) entries.push(JSON.parse((await journal.entry(i))!.entry ?? '{}') as Record<string, unknown>);
      expect(entries.find((e) => e['type'] === 'files.stored')).toMatchObject({
        actor: 'a@example.com',
        name: 'ok.txt',
        size: 8,
        contentType: 'text/plain',
        sha256: createHash('sha256').update('all good').digest('hex'),
        scanned: true,
      });
      expect(entries.find((e) => e['type'] === 'files.refused')).toMatchObject({ actor: 'a@example.com', name: 'bad.txt', signature: 'Test.Evil' });
    } finally {
      await app.close();
      await host.close();
      await engine.closeAll('test over');
      await store.close();
    }
  });
});
