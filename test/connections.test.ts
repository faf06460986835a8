/**
 * Per-address connection caps across every front door (protocols/connection-limits.ts) and the TLS handshake
 * timeout of every TLS listener. Each case connects from its own loopback address (127.0.0.x via localAddress),
 * so the cases do not share a count.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ParleyClient } from '../client/index.js';
import { freshUsers, startServer, until, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
const sockets: Socket[] = [];
const clients: WebSocket[] = [];
const raws: RawXmpp[] = [];

beforeAll(async () => {
  t = await startServer({ limits: { unauthenticatedPerAddress: 4, connectionsPerAddress: 8, tlsHandshakeTimeoutSeconds: 0.3 } });
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of clients) c.terminate();
  for (const r of raws) r.close();
  await t.close();
});

/** A TCP connection from `from`, with what it received and whether it closed. */
async function tcp(port: number, from: string): Promise<{ socket: Socket; text: () => string; closed: () => boolean }> {
  const socket = netConnect({ host: '127.0.0.1', port, localAddress: from });
  sockets.push(socket);
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString()));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, text: () => text, closed: () => closed };
}

/** A WebSocket upgrade from `from`; resolves with the HTTP status (101 when open). */
async function upgrade(path: string, from: string, protocol?: string): Promise<{ status: number; ws: WebSocket }> {
  const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}${path}`, protocol ? [protocol] : [], { localAddress: from });
  clients.push(ws);
  ws.on('error', () => undefined);
  const status = await new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('error', () => resolve(0)); // closed before any answer
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
  return { status, ws };
}

const ports = (): { starttls: number; directTls: number } => {
  const p = t.server.xmpp!.ports;
  return { starttls: p.starttls!, directTls: p.directTls! };
};

describe('per-address connection caps', () => {
  it('refuses connections past the unauthenticated cap on every front door; other addresses are unaffected', async () => {
    const from = '127.0.0.11';
    const { starttls, directTls } = ports();
    // Four connections that have not authenticated, one per kind: idle XMPP TCP, a TLS handshake not even
    // started on the direct-TLS port, a JSON WebSocket without hello, an XMPP WebSocket without a stream.
    await tcp(starttls, from);
    await tcp(directTls, from);
    expect((await upgrade('/ws', from)).status).toBe(101);
    expect((await upgrade('/xmpp-websocket', from, 'xmpp')).status).toBe(101);
    // The fifth is refused, whatever the door: XMPP TCP with a stream error, WebSockets with HTTP 503, the TLS
    // port at once.
    const x = await tcp(starttls, from);
    await until(() => x.closed(), 2000, 'the refused XMPP connection to close');
    expect(x.text()).toMatch(/<stream:stream[^>]*>.*<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*too many connections/s);
    expect((await upgrade('/ws', from)).status).toBe(503);
    expect((await upgrade('/xmpp-websocket', from, 'xmpp')).status).toBe(503);
    const tlsSocket = await tcp(directTls, from);
    await until(() => tlsSocket.closed(), 2000, 'the refused TLS connection to close');
    // The operator sees the refusals on /metrics (read from loopback).
    const scraped = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/^parley_connections_refused_total\{cap="unauthenticatedPerAddress"\} (\d+)/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(4);
    // Another address logs in as usual.
    const [alice] = await freshUsers(t, 'alice');
    const c = await ParleyClient.connect({
      url: t.wsUrl,
      address: alice!,
      password: `pw-${alice!.split('@')[0]}`,
      wsOptions: { localAddress: '127.0.0.12' },
    });
    await c.waitFor('synced');
    await c.close();
  });

  it('stops counting a connection once it has authenticated, and frees a place when one closes', async () => {
    const from = '127.0.0.13';
    const users = await freshUsers(t, 'u1', 'u2', 'u3');
    // An XMPP session and two JSON sessions from the same address: all authenticated.
    const fromHere: ConnectionOptions & { localAddress: string } = { localAddress: from };
    const x = await RawXmpp.open(ports().directTls, true, fromHere);
    raws.push(x);
    await x.login(users[0]!, `pw-${users[0]!.split('@')[0]}`, 'x');
    const sessions: ParleyClient[] = [];
    for (const u of users.slice(1)) {
      const c = await ParleyClient.connect({ url: t.wsUrl, address: u, password: `pw-${u.split('@')[0]}`, wsOptions: { localAddress: from } });
      await c.waitFor('synced');
      sessions.push(c);
    }
    // Four idle XMPP streams still fit (the unauthenticated cap is 4; seven connections in all)...
    const idle = [];
    for (let i = 0; i < 4; i++) idle.push(await tcp(ports().starttls, from));
    await new Promise((r) => setTimeout(r, 100));
    expect(idle.filter((s) => s.closed())).toEqual([]);
    // ...but not a fifth,
    const fifth = await tcp(ports().starttls, from);
    await until(() => fifth.closed(), 2000, 'the fifth idle stream to be refused');
    expect(fifth.text()).toContain('<policy-violation');
    // until one goes away.
    idle[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = await tcp(ports().starttls, from);
    await new Promise((r) => setTimeout(r, 100));
    expect(again.closed()).toBe(false);
    for (const c of sessions) await c.close();
  });

  it('releases the count of a connection upgraded with STARTTLS when it closes', async () => {
    // From 127.0.0.1, which no other case here uses: twelve in a row, more than either cap, one at a time.
    for (let i = 0; i < 12; i++) {
      const x = await RawXmpp.open(ports().starttls);
      await x.open();
      await x.starttls();
      await x.open();
      x.close();
      await new Promise((r) => setTimeout(r, 20));
    }
    const last = await RawXmpp.open(ports().starttls);
    raws.push(last);
    await last.open();
  });

  it('caps all connections from one address, authenticated or not, at connectionsPerAddress', async () => {
    const from = '127.0.0.14';
    const users = await freshUsers(t, 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8');
    const sessions: ParleyClient[] = [];
    for (const u of users) {
      const c = await ParleyClient.connect({ url: t.wsUrl, address: u, password: `pw-${u.split('@')[0]}`, wsOptions: { localAddress: from } });
      await c.waitFor('synced');
      sessions.push(c);
    }
    // The ninth TCP connection from this address is closed before anything is said on it.
    const ninth = await tcp(ports().starttls, from);
    await until(() => ninth.closed(), 2000, 'the ninth connection to be closed');
    expect(ninth.text()).toBe('');
    expect((await upgrade('/ws', from)).status).toBe(0);
    await sessions[0]!.close();
    await new Promise((r) => setTimeout(r, 100));
    const c = await ParleyClient.connect({ url: t.wsUrl, address: users[0]!, password: `pw-${users[0]!.split('@')[0]}`, wsOptions: { localAddress: from } });
    await c.waitFor('synced');
    await c.close();
    for (const s of sessions.slice(1)) await s.close();
  });
});

describe('TLS handshake timeout', () => {
  it('closes an unfinished handshake on the direct-TLS port after tlsHandshakeTimeoutSeconds', async () => {
    const s = await tcp(ports().directTls, '127.0.0.21');
    const started = Date.now();
    await until(() => s.closed(), 3000, 'the idle TLS connection to be closed');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('closes an unfinished STARTTLS handshake after tlsHandshakeTimeoutSeconds', async () => {
    const s = await tcp(ports().starttls, '127.0.0.22');
    s.socket.write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    await until(() => s.text().includes('</stream:features>'), 2000, 'stream features');
    s.socket.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await until(() => s.text().includes('<proceed'), 2000, '<proceed/>');
    const started = Date.now();
    await until(() => s.closed(), 3000, 'the idle STARTTLS handshake to be closed');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('closes an unfinished handshake on the HTTPS listener, while a finished one is served', async () => {
    const certs = join(t.dir, 'certs');
    const https = await startServer({
      server: { tls: { cert: join(certs, 'localhost.crt'), key: join(certs, 'localhost.key') } },
      xmpp: { enabled: false },
      limits: { tlsHandshakeTimeoutSeconds: 0.3 },
    });
    try {
      const port = Number(new URL(https.url).port);
      const idle = netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.23' });
      sockets.push(idle);
      let closed = false;
      idle.on('close', () => (closed = true));
      idle.on('error', () => undefined);
      const started = Date.now();
      await until(() => closed, 3000, 'the idle HTTPS connection to be closed');
      expect(Date.now() - started).toBeLessThan(2000);
      const ok = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
      sockets.push(ok);
      await new Promise<void>((resolve, reject) => {
        ok.once('secureConnect', () => resolve());
        ok.once('error', reject);
      });
      ok.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      let text = '';
      ok.on('data', (d: Buffer) => (text += d.toString()));
      await until(() => text.includes('"status":"ok"'), 3000, 'the health answer');
    } finally {
      await https.close();
    }
  });
});
