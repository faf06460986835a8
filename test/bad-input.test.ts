/**
 * Bad input on the JSON WebSocket front door: every bad frame or request gets an error reply with a stable
 * code, and neither the connection that sent it nor anyone else's session is disturbed. Messages acknowledged
 * before the bad input are all still in history afterwards.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParleyClient } from '../client/index.js';
import { login } from '../client/index.js';
import { startServer, until, type TestServer } from './harness.js';
import { RawPeer, type Frame } from './wire.js';

const MAX_FRAME = 4096;
const MAX_BODY = 1000;

let t: TestServer;
/** The peer that sends the bad input (a raw socket, so every reply frame is visible). */
let alice: RawPeer;
/** A second user's ordinary session that must keep receiving. */
let bob: ParleyClient;
/** Every message the server acknowledged to alice: it must all be in history at the end. */
const acked: string[] = [];
let probe = 0;

async function hello(peer: RawPeer, address: string): Promise<Frame> {
  const { token } = await login(t.url, address, `pw-${address.split('@')[0]}`);
  return peer.request('hello', { token });
}

async function send(to: string, body: string): Promise<Frame> {
  const r = await alice.request('message.send', { to, body });
  if (r.ok === true) acked.push(body);
  return r;
}

/** After a bad frame: the same connection still completes a request, and bob still receives a message. */
async function stillWorks(): Promise<void> {
  expect((await alice.request('ping')).ok).toBe(true);
  const body = `probe ${++probe}`;
  const r = await send('bob@localhost', body);
  expect(r).toMatchObject({ ok: true });
  await bob.waitFor('message', (d) => d.body === body, 5000);
  expect(alice.ws.readyState).toBe(alice.ws.OPEN);
}

beforeAll(async () => {
  t = await startServer({ limits: { maxFrameBytes: MAX_FRAME, maxBodyBytes: MAX_BODY } });
  await t.users('alice@localhost', 'bob@localhost', 'carol@localhost', 'dave@localhost');
  alice = await RawPeer.open(t.wsUrl);
  expect(await hello(alice, 'alice@localhost')).toMatchObject({ ok: true });
  bob = await t.connect('bob@localhost');
  for (let i = 0; i < 10; i++) expect(await send('bob@localhost', `before ${i}`)).toMatchObject({ ok: true });
});
afterAll(async () => {
  await alice?.close();
  await t?.close();
});

describe('malformed frames get an error reply and the connection goes on', () => {
  const big = JSON.stringify({ id: 'big', op: 'ping', args: { pad: 'x'.repeat(MAX_FRAME) } });
  const cases: Array<{ name: string; frame: string | Buffer; binary?: boolean; re: string | null; code: string; mentions?: RegExp }> = [
    { name: 'malformed JSON', frame: '{"id":1,"op":', re: null, code: 'bad-json' },
    { name: 'a JSON array', frame: '[{"id":1,"op":"ping"}]', re: null, code: 'bad-request' },
    { name: 'a JSON string', frame: '"ping"', re: null, code: 'bad-request' },
    { name: 'JSON null', frame: 'null', re: null, code: 'bad-request' },
    { name: 'a JSON number', frame: '42', re: null, code: 'bad-request' },
    { name: 'missing id', frame: JSON.stringify({ op: 'ping', args: {} }), re: null, code: 'bad-request', mentions: /"id"/ },
    { name: 'an id that is an object', frame: JSON.stringify({ id: { x: 1 }, op: 'ping' }), re: null, code: 'bad-request', mentions: /"id"/ },
    { name: 'missing op', frame: JSON.stringify({ id: 'm1', args: {} }), re: 'm1', code: 'bad-request', mentions: /"op"/ },
    { name: 'op not a string', frame: JSON.stringify({ id: 'm2', op: 7 }), re: 'm2', code: 'bad-request', mentions: /"op"/ },
    { name: 'unknown op', frame: JSON.stringify({ id: 'm3', op: 'teleport', args: {} }), re: 'm3', code: 'unknown-op', mentions: /teleport/ },
    { name: 'op naming an Object.prototype member', frame: JSON.stringify({ id: 'm3b', op: 'constructor' }), re: 'm3b', code: 'unknown-op' },
    { name: 'unknown top-level field', frame: JSON.stringify({ id: 'm4', op: 'ping', args: {}, colour: 'red' }), re: 'm4', code: 'bad-request', mentions: /colour/ },
    { name: 'args an array', frame: JSON.stringify({ id: 'm5', op: 'ping', args: [] }), re: 'm5', code: 'bad-request', mentions: /args/ },
    { name: 'args a string', frame: JSON.stringify({ id: 'm6', op: 'ping', args: 'x' }), re: 'm6', code: 'bad-request', mentions: /args/ },
    { name: 'args null', frame: JSON.stringify({ id: 'm7', op: 'ping', args: null }), re: 'm7', code: 'bad-request', mentions: /args/ },
    { name: 'a second hello', frame: JSON.stringify({ id: 'm8', op: 'hello', args: { token: 'x' } }), re: 'm8', code: 'unexpected-request' },
    { name: 'a frame above limits.maxFrameBytes', frame: big, re: null, code: 'frame-too-large', mentions: new RegExp(String(MAX_FRAME)) },
    { name: 'a binary frame', frame: Buffer.from(JSON.stringify({ id: 'm9', op: 'ping' })), binary: true, re: null, code: 'bad-request', mentions: /binary/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const reply = await alice.exchange(c.frame, c.binary ?? false);
      expect(reply.ok).toBe(false);
      expect(reply.re).toBe(c.re);
      expect(reply.error?.code).toBe(c.code);
      if (c.mentions) expect(reply.error?.message).toMatch(c.mentions);
      await stillWorks();
    });
  }

  it('a frame far above the WebSocket maxPayload closes only that connection', async () => {
    const carol = await RawPeer.open(t.wsUrl);
    expect(await hello(carol, 'carol@localhost')).toMatchObject({ ok: true });
    carol.send('x'.repeat(4 << 20));
    const { code } = await carol.closed;
    expect(code).toBe(1009); // RFC 6455 §7.4.1: message too big
    await stillWorks();
    await until(() => t.server.engine.sessions.countOf('carol@localhost') === 0, 2000, 'carol session closed');
  });
});

describe('requests before hello', () => {
  it('an op before hello is not-authorized; hello then works on the same connection', async () => {
    const peer = await RawPeer.open(t.wsUrl);
    expect(await peer.request('ping')).toMatchObject({ ok: false, error: { code: 'not-authorized' } });
    expect(await peer.request('message.send', { to: 'bob@localhost', body: 'sneaky' })).toMatchObject({ ok: false, error: { code: 'not-authorized' } });
    expect(await peer.request('hello', { token: 'not-a-token' })).toMatchObject({ ok: false, error: { code: 'not-authorized' } });
    expect(await peer.request('hello', { token: 5 })).toMatchObject({ ok: false, error: { code: 'bad-request', message: expect.stringMatching(/token/) } });
    expect(await peer.request('hello', {})).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    expect(await hello(peer, 'dave@localhost')).toMatchObject({ ok: true });
    expect(await peer.request('ping')).toMatchObject({ ok: true });
    await peer.close();
    expect(bob.received('message').map((m) => m.body)).not.toContain('sneaky');
    await stillWorks();
  });

  it('two hellos sent back to back open one session, not two', async () => {
    const before = t.server.engine.sessions.countOf('dave@localhost');
    const { token } = await login(t.url, 'dave@localhost', 'pw-dave');
    const peer = await RawPeer.open(t.wsUrl);
    peer.send(JSON.stringify({ id: 'h1', op: 'hello', args: { token } }));
    peer.send(JSON.stringify({ id: 'h2', op: 'hello', args: { token } }));
    const [h1, h2] = await Promise.all([peer.waitFor((f) => f.re === 'h1'), peer.waitFor((f) => f.re === 'h2')]);
    expect([h1.ok, h2.ok].sort()).toEqual([false, true]);
    expect((h1.ok ? h2 : h1).error?.code).toBe('unexpected-request');
    expect(t.server.engine.sessions.countOf('dave@localhost')).toBe(before + 1);
    await peer.close();
    await until(() => t.server.engine.sessions.countOf('dave@localhost') === before, 2000, 'dave sessions closed');
  });

  it('a connection that never says hello does not hold up shutdown', async () => {
    const st = await startServer();
    const silent = await RawPeer.open(st.wsUrl);
    const started = Date.now();
    await st.close();
    expect(Date.now() - started).toBeLessThan(3000); // well under the 10 s hello timeout
    expect((await silent.closed).code).toBe(1001);
    expect(silent.frames.at(-1)).toMatchObject({ ev: 'session.closing', data: { code: 'shutdown' } });
  });

  it('a WebSocket upgrade on another path is refused, not left hanging', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(t.url);
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path: '/not-ws',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
        timeout: 2000,
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('upgraded on the wrong path')));
      req.on('timeout', () => {
        req.destroy();
        reject(new Error('the upgrade request was left hanging'));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });
});

describe('bad requests', () => {
  const fails = async (op: string, args: Record<string, unknown>, code: string, mentions?: RegExp): Promise<void> => {
    const r = await alice.request(op, args);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe(code);
    if (mentions) expect(r.error?.message).toMatch(mentions);
    await stillWorks();
  };

  it('invalid addresses are jid-malformed, naming the problem', async () => {
    await fails('message.send', { to: 'a b@localhost', body: 'x' }, 'jid-malformed', /localpart.*U\+0020/);
    await fails('message.send', { to: 'bob@@localhost', body: 'x' }, 'jid-malformed', /domainpart/);
    await fails('message.send', { to: '@localhost', body: 'x' }, 'jid-malformed', /localpart is empty/);
    await fails('message.send', { to: 'localhost', body: 'x' }, 'jid-malformed', /localpart/);
  });

  it('unknown user, unhosted domain', async () => {
    await fails('message.send', { to: 'nobody@localhost', body: 'x' }, 'item-not-found', /nobody@localhost/);
    await fails('message.send', { to: 'bob@elsewhere.example', body: 'x' }, 'remote-server-not-found', /elsewhere\.example/);
  });

  it('a body above limits.maxBodyBytes (counted in UTF-8 bytes) is message-too-large', async () => {
    await fails('message.send', { to: 'bob@localhost', body: 'x'.repeat(MAX_BODY + 1) }, 'message-too-large', new RegExp(String(MAX_BODY)));
    await fails('message.send', { to: 'bob@localhost', body: 'é'.repeat(MAX_BODY / 2 + 1) }, 'message-too-large');
    expect(await send('bob@localhost', 'x'.repeat(MAX_BODY))).toMatchObject({ ok: true });
  });

  it('bad args are bad-request naming the field', async () => {
    await fails('message.send', { to: 'bob@localhost', body: 5 }, 'bad-request', /^body/);
    await fails('message.send', { body: 'x' }, 'bad-request', /^to/);
    await fails('message.send', { to: 'bob@localhost', body: 'x', colour: 'red' }, 'bad-request', /colour/);
    await fails('message.send', { to: 'bob@localhost', body: '' }, 'bad-request', /empty/);
    await fails('history', { with: 'bob@localhost', limit: 0 }, 'bad-request', /^limit/);
    await fails('message.receipt', { id: 'x', kind: 'seen' }, 'bad-request', /^kind/);
  });

  it("history returns only the caller's own conversation", async () => {
    const carol = await t.connect('carol@localhost');
    const dave = await t.connect('dave@localhost');
    await carol.send('dave@localhost', 'secret carol->dave');
    await dave.send('carol@localhost', 'secret dave->carol');
    expect(await send('carol@localhost', 'alice->carol')).toMatchObject({ ok: true });
    const bodies = async (withWhom: string): Promise<string[]> => {
      const r = await alice.request('history', { with: withWhom });
      expect(r.ok).toBe(true);
      return (r.data!.messages as Array<{ body: string | null }>).map((m) => m.body ?? '');
    };
    expect(await bodies('carol@localhost')).toEqual(['alice->carol']);
    expect(await bodies('dave@localhost')).toEqual([]);
    expect(await bodies('alice@localhost')).toEqual([]);
    expect(await bodies('CAROL@localhost')).toEqual(['alice->carol']);
    await fails('history', { with: 'carol@localhost/phone' }, 'jid-malformed');
    // The HTTP API answers with the token's user, whatever else is asked.
    const { token } = await login(t.url, 'alice@localhost', 'pw-alice');
    const res = await fetch(`${t.url}/api/v1/history?with=${encodeURIComponent('dave@localhost')}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { messages: unknown[] }).messages).toEqual([]);
    const sneaky = await fetch(`${t.url}/api/v1/history?with=dave@localhost&user=carol@localhost`, { headers: { authorization: `Bearer ${token}` } });
    expect(sneaky.status).toBe(400);
    // carol's own history has both directions, and nothing of alice's other conversations.
    const h = await carol.request<{ messages: Array<{ body: string }> }>('history', { with: 'dave@localhost' });
    expect(h.messages.map((m) => m.body)).toEqual(['secret carol->dave', 'secret dave->carol']);
    await carol.close();
    await dave.close();
  });

  it('posting to a room one is not in is forbidden, and so is reading its history', async () => {
    const carol = await t.connect('carol@localhost');
    const { room } = await carol.request<{ room: { address: string } }>('room.create', { name: 'Carol only' });
    await carol.send(room.address, 'members only talk');
    await fails('message.send', { to: room.address, body: 'let me in' }, 'forbidden');
    await fails('history', { with: room.address }, 'forbidden');
    await fails('room.members', { room: room.address }, 'forbidden');
    await fails('message.send', { to: 'no-such-room@conference.localhost', body: 'x' }, 'item-not-found');
    const h = await carol.request<{ messages: Array<{ body: string }> }>('history', { with: room.address });
    expect(h.messages.map((m) => m.body)).toEqual(['members only talk']);
    await carol.close();
  });

  it('presence to non-subscribers is forbidden', async () => {
    await fails('presence.direct', { to: 'bob@localhost' }, 'forbidden', /bob@localhost/);
    await fails('presence.get', { user: 'bob@localhost' }, 'forbidden');
    expect(bob.received('presence').filter((p) => p.directed === true)).toHaveLength(0);
  });

  it('nothing accepted is lost: every acknowledged message is in history', async () => {
    const r = await alice.request('history', { with: 'bob@localhost', limit: 500 });
    const bodies = (r.data!.messages as Array<{ body: string }>).map((m) => m.body);
    const toBob = acked.filter((b) => !b.startsWith('alice->'));
    expect(bodies).toEqual(toBob);
    expect(bodies.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `before ${i}`));
    expect(bob.received('message').map((m) => m.body)).toEqual(toBob);
  });
});

describe('rate limiting', () => {
  it('excess requests are rate-limited; later ones succeed again; other connections are unaffected', async () => {
    const rt = await startServer({ limits: { requestsPerSecond: 5 } });
    try {
      await rt.users('eve@localhost', 'frank@localhost');
      const frank = await rt.connect('frank@localhost', { autoAck: false });
      const eve = await RawPeer.open(rt.wsUrl);
      const { token } = await login(rt.url, 'eve@localhost', 'pw-eve');
      expect(await eve.request('hello', { token })).toMatchObject({ ok: true });
      const replies = await Promise.all(Array.from({ length: 20 }, () => eve.request('ping')));
      const limited = replies.filter((r) => r.error?.code === 'rate-limited');
      expect(limited.length).toBeGreaterThanOrEqual(10);
      expect(replies.filter((r) => r.ok === true).length).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.error!.message).toMatch(/slow down/);
      // Malformed frames count too: over the rate they are refused as rate-limited, not each given a fresh error.
      const seen = eve.frames.length;
      // Replies only: an event (the session's own presence, say) may arrive in between on a loaded machine.
      const answers = (): typeof eve.frames => eve.frames.slice(seen).filter((f) => 're' in f);
      for (let i = 0; i < 10; i++) eve.ws.send('{not json');
      // Until the ten answers are in (a fixed pause was too short on a loaded machine).
      for (let waited = 0; answers().length < 10 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      const junk = answers().slice(0, 10);
      expect(junk.every((f) => f.re === null && (f.error?.code === 'rate-limited' || f.error?.code === 'bad-json'))).toBe(true);
      // The bucket refills at 5/s, so at most a token or two can have come back while these were sent.
      expect(junk.filter((f) => f.error?.code === 'rate-limited').length).toBeGreaterThanOrEqual(8);
      // frank's connection has its own budget.
      expect(await frank.request('ping')).toEqual({});
      await new Promise((r) => setTimeout(r, 1100));
      expect(await eve.request('message.send', { to: 'frank@localhost', body: 'after the pause' })).toMatchObject({ ok: true });
      await frank.waitFor('message', (d) => d.body === 'after the pause');
      await eve.close();
    } finally {
      await rt.close();
    }
  });
});
