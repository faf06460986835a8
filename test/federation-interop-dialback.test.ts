/**
 * Parley's federation module against real Prosody 0.12 and ejabberd 23.01 where no certificate can be validated:
 * every server (Parley included) presents a self-signed certificate, so every stream in both directions is
 * authenticated by XEP-0220 dialback (the receiving server asks the sender's authoritative server, found through
 * the harness's /etc/hosts block, to verify the key, §2.3), over TLS all the same (STARTTLS stays required).
 * Chat both ways with each peer; the peers' logs and Parley's audit log (`federation.connection`) name dialback
 * as the method of each stream. test/federation-interop.test.ts covers the EXTERNAL side and everything else.
 *
 * Skipped loudly where the peers cannot run, or where this build has no federation module.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODULES } from '../src/app/modules.js';
import type { TestServer } from './harness.js';
import { federationPeersUnavailable, startPeers, type PeerServer, type Peers } from './support/federation/index.js';
import { PARLEY, startInteropParley, type InteropParley } from './support/federation/parley.js';
import { SlixClient, slixmppUnavailable } from './xmpp/slix.js';

const hasFederation = MODULES.some((m) => m.name === 'federation');
const why = federationPeersUnavailable() ?? slixmppUnavailable() ?? (hasFederation ? null : 'this build has no federation module (src/modules/federation)');
if (why !== null) console.warn(`\n*** SKIPPED: test/federation-interop-dialback.test.ts (${why}).\n`);

let peers: Peers;
let t: TestServer;
let parley: InteropParley | undefined;
let rootToken = '';

/** A slixmpp client (certificates are self-signed here: the client does not verify them). */
async function clientOf(jid: string, resource: string, host: string, port: number): Promise<SlixClient> {
  const c = await SlixClient.start({ host, port, jid, password: `pw-${jid.split('@')[0]}`, resource });
  await c.connect();
  return c;
}
const onPeer = (peer: PeerServer, user: string, resource: string): Promise<SlixClient> => clientOf(`${user}@${peer.domain}`, resource, peer.address, peer.c2sPort);
const onParley = (user: string, resource: string): Promise<SlixClient> => clientOf(`${user}@${PARLEY}`, resource, '127.0.0.1', t.server.xmpp!.ports.starttls!);

beforeAll(async () => {
  if (why) return;
  peers = await startPeers({ mode: 'dialback' });
  parley = await startInteropParley(['alice'], peers.pki.selfSigned[PARLEY]!, peers.pki.caFile);
  t = parley.t;
  rootToken = parley.rootToken;
}, 240_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && peers) console.error(peers.logs());
  await SlixClient.killAll();
});

afterAll(async () => {
  await SlixClient.killAll();
  await parley?.close();
  await peers?.stop();
}, 60_000);

describe.skipIf(why !== null)('federation with real Prosody and ejabberd (dialback, self-signed certificates)', () => {
  for (const name of ['prosody', 'ejabberd'] as const) {
    it(`a Parley user and a ${name} user chat both ways, every stream authenticated by dialback`, async () => {
      const peer = peers[name]!;
      const [mine, theirs] = await Promise.all([onParley('alice', name), onPeer(peer, 'alice', 'desk')]);
      await mine.send(`alice@${peer.domain}`, `dialback hello to ${name}`);
      const got = await theirs.waitMessage(`dialback hello to ${name}`, 20_000);
      expect(got.from).toBe(`alice@${PARLEY}/${name}`);
      await theirs.send(`alice@${PARLEY}/${name}`, `dialback answer from ${name}`);
      const back = await mine.waitMessage(`dialback answer from ${name}`, 20_000);
      expect(back.from).toBe(`alice@${peer.domain}/desk`);

      const res = await fetch(`${t.url}/api/v1/audit?type=federation.connection&limit=1000`, { headers: { authorization: `Bearer ${rootToken}` } });
      const entries = ((await res.json()) as { entries: Array<{ subject: string | null; data: Record<string, unknown> }> }).entries;
      for (const direction of ['out', 'in']) {
        const e = entries.find((x) => x.subject === peer.domain && x.data.direction === direction);
        expect(e, `an audited ${direction} connection with ${peer.domain}`).toBeDefined();
        expect(e!.data.auth).toBe('dialback');
      }
      if (name === 'ejabberd') {
        const log = peer.log(2_000_000);
        expect(log).toMatch(/Accepted inbound s2s dialback authentication parley\.test -> ejabberd\.test/);
        expect(log).toMatch(/Accepted outbound s2s dialback authentication ejabberd\.test -> parley\.test/);
      }
    }, 90_000);
  }
});
