/**
 * XEP-0198 queues are bounded in bytes and die with their stream. A client that enables stream management and
 * never acknowledges is cut off once it holds smMaxUnackedBytes, and what it was sent goes back to its offline
 * queue; streams that end with a stream error leave no resumable session and no queue behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ParleyClient, login } from '../../client/index.js';
import { expectControlHeld, killHostile, startControlPair, startHostile, type HostileServer } from './lib.js';
import { SlowXmpp } from './slow-xmpp.js';

const SIZE = 60_000;
let srv: HostileServer;
let sender: ParleyClient;

beforeAll(async () => {
  srv = await startHostile(['sender', 'smv', 'smh', ...Array.from({ length: 12 }, (_, i) => `sme${i}`)], {
    PARLEY_XMPP__SM_MAX_UNACKED_BYTES: String(4 << 20),
  });
  const { token } = await login(srv.url, 'sender@localhost', 'pw-sender');
  sender = await ParleyClient.connect({ url: `${srv.url.replace('http', 'ws')}/ws`, token, resource: 'flood', keepEvents: false });
});
afterAll(async () => {
  await sender?.close();
  await srv?.stop();
  killHostile();
});

/** The XEP-0198 gauges from /metrics (read from loopback). */
async function smGauges(): Promise<Record<string, number>> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^parley_xmpp_sm_(\w+) (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

async function flood(to: string, label: string, n: number): Promise<void> {
  const pad = 'x'.repeat(SIZE);
  for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => sender.send(to, `${label}-${i + k}-${pad}`)));
}

it('a client that never acknowledges is cut off at the byte cap, and loses nothing', async () => {
  const ctl = await startControlPair(srv.url);
  const x = await SlowXmpp.login(srv.xmppTlsPort, 'smv@localhost', 'pw-smv', 'never-ack', { resume: true });
  x.write('<presence/>');
  await new Promise((r) => setTimeout(r, 200));
  await flood('smv@localhost', 'smv', 120); // 7 MB, over the 4 MiB cap
  const end = Date.now() + 10_000;
  while (!x.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(x.streamError).toContain('resource-constraint');
  expectControlHeld(await ctl.stop());
  // Everything the server acknowledged to the sender reaches smv, from its offline queue or live.
  const y = await SlowXmpp.login(srv.xmppTlsPort, 'smv@localhost', 'pw-smv', 'off');
  y.write('<presence/>');
  expect(await y.waitBodies(120, 10_000)).toBe(120);
  y.close();
}, 60_000);

it('a hibernating session is ended at the byte cap, and its messages go to the offline queue', async () => {
  const x = await SlowXmpp.login(srv.xmppTlsPort, 'smh@localhost', 'pw-smh', 'ack', { resume: true });
  x.write('<presence/>');
  await new Promise((r) => setTimeout(r, 200));
  x.close(); // the connection breaks: the session waits to be resumed (XEP-0198 §5)
  await new Promise((r) => setTimeout(r, 200));
  expect((await smGauges()).hibernating).toBe(1);
  await flood('smh@localhost', 'smh', 120); // 7 MB for nobody, over the 4 MiB cap
  await new Promise((r) => setTimeout(r, 300));
  expect(await smGauges()).toEqual({ resumable: 0, hibernating: 0, unacked_bytes: 0 });
  const y = await SlowXmpp.login(srv.xmppTlsPort, 'smh@localhost', 'pw-smh', 'off');
  y.write('<presence/>');
  expect(await y.waitBodies(120, 10_000)).toBe(120);
  y.close();
}, 60_000);

it('streams that end with a stream error leave no queue behind', async () => {
  for (let i = 0; i < 12; i++) {
    const x = await SlowXmpp.login(srv.xmppTlsPort, `sme${i}@localhost`, `pw-sme${i}`, 'never-ack', { resume: true });
    x.write('<presence/>');
    await new Promise((r) => setTimeout(r, 100));
    await flood(`sme${i}@localhost`, `sme${i}`, 40); // 2.4 MB held unacknowledged
    x.write('<bogus xmlns="urn:example"/>'); // a stream error ends the stream: nothing to resume
    const end = Date.now() + 5000;
    while (!x.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(x.streamError).toContain('unsupported-stanza-type');
  }
  await new Promise((r) => setTimeout(r, 300));
  expect(await smGauges()).toEqual({ resumable: 0, hibernating: 0, unacked_bytes: 0 });
  expect(srv.peakRssMiB()).toBeLessThan(260);
}, 90_000);
