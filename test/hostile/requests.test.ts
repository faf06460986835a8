/**
 * Heavy reads from one account must not stall everyone else. The attacker stores 500 messages of 60 KB (30 MB)
 * with itself, then asks for all of them at once: 20 `history {limit: 500}` over one WebSocket and 20
 * `GET /api/v1/history?limit=500`, all concurrent. Pages are bounded in bytes (limits.historyPageMaxBytes) and
 * at most limits.readsInFlightPerUser of them are read at a time, limits.readsQueuedPerUser more wait, the rest
 * are refused with `rate-limited`. Meanwhile the control pair must keep chatting, and the server must stay small.
 */
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ParleyApiError, ParleyClient, login } from '../../client/index.js';
import { expectControlHeld, killHostile, startControlPair, startHostile } from './lib.js';

afterAll(killHostile);

const FLOOD = 'flood@localhost';
const MESSAGES = 500;
const BODY = 60 * 1024;
const REQUESTS = 20;

/**
 * The ceiling: a quiet server that stored the 30 MB stays near 160 MiB (measured; baseline.test.ts allows 200
 * without them). During the attack it holds at most readsInFlightPerUser pages being read (256 KiB of bodies
 * plus at most two more bodies each) and the replies of the served ones on their way out, a few MiB to tens of
 * MiB with their JSON copies; 300 MiB leaves room for the garbage collector's slack. Without the bounds, 40 pages
 * of 30 MB took the server past 4 GiB.
 */
const PEAK_RSS_MIB = 300;

/**
 * Says hello with `since: 0` on a raw WebSocket and counts the message events until `synced`. The frames are
 * only told apart by their first bytes, not parsed: the attacker's own 600 MB of JSON would otherwise load the
 * shared cores as much as the server and blur what the control pair measures.
 */
function replayAll(ws: string, token: string, resource: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(ws);
    let n = 0;
    const timer = setTimeout(() => reject(new Error(`${resource}: no synced after ${n} messages`)), 120_000);
    sock.on('open', () => sock.send(JSON.stringify({ id: 1, op: 'hello', args: { token, resource, since: 0 } })));
    sock.on('message', (data: Buffer) => {
      const head = data.subarray(0, 24).toString('latin1');
      if (head.startsWith('{"ev":"message"')) n++;
      else if (head.startsWith('{"ev":"synced"')) {
        clearTimeout(timer);
        sock.close();
        resolve(n);
      }
    });
    sock.on('error', reject);
  });
}

/** Logs the attacker in and has it send itself MESSAGES bodies of BODY bytes; returns its session. */
async function selfFlood(url: string): Promise<{ token: string; ws: string; c: ParleyClient }> {
  const { token } = await login(url, FLOOD, 'pw-flood');
  const ws = `${url.replace(/^http/, 'ws')}/ws`;
  const c = await ParleyClient.connect({ url: ws, token, resource: 'flood', keepEvents: false });
  const body = 'x'.repeat(BODY - 16);
  for (let i = 0; i < MESSAGES; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => c.send(FLOOD, `${String(i + k).padStart(8, '0')}${body}`)));
  }
  return { token, ws, c };
}

it('one account reading 40 big history pages at once leaves the control pair and the server memory alone', async () => {
  const srv = await startHostile(['flood']);
  try {
    const { token, c } = await selfFlood(srv.url);
    const ctl = await startControlPair(srv.url);
    await new Promise((r) => setTimeout(r, 500));

    const outcomes: string[] = [];
    const json = Array.from({ length: REQUESTS }, () =>
      c.request<{ messages: unknown[]; more: boolean }>('history', { with: FLOOD, limit: 500 }).then(
        (page) => {
          // 500 bodies of 60 KB are far over one page's byte budget: a shorter page, with more to come.
          outcomes.push(page.messages.length > 0 && page.messages.length < MESSAGES && page.more ? 'ok' : `page of ${page.messages.length}`);
        },
        (e: unknown) => {
          outcomes.push(e instanceof ParleyApiError ? e.code : String(e));
        },
      ),
    );
    const http = Array.from({ length: REQUESTS }, async () => {
      const res = await fetch(`${srv.url}/api/v1/history?with=${encodeURIComponent(FLOOD)}&limit=500`, { headers: { authorization: `Bearer ${token}` } });
      const payload = (await res.json()) as { messages?: unknown[]; error?: { code: string } };
      outcomes.push(res.status === 200 && Array.isArray(payload.messages) && payload.messages.length > 0 ? 'ok' : (payload.error?.code ?? `HTTP ${res.status}`));
    });
    await Promise.all([...json, ...http]);
    await new Promise((r) => setTimeout(r, 500));
    const stats = await ctl.stop();
    await c.close();

    expect(srv.peakRssMiB(), `peak RSS ${srv.peakRssMiB().toFixed(0)} MiB; control ${JSON.stringify(stats)}`).toBeLessThan(PEAK_RSS_MIB);
    expectControlHeld(stats);
    // Every request was answered: served, or refused as over the per-user limit; at least the first few served.
    expect(outcomes).toHaveLength(2 * REQUESTS);
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'rate-limited')).toEqual([]);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(4);
  } finally {
    await srv.stop();
  }
});

it('twenty sessions of one account replaying its whole log at once (hello since 0) leave the control pair alone', async () => {
  const srv = await startHostile(['flood']);
  try {
    const { token, ws, c } = await selfFlood(srv.url);
    await c.close();
    const ctl = await startControlPair(srv.url);
    await new Promise((r) => setTimeout(r, 500));
    // Each replay is paced to its reader and read in pages of about 256 KiB, so twenty of them (600 MB to send
    // in all) interleave with everyone else's work instead of taking the server for seconds.
    const counts = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => replayAll(ws, token, `replay-${i}`)));
    const stats = await ctl.stop();
    expect(counts).toEqual(Array.from({ length: REQUESTS }, () => MESSAGES));
    expect(srv.peakRssMiB(), `peak RSS ${srv.peakRssMiB().toFixed(0)} MiB; control ${JSON.stringify(stats)}`).toBeLessThan(PEAK_RSS_MIB);
    expectControlHeld(stats);
  } finally {
    await srv.stop();
  }
}, 180_000);
