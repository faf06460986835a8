/**
 * Replay follows the reader. A user with more queued than a connection may buffer (600 messages of 60 KB, over
 * the 16 MiB output cap) logs in and reads slowly: every message arrives, none is dropped from the offline queue
 * before the client has it (acknowledged with stream management or `sync.ack`, or written to a client that
 * cannot acknowledge), nothing arrives twice on the next login, and the control pair chats on meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ParleyClient, login } from '../../client/index.js';
import { expectControlHeld, killHostile, startControlPair, startHostile, type HostileServer } from './lib.js';
import { SlowXmpp, type SmMode } from './slow-xmpp.js';

const N = 600;
const SIZE = 60_000;
/** Peak RSS of the server allowed while it replays 36 MB to a slow reader (it used to buffer all of it). */
const CEILING_MIB = 260;

let srv: HostileServer;

beforeAll(async () => {
  srv = await startHostile(['sender', 'xoff', 'xack', 'xnoack', 'jrx']);
});
afterAll(async () => {
  await srv?.stop();
  killHostile();
});

/** Fills `to`'s offline queue with N bodies "label-i-xxxx…" of SIZE bytes. */
async function fill(to: string, label: string): Promise<void> {
  const { token } = await login(srv.url, 'sender@localhost', 'pw-sender');
  const c = await ParleyClient.connect({ url: `${srv.url.replace('http', 'ws')}/ws`, token, resource: `fill-${label}`, keepEvents: false });
  const pad = 'x'.repeat(SIZE);
  for (let i = 0; i < N; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => c.send(to, `${label}-${i + k}-${pad}`)));
  }
  await c.close();
}

/** Logs in over XMPP, sends initial presence, reads nothing for `stallMs`, then reads everything. */
async function slowLogin(user: string, mode: SmMode, stallMs: number): Promise<SlowXmpp> {
  const x = await SlowXmpp.login(srv.xmppTlsPort, `${user}@localhost`, `pw-${user}`, mode);
  x.pause(true);
  x.write(`<presence/>`);
  await new Promise((r) => setTimeout(r, stallMs));
  x.pause(false);
  return x;
}

/** What a fresh login of `user` gets replayed (no stream management), after a moment. */
async function replayedOnRelogin(user: string): Promise<number> {
  const x = await SlowXmpp.login(srv.xmppTlsPort, `${user}@localhost`, `pw-${user}`, 'off');
  x.write(`<presence/>`);
  const n = await x.waitBodies(N, 3000);
  x.close();
  return n;
}

describe('offline replay to a slow reader', () => {
  for (const mode of ['off', 'ack'] as const) {
    it(`XMPP ${mode === 'off' ? 'without' : 'with'} stream management: all ${N} arrive, once`, async () => {
      const user = mode === 'off' ? 'xoff' : 'xack';
      await fill(`${user}@localhost`, user);
      const ctl = await startControlPair(srv.url);
      const x = await slowLogin(user, mode, 2000);
      const got = await x.waitBodies(N, 60_000);
      const closedEarly = x.closed;
      x.ackNow(); // what arrived since the server's last <r/>
      await new Promise((r) => setTimeout(r, 300)); // the last acknowledgements reach the server
      x.close();
      expectControlHeld(await ctl.stop());
      expect({ got, closedEarly, streamError: x.streamError }).toEqual({ got: N, closedEarly: false, streamError: null });
      await new Promise((r) => setTimeout(r, 300));
      expect(await replayedOnRelogin(user)).toBe(0);
      expect(srv.peakRssMiB()).toBeLessThan(CEILING_MIB);
    }, 120_000);
  }

  it('XMPP with stream management that never acknowledges: nothing leaves the queue', async () => {
    await fill('xnoack@localhost', 'xnoack');
    const x = await slowLogin('xnoack', 'never-ack', 500);
    await new Promise((r) => setTimeout(r, 3000));
    const seen = x.bodies.size;
    x.close();
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(N); // the server waited for acknowledgements instead of piling up 36 MB
    await new Promise((r) => setTimeout(r, 500));
    expect(await replayedOnRelogin('xnoack')).toBe(N);
  }, 120_000);

  it(`JSON without "since": synced after all ${N}, and the acknowledged queue is empty`, async () => {
    await fill('jrx@localhost', 'jrx');
    const ctl = await startControlPair(srv.url);
    const { token } = await login(srv.url, 'jrx@localhost', 'pw-jrx');
    const bodies = new Set<string>();
    const c = await ParleyClient.connect({ url: `${srv.url.replace('http', 'ws')}/ws`, token, resource: 'slow', keepEvents: false });
    const raw = (c.ws as WebSocket & { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    c.on('message', (e) => bodies.add(String(e.data.body).split('-').slice(0, 2).join('-')));
    const synced = c.waitFor('synced', () => true, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    raw.resume();
    await synced;
    expect(bodies.size).toBe(N);
    await new Promise((r) => setTimeout(r, 300)); // the SDK acknowledges 50 ms after the last event
    await c.close();
    expectControlHeld(await ctl.stop());
    const again = await ParleyClient.connect({ url: `${srv.url.replace('http', 'ws')}/ws`, token, resource: 'slow', keepEvents: true });
    await again.waitFor('synced');
    expect(again.received('message')).toHaveLength(0);
    await again.close();
    expect(srv.peakRssMiB()).toBeLessThan(CEILING_MIB);
  }, 120_000);
});
