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
import { describe, expect, it } from 'vitest';
import type { TestServer } from './harness.js';
import { onParley as parleyClient, onPeer as peerClient } from './support/federation/clients.js';
import type { PeerServer, Peers } from './support/federation/index.js';
import { federationTestUnavailable, interopServers } from './support/federation/interop.js';
import { PARLEY } from './support/federation/parley.js';
import type { SlixClient } from './xmpp/slix.js';

const why = federationTestUnavailable('test/federation-interop-dialback.test.ts', { parley: true });

let peers: Peers;
let t: TestServer;
let rootToken = '';

/** slixmpp clients (certificates are self-signed here: the clients do not verify them). */
const onPeer = (peer: PeerServer, user: string, resource: string): Promise<SlixClient> => peerClient(peers, peer, user, resource);
const onParley = (user: string, resource: string): Promise<SlixClient> => parleyClient(peers, t, user, resource);

interopServers(why, { peers: { mode: 'dialback' }, users: ['alice'] }, (p, parley) => {
  peers = p;
  t = parley.t;
  rootToken = parley.rootToken;
});

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
