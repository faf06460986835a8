/**
 * XEP-0045 owner and admin queries (muc-admin.ts) over an in-memory stream with a real engine: the owner accepts
 * a new room's default configuration, sees the configuration form and cannot change what Parley fixes; owners and
 * admins are moderators; member lists by affiliation; making a member, an admin, kicking; destroying; refusals.
 */
import { describe, expect, it } from 'vitest';
import { moduleFixture, TestXmppClient } from '../../../modules/testing.js';

const OWNER = 'http://jabber.org/protocol/muc#owner';
const ADMIN = 'http://jabber.org/protocol/muc#admin';
const ROOM = 'team@conference.example.com';

/** a and b logged in; a creates the room by entering it, b enters it too. */
async function roomWithTwo(): Promise<{ a: TestXmppClient; b: TestXmppClient; c: TestXmppClient; engine: Awaited<ReturnType<typeof moduleFixture>>['engine'] }> {
  const { engine, host } = await moduleFixture([], { users: ['a@example.com', 'b@example.com', 'c@example.com'] });
  const a = await TestXmppClient.login(engine, host.xmpp, 'a');
  const b = await TestXmppClient.login(engine, host.xmpp, 'b');
  const c = await TestXmppClient.login(engine, host.xmpp, 'c');
  let m = a.mark;
  a.send(`<presence to='${ROOM}/a'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  const entered = await a.waitFor(/<subject/, m);
  // §10.1.2: a new room; the owner is a moderator (§5.1.2).
  expect(entered).toMatch(/<item affiliation="owner" role="moderator"[^>]*\/><status code="110"\/><status code="201"\/>/);
  m = b.mark;
  b.send(`<presence to='${ROOM}/b'/>`);
  const bIn = await b.waitFor(/<subject/, m);
  expect(bIn).toMatch(new RegExp(`from="${ROOM}/a"[\\s\\S]*<item affiliation="owner" role="moderator" jid="a@example.com"/>`));
  expect(bIn).toMatch(/<item affiliation="member" role="participant"[^>]*\/><status code="110"\/>/);
  return { a, b, c, engine };
}

describe('MUC owner and admin queries (XEP-0045 §9-10)', () => {
  it('the owner accepts the default configuration, reads the form, and cannot change what Parley fixes', async () => {
    const { a, b } = await roomWithTwo();
    // §10.1.2 instant room: an empty submitted form.
    expect((await a.iq('set', `<query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='submit'/></query>`, ROOM)).reply).toContain('type="result"');
    const form = (await a.iq('get', `<query xmlns='${OWNER}'/>`, ROOM)).reply;
    expect(form).toContain('<value>http://jabber.org/protocol/muc#roomconfig</value>');
    expect(form).toMatch(/<field var="muc#roomconfig_roomname" type="text-single"[^>]*><value>team<\/value>/);
    expect(form).toMatch(/<field var="muc#roomconfig_membersonly" type="boolean"[^>]*><value>0<\/value>/);
    // The same values back (as clients submit the form they were shown), and a cancel: accepted.
    const same = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_roomname'><value>team</value></field><field var='muc#roomconfig_persistentroom'><value>true</value></field></x>`;
    expect((await a.iq('set', `<query xmlns='${OWNER}'>${same}</query>`, ROOM)).reply).toContain('type="result"');
    expect((await a.iq('set', `<query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query>`, ROOM)).reply).toContain('type="result"');
    const anonymous = `<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_moderatedroom'><value>1</value></field><field var='muc#roomconfig_whois'><value>moderators</value></field></x>`;
    expect((await a.iq('set', `<query xmlns='${OWNER}'>${anonymous}</query>`, ROOM)).reply).toMatch(/<not-acceptable [^>]*\/><text[^>]*>muc#roomconfig_whois cannot be changed here/);
    // The refused form changed nothing, not even the field that may change.
    expect((await a.iq('get', `<query xmlns='${OWNER}'/>`, ROOM)).reply).toMatch(/<field var="muc#roomconfig_moderatedroom" type="boolean"[^>]*><value>0<\/value>/);
    // Not an owner: forbidden; no form at all: bad-request.
    expect((await b.iq('get', `<query xmlns='${OWNER}'/>`, ROOM)).reply).toContain('<forbidden');
    expect((await a.iq('set', `<query xmlns='${OWNER}'/>`, ROOM)).reply).toContain('<bad-request');
  });

  it('lists members by affiliation, makes members and admins, kicks, and destroys', async () => {
    const { a, b, c, engine } = await roomWithTwo();
    const list = async (who: TestXmppClient, affiliation: string): Promise<string[]> =>
      [...(await who.iq('get', `<query xmlns='${ADMIN}'><item affiliation='${affiliation}'/></query>`, ROOM)).reply.matchAll(/jid="([^"]+)"/g)].map((x) => x[1]!);
    expect(await list(a, 'owner')).toEqual(['a@example.com']);
    expect(await list(b, 'member')).toEqual(['b@example.com']);
    expect(await list(a, 'outcast')).toEqual([]);
    const moderators = (await a.iq('get', `<query xmlns='${ADMIN}'><item role='moderator'/></query>`, ROOM)).reply;
    expect(moderators).toContain('jid="a@example.com"');
    expect(moderators).not.toContain('b@example.com');

    // Making c a member invites c; making b an admin is the owner's; a member cannot.
    expect((await a.iq('set', `<query xmlns='${ADMIN}'><item jid='c@example.com' affiliation='member'/></query>`, ROOM)).reply).toContain('type="result"');
    expect((await engine.rooms.list('c@example.com')).rooms.map((r) => r.address)).toContain(ROOM);
    expect((await b.iq('set', `<query xmlns='${ADMIN}'><item jid='a@example.com' affiliation='member'/></query>`, ROOM)).reply).toContain('<forbidden');
    let m = b.mark;
    expect((await a.iq('set', `<query xmlns='${ADMIN}'><item jid='b@example.com' affiliation='admin'/></query>`, ROOM)).reply).toContain('type="result"');
    await b.waitFor(/<item affiliation="admin" role="moderator" jid="b@example.com"\/><status code="110"\/>/, m);
    expect(await list(a, 'admin')).toEqual(['b@example.com']);
    // §5.2: an admin cannot ban an owner.
    expect((await b.iq('set', `<query xmlns='${ADMIN}'><item jid='a@example.com' affiliation='outcast'/></query>`, ROOM)).reply).toContain('<not-allowed');

    // §8.2 a kick by nick (role none): the kicked occupant hears 307.
    await a.iq('set', `<query xmlns='${ADMIN}'><item jid='b@example.com' affiliation='member'/></query>`, ROOM);
    m = b.mark;
    expect((await a.iq('set', `<query xmlns='${ADMIN}'><item nick='b' role='none'><reason>off topic</reason></item></query>`, ROOM)).reply).toContain('type="result"');
    await b.waitFor(/type="unavailable"[\s\S]*<status code="307"\/>/, m);
    expect(await list(a, 'member')).toEqual([]);
    expect((await a.iq('set', `<query xmlns='${ADMIN}'><item nick='nobody' role='none'/></query>`, ROOM)).reply).toContain('<item-not-found');

    // §10.9 destroy.
    expect((await c.iq('set', `<query xmlns='${OWNER}'><destroy/></query>`, ROOM)).reply).toContain('<forbidden');
    expect((await a.iq('set', `<query xmlns='${OWNER}'><destroy><reason>done</reason></destroy></query>`, ROOM)).reply).toContain('type="result"');
    expect(await engine.rooms.get(ROOM)).toBeNull();
    expect((await a.iq('get', `<query xmlns='${OWNER}'/>`, ROOM)).reply).toContain('<item-not-found');
  });

  it('a direct invitation (XEP-0249) invites through the room: the invitee hears it and may enter', async () => {
    const { a, c, engine } = await roomWithTwo();
    const m = c.mark;
    a.send(`<message to='c@example.com'><x xmlns='jabber:x:conference' jid='${ROOM}' reason='join us'/></message>`);
    const got = await c.waitFor(/<x xmlns="jabber:x:conference" jid="team@conference.example.com"\/>/, m);
    expect(got).toContain('<invite from="a@example.com"/>');
    expect((await engine.rooms.list('c@example.com')).rooms.find((r) => r.address === ROOM)).toMatchObject({ invitedBy: 'a@example.com' });
    // Without a room: bad-request, the stream goes on.
    const n = a.mark;
    a.send(`<message id='bad' to='c@example.com'><x xmlns='jabber:x:conference'/></message>`);
    expect(await a.waitFor(/<message [^>]*type="error"[\s\S]*<bad-request/, n)).toContain('an invitation names the room');
  });
});
