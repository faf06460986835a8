/**
 * XEP-0215 against a real TURN server: coturn (Debian `coturn`) checks time-limited credentials with the secret
 * it shares with Parley (use-auth-secret). The credentials a client gets from Parley allocate a relay; the same
 * user name with another password does not. Skipped, loudly, where turnserver is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { freePort } from '../src/modules/testing.js';

const SECRET = 'a-secret-shared-with-coturn-0123456789';
const missing = spawnSync('turnserver', ['--version']).error ? 'turnserver (Debian coturn) is not installed' : null;
if (missing) console.warn(`SKIPPED test/extdisco.test.ts: ${missing}`);

/** Runs turnutils_uclient: one allocation with these credentials; resolves with its exit code. */
function allocate(port: number, username: string, password: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn('turnutils_uclient', ['-u', username, '-w', password, '-p', String(port), '-n', '1', '-m', '1', '-l', '100', '-e', '127.0.0.1', '-X', '-g', '127.0.0.1'], { stdio: 'ignore' });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

describe.skipIf(missing !== null)('TURN credentials with coturn (XEP-0215)', () => {
  let t: TestServer;
  let turn: ChildProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    turn = spawn('turnserver', [
      '-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1', '--use-auth-secret', `--static-auth-secret=${SECRET}`,
      '--realm=localhost', '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers', '--log-file=stdout', '--simple-log',
      `--pidfile=${join(tmpdir(), `parley-turn-${port}.pid`)}`,
    ], { stdio: 'ignore' });
    t = await startServer({ modules: { extdisco: { enabled: true, services: [{ type: 'turn', host: '127.0.0.1', port, transport: 'udp', secret: SECRET }] } } } as never);
    // coturn is ready when it answers on its TCP port.
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(true)); // the port is taken: coturn is listening
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    turn?.kill('SIGKILL');
    await t?.close();
  });

  it('a client\'s credentials from Parley allocate a relay; a wrong password does not', async () => {
    const [alice] = await freshUsers(t, 'alice');
    const c = await onlineAt(t, alice!);
    const { services } = await c.request<{ services: Array<{ username: string; password: string; host: string; port: number }> }>('extdisco.services', {});
    expect(services).toHaveLength(1);
    const s = services[0]!;
    expect(s).toMatchObject({ host: '127.0.0.1', port });
    expect(s.username).toMatch(new RegExp(`^\\d+:${alice}$`));
    expect(await allocate(port, s.username, s.password)).toBe(0);
    expect(await allocate(port, s.username, `${s.password.slice(0, -4)}AAA=`)).not.toBe(0);
  }, 60_000);
});
