/**
 * slixmpp clients (test/xmpp/slix.ts) of the interop tests: a user of a peer, or of Parley on parley.test, each
 * with the password `pw-<user>`. With EXTERNAL the client verifies the server's certificate against the harness's
 * test CA; with dialback every certificate is self-signed and the client does not verify.
 */
import type { TestServer } from '../../harness.js';
import { SlixClient } from '../../xmpp/slix.js';
import type { PeerServer, Peers } from './index.js';
import { PARLEY } from './parley.js';

/** What SlixClient.connect takes (carbons, presence, roster...). */
export type ConnectOptions = Parameters<SlixClient['connect']>[0];

/** The test CA to verify servers' certificates with, when they are issued by it (EXTERNAL mode). */
const verify = (peers: Peers): { cafile?: string } => (peers.mode === 'external' ? { cafile: peers.pki.caFile } : {});

/**
 * A connected slixmpp client of `user` on a peer; unless `presence: false`, resolved once the peer has its initial
 * presence, seen as the presence the server broadcasts back to the sending resource (RFC 6121 §4.2.2). Until then
 * the session is not available: ejabberd 23.01 (no offline storage here) answers a message to the bare address
 * with service-unavailable ("User session not found"), so a test that sends at once could lose the race on a
 * loaded machine.
 */
export async function onPeer(peers: Peers, peer: PeerServer, user: string, resource: string, o: ConnectOptions = {}): Promise<SlixClient> {
  const c = await SlixClient.start({ host: peer.address, port: peer.c2sPort, jid: `${user}@${peer.domain}`, password: `pw-${user}`, resource, ...verify(peers) });
  const mark = c.mark();
  await c.connect(o);
  if (o.presence !== false) await c.waitFor('presence', (e) => e.from === c.jid && e.type === 'available', 20_000, mark);
  return c;
}

/** A connected slixmpp client of `user@parley.test`. */
export async function onParley(peers: Peers, t: TestServer, user: string, resource: string, o: ConnectOptions = {}): Promise<SlixClient> {
  const c = await SlixClient.start({ port: t.server.xmpp!.ports.starttls!, jid: `${user}@${PARLEY}`, password: `pw-${user}`, resource, ...verify(peers) });
  await c.connect(o);
  return c;
}

const bareOf = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

/**
 * `asker` subscribes to `owner`'s presence and `owner` approves (RFC 6121 §3.1); resolves once the approval has
 * reached `asker`. Peers answer some queries to a user's bare address only for contacts (Prosody's and ejabberd's
 * disco#info of an account).
 */
export async function subscribeTo(asker: SlixClient, askerJid: string, owner: SlixClient, ownerJid: string): Promise<void> {
  const mark = asker.mark();
  await asker.request('presence', { to: ownerJid, type: 'subscribe' });
  await owner.waitFor('presence', (e) => bareOf(e.from) === askerJid && e.type === 'subscribe', 20_000);
  await owner.request('presence', { to: askerJid, type: 'subscribed' });
  await asker.waitFor('presence', (e) => bareOf(e.from) === ownerJid && e.type === 'subscribed', 20_000, mark);
}
