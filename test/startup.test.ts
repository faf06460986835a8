/**
 * What an operator sees when the server starts (README, "Ports, origins and the certificate"): the banner names
 * every front door with the ports actually bound, the certificate line names its file and both fingerprints, and
 * a WebSocket upgrade refused for its Origin is logged with the origin and the setting that would allow it.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './harness.js';
import { killAll, prepareDb, startProcess, type ServerProcess } from './process.js';

let dir: string;
let s: ServerProcess;

beforeAll(async () => {
  ({ dir } = await prepareDb('parley-startup-', ['alice']));
  s = await startProcess(`${dir}/parley.db`);
  await until(() => s.output().includes('Web pages served from another origin'), 5000, 'the banner');
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** The log lines (JSON) with message `msg`. */
const logLines = (msg: string): Array<Record<string, unknown>> =>
  s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

/** The status of a WebSocket upgrade on `path` sent with `origin`. */
function upgradeStatus(path: string, origin: string): Promise<number> {
  const u = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', origin, 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'xmpp' },
    });
    req.on('response', (r) => resolve(r.statusCode ?? 0));
    req.on('upgrade', (r) => resolve(r.statusCode ?? 0));
    req.on('error', reject);
    req.end();
  });
}

describe('start-up', () => {
  it('the banner lists the HTTP API, both WebSocket paths and the XMPP ports bound, with the keys that move them', () => {
    const [listening] = logLines('parley listening');
    const xmpp = listening!.xmpp as { starttls: number; directTls: number };
    expect(xmpp.starttls).toBeGreaterThan(0);
    expect(xmpp.directTls).toBeGreaterThan(0);
    const ws = s.url.replace(/^http/, 'ws');
    expect(listening).toMatchObject({ websocket: `${ws}/ws`, xmppWebsocket: `${ws}/xmpp-websocket` });
    const out = s.output();
    expect(out).toContain(`HTTP API   ${s.url}/api/v1`);
    expect(out).toContain(`JSON API   ${ws}/ws (WebSocket)`);
    expect(out).toContain(`${ws}/xmpp-websocket (XMPP over WebSocket, RFC 7395)`);
    expect(out).toContain(`${xmpp.starttls} (STARTTLS, PARLEY_XMPP__PORT), ${xmpp.directTls} (direct TLS, PARLEY_XMPP__DIRECT_TLS_PORT)`);
    expect(out).toContain('server.allowedOrigins');
  });

  it('the certificate line names the file and both fingerprints, which match the file', () => {
    const [cert] = logLines('xmpp certificate');
    expect(cert).toMatchObject({ domain: 'localhost', source: 'generated' });
    const x509 = new X509Certificate(readFileSync(cert!.file as string));
    expect(cert!.sha256).toBe(x509.fingerprint256);
    expect(cert!.sha1).toBe(x509.fingerprint);
  });

  it('an upgrade refused for its Origin is answered 403 and logged with the origin and the setting', async () => {
    for (const path of ['/ws', '/xmpp-websocket']) expect(await upgradeStatus(path, 'https://intranet.example.com')).toBe(403);
    await until(() => logLines('refused a WebSocket upgrade from a page at https://intranet.example.com: add it to server.allowedOrigins to allow it').length >= 1, 5000, 'the log line');
    const [line] = logLines('refused a WebSocket upgrade from a page at https://intranet.example.com: add it to server.allowedOrigins to allow it');
    expect(line).toMatchObject({ level: 40, origin: 'https://intranet.example.com', setting: 'server.allowedOrigins' });
  });
});
