/**
 * XEP-0045 bans (§9.1-9.2), voice in moderated rooms (§8.3-8.5, §7.4) and private messages between occupants
 * (§7.5) over in-memory streams with a real engine.
 */
import { describe, expect, it } from 'vitest';
import { moduleFixture, TestXmppClient } from '../../../modules/testing.js';

const OWNER = 'http://jabber.org/protocol/muc#owner';
const ADMIN = 'http://jabber.org/protocol/muc#admin';
const ROOM = 'team@conference.example.com';

type Fixture = Awaited<ReturnType<typeof moduleFixture>>;

/** a, b and c logged in; a creates the room by entering it; b and c enter it too unless `enter` is false. */
async function room(enter = true): Promise<{ a: TestXmppClient; b: TestXmppClient; c: TestXmppClient; engine: Fixture['engine'] }> {
  const { engine, host } = await moduleFixture([], { users: ['a@example.com', 'b@example.com', 'c@example.com'] });
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((u) => TestXmppClient.login(engine, host.xmpp, u)));
  await enterRoom(a!, 'a');
  if (enter) {
    await enterRoom(b!, 'b');
    await enterRoom(c!, 'c');
  }
  return { a: a!, b: b!, c: c!, engine };
}

/** Enters the room; returns what the client got up to the subject. */
async function enterRoom(x: TestXmppClient, nick: string): Promise<string> {
  const m = x.mark;
  x.send(`<presence to='${ROOM}/${nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  return x.waitFor(/<subject/, m);
}

const admin = (x: TestXmppClient, items: string, type: 'get' | 'set' = 'set'): Promise<string> =>
  x.iq(type, `<query xmlns='${ADMIN}'>${items}</query>`, ROOM).then((r) => r.reply);

describe('MUC bans (XEP-0045 §9.1-9.2)', () => {
  it('a ban removes the occupant (301 to them and the others), keeps them out until lifted, and is listed', async () => {
    const { a, b, c, engine } = await room();
    const mb = b.mark;
    const mc = c.mark;
    expect(await admin(a, `<item jid='b@example.com' affiliation='outcast'><reason>spam</reason></item>`)).toContain('type="result"');
    const toB = await b.waitFor(/<status code="301"\/>/, mb);
    expect(toB).toMatch(/type="unavailable"[\s\S]*<item affiliation="outcast" role="none" jid="b@example.com"><reason>spam<\/reason><\/item><status code="110"\/><status code="301"\/>/);
    expect(await c.waitFor(/<status code="301"\/>/, mc)).toMatch(new RegExp(`from="${ROOM}/b"[^>]*type="unavailable"`));
    expect(await engine.rooms.isMember(ROOM, 'b@example.com')).toBe(false);

    // §9.2 the ban list: owners and admins only.
    expect(await admin(a, `<item affiliation='outcast'/>`, 'get')).toContain('<item affiliation="outcast" jid="b@example.com"><reason>spam</reason></item>');
    expect(await admin(c, `<item affiliation='outcast'/>`, 'get')).toContain('<forbidden');

    // §7.2.7: entering again is forbidden; writing to the room is not-acceptable, since b is no occupant (§7.4).
    let m = b.mark;
    b.send(`<presence to='${ROOM}/b'/>`);
    expect(await b.waitFor(/<presence [^>]*type="error"[\s\S]*?<\/presence>/, m)).toContain('<forbidden');
    m = b.mark;
    b.send(`<message to='${ROOM}' type='groupchat' id='g1'><body>hi</body></message>`);
    expect(await b.waitFor(/<message [^>]*type="error"[\s\S]*?<\/message>/, m)).toContain('<not-acceptable');

    // Lifted (affiliation none): b enters again, and c sees b come in.
    expect(await admin(a, `<item jid='b@example.com' affiliation='none'/>`)).toContain('type="result"');
    expect(await admin(a, `<item affiliation='outcast'/>`, 'get')).not.toContain('b@example.com');
    m = c.mark;
    expect(await enterRoom(b, 'b')).toMatch(/<item affiliation="member" role="participant"[^>]*\/><status code="110"\/>/);
    await c.waitFor(new RegExp(`<presence [^>]*from="${ROOM}/b"(?![^>]*unavailable)`), m);
  });

  it('admins cannot ban owners or admins (§5.2); whole domains can be banned; members cannot ban', async () => {
    const { a, b, c, engine } = await room();
    await admin(a, `<item jid='b@example.com' affiliation='admin'/>`);
    expect(await admin(b, `<item jid='a@example.com' affiliation='outcast'/>`)).toContain('<not-allowed');
    expect(await admin(c, `<item jid='b@example.com' affiliation='outcast'/>`)).toContain('<forbidden');
    expect(await admin(a, `<item jid='a@example.com' affiliation='outcast'/>`)).toContain('<not-allowed');
    // A domain: the admin b may ban one without owners or admins in it.
    expect(await admin(b, `<item jid='elsewhere.test' affiliation='outcast'/>`)).toContain('type="result"');
    expect((await engine.rooms.moderation.bans(ROOM, 'a@example.com')).map((x) => x.target)).toEqual(['elsewhere.test']);
    // Its own domain holds the owner: not-allowed, and nobody was removed.
    expect(await admin(b, `<item jid='example.com' affiliation='outcast'/>`)).toContain('<not-allowed');
    expect(await engine.rooms.isMember(ROOM, 'c@example.com')).toBe(true);
  });
});

describe('MUC voice in moderated rooms (XEP-0045 §8.3-8.5)', () => {
  it('a newcomer of a moderated room is a visitor who cannot write; voice given and taken again', async () => {
    const { a, b, c } = await room(false);
    const form = `<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_moderatedroom'><value>1</value></field></x>`;
    expect((await c.iq('set', `<query xmlns='${OWNER}'>${form}</query>`, ROOM)).reply).toMatch(/<forbidden|<item-not-found/);
    expect((await a.iq('set', `<query xmlns='${OWNER}'>${form}</query>`, ROOM)).reply).toContain('type="result"');
    expect((await a.iq('get', `<query xmlns='${OWNER}'/>`, ROOM)).reply).toMatch(/<field var="muc#roomconfig_moderatedroom" type="boolean"[^>]*><value>1<\/value>/);
    expect((await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, ROOM)).reply).toContain('<feature var="muc_moderated"/>');

    let m = a.mark;
    expect(await enterRoom(b, 'b')).toMatch(/<item affiliation="member" role="visitor"[^>]*\/><status code="110"\/>/);
    await a.waitFor(/<item affiliation="member" role="visitor" jid="b@example.com"\/>/, m);
    expect(await admin(a, `<item role='visitor'/>`, 'get')).toContain('jid="b@example.com"');

    // §7.4: a visitor's message is refused.
    const say = async (id: string): Promise<string> => {
      const n = b.mark;
      b.send(`<message to='${ROOM}' type='groupchat' id='${id}'><body>${id}</body></message>`);
      return b.waitFor(new RegExp(`<message [^>]*id="${id}"[\\s\\S]*?</message>`), n);
    };
    expect(await say('v1')).toMatch(/type="error"[\s\S]*<forbidden/);

    // §8.3 voice granted: the room hears the new role; the message passes.
    m = b.mark;
    expect(await admin(a, `<item nick='b' role='participant'/>`)).toContain('type="result"');
    await b.waitFor(/<item affiliation="member" role="participant" jid="b@example.com"\/><status code="110"\/>/, m);
    const n = a.mark;
    expect(await say('v2')).toMatch(/type="groupchat"[\s\S]*<body>v2<\/body>/);
    await a.waitFor(/<body>v2<\/body>/, n);

    // §8.4 revoked: refused again. A member cannot moderate; an owner's voice cannot be taken.
    expect(await admin(b, `<item nick='a' role='visitor'/>`)).toContain('<forbidden');
    expect(await admin(a, `<item nick='a' role='visitor'/>`)).toContain('<not-allowed');
    expect(await admin(a, `<item nick='b' role='moderator'/>`)).toContain('<not-allowed');
    expect(await admin(a, `<item nick='b' role='visitor'/>`)).toContain('type="result"');
    expect(await say('v3')).toMatch(/type="error"[\s\S]*<forbidden/);
  });

  it('voice is only taken in moderated rooms; an invited member of a moderated room enters with voice', async () => {
    const { a, b, c } = await room(false);
    await enterRoom(b, 'b');
    expect(await admin(a, `<item nick='b' role='visitor'/>`)).toContain('<not-allowed');
    const form = `<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_moderatedroom'><value>true</value></field></x>`;
    await a.iq('set', `<query xmlns='${OWNER}'>${form}</query>`, ROOM);
    await admin(a, `<item jid='c@example.com' affiliation='member'/>`);
    expect(await enterRoom(c, 'c')).toMatch(/<item affiliation="member" role="participant"[^>]*\/><status code="110"\/>/);
  });
});

describe('MUC private messages (XEP-0045 §7.5)', () => {
  it('goes to the occupant from room/nick; an unknown nick, an absent sender and type groupchat are refused', async () => {
    const { a, b, c } = await room();
    let m = b.mark;
    a.send(`<message to='${ROOM}/b' type='chat' id='p1'><body>psst</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    const got = await b.waitFor(/<body>psst<\/body>/, m);
    expect(got).toMatch(new RegExp(`<message [^>]*type="chat" id="p1" from="${ROOM}/a" to="b@example.com/phone"><body>psst</body><active xmlns="http://jabber.org/protocol/chatstates"/><x xmlns="http://jabber.org/protocol/muc#user"/></message>`));

    m = a.mark;
    a.send(`<message to='${ROOM}/nobody' type='chat' id='p2'><body>hello?</body></message>`);
    expect(await a.waitFor(/<message [^>]*id="p2"[\s\S]*?<\/message>/, m)).toMatch(/type="error"[\s\S]*<item-not-found/);
    m = a.mark;
    a.send(`<message to='${ROOM}/b' type='groupchat' id='p3'><body>x</body></message>`);
    expect(await a.waitFor(/<message [^>]*id="p3"[\s\S]*?<\/message>/, m)).toMatch(/type="error"[\s\S]*<bad-request/);

    // c leaves the room: its private messages are refused, and none reach it.
    m = c.mark;
    c.send(`<presence to='${ROOM}/c' type='unavailable'/>`);
    await c.waitFor(/type="unavailable"/, m);
    m = c.mark;
    c.send(`<message to='${ROOM}/a' type='chat' id='p4'><body>x</body></message>`);
    expect(await c.waitFor(/<message [^>]*id="p4"[\s\S]*?<\/message>/, m)).toMatch(/type="error"[\s\S]*<not-acceptable/);
    const mc = c.mark;
    a.send(`<message to='${ROOM}/c' type='chat' id='p5'><body>still there?</body></message>`);
    m = b.mark;
    a.send(`<message to='${ROOM}/b' type='chat' id='p6'><body>after</body></message>`);
    await b.waitFor(/<body>after<\/body>/, m);
    expect(await c.waitFor(/$/, mc)).not.toContain('still there?');
  });
});
