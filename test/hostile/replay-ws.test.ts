/**
 * Replay follows the reader over XMPP on WebSocket too (RFC 7395): a user with 600 queued messages of 60 KB
 * (over the 16 MiB output cap) logs in through the WebSocket door, reads nothing for two seconds, then reads:
 * every message arrives, the stream is not cut off, and the next login finds the offline queue empty (without
 * stream management, a message leaves it once written to the socket).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ParleyClient, login } from '../../client/index.js';
import { expectControlHeld, killHostile, startControlPair, startHostile, type HostileServer } from './lib.js';

const N = 600;
const SIZE = 60_000;
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
let srv: HostileServer;

beforeAll(async () => {
  // Plain ws on loopback: PLAIN is allowed here so the test needs no SCRAM client (the door never requires TLS).
  srv = await startHostile(['sender', 'wsr'], { PARLEY_XMPP__ALLOW_PLAIN_WITHOUT_TLS: 'true' });
});
afterAll(async () => {
  await srv?.stop();
  killHostile();
});

/** An XMPP-over-WebSocket session that counts the distinct bodies it receives. */
async function wsSession(user: string): Promise<{ ws: WebSocket; bodies: Set<string>; closed: () => boolean; pause(p: boolean): void }> {
  const ws = new WebSocket(`${srv.url.replace(/^http/, 'ws')}/xmpp-websocket`, 'xmpp');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const inbox: string[] = [];
  const bodies = new Set<string>();
  let closed = false;
  ws.on('close', () => (closed = true));
  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    const m = /<body>([^-<]+-\d+)-/.exec(text);
    if (m) bodies.add(m[1]!);
    else inbox.push(text);
  });
  const next = async (re: RegExp): Promise<string> => {
    const end = Date.now() + 10_000;
    for (;;) {
      const i = inbox.findIndex((t) => re.test(t));
      if (i >= 0) return inbox.splice(0, i + 1).at(-1)!;
      if (Date.now() > end || closed) throw new Error(`no ${re}: ${inbox.join('\n')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const open = `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`;
  ws.send(open);
  await next(/<stream:features|<features/);
  ws.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${Buffer.from(`\0${user}\0pw-${user}`).toString('base64')}</auth>`);
  await next(/<success/);
  ws.send(open);
  await next(/<stream:features|<features/);
  ws.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>slow</resource></bind></iq>`);
  await next(/<jid>/);
  const raw = (ws as WebSocket & { _socket: { pause(): void; resume(): void } })._socket;
  return { ws, bodies, closed: () => closed, pause: (p) => (p ? raw.pause() : raw.resume()) };
}

it(`XMPP over WebSocket, a slow reader: all ${N} arrive, once`, async () => {
  const { token } = await login(srv.url, 'sender@localhost', 'pw-sender');
  const c = await ParleyClient.connect({ url: `${srv.url.replace('http', 'ws')}/ws`, token, resource: 'fill', keepEvents: false });
  const pad = 'x'.repeat(SIZE);
  for (let i = 0; i < N; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => c.send('wsr@localhost', `wsr-${i + k}-${pad}`)));
  await c.close();
  const ctl = await startControlPair(srv.url);
  const s = await wsSession('wsr');
  s.pause(true);
  s.ws.send(`<presence xmlns="jabber:client"/>`);
  await new Promise((r) => setTimeout(r, 2000));
  s.pause(false);
  const end = Date.now() + 60_000;
  while (s.bodies.size < N && !s.closed() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect({ got: s.bodies.size, closed: s.closed() }).toEqual({ got: N, closed: false });
  await new Promise((r) => setTimeout(r, 300));
  s.ws.close();
  expectControlHeld(await ctl.stop());
  const again = await wsSession('wsr');
  again.ws.send(`<presence xmlns="jabber:client"/>`);
  await new Promise((r) => setTimeout(r, 2000));
  expect(again.bodies.size).toBe(0);
  again.ws.close();
  expect(srv.peakRssMiB()).toBeLessThan(260);
}, 120_000);
