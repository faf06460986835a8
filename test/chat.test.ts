import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { startServer, until, type TestServer } from './harness.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
  await t.users('alice@localhost', 'bob@localhost', 'carol@localhost');
});
afterAll(() => t.close());

describe('1:1 chat', () => {
  it('two users chat both ways, with ids, order and history', async () => {
    const alice = await t.connect('alice@localhost', { resource: 'laptop' });
    const bob = await t.connect('bob@localhost', { resource: 'phone' });
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(alice.send('bob@localhost', `hello ${i}`, `c-${i}`));
    const done = await Promise.all(acks);
    expect(new Set(done.map((a) => a.id)).size).toBe(20);
    expect(done.map((a) => a.seq)).toEqual([...done.map((a) => a.seq)].sort((x, y) => x - y));
    await until(() => bob.received('message').length === 20, 5000, 'bob receives 20');
    expect(bob.received('message').map((m) => m.body)).toEqual(Array.from({ length: 20 }, (_, i) => `hello ${i}`));
    expect(bob.received('message')[0]!.from).toBe('alice@localhost/laptop');

    await bob.send('alice@localhost', 'hi alice');
    const m = await alice.waitFor('message', (d) => d.body === 'hi alice');
    expect(m.data.from).toBe('bob@localhost/phone');

    const page = await alice.request<{ messages: Array<{ body: string; seq: number }>; more: boolean }>('history', { with: 'bob@localhost', limit: 5 });
    expect(page.messages.map((x) => x.body)).toEqual(['hello 16', 'hello 17', 'hello 18', 'hello 19', 'hi alice']);
    expect(page.more).toBe(true);
    const older = await alice.request<{ messages: Array<{ body: string }> }>('history', { with: 'bob@localhost', before: page.messages[0]!.seq, limit: 3 });
    expect(older.messages.map((x) => x.body)).toEqual(['hello 13', 'hello 14', 'hello 15']);
    await alice.close();
    await bob.close();
  });

  it('a resend with the same client id is stored and delivered once', async () => {
    const alice = await t.connect('alice@localhost');
    const bob = await t.connect('bob@localhost');
    const a1 = await alice.send('bob@localhost', 'once', 'dup-1');
    const a2 = await alice.send('bob@localhost', 'once', 'dup-1');
    expect(a2.id).toBe(a1.id);
    expect(a2.duplicate).toBe(true);
    await alice.send('bob@localhost', 'marker');
    await bob.waitFor('message', (d) => d.body === 'marker');
    expect(bob.received('message').filter((d) => d.body === 'once')).toHaveLength(1);
    await alice.close();
    await bob.close();
  });

  it('receipts, typing, edit and retract reach the other side; history shows the current state', async () => {
    const alice = await t.connect('alice@localhost');
    const bob = await t.connect('bob@localhost');
    await alice.request('typing', { to: 'bob@localhost', state: 'composing' });
    const typing = await bob.waitFor('typing');
    expect(typing.data).toMatchObject({ to: 'bob@localhost', state: 'composing' });
    const sent = await alice.send('carol@localhost', 'draft');
    const edited = await alice.request('message.edit', { id: sent.id, body: 'final' });
    expect(edited).toMatchObject({ duplicate: false });
    const sent2 = await alice.send('bob@localhost', 'oops');
    await bob.waitFor('message', (d) => d.id === sent2.id);
    await bob.request('message.receipt', { id: sent2.id, kind: 'read' });
    const receipt = await alice.waitFor('message.receipt', (d) => d.ref === sent2.id);
    expect(receipt.data.receipt).toBe('read');
    await alice.request('message.retract', { id: sent2.id });
    await bob.waitFor('message.retract', (d) => d.ref === sent2.id);
    const h = await alice.request<{ messages: Array<{ id: string; body: string | null; editedAt: number | null; retractedAt: number | null }> }>('history', { with: 'carol@localhost' });
    expect(h.messages.find((m) => m.id === sent.id)).toMatchObject({ body: 'final' });
    const hb = await bob.request<{ messages: Array<{ id: string; body: string | null; retractedAt: number | null }> }>('history', { with: 'alice@localhost' });
    const retracted = hb.messages.find((m) => m.id === sent2.id)!;
    expect(retracted.body).toBeNull();
    expect(retracted.retractedAt).not.toBeNull();
    await expect(bob.request('message.edit', { id: sent.id, body: 'hijack' })).rejects.toMatchObject({ code: 'forbidden' });
    // A retraction is final: the text cannot come back through an edit.
    await expect(alice.request('message.edit', { id: sent2.id, body: 'back again' })).rejects.toMatchObject({ code: 'not-allowed' });
    await alice.close();
    await bob.close();
  });

  it("the newest history page of a 1:1 conversation says how far the other person has read; older pages and rooms do not", async () => {
    const alice = await t.connect('alice@localhost');
    const carol = await t.connect('carol@localhost');
    type Read = { id: string; seq: number; ts: number } | null;
    const before = await alice.request<{ read: Read }>('history', { with: 'carol@localhost' });
    const first = await alice.send('carol@localhost', 'read me');
    const second = await alice.send('carol@localhost', 'and me');
    await carol.waitFor('message', (d) => d.id === second.id);
    expect((await alice.request<{ read: Read }>('history', { with: 'carol@localhost' })).read).toEqual(before.read);
    await carol.request('message.receipt', { id: first.id, kind: 'read' });
    expect((await alice.request<{ read: Read }>('history', { with: 'carol@localhost' })).read).toMatchObject({ id: first.id, seq: first.seq });
    // A delivery receipt is not a read marker; a later read receipt moves it.
    await carol.request('message.receipt', { id: second.id, kind: 'delivered' });
    expect((await alice.request<{ read: Read }>('history', { with: 'carol@localhost' })).read).toMatchObject({ id: first.id });
    await carol.request('message.receipt', { id: second.id, kind: 'read' });
    const page = await alice.request<{ read: Read }>('history', { with: 'carol@localhost' });
    expect(page.read).toMatchObject({ id: second.id, seq: second.seq });
    // Carol's own view: Alice has read none of Carol's messages.
    expect((await carol.request<{ read: Read }>('history', { with: 'alice@localhost' })).read).toBeNull();
    expect((await alice.request<Record<string, unknown>>('history', { with: 'carol@localhost', before: second.seq })).read).toBeUndefined();
    // The HTTP API runs the same query.
    const { token } = await login(t.url, 'alice@localhost', 'pw-alice');
    const http = (await (await fetch(`${t.url}/api/v1/history?with=carol@localhost`, { headers: { authorization: `Bearer ${token}` } })).json()) as { read: Read };
    expect(http.read).toMatchObject({ id: second.id, seq: second.seq });
    await alice.close();
    await carol.close();
  });

  it('offline recipient gets the message at next login, then not again', async () => {
    const alice = await t.connect('alice@localhost');
    await alice.send('carol@localhost', 'while you were out 1');
    await alice.send('carol@localhost', 'while you were out 2');
    const carol = await t.connect('carol@localhost');
    await carol.waitFor('synced');
    const bodies = carol.received('message').map((m) => m.body);
    expect(bodies).toContain('while you were out 1');
    expect(bodies).toContain('while you were out 2');
    await until(() => carol.position > 0);
    await new Promise((r) => setTimeout(r, 150)); // let the automatic ack go out
    await carol.close();
    const again = await t.connect('carol@localhost');
    await again.waitFor('synced');
    expect(again.received('message').map((m) => m.body)).not.toContain('while you were out 1');
    await again.close();
    await alice.close();
  });
});
