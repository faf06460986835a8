/**
 * Parley's federation module against real peers: Prosody 0.12 and ejabberd 23.01 started by the harness
 * (test/support/federation/), Parley on parley.test with s2s on 127.0.0.4:5269 and the test CA's certificate,
 * slixmpp clients on every server (test/xmpp/slix_driver.py) and Parley's JSON client.
 *
 * Covered: chat both ways with each peer over streams authenticated by SASL EXTERNAL (RFC 6120 §6.4, XEP-0178),
 * a JSON client writing to a remote address; a Parley user and a Prosody user (and an ejabberd user) becoming
 * contacts and seeing each other's presence (RFC 6121 §3, §4); MUC across servers (XEP-0045: a Parley user in an ejabberd room, an
 * ejabberd user in a Parley room); the outsider policy (`closed` and `partners`) refusing both ways with
 * policy-violation (RFC 6120 §8.3.3.12) and the audit log recording the refusals; a remote server that forges a
 * `from` it does not own is cut off with invalid-from (RFC 6120 §4.9.3.9, §13.7) without disturbing the others.
 *
 * Skipped loudly where the peers cannot run, or where this build has no federation module.
 */
import { describe, expect, it } from 'vitest';
import type { TestServer } from './harness.js';
import { onParley as parleyClient, onPeer as peerClient } from './support/federation/clients.js';
import { FEDERATION_ADDRESSES, type PeerServer, type Peers } from './support/federation/index.js';
import { federationTestUnavailable, interopServers } from './support/federation/interop.js';
import { PARLEY } from './support/federation/parley.js';
import { openRawS2s, startDialbackAuthority } from './support/federation/raw-s2s.js';
import type { SlixClient, SlixEvent } from './xmpp/slix.js';

const PARLEY_ADDR = FEDERATION_ADDRESSES[PARLEY];
const why = federationTestUnavailable('test/federation-interop.test.ts', { parley: true });

let peers: Peers;
let t: TestServer;
let rootToken = '';

const bare = (jid: unknown): string => String(jid ?? '').split('/')[0]!;

/** A connected slixmpp client of `user` on a peer. */
const onPeer = (peer: PeerServer, user: string, resource: string): Promise<SlixClient> => peerClient(peers, peer, user, resource);

/** A connected slixmpp client of `user@parley.test`. */
const onParley = (user: string, resource: string): Promise<SlixClient> => parleyClient(peers, t, user, resource);

/** An HTTP call to Parley's API as the administrator. */
async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${rootToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Sets the outsider policy live (PUT /api/v1/admin/settings/federation, docs/settings.md). */
async function setPolicy(policy: unknown): Promise<void> {
  const r = await admin('PUT', '/api/v1/admin/settings/federation', { values: { policy } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
}

/** An audit entry (src/modules/audit/README.md). */
interface AuditEntry {
  type: string;
  subject: string | null;
  data: Record<string, unknown>;
}

/** Audit entries of the federation module (`federation.connection`, `federation.refused`), newest first. */
async function federationAudit(): Promise<AuditEntry[]> {
  const r = await admin('GET', '/api/v1/audit?type=federation.*&limit=1000');
  expect(r.status).toBe(200);
  return r.json.entries as AuditEntry[];
}

/** The policy refusals the audit log holds for a remote domain in one direction. */
async function policyRefusals(remote: string, direction: 'in' | 'out'): Promise<AuditEntry[]> {
  return (await federationAudit()).filter((e) => e.type === 'federation.refused' && e.subject === remote && e.data.direction === direction && /polic/i.test(String(e.data.reason)));
}

const isError = (from: string) => (e: SlixEvent) => bare(e.from) === from && e.type === 'error';

// ejabberd loads dialback as well (as its packaged configuration does), so it still reaches a server that does not
// offer it SASL EXTERNAL; which method each stream used is asserted on its own below.
interopServers(why, { peers: { mode: 'external', ejabberdDialback: true }, users: ['alice', 'bob', 'carol', 'dave', 'erin'] }, (p, parley) => {
  peers = p;
  t = parley.t;
  rootToken = parley.rootToken;
});

describe.skipIf(why !== null)('federation with real Prosody and ejabberd (SASL EXTERNAL)', () => {
  for (const peerName of ['prosody', 'ejabberd'] as const) {
    it(`a Parley user and a ${peerName} user chat both ways; a JSON client writes to the remote address too`, async () => {
      const peer = peers[peerName]!;
      const remote = `alice@${peer.domain}`;
      const [mine, theirs] = await Promise.all([onParley('alice', `to-${peerName}`), onPeer(peer, 'alice', 'desk')]);
      await mine.send(remote, `hello ${peerName} from parley`);
      const got = await theirs.waitMessage(`hello ${peerName} from parley`, 20_000);
      expect(got.from).toBe(`alice@${PARLEY}/to-${peerName}`);
      await theirs.send(`alice@${PARLEY}`, `hello parley from ${peerName}`);
      const back = await mine.waitMessage(`hello parley from ${peerName}`, 20_000);
      expect(back.from).toBe(`${remote}/desk`);
      // Remote addresses work in the JSON API: bob writes from a JSON session, and the answer is in his history.
      const bob = await t.connect(`bob@${PARLEY}`, { resource: 'json' });
      await bob.request('message.send', { to: remote, body: `json to ${peerName}` });
      const j = await theirs.waitMessage(`json to ${peerName}`, 20_000);
      expect(bare(j.from)).toBe(`bob@${PARLEY}`);
      await theirs.send(`bob@${PARLEY}`, `json answer from ${peerName}`);
      const answer = await bob.waitFor('message', (d) => d.body === `json answer from ${peerName}`, 20_000);
      expect(bare(answer.data.from)).toBe(remote);
    }, 90_000);
  }

  it('Parley authenticates its own streams to both peers by SASL EXTERNAL, and the audit log records each connection', async () => {
    // The chat tests above opened Parley's outgoing streams; each peer logged how Parley proved parley.test.
    expect(peers.prosody!.log(2_000_000)).toMatch(/Accepting SASL EXTERNAL identity from parley\.test/);
    expect(peers.ejabberd!.log(2_000_000)).toMatch(/Accepted inbound s2s EXTERNAL authentication parley\.test -> ejabberd\.test/);
    const out = (await federationAudit()).filter((e) => e.type === 'federation.connection' && e.data.direction === 'out');
    for (const remote of ['prosody.test', 'ejabberd.test']) {
      const entry = out.find((e) => e.subject === remote);
      expect(entry, `an audited outgoing connection to ${remote}`).toBeDefined();
      expect(entry!.data.auth).toBe('sasl-external');
      expect(entry!.data.local).toBe(PARLEY);
    }
    // Incoming streams are audited too, with the method the peer used.
    const inbound = (await federationAudit()).filter((e) => e.type === 'federation.connection' && e.data.direction === 'in');
    expect(inbound.map((e) => e.subject)).toEqual(expect.arrayContaining(['prosody.test', 'ejabberd.test']));
  }, 30_000);

  it('the peers authenticate their streams to Parley by SASL EXTERNAL with the test CA\'s certificates', async () => {
    // The answers in the chat tests came over the peers' own streams to parley.test.
    expect(peers.ejabberd!.log(2_000_000)).toMatch(/Accepted outbound s2s EXTERNAL authentication ejabberd\.test -> parley\.test/);
    expect(peers.ejabberd!.log(2_000_000)).not.toMatch(/dialback authentication ejabberd\.test -> parley\.test/);
    const inbound = (await federationAudit()).filter((e) => e.type === 'federation.connection' && e.data.direction === 'in' && e.data.local === PARLEY);
    for (const remote of ['prosody.test', 'ejabberd.test']) {
      const entry = inbound.find((e) => e.subject === remote);
      expect(entry, `an audited incoming connection from ${remote}`).toBeDefined();
      expect(entry!.data.auth).toBe('sasl-external');
    }
  }, 30_000);

  for (const [peerName, local] of [['prosody', 'carol'], ['ejabberd', 'erin']] as const) {
    it(`a Parley user and a ${peerName} user become contacts and see each other's presence (RFC 6121 §3, §4)`, async () => {
      const peer = peers[peerName]!;
      const remote = `carol@${peer.domain}`;
      const [mine, theirs] = await Promise.all([onParley(local, 'pc'), onPeer(peer, 'carol', 'laptop')]);
      await mine.request('presence', { to: remote, type: 'subscribe' });
      await theirs.waitFor('presence', (e) => bare(e.from) === `${local}@${PARLEY}` && e.type === 'subscribe', 20_000);
      await theirs.request('presence', { to: `${local}@${PARLEY}`, type: 'subscribed' });
      await theirs.request('presence', { to: `${local}@${PARLEY}`, type: 'subscribe' });
      await mine.waitFor('presence', (e) => bare(e.from) === remote && e.type === 'subscribed', 20_000);
      await mine.waitFor('presence', (e) => bare(e.from) === remote && e.type === 'subscribe', 20_000);
      await mine.request('presence', { to: remote, type: 'subscribed' });
      // Each sees the other's available presence (probe answers or the broadcast after approval).
      await mine.waitFor('presence', (e) => e.from === `${remote}/laptop` && e.type === 'available', 20_000);
      await theirs.waitFor('presence', (e) => e.from === `${local}@${PARLEY}/pc` && e.type === 'available', 20_000);
      const roster = (await mine.request('roster_get')) as { items?: Array<{ jid: string; subscription: string }> };
      expect(JSON.stringify(roster)).toMatch(new RegExp(`${remote.replace(/\./g, '\\.')}[\\s\\S]*both`));
      // A change of presence crosses too.
      const mark = theirs.mark();
      await mine.request('presence', { show: 'away', status: 'at lunch' });
      const away = await theirs.waitFor('presence', (e) => e.from === `${local}@${PARLEY}/pc` && e.status === 'at lunch', 20_000, mark);
      expect(away.show).toBe('away');
    }, 90_000);
  }

  it('a Parley user joins a room on ejabberd, and an ejabberd user joins a Parley room (XEP-0045)', async () => {
    const [mine, theirs] = await Promise.all([onParley('dave', 'muc'), onPeer(peers.ejabberd!, 'bob', 'muc')]);
    // The ejabberd user creates an instant room (§10.1.2) there; the Parley user joins it over s2s.
    const there = 'partners@conference.ejabberd.test';
    await theirs.request('join_muc', { room: there, nick: 'ebob' });
    const unlock = await theirs.request('iq', { to: there, type: 'set', payload: "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>" });
    expect(unlock.type).toBe('result');
    const joined = (await mine.request('join_muc', { room: there, nick: 'pdave' }, 30_000)) as { from: string; occupants: string[] };
    expect(joined.from).toBe(`${there}/pdave`);
    expect(joined.occupants).toContain(`${there}/ebob`);
    await mine.send(there, 'hello from parley to the ejabberd room', 'groupchat');
    const inRoom = await theirs.waitFor('message', (e) => e.type === 'groupchat' && e.body === 'hello from parley to the ejabberd room', 20_000);
    expect(inRoom.from).toBe(`${there}/pdave`);

    // The other way: a room at conference.parley.test, created by the Parley user, joined from ejabberd. Parley
    // names every occupant by the local part of its address, and says so with status 210 (§7.2.9).
    const here = `lobby@conference.${PARLEY}`;
    await mine.request('join_muc', { room: here, nick: 'dave' });
    const theirJoin = (await theirs.request('join_muc', { room: here, nick: 'guest' }, 30_000)) as { from: string; codes: string[]; occupants: string[] };
    expect(theirJoin.from).toBe(`${here}/bob`);
    expect(theirJoin.codes).toEqual(expect.arrayContaining(['110', '210']));
    expect(theirJoin.occupants).toContain(`${here}/dave`);
    await mine.waitFor('presence', (e) => e.from === `${here}/bob` && e.type === 'available', 20_000);
    await theirs.send(here, 'hello from ejabberd to the parley room', 'groupchat');
    const atHost = await mine.waitFor('message', (e) => e.type === 'groupchat' && e.body === 'hello from ejabberd to the parley room', 20_000);
    expect(atHost.from).toBe(`${here}/bob`);
    // §7.4: the remote sender gets its own message back from the room, over the same s2s link.
    await theirs.waitFor('message', (e) => e.type === 'groupchat' && e.from === `${here}/bob` && e.body === 'hello from ejabberd to the parley room', 20_000);
    await mine.send(here, 'and back to ejabberd', 'groupchat');
    const atGuest = await theirs.waitFor('message', (e) => e.type === 'groupchat' && e.body === 'and back to ejabberd', 20_000);
    expect(atGuest.from).toBe(`${here}/dave`);
  }, 120_000);

  it('the closed policy refuses both ways with policy-violation, and the audit log records it', async () => {
    const [mine, theirs] = await Promise.all([onParley('alice', 'closed'), onPeer(peers.prosody!, 'alice', 'closed')]);
    await setPolicy({ default: { mode: 'closed' } });
    await mine.send('alice@prosody.test', 'must not cross (out)');
    const out = await mine.waitFor('message', isError('alice@prosody.test'), 20_000);
    expect(out.error).toMatchObject({ condition: 'policy-violation' });
    await theirs.send(`alice@${PARLEY}`, 'must not cross (in)');
    const inbound = await theirs.waitFor('message', isError(`alice@${PARLEY}`), 20_000);
    expect(inbound.error).toMatchObject({ condition: 'policy-violation' });
    await mine.ping();
    expect(mine.messages('must not cross (in)')).toHaveLength(0);
    expect(theirs.messages('must not cross (out)')).toHaveLength(0);
    expect(await policyRefusals('prosody.test', 'out')).not.toHaveLength(0);
    expect(await policyRefusals('prosody.test', 'in')).not.toHaveLength(0);
    await setPolicy({ default: { mode: 'open' } });
  }, 90_000);

  it('the partners policy admits the listed domain and refuses the other, both ways', async () => {
    const [mine, pro, ejb] = await Promise.all([onParley('bob', 'partners'), onPeer(peers.prosody!, 'bob', 'p'), onPeer(peers.ejabberd!, 'bob', 'p')]);
    const before = (await policyRefusals('prosody.test', 'in')).length;
    await setPolicy({ default: { mode: 'partners', partners: ['prosody.test'] } });
    await mine.send('bob@prosody.test', 'partner yes');
    await pro.waitMessage('partner yes', 20_000);
    await pro.send(`bob@${PARLEY}`, 'partner answers');
    await mine.waitMessage('partner answers', 20_000);
    await mine.send('bob@ejabberd.test', 'not a partner (out)');
    const out = await mine.waitFor('message', isError('bob@ejabberd.test'), 20_000);
    expect(out.error).toMatchObject({ condition: 'policy-violation' });
    await ejb.send(`bob@${PARLEY}`, 'not a partner (in)');
    const inbound = await ejb.waitFor('message', isError(`bob@${PARLEY}`), 20_000);
    expect(inbound.error).toMatchObject({ condition: 'policy-violation' });
    expect(mine.messages('not a partner (in)')).toHaveLength(0);
    expect(await policyRefusals('ejabberd.test', 'out')).not.toHaveLength(0);
    expect(await policyRefusals('ejabberd.test', 'in')).not.toHaveLength(0);
    expect(await policyRefusals('prosody.test', 'in')).toHaveLength(before);
    await setPolicy({ default: { mode: 'open' } });
  }, 90_000);

  it('a remote server that sends a from it does not own is cut off with invalid-from; the others go on', async () => {
    const alice = await onParley('alice', 'forge');
    // The test plays forger.test, twice: once with the certificate the test CA issued for it (SASL EXTERNAL), once
    // with a self-signed one (XEP-0220 dialback, vouched for by an authoritative server the test runs, §2.3).
    // Each stream first sends from its own domain (delivered), then speaks for ejabberd.test (RFC 6120 §4.9.3.9).
    const authority = await startDialbackAuthority({ address: FEDERATION_ADDRESSES['forger.test'], domain: 'forger.test', ...peers.pki.selfSigned['forger.test']! });
    try {
      for (const auth of ['external', 'dialback'] as const) {
        const cert = auth === 'external' ? peers.pki.issued['forger.test']! : peers.pki.selfSigned['forger.test']!;
        const raw = await openRawS2s({ host: PARLEY_ADDR, port: 5269, from: 'forger.test', to: PARLEY, caFile: peers.pki.caFile, auth, ...cert });
        raw.send(`<message from='mallory@forger.test/x' to='alice@${PARLEY}' type='chat' id='ok-${auth}'><body>honest over ${auth}</body></message>`);
        await alice.waitMessage(`honest over ${auth}`, 20_000);
        raw.send(`<message from='mallory@ejabberd.test/x' to='alice@${PARLEY}' type='chat' id='f-${auth}'><body>forged over ${auth}</body></message>`);
        await raw.waitFor(/invalid-from/, 10_000);
        await raw.closed;
        await alice.ping();
        expect(alice.messages(`forged over ${auth}`)).toHaveLength(0);
      }
      // Only the self-signed stream needed the authoritative server's word.
      expect(authority.verified).toHaveLength(1);
    } finally {
      await authority.close();
    }
    // The real Prosody's stream is unaffected.
    const theirs = await onPeer(peers.prosody!, 'alice', 'after');
    await theirs.send(`alice@${PARLEY}/forge`, 'still here');
    await alice.waitMessage('still here', 20_000);
  }, 60_000);
});
