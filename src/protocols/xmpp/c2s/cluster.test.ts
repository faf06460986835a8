/**
 * XMPP clients connected to two Parley processes (engine/test-cluster.ts): chat to a full address, an iq relayed
 * to another user's session (RFC 6121 §8.5.3.1) and a MUC room with occupants on both (XEP-0045), the XMPP
 * front door unchanged by where the other session is.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestCluster, type TestNode } from '../../../engine/test-cluster.js';
import { setupModules, TestXmppClient } from '../../../modules/testing.js';

const ROOM = 'team@conference.example.com';

let cluster: TestCluster;

beforeEach(() => {
  cluster = new TestCluster(['a@example.com', 'b@example.com'], 'secret-pw');
});

afterEach(async () => {
  await cluster.close();
});

/** Logs `local` in on `node` with its initial presence (RFC 6121 §4.2). */
async function client(node: TestNode, local: string, resource: string): Promise<TestXmppClient> {
  const host = await setupModules([], node);
  const c = await TestXmppClient.login(node.engine, host.xmpp, local, resource);
  c.send('<presence/>');
  return c;
}

describe('XMPP across nodes', () => {
  it('chat to a full address, an iq to another user\'s session, and presence reach the other node', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const a = await client(one, 'a', 'phone');
    const b = await client(two, 'b', 'desk');
    await b.waitFor(/<presence/);
    let mark = b.mark;
    a.send(`<message type='chat' to='b@example.com/desk' id='m1'><body>across</body></message>`);
    const got = await b.waitFor(/<body>across<\/body>/, mark);
    expect(got).toContain('from="a@example.com/phone"');
    mark = b.mark;
    a.send(`<iq type='get' to='b@example.com/desk' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    const iq = await b.waitFor(/<iq [^>]*id=.v1./, mark);
    expect(iq).toMatch(/from=.a@example\.com\/phone./);
    a.close();
    b.close();
  });

  it('presence from each resource\'s full address, with its caps, whichever node holds the resource (RFC 6121 §4.2.2, §4.5.2)', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    await one.engine.admin.addGroupMember('team', 'a@example.com');
    await one.engine.admin.addGroupMember('team', 'b@example.com');
    const b = await client(two, 'b', 'desk');
    const host = await setupModules([], one);
    const a = await TestXmppClient.login(one.engine, host.xmpp, 'a', 'phone');
    a.send(`<presence><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='phone='/></presence>`);
    const seen = await b.waitFor(/<presence [^>]*from="a@example\.com\/phone"[^>]*>.*?<\/presence>/);
    expect(seen).toMatch(/from="a@example\.com\/phone"[^>]*><show>away<\/show><presence xmlns="urn:parley:presence:0" state="away" sessions="1"\/><c xmlns="http:\/\/jabber\.org\/protocol\/caps" hash="sha-1" node="n" ver="phone="\/><\/presence>/);
    // The user's own resource on the other node gets it (§4.2.2), and a's catch-up has b's desk from its full address.
    expect(await a.waitFor(/from="b@example\.com\/desk"/)).not.toMatch(/from="b@example\.com"[ >]/);
    const a2 = await client(two, 'a', 'pad');
    await a2.waitFor(/<presence [^>]*from="a@example\.com\/phone"[^>]*>.*?ver="phone="/);
    const mark = b.mark;
    a.close();
    await b.waitFor(/<presence [^>]*from="a@example\.com\/phone"[^>]*type="unavailable"/, mark);
    a2.close();
    b.close();
  });

  it('a room with occupants on both nodes: each sees the other enter, and messages reach both', async () => {
    const one = await cluster.node();
    const two = await cluster.node();
    const a = await client(one, 'a', 'phone');
    const b = await client(two, 'b', 'desk');
    a.send(`<presence to='${ROOM}/a'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await a.waitFor(/status code="110"/);
    const mark = a.mark;
    b.send(`<presence to='${ROOM}/b'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    // b, entering on node two, is told a is there (a is online on node one) ...
    const entered = await b.waitFor(/status code="110"/);
    expect(entered).toContain(`from="${ROOM}/a"`);
    // ... and a, on node one, sees b enter.
    await a.waitFor(new RegExp(`from="${ROOM}/b"`), mark);
    const bMark = b.mark;
    a.send(`<message type='groupchat' to='${ROOM}' id='g1'><body>hello room</body></message>`);
    const msg = await b.waitFor(/<body>hello room<\/body>/, bMark);
    expect(msg).toContain(`from="${ROOM}/a"`);
    a.close();
    b.close();
  });
});
