/**
 * Read positions of the conversation list moved by a client nobody here wrote: slixmpp 1.8.3 (Debian's
 * python3-slixmpp, through test/xmpp/slix_driver.py) sends XEP-0333 `displayed` markers, in a 1:1 chat (naming the
 * id it saw) and in a room (naming the room's stanza-id, XEP-0333 §4 with XEP-0359), and the JSON list of the
 * same account shows what is left unread, on a real server over SQLite. When /usr/bin/python3 cannot import
 * slixmpp, the suite is skipped with a warning (install python3-slixmpp).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERSATION_UPDATE_EVENT, listConversations, login, markConversationRead, type ConversationPage } from '../client/index.js';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { PYTHON, SlixClient, slixmppUnavailable, slixOnline, type SlixMessage } from './xmpp/slix.js';

const unavailable = slixmppUnavailable();
if (unavailable !== null) {
  console.warn(`\n*** SKIPPED: test/conversations-xmpp.test.ts needs slixmpp importable by ${PYTHON} (${unavailable}).\n`);
}

const MARKERS = 'urn:xmpp:chat-markers:0';

describe.skipIf(unavailable !== null)('XEP-0333 displayed markers from slixmpp move the conversation list\'s read positions', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await SlixClient.killAll();
    await t?.close();
  });

  it('in a chat and in a room, leaving what comes after the marked message unread', { timeout: 60_000 }, async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const bobJson = await t.connect(bob!);
    const aliceJson = await t.connect(alice!);
    const room = (await bobJson.request<{ room: { address: string } }>('room.create', { name: 'Plans', membersOnly: false })).room.address;
    const x = await slixOnline(t, alice!, 'slix');
    const nick = alice!.split('@')[0]!;
    await x.request('join_muc', { room, nick });

    await bobJson.send(alice!, 'first');
    await bobJson.send(alice!, 'second');
    await bobJson.send(room, `${nick}: the plan is ready`);
    await bobJson.send(room, 'another room message');
    const first = (await x.waitMessage('first')) as SlixMessage;
    const inRoom = (await x.waitMessage(`${nick}: the plan is ready`)) as SlixMessage;
    expect(inRoom.stanzaId?.by).toBe(room);

    const list = (): Promise<ConversationPage> => listConversations(aliceJson);
    const one = async (peer: string) => (await list()).conversations.find((c) => c.with === peer);
    await expect.poll(async () => (await one(room))?.mentions, { timeout: 5000 }).toBe(1);
    expect(await one(bob!)).toMatchObject({ unread: 2, readUpTo: 0 });

    // The 1:1 marker names the id the client saw on the message; the room's the room's stanza-id.
    await x.request('send', { to: bob, type: 'chat', xml: `<displayed xmlns='${MARKERS}' id='${first.id}'/>` });
    await x.request('send', { to: room, type: 'groupchat', xml: `<displayed xmlns='${MARKERS}' id='${inRoom.stanzaId!.id}'/>` });
    await expect.poll(async () => (await one(room))?.unread, { timeout: 5000 }).toBe(1);
    expect(await one(room)).toMatchObject({ mentions: 0, mentionIds: [] });
    await expect.poll(async () => (await one(bob!))?.unread, { timeout: 5000 }).toBe(1);
    // The JSON session of the same account heard of both moves.
    await aliceJson.waitFor(CONVERSATION_UPDATE_EVENT, (d) => d.with === room && d.unread === 1);
    await aliceJson.waitFor(CONVERSATION_UPDATE_EVENT, (d) => d.with === bob && d.unread === 1);
    // The SDK's explicit read marker clears the rest of the room.
    expect(await markConversationRead(aliceJson, room)).toMatchObject({ with: room, unread: 0, mentions: 0 });
    // Bob, the author, got the receipts as ever (the room message's in his 1:1 conversation with alice).
    await bobJson.waitFor('message.receipt', (d) => d.receipt === 'read' && String(d.from).startsWith(alice!));

    // The HTTP API answers the same list to a bearer token, and refuses a bad parameter clearly.
    const { token } = await login(t.url, alice!, `pw-${alice!.split('@')[0]}`);
    const res = await fetch(`${t.url}/api/v1/conversations?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as ConversationPage;
    const full = await list();
    expect(page.conversations).toEqual(full.conversations.slice(0, 1));
    expect(page.next).toBe(full.conversations[0]!.last!.seq);
    const bad = await fetch(`${t.url}/api/v1/conversations?limit=zero`, { headers: { authorization: `Bearer ${token}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad-request');
    expect((await fetch(`${t.url}/api/v1/conversations`)).status).toBe(401);
  });
});
