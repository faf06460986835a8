/**
 * Features of federated conversations and remote entities against real peers (Prosody 0.12 and ejabberd 23.01,
 * started by test/support/federation/; Parley on parley.test, SASL EXTERNAL with the test CA), with slixmpp
 * clients on every server (test/xmpp/slix_driver.py) and Parley's JSON client:
 *
 * - XEP-0280 carbons: a Parley user's other session gets the sent carbon of a message to a Prosody user and the
 *   received carbon of the answer written to the first session;
 * - XEP-0313 MAM: after an exchange both ways, the Parley user's archive holds both messages in order, with and
 *   without `with`, under the stanza ids the messages carried; the JSON API's `history` has them too;
 * - XEP-0054 vcard-temp: a Parley user reads a Prosody user's and an ejabberd user's vCard; Prosody and ejabberd
 *   users read a Parley user's vCard while that user is offline, answered by Parley on the account's behalf
 *   (RFC 6120 §10.5.4, RFC 6121 §8.5.1);
 * - XEP-0030 disco#info both ways, to the servers and to users' bare addresses (the account identity and PEP,
 *   XEP-0163 §5);
 * - RFC 6120 §8.4: an iq of a namespace Parley does not serve to a Parley user's bare address gets
 *   service-unavailable; a set on the account from another server too; an iq result or error is never answered.
 *
 * Skipped loudly where the peers cannot run, or where this build has no federation module.
 */
import { describe, expect, it } from 'vitest';
import type { TestServer } from './harness.js';
import { onParley as parleyClient, onPeer as peerClient, subscribeTo, type ConnectOptions } from './support/federation/clients.js';
import type { PeerServer, Peers } from './support/federation/index.js';
import { federationTestUnavailable, interopServers } from './support/federation/interop.js';
import { PARLEY } from './support/federation/parley.js';
import type { SlixClient } from './xmpp/slix.js';

const why = federationTestUnavailable('test/federation-interop-features.test.ts', { parley: true });

let peers: Peers;
let t: TestServer;

const onPeer = (peer: PeerServer, user: string, resource: string, o?: ConnectOptions): Promise<SlixClient> => peerClient(peers, peer, user, resource, o);
const onParley = (user: string, resource: string, o?: ConnectOptions): Promise<SlixClient> => parleyClient(peers, t, user, resource, o);

const DISCO_INFO = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
const VCARD_GET = "<vCard xmlns='vcard-temp'/>";

/** An iq get or set from `c` (the driver's `iq` command): the reply's type, XML and error. */
async function iq(c: SlixClient, to: string, payload: string, type: 'get' | 'set' = 'get'): Promise<{ type: string; xml: string; error: { condition?: string } | null }> {
  return (await c.request('iq', { to, type, payload }, 30_000)) as { type: string; xml: string; error: { condition?: string } | null };
}

/** The attributes of each `<identity/>` in a disco#info reply as the driver prints it (namespace prefixes or not). */
function identities(xml: string): Array<Record<string, string>> {
  return [...xml.matchAll(/<(?:[\w-]+:)?identity\b([^>]*)>/g)].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

/** Whether a disco#info reply names the identity category/type. */
const hasIdentity = (xml: string, category: string, type: string): boolean => identities(xml).some((i) => i.category === category && i.type === type);

/** The features of a disco#info reply. */
const featuresOf = (xml: string): string[] => [...xml.matchAll(/<(?:[\w-]+:)?feature\b[^>]*\bvar="([^"]*)"/g)].map((m) => m[1]!);

/** A forwarded message as the driver reports it (XEP-0297 inside a carbon or a MAM result). */
interface Forwarded {
  from: string | null;
  to: string | null;
  body: string | null;
  stanzaId: { id: string | null; by: string | null } | null;
}

interopServers(why, { peers: { mode: 'external' }, users: ['alice', 'bob', 'carol', 'dave'] }, (p, parley) => {
  peers = p;
  t = parley.t;
});

describe.skipIf(why !== null)('federated features with real Prosody and ejabberd', () => {
  it('carbons (XEP-0280): the other session gets the sent carbon of a message to a Prosody user and the received carbon of the answer', async () => {
    const remote = 'alice@prosody.test';
    const [one, two, theirs] = await Promise.all([onParley('alice', 'one', { carbons: true }), onParley('alice', 'two', { carbons: true }), onPeer(peers.prosody!, 'alice', 'desk')]);
    await one.send(remote, 'carbon out to prosody');
    await theirs.waitMessage('carbon out to prosody', 20_000);
    // §7: the sending user's other session gets a copy wrapped in <sent/>, the message as it went out.
    const sent = await two.waitFor('carbon', (e) => e.kind === 'sent' && (e.inner as Forwarded).body === 'carbon out to prosody', 20_000);
    expect(sent.from).toBe(`alice@${PARLEY}`);
    expect((sent.inner as Forwarded).to).toBe(remote);
    expect((sent.inner as Forwarded).from).toBe(`alice@${PARLEY}/one`);
    // §6: a message from the Prosody user to the first session reaches the second one as a <received/> copy.
    await theirs.send(`alice@${PARLEY}/one`, 'carbon in from prosody');
    const direct = await one.waitMessage('carbon in from prosody', 20_000);
    expect(direct.from).toBe(`${remote}/desk`);
    const received = await two.waitFor('carbon', (e) => e.kind === 'received' && (e.inner as Forwarded).body === 'carbon in from prosody', 20_000);
    expect((received.inner as Forwarded).from).toBe(`${remote}/desk`);
    await two.ping();
    // The copies are carbons only: the second session gets neither message on its own.
    expect(two.messages('carbon out to prosody')).toHaveLength(0);
    expect(two.messages('carbon in from prosody')).toHaveLength(0);
  }, 90_000);

  it('MAM (XEP-0313): a federated exchange both ways is in the archive in order with its stanza ids, with and without `with`; and in the JSON history', async () => {
    const remote = 'bob@prosody.test';
    const [mine, theirs] = await Promise.all([onParley('bob', 'mam'), onPeer(peers.prosody!, 'bob', 'mam')]);
    await mine.send(remote, 'mam question to prosody');
    await theirs.waitMessage('mam question to prosody', 20_000);
    await theirs.send(`bob@${PARLEY}`, 'mam answer from prosody');
    const answer = await mine.waitMessage('mam answer from prosody', 20_000);
    // XEP-0359 §3: the message carries the id Parley's archive gives it.
    expect(answer.stanzaId?.by).toBe(`bob@${PARLEY}`);
    const answerId = answer.stanzaId?.id;
    expect(answerId).toBeTruthy();

    for (const args of [{ with: remote }, {}]) {
      const r = (await mine.request('mam', args, 30_000)) as { results: Array<{ id: string; forwarded: Forwarded }>; complete: string | null };
      const bodies = r.results.map((x) => x.forwarded.body);
      expect(bodies, JSON.stringify(args)).toEqual(['mam question to prosody', 'mam answer from prosody']);
      const [q, a] = r.results;
      expect(q!.forwarded.from).toBe(`bob@${PARLEY}/mam`);
      expect(q!.forwarded.to).toBe(remote);
      expect(a!.forwarded.from).toBe(`${remote}/mam`);
      // §4.2: each result's id is the message's stanza id, the one it was delivered with.
      expect(a!.id).toBe(answerId);
      expect(q!.id).toBeTruthy();
      expect(q!.id).not.toBe(a!.id);
    }
    const none = (await mine.request('mam', { with: 'nobody@prosody.test' }, 30_000)) as { results: unknown[] };
    expect(none.results).toHaveLength(0);

    // The JSON API's history of the conversation with the remote address holds the same two messages.
    const json = await t.connect(`bob@${PARLEY}`, { resource: 'json' });
    const page = (await json.request('history', { with: remote })) as { messages: Array<{ id: string; body: string | null; from: string }> };
    expect(page.messages.map((m) => m.body)).toEqual(['mam question to prosody', 'mam answer from prosody']);
    expect(page.messages[1]!.id).toBe(answerId);
  }, 90_000);

  for (const peerName of ['prosody', 'ejabberd'] as const) {
    it(`vCard (XEP-0054): a Parley user reads a ${peerName} user's vCard, and the ${peerName} user reads the Parley user's while that user is offline`, async () => {
      const peer = peers[peerName]!;
      const remote = `carol@${peer.domain}`;
      const local = `carol@${PARLEY}`;
      const [mine, theirs] = await Promise.all([onParley('carol', `vcard-${peerName}`), onPeer(peer, 'carol', 'vcard')]);
      // Each publishes its own vCard (§3.2).
      const setThere = await iq(theirs, remote, `<vCard xmlns='vcard-temp'><FN>Carol of ${peerName}</FN><NICKNAME>c-${peerName}</NICKNAME></vCard>`, 'set');
      expect(setThere.type, setThere.xml).toBe('result');
      const setHere = await iq(mine, local, `<vCard xmlns='vcard-temp'><FN>Carol of Parley</FN><NICKNAME>c-parley</NICKNAME></vCard>`, 'set');
      expect(setHere.type, setHere.xml).toBe('result');
      // §3.3: the Parley user reads the remote vCard over federation.
      const there = await iq(mine, remote, VCARD_GET);
      expect(there.type, there.xml).toBe('result');
      expect(there.xml).toContain(`Carol of ${peerName}`);
      expect(there.xml).toContain(`from="${remote}"`);
      // The Parley user goes offline; Parley answers for the account (RFC 6121 §8.5.1).
      await mine.close();
      const here = await iq(theirs, local, VCARD_GET);
      expect(here.type, here.xml).toBe('result');
      expect(here.xml).toContain('Carol of Parley');
      expect(here.xml).toContain('c-parley');
      expect(here.xml).toContain(`from="${local}"`);
      // An account without a vCard answers an empty one (§3.3); an address with no account, service-unavailable.
      const empty = await iq(theirs, `dave@${PARLEY}`, VCARD_GET);
      expect(empty.type, empty.xml).toBe('result');
      expect(empty.xml).toContain('vcard-temp');
      expect(empty.xml).not.toMatch(/FN>/);
      const missing = await iq(theirs, `nobody@${PARLEY}`, VCARD_GET);
      expect(missing.error?.condition).toBe('service-unavailable');
    }, 90_000);
  }

  for (const peerName of ['prosody', 'ejabberd'] as const) {
    it(`disco#info (XEP-0030) both ways with ${peerName}: servers and users' bare addresses`, async () => {
      const peer = peers[peerName]!;
      const [mine, theirs] = await Promise.all([onParley('dave', `disco-${peerName}`), onPeer(peer, 'alice', 'disco')]);
      // A Parley user asks the remote server and a remote user's bare address; the peer answers.
      const server = await iq(mine, peer.domain, DISCO_INFO);
      expect(server.type, server.xml).toBe('result');
      expect(hasIdentity(server.xml, 'server', 'im'), server.xml).toBe(true);
      // Both peers describe an account only to its contacts (ejabberd: subscription-required otherwise).
      await subscribeTo(mine, `dave@${PARLEY}`, theirs, `alice@${peer.domain}`);
      const account = await iq(mine, `alice@${peer.domain}`, DISCO_INFO);
      expect(account.type, account.xml).toBe('result');
      expect(account.xml).toContain(`from="alice@${peer.domain}"`);
      expect(hasIdentity(account.xml, 'account', 'registered'), account.xml).toBe(true);
      // The remote user asks Parley's server and a Parley user's bare address (the user is online elsewhere,
      // the answer is the server's, §3.1 and XEP-0163 §5: the account identity, PEP, the account's features).
      const parleyServer = await iq(theirs, PARLEY, DISCO_INFO);
      expect(parleyServer.type, parleyServer.xml).toBe('result');
      expect(identities(parleyServer.xml), parleyServer.xml).toContainEqual({ category: 'server', type: 'im', name: 'Parley' });
      // The server's features are those its own clients see (MAM and vCard included), and its items its services.
      expect(featuresOf(parleyServer.xml)).toEqual(expect.arrayContaining(['http://jabber.org/protocol/disco#info', 'urn:xmpp:ping', 'urn:xmpp:mam:2', 'vcard-temp']));
      const serverItems = await iq(theirs, PARLEY, "<query xmlns='http://jabber.org/protocol/disco#items'/>");
      expect(serverItems.type, serverItems.xml).toBe('result');
      expect(serverItems.xml).toContain(`jid="conference.${PARLEY}"`);
      const parleyUser = await iq(theirs, `dave@${PARLEY}`, DISCO_INFO);
      expect(parleyUser.type, parleyUser.xml).toBe('result');
      expect(parleyUser.xml).toContain(`from="dave@${PARLEY}"`);
      expect(hasIdentity(parleyUser.xml, 'account', 'registered'), parleyUser.xml).toBe(true);
      expect(hasIdentity(parleyUser.xml, 'pubsub', 'pep'), parleyUser.xml).toBe(true);
      expect(featuresOf(parleyUser.xml)).toEqual(expect.arrayContaining(['http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/pubsub', 'vcard-temp', 'urn:xmpp:mam:2']));
      // disco#items of the account lists what the asker may see of its PEP nodes (none here).
      const items = await iq(theirs, `dave@${PARLEY}`, "<query xmlns='http://jabber.org/protocol/disco#items'/>");
      expect(items.type, items.xml).toBe('result');
    }, 90_000);
  }

  it('iq errors (RFC 6120 §8.4): an unknown namespace or a set to a Parley account gets service-unavailable; a result or an error is never answered', async () => {
    const [mine, theirs] = await Promise.all([onParley('alice', 'errors'), onPeer(peers.prosody!, 'alice', 'errors')]);
    const local = `alice@${PARLEY}`;
    const unknown = await iq(theirs, local, "<query xmlns='urn:example:not-served'/>");
    expect(unknown.type).toBe('error');
    expect(unknown.error?.condition).toBe('service-unavailable');
    expect(unknown.xml).toContain(`from="${local}"`);
    // A set on the account from another server changes nothing: service-unavailable (vCard here).
    const set = await iq(theirs, local, "<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>", 'set');
    expect(set.error?.condition).toBe('service-unavailable');
    const after = await iq(theirs, local, VCARD_GET);
    expect(after.xml).not.toContain('Mallory');
    // An iq result and an iq error to the bare address: never answered (§8.3.1, §8.2.3).
    await theirs.request('iq', { to: local, type: 'result', iqId: 'unasked-result' });
    await theirs.request('iq', { to: local, type: 'error', iqId: 'unasked-error', payload: "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>" });
    // Stanzas of one stream are handled in order, and the answers go back over one stream: once this get is
    // answered, an answer to the two before it would have come first.
    const barrier = await iq(theirs, local, DISCO_INFO);
    expect(barrier.type).toBe('result');
    await theirs.ping();
    const replies = theirs.received('iq_reply').filter((e) => e.id === 'unasked-result' || e.id === 'unasked-error');
    expect(replies, JSON.stringify(theirs.received('iq_reply'))).toHaveLength(0);
    // Nothing reached the Parley user's session either (its full address was not named).
    await mine.ping();
    expect(mine.received('iq_reply', (e) => e.id === 'unasked-result' || e.id === 'unasked-error')).toHaveLength(0);
  }, 60_000);
});
