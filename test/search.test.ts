/**
 * Search of one's own history end to end, on a real server over its SQLite store: the JSON `search` operation,
 * GET /api/v1/search and an XEP-0431 full-text MAM query over an XMPP socket answer with the same hits, show a
 * user only what history would (rooms left up to the leaving), follow edits and retractions, refuse a query without words, and count among the
 * user's heavy reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, ParleyApiError, type ParleyClient } from '../client/index.js';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

type Hit = { id: string; seq: number; ts: number; from: string; to: string; room?: string; body: string; snippet: Array<[number, number]> };
type Result = { hits: Hit[]; next: number | null };

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

/** Searches until the index shows `count` hits (it follows the log a little behind the writes). */
async function searchFor(c: ParleyClient, params: Record<string, unknown>, count: number): Promise<Result> {
  const end = Date.now() + 5000;
  for (;;) {
    const r = await c.request<Result>('search', params);
    if (r.hits.length === count || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
}

describe('search', () => {
  it('finds a user\'s own messages over JSON and HTTP, marks the matches, and follows edits and retractions', async () => {
    const [alice, bob, carol] = (await freshUsers(t, 'alice', 'bob', 'carol')) as [string, string, string];
    const a = await onlineAt(t, alice);
    const b = await onlineAt(t, bob);
    const c = await onlineAt(t, carol);
    const first = await a.request<{ id: string }>('message.send', { to: bob, body: 'Le café du Zürich office' });
    await a.request('message.send', { to: bob, body: 'nothing to see' });
    const gone = await b.request<{ id: string }>('message.send', { to: alice, body: 'zurich wifi password: hunter2' });

    const r = await searchFor(b, { q: 'ZURICH' }, 2);
    expect(r.hits.map((h) => h.body)).toEqual(['zurich wifi password: hunter2', 'Le café du Zürich office']);
    expect(r.hits[1]).toMatchObject({ id: first.id, from: alice, to: bob, snippet: [[11, 17]] });
    expect(r.next).toBeNull();
    // Carol is in neither conversation.
    expect((await c.request<Result>('search', { q: 'zurich' })).hits).toEqual([]);

    // The same over HTTP with a bearer token.
    const { token } = await login(t.url, bob, `pw-${bob.split('@')[0]}`);
    const res = await fetch(`${t.url}/api/v1/search?q=${encodeURIComponent('"café du"')}&with=${encodeURIComponent(alice)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const http = (await res.json()) as Result;
    expect(http.hits.map((h) => [h.body, h.snippet])).toEqual([['Le café du Zürich office', [[3, 10]]]]);
    const badHttp = await fetch(`${t.url}/api/v1/search?q=${encodeURIComponent('()')}`, { headers: { authorization: `Bearer ${token}` } });
    expect(badHttp.status).toBe(400);
    expect(((await badHttp.json()) as { error: { code: string } }).error.code).toBe('bad-request');
    expect((await fetch(`${t.url}/api/v1/search?q=x`)).status).toBe(401);

    await a.request('message.edit', { id: first.id, body: 'Le thé du Genève office' });
    await b.request('message.retract', { id: gone.id });
    expect((await searchFor(b, { q: 'zurich' }, 0)).hits).toEqual([]);
    expect((await searchFor(a, { q: 'geneve' }, 1)).hits.map((h) => h.body)).toEqual(['Le thé du Genève office']);
    await expect(a.request('search', { q: '"" *' })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(a.request('search', { q: 'x', limit: 0 })).rejects.toBeInstanceOf(ParleyApiError);
  });

  it('counts searches among the user\'s heavy reads: beyond those running and waiting, rate-limited', async () => {
    const [dora] = (await freshUsers(t, 'dora')) as [string];
    const d = await onlineAt(t, dora);
    // Sent in one burst over one connection: 4 run, 8 wait (limits.readsInFlightPerUser, readsQueuedPerUser), the rest are refused.
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () =>
        d.request<Result>('search', { q: 'anything' }).then(
          () => 'ok',
          // The heavy-read refusal, not the connection's frame rate limit (which has the same code).
          (e: { code?: string; message?: string }) => (e.code === 'rate-limited' && /heavy reads/.test(e.message ?? '') ? 'rate-limited' : (e.code ?? 'error')),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(12);
    expect(outcomes.filter((o) => o === 'rate-limited').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'rate-limited')).toEqual([]);
    expect((await d.request<Result>('search', { q: 'anything' })).hits).toEqual([]);
  });

  it('finds a room the user left up to the leaving over JSON, HTTP and XEP-0431, never what was said after', async () => {
    const [owner, member] = (await freshUsers(t, 'owner', 'member')) as [string, string];
    const o = await onlineAt(t, owner);
    const m = await onlineAt(t, member);
    const { room } = await o.request<{ room: { address: string } }>('room.create', { name: 'Budget', membersOnly: true });
    await o.request('room.invite', { room: room.address, user: member });
    await m.request('room.join', { room: room.address });
    await o.request('message.send', { to: room.address, body: 'budget freeze from May' });
    await m.request('room.leave', { room: room.address });
    await o.request('message.send', { to: room.address, body: 'budget freeze lifted after the member left' });
    await searchFor(o, { q: 'freeze' }, 2);
    // The member finds what it could read when it left, not the message after it (the owner finds both).
    const r = await searchFor(m, { q: 'freeze' }, 1);
    expect(r.hits.map((h) => [h.from, h.room, h.body])).toEqual([[owner, room.address, 'budget freeze from May']]);
    expect((await m.request<Result>('search', { q: 'lifted' })).hits).toEqual([]);
    expect((await m.request<Result>('search', { q: 'freeze', room: room.address })).hits.map((h) => h.body)).toEqual(['budget freeze from May']);
    // The same over HTTP, narrowed to the room.
    const { token } = await login(t.url, member, `pw-${member.split('@')[0]}`);
    const res = await fetch(`${t.url}/api/v1/search?q=freeze&room=${encodeURIComponent(room.address)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Result).hits.map((h) => h.body)).toEqual(['budget freeze from May']);
    // And as an XEP-0431 full-text MAM query to the room, as its history answers the member.
    const xmpp = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    try {
      await xmpp.login(member, `pw-${member.split('@')[0]}`, 'desk');
      const from = xmpp.text.length;
      xmpp.write(
        `<iq type='set' id='l1' to='${room.address}'><query xmlns='urn:xmpp:mam:2' queryid='l1'><x xmlns='jabber:x:data' type='submit'>` +
          `<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='{urn:xmpp:fulltext:0}fulltext'><value>freeze</value></field></x></query></iq>`,
      );
      const fin = await xmpp.until(/<iq[^>]*id="l1"[^>]*>.*?<\/iq>/s, 5000, from);
      const text = xmpp.text.slice(from, from + fin.index + fin[0].length);
      expect([...text.matchAll(/<body>([^<]*)<\/body>/g)].map((b) => b[1])).toEqual(['budget freeze from May']);
    } finally {
      xmpp.close();
    }
    // Removed from the member's list, the room is no longer searchable.
    await m.request('conversation.remove', { with: room.address });
    expect((await m.request<Result>('search', { q: 'freeze' })).hits).toEqual([]);
    await expect(m.request('search', { q: 'freeze', room: room.address })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('finds room messages for members only, and answers an XEP-0431 MAM query with the same hits', async () => {
    const [owner, member, outsider] = (await freshUsers(t, 'owner', 'member', 'outsider')) as [string, string, string];
    const o = await onlineAt(t, owner);
    const m = await onlineAt(t, member);
    const x = await onlineAt(t, outsider);
    const { room } = await o.request<{ room: { address: string } }>('room.create', { name: 'Ops', membersOnly: true });
    await o.request('room.invite', { room: room.address, user: member });
    await m.request('room.join', { room: room.address });
    await o.request('message.send', { to: room.address, body: 'rollback the deploy' });
    await m.request('message.send', { to: room.address, body: 'deploy done' });
    const hits = await searchFor(m, { q: 'deploy' }, 2);
    expect(hits.hits.map((h) => [h.from, h.room, h.body])).toEqual([
      [member, room.address, 'deploy done'],
      [owner, room.address, 'rollback the deploy'],
    ]);
    expect((await x.request<Result>('search', { q: 'deploy' })).hits).toEqual([]);
    await expect(x.request('search', { q: 'deploy', room: room.address })).rejects.toMatchObject({ code: 'forbidden' });

    // XEP-0431 over a real XMPP stream: the form offers the field, and the room's archive answers with the hits.
    const xmpp = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    try {
      await xmpp.login(member, `pw-${member.split('@')[0]}`, 'desk');
      let from = xmpp.text.length;
      xmpp.write(`<iq type='get' id='f0' to='${room.address}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
      await xmpp.until(/<iq[^>]*id="f0"[^>]*>.*?<\/iq>/s, 5000, from);
      expect(xmpp.text.slice(from)).toContain('var="{urn:xmpp:fulltext:0}fulltext"');
      from = xmpp.text.length;
      xmpp.write(
        `<iq type='set' id='f1' to='${room.address}'><query xmlns='urn:xmpp:mam:2' queryid='f1'><x xmlns='jabber:x:data' type='submit'>` +
          `<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='{urn:xmpp:fulltext:0}fulltext'><value>deploy</value></field></x></query></iq>`,
      );
      const fin = await xmpp.until(/<iq[^>]*id="f1"[^>]*>.*?<\/iq>/s, 5000, from);
      const text = xmpp.text.slice(from, from + fin.index + fin[0].length);
      expect([...text.matchAll(/<body>([^<]*)<\/body>/g)].map((b) => b[1])).toEqual(['rollback the deploy', 'deploy done']);
      expect(text).toContain('complete="true"');
    } finally {
      xmpp.close();
    }
  });
});
