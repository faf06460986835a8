/** Unit tests of the routing rules, with the memory store and recording sinks (no sockets). */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../core/address.js';
import type { Engine } from './engine.js';
import { testEngine, testPresence } from './test-engine.js';
import type { Outbound } from './outbound.js';
import type { Session, Sink } from './session.js';

const presence = testPresence;

class RecordingSink implements Sink {
  readonly got: Outbound[] = [];
  closed: string | null = null;
  send(out: Outbound): void {
    this.got.push(out);
  }
  close(code: string): void {
    this.closed = code;
  }
  events(ev: string): Array<Record<string, unknown>> {
    return this.got.filter((o) => o.event.ev === ev).map((o) => o.event.data);
  }
}

async function setup(users: string[]): Promise<Engine> {
  return (await testEngine(users)).engine;
}

async function open(engine: Engine, user: string, resource: string): Promise<{ s: Session; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const { session, position } = await engine.openSession(user, resource, sink, { ...presence });
  await engine.catchUp(session, null, position);
  return { s: session, sink };
}

describe('message routing', () => {
  it('chat to a bare address reaches every recipient session and the sender’s other sessions, not the sending one', async () => {
    const e = await setup(['a@example.com', 'b@example.com']);
    const a1 = await open(e, 'a@example.com', 'one');
    const a2 = await open(e, 'a@example.com', 'two');
    const b1 = await open(e, 'b@example.com', 'x');
    const b2 = await open(e, 'b@example.com', 'y');
    await e.messages.send(a1.s, parseAddress('b@example.com'), 'hi', null, 0);
    expect(b1.sink.events('message')).toHaveLength(1);
    expect(b2.sink.events('message')).toHaveLength(1);
    expect(a2.sink.events('message')).toHaveLength(1);
    expect(a1.sink.events('message')).toHaveLength(0);
    // One encoding for the whole fan-out: every session got the same Outbound object.
    const o = b1.sink.got.find((x) => x.event.ev === 'message');
    expect(b2.sink.got).toContain(o);
    expect(a2.sink.got).toContain(o);
  });

  it('carries a message\'s extension elements (xml) opaque to every recipient, live and replayed; a body-less one needs them', async () => {
    const e = await setup(['a@example.com', 'b@example.com']);
    const a1 = await open(e, 'a@example.com', 'one');
    const b1 = await open(e, 'b@example.com', 'x');
    const xml = '<reactions xmlns="urn:xmpp:reactions:0" id="m1"><reaction>👍</reaction></reactions>';
    await e.messages.send(a1.s, parseAddress('b@example.com'), null, null, 0, xml);
    await e.messages.send(a1.s, parseAddress('b@example.com'), 'plain', null, 0);
    expect(b1.sink.events('message').map((d) => [d.body, d.xml])).toEqual([[undefined, xml], ['plain', undefined]]);
    await expect(e.messages.send(a1.s, parseAddress('b@example.com'), null, null, 0)).rejects.toMatchObject({ code: 'bad-request' });
    await expect(e.messages.send(a1.s, parseAddress('b@example.com'), 'x', null, 0, `<x>${'a'.repeat(300_000)}</x>`)).rejects.toMatchObject({ code: 'message-too-large' });
    // Offline: the queue replays it with the same xml.
    await e.closeSession(b1.s);
    await e.messages.send(a1.s, parseAddress('b@example.com'), 'later', null, 0, xml);
    const b2 = await open(e, 'b@example.com', 'z');
    await e.announce(b2.s, { ...presence }, 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(b2.sink.got.filter((o) => o.event.ev === 'message' && o.event.data.body === 'later').map((o) => o.event.data.xml)).toContain(xml);
  });

  it('chat to a full address reaches only that session (plus carbons); an offline full address falls back to the bare one', async () => {
    const e = await setup(['a@example.com', 'b@example.com']);
    const a1 = await open(e, 'a@example.com', 'one');
    const b1 = await open(e, 'b@example.com', 'x');
    const b2 = await open(e, 'b@example.com', 'y');
    await e.messages.send(a1.s, parseAddress('b@example.com/y'), 'only y', null, 0);
    expect(b1.sink.events('message')).toHaveLength(0);
    expect(b2.sink.events('message')).toHaveLength(1);
    await e.messages.send(a1.s, parseAddress('b@example.com/gone'), 'to all', null, 0);
    expect(b1.sink.events('message')).toHaveLength(1);
    expect(b2.sink.events('message')).toHaveLength(2);
  });

  it('a message to an offline user is queued offline and replayed once at the next session', async () => {
    const e = await setup(['a@example.com', 'b@example.com']);
    const a1 = await open(e, 'a@example.com', 'one');
    const ack = await e.messages.send(a1.s, parseAddress('b@example.com'), 'later', null, 0);
    const b1 = await open(e, 'b@example.com', 'x');
    expect(b1.sink.events('message').map((d) => d.id)).toEqual([ack.id]);
    await e.ack(b1.s, ack.seq);
    await e.closeSession(b1.s);
    const b2 = await open(e, 'b@example.com', 'x');
    expect(b2.sink.events('message')).toHaveLength(0);
  });

  it('room messages reach every member session except the sending one; non-members are refused', async () => {
    const e = await setup(['a@example.com', 'b@example.com', 'c@example.com']);
    const a1 = await open(e, 'a@example.com', 'one');
    const a2 = await open(e, 'a@example.com', 'two');
    const b1 = await open(e, 'b@example.com', 'x');
    const c1 = await open(e, 'c@example.com', 'x');
    const room = await e.rooms.create('a@example.com', 'Team', 'team', false);
    await e.rooms.join(room.address, 'b@example.com');
    await e.messages.send(a1.s, parseAddress(room.address), 'all hands', null, 0);
    expect(a1.sink.events('message')).toHaveLength(0);
    expect(a2.sink.events('message')).toHaveLength(1);
    expect(b1.sink.events('message')).toHaveLength(1);
    expect(c1.sink.events('message')).toHaveLength(0);
    await expect(e.messages.send(c1.s, parseAddress(room.address), 'let me in', null, 0)).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('router catch-up', () => {
  it('holds live events during replay and drops the ones the replay already sent', async () => {
    const e = await setup(['a@example.com']);
    const sink = new RecordingSink();
    const { session } = await e.openSession('a@example.com', 'r', sink, { ...presence });
    const { router } = e.ctx;
    const live = router.outbound({ ev: 'message', data: { n: 1 }, seq: 7 });
    const fresh = router.outbound({ ev: 'message', data: { n: 2 }, seq: 8 });
    router.toSession(session, live);
    router.toSession(session, fresh);
    expect(sink.got).toHaveLength(0);
    router.replay(session, router.outbound({ ev: 'message', data: { n: 1 }, seq: 7 }));
    router.finishCatchUp(session);
    expect(sink.got.map((o) => o.event.seq)).toEqual([7, 8]);
  });

  it('a second session with the same resource replaces the first (conflict)', async () => {
    const e = await setup(['a@example.com']);
    const first = await open(e, 'a@example.com', 'same');
    const second = await open(e, 'a@example.com', 'same');
    expect(first.sink.closed).toBe('conflict');
    expect(e.sessions.get('a@example.com', 'same')).toBe(second.s);
  });

  it('a record replayed at login while its message.recorded handler was still running is not delivered again live', async () => {
    let release: () => void = () => undefined;
    let hold = true; // only the first message's hook waits
    const e = await setup(['a@example.com', 'b@example.com']);
    e.events.on('message.recorded', () => (hold ? new Promise<void>((r) => (release = r)) : undefined));
    const a1 = await open(e, 'a@example.com', 'one');
    const sending = e.messages.send(a1.s, parseAddress('b@example.com'), 'racing', null, 0);
    await new Promise((r) => setTimeout(r, 20)); // stored (offline for b), hook still running
    const b1 = await open(e, 'b@example.com', 'x');
    expect(b1.sink.events('message')).toHaveLength(1);
    hold = false;
    release();
    await sending;
    expect(b1.sink.events('message')).toHaveLength(1);
    const later = await e.messages.send(a1.s, parseAddress('b@example.com'), 'next', null, 0);
    expect(b1.sink.events('message').map((d) => d.id)).toContain(later.id);
  });
});

