/**
 * Over real XMPP streams (raw stanzas on the direct TLS port): private messages between room occupants keep
 * their elements, carry the room's muc#user <x/>, follow the block lists and are carbon-copied to the sender's
 * other sessions in the room (XEP-0045 §7.5, XEP-0191, XEP-0280 §6, §8, §9); changing whether a room is
 * moderated announces the roles it changes and status code 104 (XEP-0045 §10.2.1, §8.3-8.4); a body-less
 * payload with a no-store hint is delivered live, 1:1 and in a room, and stored nowhere (XEP-0334 §4); an
 * occupant's availability change reaches every occupant (XEP-0045 §7.7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

const MUC = 'http://jabber.org/protocol/muc';
const OOB = '<x xmlns="jabber:x:oob"><url>https://files.localhost/cat.jpg</url></x>';
const REACTION = (id: string): string => `<reactions xmlns="urn:xmpp:reactions:0" id="${id}"><reaction>👍</reaction></reactions>`;
const NO_STORE = "<no-store xmlns='urn:xmpp:hints'/>";

let t: TestServer;
const streams: RawXmpp[] = [];
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  for (const s of streams) s.close();
  await t.close();
});

const nickOf = (user: string): string => user.split('@')[0]!;

async function online(user: string, resource: string, carbons = false): Promise<RawXmpp> {
  const x = await RawXmpp.online(t.server.xmpp!.ports.directTls!, user, resource);
  streams.push(x);
  if (carbons) expect(await x.iq('set', "<enable xmlns='urn:xmpp:carbons:2'/>")).toContain('type="result"');
  return x;
}

/** Enters `room` as `user`'s nick; resolves once the subject (the end of the entry, §7.2.15) has arrived. */
async function enter(x: RawXmpp, room: string, user: string): Promise<void> {
  const from = x.text.length;
  x.write(`<presence to='${room}/${nickOf(user)}'><x xmlns='${MUC}'/></presence>`);
  await x.until(/<subject/, 5000, from);
}

/** The first <message/> after `from` that holds `text` (up to the first closing tag: a carbon's inner message). */
async function message(x: RawXmpp, text: string, from: number): Promise<string> {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const all = new RegExp(`<message [^>]*>(?:(?!</message>)[\\s\\S])*${escaped}[\\s\\S]*?</message>`);
  return (await x.until(all, 5000, from))[0];
}

/** What `x` received after `from`, once a round trip shows nothing more is on its way. */
async function since(x: RawXmpp, from: number): Promise<string> {
  await x.sync();
  return x.text.slice(from);
}

describe('private messages between occupants (XEP-0045 §7.5)', () => {
  it('keep their elements and the room\'s <x/>, reach the recipient\'s sessions in the room, and give the sender\'s other sessions there a sent carbon', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const room = `pm-${nickOf(alice!)}@conference.localhost`;
    const [a1, a2, a3, b1, b2, b3] = await Promise.all([
      online(alice!, 'a1', true),
      online(alice!, 'a2', true),
      online(alice!, 'a3', true),
      online(bob!, 'b1'),
      online(bob!, 'b2', true),
      online(bob!, 'b3', true),
    ]);
    await enter(a1, room, alice!);
    await enter(a2, room, alice!);
    await enter(b1, room, bob!);
    await enter(b2, room, bob!);
    const mark = [a1, a2, a3, b1, b2, b3].map((x) => x.text.length);
    a1.write(`<message to='${room}/${nickOf(bob!)}' type='chat' id='pm1'><body>psst</body>${OOB}<request xmlns='urn:xmpp:receipts'/></message>`);

    // Both of bob's sessions in the room get it, from alice's nick, with her elements and the room's <x/>.
    for (const [x, i] of [[b1, 3], [b2, 4]] as const) {
      const got = await message(x, '<body>psst</body>', mark[i]!);
      expect(got).toContain(`from="${room}/${nickOf(alice!)}"`);
      expect(got).toContain('type="chat"');
      expect(got).toContain('id="pm1"');
      expect(got).toContain(OOB);
      expect(got).toContain('<request xmlns="urn:xmpp:receipts"/>');
      expect(got).toContain('<x xmlns="http://jabber.org/protocol/muc#user"/>');
      expect(got).not.toContain('carbons');
    }
    // XEP-0280 §8: alice's other session in the room gets a sent copy of the message as she sent it.
    const copy = await message(a2, '<sent xmlns="urn:xmpp:carbons:2">', mark[1]!);
    expect(copy).toContain(`from="${alice}/a1" to="${room}/${nickOf(bob!)}"`);
    expect(copy).toContain('<body>psst</body>');
    expect(copy).toContain(OOB);
    // Sessions outside the room get nothing: neither alice's a3 (no sent copy) nor bob's b3 (XEP-0280 §6: a
    // private message from a room is not eligible for received copies).
    expect(await since(a3, mark[2]!)).not.toContain('psst');
    expect(await since(b3, mark[5]!)).not.toContain('psst');
    expect(await since(a1, mark[0]!)).not.toContain('psst');

    // XEP-0184: bob's receipt names the id alice's client gave, and reaches her as it was sent.
    let from = a1.text.length;
    b1.write(`<message to='${room}/${nickOf(alice!)}' type='chat' id='r1'><received xmlns='urn:xmpp:receipts' id='pm1'/></message>`);
    expect(await message(a1, '<received xmlns="urn:xmpp:receipts" id="pm1"/>', from)).toContain(`from="${room}/${nickOf(bob!)}"`);

    // A body-less payload goes too; <private/> (XEP-0280 §9) keeps it from alice's other sessions.
    from = b1.text.length;
    const fromA2 = a2.text.length;
    a1.write(`<message to='${room}/${nickOf(bob!)}' type='chat' id='pm2'>${REACTION('pm1')}<private xmlns='urn:xmpp:carbons:2'/></message>`);
    const reaction = await message(b1, 'urn:xmpp:reactions:0', from);
    expect(reaction).toContain('id="pm2"');
    expect(reaction).not.toContain('private');
    expect(await since(a2, fromA2)).not.toContain('reactions');
  });

  it('follow the block lists: to someone one blocks is not-acceptable, to someone who blocks the sender is not delivered', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const room = `pmb-${nickOf(alice!)}@conference.localhost`;
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    await enter(a, room, alice!);
    await enter(b, room, bob!);
    expect(await b.iq('set', `<block xmlns='urn:xmpp:blocking'><item jid='${alice}'/></block>`)).toContain('type="result"');

    const fromB = b.text.length;
    let from = a.text.length;
    a.write(`<message to='${room}/${nickOf(bob!)}' type='chat' id='x1'><body>hello?</body></message>`);
    expect(await message(a, '<service-unavailable', from)).toContain('type="error"');
    expect(await since(b, fromB)).not.toContain('hello?');

    from = b.text.length;
    b.write(`<message to='${room}/${nickOf(alice!)}' type='chat' id='x2'><body>hi</body></message>`);
    expect(await message(b, '<not-acceptable', from)).toContain('id="x2"');
  });
});

describe('the moderation toggle (XEP-0045 §10.2.1, §8.3-8.4)', () => {
  const moderated = (on: boolean): string =>
    `<query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_moderatedroom'><value>${on ? 1 : 0}</value></field></x></query>`;

  it('sends 104 on each change; participants keep their voice, visitors become participants when it is lifted and visitors again when it returns', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const room = `mod-${nickOf(alice!)}@conference.localhost`;
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    await enter(a, room, alice!);
    await enter(b, room, bob!);
    const bobItem = (role: string): RegExp => new RegExp(`<presence [^>]*from="${room}/${nickOf(bob!)}"[^>]*>[\\s\\S]*?<item affiliation="member" role="${role}" jid="${bob}"/>`);

    // Moderated: bob, a participant already, keeps his voice (no new presence); both hear of the change (104).
    let fa = a.text.length;
    let fb = b.text.length;
    expect(await a.iq('set', moderated(true), room)).toContain('type="result"');
    for (const [x, f] of [[a, fa], [b, fb]] as const) {
      expect(await message(x, '<status code="104"/>', f)).toMatch(new RegExp(`from="${room}"`));
    }
    expect(await since(a, fa)).not.toMatch(bobItem('visitor'));
    b.write(`<message to='${room}' type='groupchat' id='g1'><body>still here</body></message>`);
    await message(a, '<body>still here</body>', fa);

    // A moderator takes his voice (§8.4), then the room is no longer moderated: he is a participant again.
    expect(await a.iq('set', `<query xmlns='${MUC}#admin'><item nick='${nickOf(bob!)}' role='visitor'/></query>`, room)).toContain('type="result"');
    fa = a.text.length;
    fb = b.text.length;
    expect(await a.iq('set', moderated(false), room)).toContain('type="result"');
    await a.until(bobItem('participant'), 5000, fa);
    await b.until(bobItem('participant'), 5000, fb);
    await message(b, '<status code="104"/>', fb);
    fa = a.text.length;
    b.write(`<message to='${room}' type='groupchat' id='g2'><body>free again</body></message>`);
    await message(a, '<body>free again</body>', fa);

    // Moderated again: the voice he lost is still lost, so he is a visitor again, and the room refuses his message.
    fa = a.text.length;
    fb = b.text.length;
    expect(await a.iq('set', moderated(true), room)).toContain('type="result"');
    await a.until(bobItem('visitor'), 5000, fa);
    await b.until(bobItem('visitor'), 5000, fb);
    await message(a, '<status code="104"/>', fa);
    fb = b.text.length;
    b.write(`<message to='${room}' type='groupchat' id='g3'><body>muted</body></message>`);
    expect(await message(b, '<forbidden', fb)).toContain('type="error"');
  });
});

describe('body-less payloads with a no-store hint (XEP-0334 §4)', () => {
  it('reach the recipient and the carbons live, 1:1 and in a room, and are stored nowhere', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const room = `ns-${nickOf(alice!)}@conference.localhost`;
    const [a1, a2, b1, b2] = await Promise.all([online(alice!, 'a1', true), online(alice!, 'a2', true), online(bob!, 'b1', true), online(bob!, 'b2', true)]);
    const bobJson = await onlineAt(t, bob!, 'json');

    // 1:1 to bob's full address: that session gets it, his other one a received copy, alice's other a sent copy.
    const mark = [a1, a2, b1, b2].map((x) => x.text.length);
    a1.write(`<message to='${bob}/b1' type='chat' id='ns1'>${REACTION('m1')}${NO_STORE}</message>`);
    const live = await message(b1, 'urn:xmpp:reactions:0', mark[2]!);
    expect(live).toContain(`from="${alice}/a1"`);
    expect(live).toContain('id="ns1"');
    expect(live).not.toContain('stanza-id');
    expect(live).not.toContain('hints');
    expect(await message(b2, '<received xmlns="urn:xmpp:carbons:2">', mark[3]!)).toContain('urn:xmpp:reactions:0');
    expect(await message(a2, '<sent xmlns="urn:xmpp:carbons:2">', mark[1]!)).toContain('urn:xmpp:reactions:0');
    expect(await since(a1, mark[0]!)).not.toContain('urn:xmpp:reactions:0');
    // A JSON session of bob's sees it as a message.live event.
    const ev = await bobJson.waitFor('message.live', (d) => d.id === 'ns1');
    expect(ev.data).toEqual({ from: `${alice}/a1`, to: `${bob}/b1`, type: 'chat', xml: REACTION('m1'), id: 'ns1' });

    // Not in the archive (XEP-0313), which has only the message with a body sent after it.
    a1.write(`<message to='${bob}' type='chat' id='ns2'><body>after</body></message>`);
    await message(b1, '<body>after</body>', mark[2]!);
    const from = a1.text.length;
    await a1.iq('set', `<query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>${bob}</value></field></x></query>`);
    const archive = a1.text.slice(from);
    expect(archive).toContain('<body>after</body>');
    expect(archive).not.toContain('urn:xmpp:reactions:0');

    // In a room: to the other occupant and back to the sender (§7.4), from the sender's nick, not in the history.
    await enter(a1, room, alice!);
    await enter(b1, room, bob!);
    const fa = a1.text.length;
    const fb = b1.text.length;
    b1.write(`<message to='${room}' type='groupchat' id='ns3'>${REACTION('r1')}${NO_STORE}</message>`);
    for (const [x, f] of [[a1, fa], [b1, fb]] as const) {
      const got = await message(x, 'urn:xmpp:reactions:0', f);
      expect(got).toContain(`from="${room}/${nickOf(bob!)}"`);
      expect(got).toContain('type="groupchat"');
    }
    const c = await online(alice!, 'a3');
    const fc = c.text.length;
    c.write(`<presence to='${room}/${nickOf(alice!)}'><x xmlns='${MUC}'/></presence>`);
    await c.until(/<subject/, 5000, fc);
    expect(c.text.slice(fc)).not.toContain('urn:xmpp:reactions:0');
  });
});

describe('availability changes in a room (XEP-0045 §7.7)', () => {
  it('go to every occupant from room/nick with show, status and the item, the sender\'s own with 110, without replaying the entry', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'alice', 'bob', 'carol');
    const room = `away-${nickOf(alice!)}@conference.localhost`;
    const [a1, b1, b2] = await Promise.all([online(alice!, 'a1'), online(bob!, 'b1'), online(bob!, 'b2')]);
    const c1 = await online(carol!, 'c1');
    await enter(a1, room, alice!);
    await enter(b1, room, bob!);
    const mark = [a1, b1, b2, c1].map((x) => x.text.length);
    a1.write(`<presence to='${room}/${nickOf(alice!)}'><show>away</show><status>lunch</status></presence>`);

    // bob's session in the room hears of it, from alice's nick, with her show, status and item.
    const got = (await b1.until(new RegExp(`<presence [^>]*from="${room}/${nickOf(alice!)}"[^>]*>(?:(?!</presence>)[\\s\\S])*<show>away</show>[\\s\\S]*?</presence>`), 5000, mark[1]))[0];
    expect(got).toContain('<status>lunch</status>');
    expect(got).toContain(`<item affiliation="owner" role="moderator" jid="${alice!}"/>`);
    expect(got).not.toContain('code="110"');
    // alice gets her own presence back with 110, and no second entry (no occupants, history or subject).
    const own = (await a1.until(/<presence [^>]*>(?:(?!<\/presence>)[\s\S])*<show>away<\/show>[\s\S]*?<\/presence>/, 5000, mark[0]))[0];
    expect(own).toContain(`from="${room}/${nickOf(alice!)}"`);
    expect(own).toContain('<status>lunch</status>');
    expect(own).toContain('<status code="110"/>');
    const toAlice = await since(a1, mark[0]!);
    expect(toAlice).not.toContain('<subject');
    expect(toAlice).not.toContain(`from="${room}/${nickOf(bob!)}"`);
    // Sessions not in the room (bob's other one, carol who is not a member) get nothing of it.
    expect(await since(b2, mark[2]!)).not.toContain(room);
    expect(await since(c1, mark[3]!)).not.toContain(room);

    // Back to available: bob sees the presence without a show or a status.
    const back = b1.text.length;
    a1.write(`<presence to='${room}/${nickOf(alice!)}'/>`);
    const again = (await b1.until(new RegExp(`<presence [^>]*from="${room}/${nickOf(alice!)}"[^>]*>[\\s\\S]*?</presence>`), 5000, back))[0];
    expect(again).not.toContain('<show>');
    expect(again).not.toContain('<status>');
    expect(again).toContain('role="moderator"');
  });

  it('refuses a bad show with bad-request and tells no one', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const room = `badshow-${nickOf(alice!)}@conference.localhost`;
    const [a1, b1] = await Promise.all([online(alice!, 'a1'), online(bob!, 'b1')]);
    await enter(a1, room, alice!);
    await enter(b1, room, bob!);
    const mark = [a1.text.length, b1.text.length];
    a1.write(`<presence to='${room}/${nickOf(alice!)}' id='bad1'><show>sleeping</show></presence>`);
    const err = (await a1.until(/<presence [^>]*type="error"[\s\S]*?<\/presence>/, 5000, mark[0]))[0];
    expect(err).toContain('<bad-request');
    expect(await since(b1, mark[1]!)).not.toContain('sleeping');
    expect(await since(b1, mark[1]!)).not.toContain(`from="${room}/${nickOf(alice!)}"`);
  });
});
