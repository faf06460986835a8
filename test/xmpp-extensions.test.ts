/**
 * Message extension elements Parley does not interpret (XEP-0066 links, XEP-0461 replies, XEP-0444 reactions)
 * survive every way a message travels, between real slixmpp clients (test/xmpp/slix_driver.py): live, from the
 * offline queue, as XEP-0280 carbons, in XEP-0313 results, in a room and its history (XEP-0045 §7.2.14), and to
 * and from a JSON-API client. A body-less reaction is stored (XEP-0334 / XEP-0313 rule of docs/xmpp.md); a
 * body-less chat state is not.
 *
 * When /usr/bin/python3 cannot import slixmpp, the suite is skipped with a warning (install python3-slixmpp).
 */
import { describe, expect, it } from 'vitest';
import { freshUsers, onlineAt, type TestServer } from './harness.js';
import { serverForSlixmpp, SlixClient, slixmppUnavailableFor, slixOnline, type SlixEvent } from './xmpp/slix.js';

const unavailable = slixmppUnavailableFor('test/xmpp-extensions.test.ts');

type Data = Record<string, unknown>;
const nickOf = (user: string): string => user.split('@')[0]!;

const OOB = '<x xmlns="jabber:x:oob"><url>https://files.localhost/upload/cat.jpg</url></x>';
const REPLY = (id: string): string => `<reply xmlns="urn:xmpp:reply:0" id="${id}"/>`;
const REACTION = (id: string): string => `<reactions xmlns="urn:xmpp:reactions:0" id="${id}"><reaction>👍</reaction></reactions>`;

/** The extension elements of the test, as the client's XML library writes them out (with prefixes of its own). */
const hasOob = (xml: unknown): boolean => /jabber:x:oob/.test(String(xml)) && /:?url>https:\/\/files\.localhost\/upload\/cat\.jpg</.test(String(xml));
const hasReply = (xml: unknown, id: string): boolean => String(xml).includes('urn:xmpp:reply:0') && String(xml).includes(`id="${id}"`);
const hasReaction = (xml: unknown): boolean => String(xml).includes('urn:xmpp:reactions:0') && String(xml).includes('👍');

describe.skipIf(unavailable !== null)('message extensions with slixmpp', () => {
  let t: TestServer;
  serverForSlixmpp((server) => (t = server));

  const online = (jid: string, resource: string, o: Parameters<SlixClient['connect']>[0] = {}): Promise<SlixClient> => slixOnline(t, jid, resource, o);

  /** Sends a message with extension elements (and a body, unless null). */
  const send = (c: SlixClient, to: string, body: string | null, xml: string, type = 'chat', msgId?: string) =>
    c.request('send', { to, ...(body === null ? {} : { body }), xml, type, ...(msgId ? { msgId } : {}) });

  const message = (c: SlixClient, pred: (e: SlixEvent) => boolean) => c.waitFor('message', (e) => !e.carbon && !e.mam && pred(e));

  it('keeps a link and a reply live, via carbons, from the offline queue and in MAM; a body-less reaction is archived, a chat state is not', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const [a1, a2, b1] = await Promise.all([online(alice!, 'a1', { carbons: true }), online(alice!, 'a2', { carbons: true }), online(bob!, 'b1', { carbons: true })]);

    await send(a1, bob!, 'a cat', `${OOB}${REPLY('earlier-1')}`, 'chat', 'm-cat');
    const live = await message(b1, (e) => e.body === 'a cat');
    expect(hasOob(live.xml) && hasReply(live.xml, 'earlier-1')).toBe(true);
    // XEP-0280 §7: the sender's other session gets a <sent/> copy with the elements inside the forwarded message.
    const sent = await a2.waitFor('carbon', (e) => e.kind === 'sent' && (e.inner as Data).body === 'a cat', 5000);
    expect(hasOob((sent.inner as Data).xml) && hasReply((sent.inner as Data).xml, 'earlier-1')).toBe(true);

    // A body-less reaction (XEP-0444) is stored; a body-less chat state (XEP-0085) is not.
    const stanzaId = String((live.stanzaId as Data).id);
    await send(b1, alice!, null, REACTION('m-cat'));
    const reaction = await message(a1, (e) => e.body === null && hasReaction(e.xml));
    expect(reaction.from).toBe(`${bob}/b1`);
    await send(b1, alice!, null, '<composing xmlns="http://jabber.org/protocol/chatstates"/>');
    await a1.waitFor('message', (e) => String(e.xml).includes('composing'));

    // Bob goes away; alice shares another link, which waits in his offline queue.
    const open = t.server.xmpp!.size;
    await b1.close();
    for (const until = Date.now() + 10_000; t.server.xmpp!.size >= open; ) {
      if (Date.now() > until) throw new Error('the server never noticed the closed stream');
      await new Promise((r) => setTimeout(r, 10));
    }
    await send(a1, bob!, 'another cat', OOB);
    const ja = await onlineAt(t, alice!, 'json');
    const end = Date.now() + 10_000;
    for (;;) {
      const page = await ja.request<{ messages: Data[] }>('history', { with: bob });
      if (page.messages.some((m) => m.body === 'another cat')) break;
      if (Date.now() > end) throw new Error('never stored');
      await new Promise((r) => setTimeout(r, 20));
    }
    const b2 = await online(bob!, 'b2');
    const offline = await message(b2, (e) => e.body === 'another cat');
    expect(offline.delay).not.toBeNull();
    expect(hasOob(offline.xml)).toBe(true);

    // XEP-0313: the archive returns every element, and the reaction without a body; the chat state is not there.
    const r = (await a1.request('mam', { with: bob })) as { results: Array<{ id: string; forwarded: Data }> };
    const xmls = r.results.map((x) => String(x.forwarded.xml));
    expect(r.results.map((x) => x.forwarded.body)).toEqual(['a cat', null, 'another cat']);
    expect(hasOob(xmls[0]) && hasReply(xmls[0], 'earlier-1')).toBe(true);
    expect(hasReaction(xmls[1])).toBe(true);
    expect(xmls.some((x) => x.includes('chatstates'))).toBe(false);
    expect(r.results[0]!.id).toBe(stanzaId);
    await ja.close();
  });

  it('keeps a room message\'s elements for the occupants, the sender\'s reflection and the room history', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'alice', 'bob', 'carol');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const room = `ext-${nickOf(alice!).split('-')[1]}@conference.localhost`;
    await a.request('join_muc', { room, nick: nickOf(alice!) });
    await b.request('join_muc', { room, nick: nickOf(bob!) });
    await send(a, room, 'room cat', OOB, 'groupchat');
    const atBob = await message(b, (e) => e.type === 'groupchat' && e.body === 'room cat');
    const echo = await message(a, (e) => e.type === 'groupchat' && e.body === 'room cat');
    expect(hasOob(atBob.xml)).toBe(true);
    expect(hasOob(echo.xml)).toBe(true);
    await send(b, room, null, REACTION('room-cat'), 'groupchat');
    expect(hasReaction((await message(a, (e) => e.type === 'groupchat' && hasReaction(e.xml))).xml)).toBe(true);

    // carol joins later and gets both in the history (XEP-0045 §7.2.14), elements included.
    const c = await online(carol!, 'c');
    const joined = (await c.request('join_muc', { room, nick: nickOf(carol!), maxstanzas: 10 })) as { history: string[] };
    expect(joined.history.some((x) => x.includes('room cat') && hasOob(x))).toBe(true);
    // slixmpp's join collects only history with a body; the body-less reaction arrives as a delayed message.
    await c.ping();
    expect(c.received('message', (e) => e.type === 'groupchat' && e.delay !== null && hasReaction(e.xml))).toHaveLength(1);
  });

  it('gives a JSON client the elements as `xml`, takes them from it, and refuses malformed XML with bad-request', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await online(alice!, 'xmpp');
    const j = await onlineAt(t, bob!, 'desk');

    await send(a, bob!, 'to json', OOB);
    const ev = await j.waitFor('message', (d) => d.body === 'to json');
    expect(ev.data.xml).toBe(OOB);

    await j.request('message.send', { to: alice, body: 'from json', xml: ` ${REPLY('x1')} ` });
    const m = await message(a, (e) => e.body === 'from json');
    expect(hasReply(m.xml, 'x1')).toBe(true);
    await j.request('message.send', { to: alice, xml: REACTION('x1') });
    expect(hasReaction((await message(a, (e) => e.body === null && hasReaction(e.xml))).xml)).toBe(true);

    for (const xml of ['<x xmlns="jabber:x:oob"><url>u</x>', '<!DOCTYPE x><x/>', '<!-- c --><x xmlns="a:b"/>', '<body>not an extension</body>']) {
      await expect(j.request('message.send', { to: alice, body: 'bad', xml })).rejects.toMatchObject({ code: 'bad-request' });
    }
    await a.ping();
    expect(a.messages('bad')).toEqual([]);
    await j.close();
  });
});
