/**
 * The federation interop harness proves itself: real Prosody 0.12 and ejabberd 23.01 started by it
 * (test/support/federation/) federate with each other, with slixmpp clients on each server, in both ways of
 * authenticating a server-to-server stream:
 * - SASL EXTERNAL (RFC 6120 §6.4, XEP-0178) with certificates from the harness's test CA that both trust;
 * - XEP-0220 dialback with self-signed certificates that neither can validate.
 * In each: a chat message one way and the answer back (RFC 6121 §5), and a presence subscription with the
 * contact's presence arriving (RFC 6121 §3.1, §4.2), so the names, certificates and listeners are right before
 * Parley is put between them (test/federation-interop.test.ts).
 *
 * Where the peers cannot run (no prosody/ejabberd/lua-unbound, not root), the suite says so loudly and is skipped.
 */
import { describe, expect, it } from 'vitest';
import { onPeer } from './support/federation/clients.js';
import { withoutBlock } from './support/federation/hosts.js';
import { startPeers, type AuthMode, type PeerServer, type Peers } from './support/federation/index.js';
import { federationTestUnavailable, peerHooks } from './support/federation/interop.js';
import type { SlixClient, SlixEvent } from './xmpp/slix.js';

const why = federationTestUnavailable('test/federation-peers.test.ts', { parley: false });

let peers: Peers | undefined;

/** A slixmpp client of `user` on `peer`, verifying the peer's certificate against the test CA when it has one. */
const clientOn = (peer: PeerServer, user: string, resource: string): Promise<SlixClient> => onPeer(peers!, peer, user, resource);

const bare = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

peerHooks(() => peers);

for (const mode of ['external', 'dialback'] as AuthMode[]) {
  describe.skipIf(why !== null)(`Prosody and ejabberd federate under the harness (${mode})`, () => {
    it(`chat both ways and a presence subscription between prosody.test and ejabberd.test (${mode})`, async () => {
      await peers?.stop();
      peers = await startPeers({ mode });
      const p = peers.prosody!;
      const e = peers.ejabberd!;
      const alice = await clientOn(p, 'alice', 'desk');
      const bob = await clientOn(e, 'bob', 'phone');

      // A message from Prosody's user reaches ejabberd's over a new s2s stream, and the answer comes back.
      await alice.send('bob@ejabberd.test', `hello from prosody (${mode})`);
      const m = await bob.waitMessage(`hello from prosody (${mode})`, 20_000);
      expect(bare(m.from)).toBe('alice@prosody.test');
      await bob.send('alice@prosody.test/desk', `hello back from ejabberd (${mode})`);
      const back = await alice.waitMessage(`hello back from ejabberd (${mode})`, 20_000);
      expect(back.from).toBe('bob@ejabberd.test/phone');

      // RFC 6121 §3.1: alice asks, bob approves; alice then receives bob's available presence (§4.2 probe/initial).
      await alice.request('presence', { to: 'bob@ejabberd.test', type: 'subscribe' });
      await bob.waitFor('presence', (ev: SlixEvent) => bare(ev.from) === 'alice@prosody.test' && ev.type === 'subscribe', 20_000);
      await bob.request('presence', { to: 'alice@prosody.test', type: 'subscribed' });
      await alice.waitFor('presence', (ev: SlixEvent) => bare(ev.from) === 'bob@ejabberd.test' && ev.type === 'subscribed', 20_000);
      const avail = await alice.waitFor('presence', (ev: SlixEvent) => ev.from === 'bob@ejabberd.test/phone' && ev.type === 'available', 20_000);
      expect(avail.from).toBe('bob@ejabberd.test/phone');

      // ejabberd's log names how each direction authenticated: the mode under test, not a fallback.
      const how = mode === 'external' ? 'EXTERNAL' : 'dialback';
      const elog = e.log(400_000);
      expect(elog).toMatch(new RegExp(`Accepted inbound s2s ${how} authentication prosody\\.test -> ejabberd\\.test`));
      expect(elog).toMatch(new RegExp(`Accepted outbound s2s ${how} authentication ejabberd\\.test -> prosody\\.test`));
      if (mode === 'external') expect(elog).not.toMatch(/s2s dialback authentication/);
      // Long: starting the peers waits its turn while another file holds the harness (support/federation/lock.ts).
    }, 240_000);
  });
}

describe('the /etc/hosts block', () => {
  it('is removed whole, also a stale one a crashed run left, and nothing else is touched', () => {
    const base = '127.0.0.1 localhost\n::1 ip6-localhost\n';
    const stale = `${base}# parley-federation-test begin\n127.0.0.2 prosody.test\n# parley-federation-test end\n`;
    expect(withoutBlock(stale)).toBe(base);
    const twice = `${stale}# parley-federation-test begin\n127.0.0.3 ejabberd.test\n# parley-federation-test end\n10.0.0.1 other\n`;
    expect(withoutBlock(twice)).toBe(`${base}10.0.0.1 other\n`);
    expect(withoutBlock(base)).toBe(base);
  });
});
