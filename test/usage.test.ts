/**
 * The usage figures over a real server: sessions over the JSON WebSocket, XMPP over TLS, XMPP over WebSocket
 * (RFC 7395) and BOSH (XEP-0206, the real Strophe.js client) show in today's sessions per protocol and in the live
 * counts; one-to-one messages sent over JSON and XMPP and a room message show in today's messages; active users,
 * the peak and new accounts; every day of the range present; `parley usage`; administrators only.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Strophe } from 'strophe.js';
import { WebSocket } from 'ws';
import { login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { installXhr } from './bosh-xhr.js';
import { runParley } from './cli.js';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

Strophe.setLogLevel(Strophe.LogLevel.FATAL);

let t: TestServer;
let root: string;
let undoXhr: () => void;

beforeAll(async () => {
  t = await startServer({ modules: { usage: { flushSeconds: 0.1 } } as never });
  await addUser(t.server.store, 'root@localhost', 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  root = (await login(t.url, 'root@localhost', 'pw-root')).token;
  undoXhr = installXhr();
});
afterAll(async () => {
  undoXhr?.();
  await t?.close();
});

const PROTOCOLS = ['json', 'xmpp-tcp', 'xmpp-websocket', 'xmpp-bosh', 'other'] as const;
type Counts = Record<(typeof PROTOCOLS)[number], number>;
interface Day {
  day: string;
  messages: number;
  roomMessages: number;
  activeUsers: number;
  activeBots: number;
  sessions: Counts;
  peakConnections: number;
  newAccounts: number;
}
interface Usage {
  days: Day[];
  now: { sessions: number; byProtocol: Counts; onlineUsers: number };
}

async function call(path: string, token = root): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function usage(days = 30): Promise<Usage> {
  const r = await call(`/api/v1/usage?days=${days}`);
  expect(r.status).toBe(200);
  return r.json as Usage;
}

const today = async (): Promise<Day> => (await usage(1)).days[0]!;

/** Retries `check` until it passes (the log consumer and account lookups run a little after the fact). */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** An XMPP-over-WebSocket session (RFC 7395): SCRAM-SHA-256 (RFC 5802, 7677), then bind. */
async function wsLogin(address: string, resource: string): Promise<WebSocket> {
  const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/xmpp-websocket`, ['xmpp']);
  const got: string[] = [];
  ws.on('message', (d: Buffer) => got.push(d.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seen = 0;
  const until = async (re: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 1000; i++) {
      for (; seen < got.length; seen++) {
        const m = re.exec(got[seen]!);
        if (m) {
          seen++;
          return m;
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${re}: ${got.join('\n')}`);
  };
  const open = async (): Promise<void> => {
    ws.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`);
    await until(/^<stream:features/);
  };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const local = address.split('@')[0]!;
  await open();
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=${local},r=${nonce}`;
  ws.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-256">${b64(`n,,${bare}`)}</auth>`);
  const serverFirst = Buffer.from((await until(/^<challenge[^>]*>([^<]+)</))[1]!, 'base64').toString('utf8');
  const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)]));
  const salted = pbkdf2Sync(`pw-${local}`, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const withoutProof = `c=${b64('n,,')},r=${attrs.r}`;
  const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(`${bare},${serverFirst},${withoutProof}`).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64');
  ws.send(`<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">${b64(`${withoutProof},p=${proof}`)}</response>`);
  await until(/^<success/);
  await open();
  ws.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>${resource}</resource></bind></iq>`);
  await until(/<jid>/);
  return ws;
}

/** A BOSH session (XEP-0206) of the real Strophe.js client. */
async function boshLogin(address: string, resource: string): Promise<InstanceType<typeof Strophe.Connection>> {
  const conn = new Strophe.Connection(`${t.url}/http-bind`);
  await new Promise<void>((resolve, reject) => {
    conn.connect(`${address}/${resource}`, `pw-${address.split('@')[0]}`, (status: number) => {
      if (status === Strophe.Status.CONNECTED) resolve();
      else if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL) reject(new Error(`strophe status ${status}`));
    });
  });
  return conn;
}

const sum = (c: Counts): number => PROTOCOLS.reduce((n, p) => n + c[p], 0);

describe('usage figures', () => {
  it('count sessions per protocol, live connections, active users, the peak and messages over JSON and XMPP', async () => {
    const before = await today();
    const [ann, ben, cat, dan] = await freshUsers(t, 'ann', 'ben', 'cat', 'dan');
    const json = await onlineAt(t, ann!);
    const json2 = await onlineAt(t, ben!);
    const tcp = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    await tcp.login(cat!, `pw-${cat!.split('@')[0]}`, 'desk');
    const ws = await wsLogin(dan!, 'web');
    const bosh = await boshLogin(dan!, 'bosh');

    // Live: every session open now, by protocol, and the people behind them.
    const live = (await usage(1)).now;
    expect(live.byProtocol).toMatchObject({ json: 2, 'xmpp-tcp': 1, 'xmpp-websocket': 1, 'xmpp-bosh': 1 });
    expect(live.sessions).toBe(sum(live.byProtocol));
    expect(live.onlineUsers).toBeGreaterThanOrEqual(4);

    // One-to-one messages over JSON and over XMPP, and one in a room.
    await json.request('message.send', { to: ben, body: 'over json' });
    tcp.write(`<message type='chat' to='${ann}' id='x1'><body>over xmpp</body></message>`);
    await json.waitFor('message', (d) => d.body === 'over xmpp');
    const { room } = (await json.request('room.create', { name: `usage ${Date.now()}` })) as { room: { address: string } };
    await json.request('message.send', { to: room.address, body: 'to the room' });

    await eventually(async () => {
      const d = await today();
      expect(d.messages - before.messages).toBe(2);
      expect(d.roomMessages - before.roomMessages).toBe(1);
      expect(d.activeUsers - before.activeUsers).toBe(4);
      expect({
        json: d.sessions.json - before.sessions.json,
        'xmpp-tcp': d.sessions['xmpp-tcp'] - before.sessions['xmpp-tcp'],
        'xmpp-websocket': d.sessions['xmpp-websocket'] - before.sessions['xmpp-websocket'],
        'xmpp-bosh': d.sessions['xmpp-bosh'] - before.sessions['xmpp-bosh'],
      }).toEqual({ json: 2, 'xmpp-tcp': 1, 'xmpp-websocket': 1, 'xmpp-bosh': 1 });
      expect(d.peakConnections).toBeGreaterThanOrEqual(5);
    });

    bosh.disconnect();
    ws.close();
    tcp.write('</stream:stream>');
    await json2.close();
    await eventually(async () => expect((await usage(1)).now.byProtocol).toMatchObject({ json: 1, 'xmpp-tcp': 0, 'xmpp-websocket': 0, 'xmpp-bosh': 0 }));
    // The peak stays what it was.
    expect((await today()).peakConnections).toBeGreaterThanOrEqual(5);
  });

  it('counts accounts created, and people and bots apart', async () => {
    const before = await today();
    const res = await fetch(`${t.url}/api/v1/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${root}`, 'content-type': 'application/json' },
      body: JSON.stringify({ address: `newbie-${Date.now()}@localhost`, password: 'pw-newbie-123' }),
    });
    expect(res.status).toBe(201);
    await eventually(async () => expect((await today()).newAccounts - before.newAccounts).toBe(1));
    expect((await today()).activeBots).toBe(before.activeBots);
  });

  it('reports every day of the range, oldest first, with zeros where nothing happened; parley usage prints them', async () => {
    const { days } = await usage(7);
    expect(days).toHaveLength(7);
    const todayIs = new Date().toISOString().slice(0, 10);
    expect(days[6]!.day).toBe(todayIs);
    expect(days.map((d) => d.day)).toEqual([...days.map((d) => d.day)].sort());
    expect(days[0]).toEqual({ day: days[0]!.day, messages: 0, roomMessages: 0, activeUsers: 0, activeBots: 0, sessions: { json: 0, 'xmpp-tcp': 0, 'xmpp-websocket': 0, 'xmpp-bosh': 0, other: 0 }, peakConnections: 0, newAccounts: 0 });
    const run = await runParley(join(t.dir, 'parley.db'), ['usage', '--days', '3']);
    expect(run.code).toBe(0);
    const lines = run.out.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^day\s+messages\s+room\s+active\s+bots\s+json\s+xmpp-tcp\s+xmpp-websocket\s+xmpp-bosh\s+other\s+peak\s+new$/);
    expect(lines[3]).toMatch(new RegExp(`^${todayIs}\\s+${days[6]!.messages}\\s+${days[6]!.roomMessages}\\s`));
    expect((await runParley(join(t.dir, 'parley.db'), ['usage', '--days', 'many'])).code).toBe(2);
  });

  it('refuses people who are not administrators, and bad ranges', async () => {
    const [u] = await freshUsers(t, 'ivy');
    const token = (await login(t.url, u!, `pw-${u!.split('@')[0]}`)).token;
    const r = await call('/api/v1/usage', token);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('forbidden');
    expect((await call('/api/v1/usage?days=0')).status).toBe(400);
    expect((await call('/api/v1/usage?days=401')).status).toBe(400);
    expect((await usage()).days).toHaveLength(30);
  });
});
