/**
 * Configuration (validation, environment overrides, defaults) and the operator CLI run as a real child process
 * (`node bin/parley.js`, from the build in dist/), including its effect on a server running on the same database.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type ParleyServer } from '../src/app/build.js';
import { ConfigError, loadConfig, validateConfig } from '../src/app/config.js';
import { ParleyClient, login } from '../client/index.js';
import { until } from './harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'parley.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The problems of a config that must fail. */
function problems(f: () => unknown): Array<{ path: string; message: string }> {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('the configuration was accepted');
}

/** Retries `f` until it resolves, for at most `ms`; then its last error is thrown. */
async function eventually<T>(f: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('configuration', () => {
  it('reports every problem at once, with key paths', () => {
    const p = file('bad.yaml', 'server:\n  port: "not a port"\n  colour: blue\nlimits:\n  maxBodyBytes: -5\n');
    const ps = problems(() => loadConfig(p, {}));
    expect(ps.map((x) => x.path).sort()).toEqual(['limits.maxBodyBytes', 'server.colour', 'server.port']);
    expect(ps.find((x) => x.path === 'server.colour')!.message).toBe('unknown key');
    const err = (() => {
      try {
        loadConfig(p, {});
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(err).toMatch(/server\.port: /);
    expect(err).toMatch(/limits\.maxBodyBytes: /);
  });

  it('unknown sections, a file that is not a mapping, invalid YAML, a missing file', () => {
    expect(problems(() => validateConfig({ sever: { port: 1 } })).map((x) => x.path)).toEqual(['sever']);
    for (const text of ['- a\n- list\n', 'just words\n', '42\n']) {
      const ps = problems(() => loadConfig(file('notmap.yaml', text), {}));
      expect(ps).toEqual([{ path: '(file)', message: expect.stringMatching(/mapping/) }]);
    }
    expect(problems(() => loadConfig(file('broken.yaml', 'server: [\n'), {}))[0]!.message).toMatch(/not valid YAML/);
    expect(problems(() => loadConfig(join(dir, 'missing.yaml'), {}))[0]!.message).toMatch(/cannot read/);
    expect(loadConfig(file('empty.yaml', ''), {}).config.server.port).toBe(5280);
  });

  it('values the server could not run with are refused up front', () => {
    expect(problems(() => validateConfig({ auth: { lockMinutes: 0 } })).map((x) => x.path)).toEqual(['auth.lockMinutes']);
    expect(problems(() => validateConfig({ server: { defaultDomain: 'bad domain' } }))).toEqual([
      { path: 'server.defaultDomain', message: expect.stringMatching(/domainpart.*U\+0020/) },
    ]);
    expect(problems(() => validateConfig({ server: { defaultDomain: 'alice@example.com' } }))[0]!.path).toBe('server.defaultDomain');
    expect(problems(() => validateConfig({ rooms: { subdomain: 'Conference' } }))[0]!.path).toBe('rooms.subdomain');
    expect(problems(() => validateConfig({ rooms: { subdomain: '' } }))[0]!.path).toBe('rooms.subdomain');
    expect(validateConfig({ auth: { lockMinutes: 0.001 } }).auth.lockMinutes).toBe(0.001);
  });

  it('environment overrides (PARLEY_SECTION__KEY), over the file', () => {
    const p = file('base.yaml', 'server:\n  port: 6000\n  host: 10.0.0.1\nlimits:\n  maxBodyBytes: 4096\n');
    const { config, source } = loadConfig(p, {
      PARLEY_SERVER__PORT: '5281',
      PARLEY_LIMITS__MAX_FRAME_BYTES: '8192',
      PARLEY_STORAGE__SQLITE__PATH: '/var/lib/parley/x.db',
      PARLEY_SERVER__ALLOWED_ORIGINS: '["https://chat.example.com"]',
      PARLEY_LOG__LEVEL: 'warn',
      PARLEY_CONFIG: '/ignored.yaml',
      HOME: '/root',
    });
    expect(source).toBe(p);
    expect(config.server).toMatchObject({ port: 5281, host: '10.0.0.1', allowedOrigins: ['https://chat.example.com'] });
    expect(config.limits).toMatchObject({ maxFrameBytes: 8192, maxBodyBytes: 4096 });
    expect(config.storage.sqlite.path).toBe('/var/lib/parley/x.db');
    expect(config.log.level).toBe('warn');
    expect(problems(() => loadConfig(null, { PARLEY_SERVER__PORT: 'eighty', PARLEY_SERVER__BOGUS: '1' })).map((x) => x.path).sort()).toEqual([
      'server.bogus',
      'server.port',
    ]);
  });

  it('defaults with no file', () => {
    const { config, source } = loadConfig(null, {});
    expect(source).toBe('defaults');
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 5280, defaultDomain: 'localhost', tls: null, allowedOrigins: [] });
    expect(config.storage).toEqual({ adapter: 'sqlite', sqlite: { path: './data/parley.db', synchronous: 'full', worker: true } });
    expect(config.limits.maxFrameBytes).toBeGreaterThan(config.limits.maxBodyBytes);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The CLI as a child process

interface Run {
  code: number | null;
  out: string;
  err: string;
}

const dbPath = (): string => join(dir, 'data', 'cli.db');

/** Runs `node bin/parley.js ...args` in the temp dir with the database there; `input` goes to stdin. */
function cli(args: string[], input = '', extraEnv: Record<string, string> = {}): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, { PARLEY_STORAGE__SQLITE__PATH: dbPath(), PARLEY_AUTH__SCRAM_ITERATIONS: '4096' }, extraEnv);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, out, err }));
    child.stdin.end(input);
  });
}

describe('the parley CLI', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'app', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });

  it('config check: OK with the effective config; a bad file exits 2 listing every problem', async () => {
    const bad = file('cli-bad.yaml', 'server:\n  port: 99999\n  colour: blue\nauth:\n  lockAfter: 0\n');
    const [ok, r, env, dangling] = await Promise.all([
      cli(['config', 'check']),
      cli(['--config', bad, 'config', 'check']),
      cli(['config', 'check'], '', { PARLEY_SERVER__PORT: 'x' }),
      cli(['config', 'check', '--config']),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^configuration OK \(defaults\)/);
    expect(JSON.parse(ok.out.slice(ok.out.indexOf('\n') + 1)).storage.sqlite.path).toBe(dbPath());

    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/server\.port: /);
    expect(r.err).toMatch(/server\.colour: unknown key/);
    expect(r.err).toMatch(/auth\.lockAfter: /);

    expect(env.code).toBe(2);
    expect(env.err).toMatch(/server\.port/);

    expect(dangling.code).toBe(2);
    expect(dangling.err).toMatch(/--config needs a file/);
  });

  it('on a fresh install, user add works before the server ever started (default domain created)', async () => {
    const fresh = join(dir, 'fresh', 'parley.db');
    const env = { PARLEY_STORAGE__SQLITE__PATH: fresh };
    expect(await cli(['user', 'add', 'admin@localhost', '--admin'], 'first-secret\n', env)).toMatchObject({ code: 0, out: 'added user admin@localhost (admin)\n' });
    expect((await cli(['domain', 'list'], '', env)).out).toBe('localhost\n');
  });

  it('usage: no command and an unknown command exit 2', async () => {
    const [none, r] = await Promise.all([cli([]), cli(['frobnicate'])]);
    expect(none.code).toBe(2);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "frobnicate"/);
  });

  it('domain add / list / remove', async () => {
    const add = await cli(['domain', 'add', 'Example.COM']);
    expect(add).toMatchObject({ code: 0, out: 'added domain example.com\n' });
    expect((await cli(['domain', 'add', 'other.example'])).code).toBe(0);
    expect((await cli(['domain', 'list'])).out).toBe('example.com\nother.example\n');
    const dup = await cli(['domain', 'add', 'example.com']);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/conflict/);
    expect(await cli(['domain', 'remove', 'other.example'])).toMatchObject({ code: 0, out: 'removed domain other.example\n' });
    const gone = await cli(['domain', 'remove', 'other.example']);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/item-not-found/);
    expect((await cli(['domain', 'list'])).out).toBe('example.com\n');
    const badDomain = await cli(['domain', 'add', 'bad domain']);
    expect(badDomain.code).toBe(1);
    expect(badDomain.err).toMatch(/jid-malformed.*domainpart/);
  });

  it('user add (password from stdin), list, passwd, remove', async () => {
    const add = await cli(['user', 'add', 'Alice@example.com'], 'first-secret\n');
    expect(add).toMatchObject({ code: 0, out: 'added user alice@example.com\n' });
    expect(await cli(['user', 'add', 'boss@example.com', '--admin'], 'boss-secret\n')).toMatchObject({ code: 0, out: 'added user boss@example.com (admin)\n' });
    expect((await cli(['user', 'add', 'temp@example.com'], 'temp-secret\r\n')).code).toBe(0);
    expect((await cli(['user', 'list'])).out).toBe('alice@example.com\nboss@example.com (admin)\ntemp@example.com\n');
    expect((await cli(['user', 'list', 'Example.COM'])).out).toBe('alice@example.com\nboss@example.com (admin)\ntemp@example.com\n');
    expect(await cli(['user', 'passwd', 'alice@example.com'], 'second-secret\n')).toMatchObject({ code: 0, out: 'password changed for alice@example.com\n' });
    expect(await cli(['user', 'remove', 'temp@example.com'])).toMatchObject({ code: 0, out: 'removed user temp@example.com\n' });
    expect((await cli(['user', 'list'])).out).toBe('alice@example.com\nboss@example.com (admin)\n');
    const again = await cli(['user', 'remove', 'temp@example.com']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/item-not-found/);
    const dup = await cli(['user', 'add', 'alice@example.com'], 'x-secret\n');
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/conflict/);
  });

  it('user add --bot creates a bot without a password; list marks it; passwd refuses it', async () => {
    expect(await cli(['user', 'add', 'Helper@example.com', '--bot'])).toMatchObject({ code: 0, out: 'added bot helper@example.com\n' });
    expect((await cli(['user', 'list'])).out).toContain('helper@example.com (bot)\n');
    const pw = await cli(['user', 'passwd', 'helper@example.com'], 'some-secret\n');
    expect(pw.code).toBe(1);
    expect(pw.err).toMatch(/not-acceptable.*bot/);
    expect((await cli(['user', 'add', 'admin-bot@example.com', '--bot', '--admin'])).err).toMatch(/bad-request/);
    expect(await cli(['user', 'remove', 'helper@example.com'])).toMatchObject({ code: 0 });
  });

  it('user add follows the naming policy (modules.naming): a blocked word is refused naming the rule, nothing stored', async () => {
    const env = { PARLEY_MODULES__NAMING__DEFAULT__BLOCKED: '["muscles"]' };
    const refused = await cli(['user', 'add', 'big.mu5cles@example.com'], 'pw-long-enough\n', env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/policy-violation.*big\.mu5cles@example\.com breaks the naming policy of example\.com: it contains the blocked word "muscles"/);
    expect((await cli(['user', 'list'], '', env)).out).not.toContain('mu5cles');
    // Reserved names are for administrators, and the CLI is one.
    const reserved = await cli(['user', 'add', 'postmaster@example.com'], 'pw-long-enough\n', env);
    expect(reserved.code).toBe(0);
    expect((await cli(['user', 'remove', 'postmaster@example.com'], '', env)).code).toBe(0);
  });

  it('user add refuses bad input with a clear error, and never takes a password from argv', async () => {
    // None of these changes anything, so they run side by side.
    const [space, noLocal, noDomain, resource, unhosted, empty, none, onArgv, typo] = await Promise.all([
      cli(['user', 'add', 'a b@example.com'], 'pw\n'),
      cli(['user', 'add', '@example.com'], 'pw\n'),
      cli(['user', 'add', 'carol@'], 'pw\n'),
      cli(['user', 'add', 'carol@example.com/phone'], 'pw\n'),
      cli(['user', 'add', 'carol@nowhere.example'], 'pw\n'),
      cli(['user', 'add', 'carol@example.com'], '\n'),
      cli(['user', 'add', 'carol@example.com'], ''),
      cli(['user', 'add', 'carol@example.com', 'hunter2'], 'pw\n'),
      cli(['user', 'add', 'carol@example.com', '--admn'], 'pw\n'),
    ]);
    expect(space.code).toBe(1);
    expect(space.err).toMatch(/jid-malformed.*localpart contains forbidden character U\+0020/);
    expect(noLocal.err).toMatch(/localpart is empty/);
    expect(noDomain.err).toMatch(/domainpart is empty/);
    expect(resource.err).toMatch(/resource/);
    expect(unhosted.code).toBe(1);
    expect(unhosted.err).toMatch(/nowhere\.example is not hosted/);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/password must not be empty/);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no password/);
    expect(onArgv.code).toBe(2);
    expect(onArgv.err).toMatch(/never from the command line/);
    expect(onArgv.err).not.toContain('hunter2');
    expect(typo.code).toBe(2);
    expect((await cli(['user', 'list'])).out).not.toContain('carol');
  });

  describe('with a server running on the same database', () => {
    let server: ParleyServer;
    let url: string;
    beforeAll(async () => {
      const config = validateConfig({
        server: { port: 0 },
        storage: { sqlite: { path: dbPath(), synchronous: 'normal' } },
        auth: { scramIterations: 4096 },
        log: { level: 'silent' },
      });
      server = await buildServer(config, { log: pino({ level: 'silent' }) });
      url = await server.listen();
    });
    afterAll(() => server?.close());

    it('users created by the CLI log in with the password set by the CLI', async () => {
      expect(await server.store.domains.list()).toEqual(['example.com']); // no default domain added to a used store
      const { token, address } = await login(url, 'alice@example.com', 'second-secret');
      expect(address).toBe('alice@example.com');
      await expect(login(url, 'alice@example.com', 'first-secret')).rejects.toMatchObject({ code: 'not-authorized' });
      const c = await ParleyClient.connect({ url: `${url.replace(/^http/, 'ws')}/ws`, token });
      expect(c.hello.address).toBe('alice@example.com');
      await c.close();
      // `user passwd` revokes the user's tokens, and the running server honours that at once.
      expect((await cli(['user', 'passwd', 'alice@example.com'], 'third-secret\n')).code).toBe(0);
      await expect(ParleyClient.connect({ url: `${url.replace(/^http/, 'ws')}/ws`, token })).rejects.toMatchObject({ code: 'not-authorized' });
      expect((await login(url, 'alice@example.com', 'third-secret')).address).toBe('alice@example.com');
    });

    it('CLI changes reach the running server within ~1.5 s', async () => {
      const ws = `${url.replace(/^http/, 'ws')}/ws`;
      const alice = await ParleyClient.connect({ url: ws, address: 'alice@example.com', password: 'third-secret' });
      await expect(alice.send('dan@live.example', 'early')).rejects.toMatchObject({ code: 'remote-server-not-found' });

      expect((await cli(['domain', 'add', 'live.example'])).code).toBe(0);
      const added = Date.now();
      await until(() => server.engine.ctx.directory.hostsDomain('live.example'), 1500, 'the server sees the new domain');
      expect(Date.now() - added).toBeLessThan(1500);
      await expect(alice.send('dan@live.example', 'no such user yet')).rejects.toMatchObject({ code: 'item-not-found' });

      expect((await cli(['user', 'add', 'dan@live.example'], 'dan-secret\n')).code).toBe(0);
      // The server had cached "no such user"; the data-version poll drops that cache.
      await eventually(() => alice.send('dan@live.example', 'hello dan'), 1500);
      const dan = await ParleyClient.connect({ url: ws, address: 'dan@live.example', password: 'dan-secret' });
      await dan.waitFor('message', (m) => m.body === 'hello dan');

      // Removing the account from the CLI also ends its open session on the running server.
      expect((await cli(['user', 'remove', 'dan@live.example'])).code).toBe(0);
      const closing = await dan.waitFor('session.closing', () => true, 3000);
      expect(closing.data.code).toBe('not-authorized');
      await dan.closed;
      await expect(login(url, 'dan@live.example', 'dan-secret')).rejects.toMatchObject({ code: 'not-authorized' });
      await eventually(async () => {
        await expect(alice.send('dan@live.example', 'gone')).rejects.toMatchObject({ code: 'item-not-found' });
      }, 1500);
      await alice.close();
    });

    it('`user passwd` ends the sessions opened with the old password within ~1.5 s', async () => {
      const ws = `${url.replace(/^http/, 'ws')}/ws`;
      const alice = await ParleyClient.connect({ url: ws, address: 'alice@example.com', password: 'third-secret' });
      const closing = alice.waitFor('session.closing', () => true, 4000);
      expect((await cli(['user', 'passwd', 'alice@example.com'], 'fourth-secret\n')).code).toBe(0);
      const changed = Date.now();
      expect((await closing).data).toMatchObject({ code: 'not-authorized', message: 'the password was changed' });
      expect(Date.now() - changed).toBeLessThan(1500);
      await alice.closed;
      const again = await ParleyClient.connect({ url: ws, address: 'alice@example.com', password: 'fourth-secret' });
      await again.close();
    });
  });
});

describe('default domain', () => {
  it('is normalised when the server creates it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'parley-dd-'));
    try {
      const config = validateConfig({
        server: { port: 0, defaultDomain: 'Example.ORG' },
        storage: { sqlite: { path: join(d, 'p.db'), synchronous: 'normal' } },
        log: { level: 'silent' },
      });
      const server = await buildServer(config, { log: pino({ level: 'silent' }) });
      expect(await server.store.domains.list()).toEqual(['example.org']);
      await server.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
