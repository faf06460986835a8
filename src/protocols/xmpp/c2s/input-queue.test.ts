/**
 * InputQueue with a fake stream: stanzas are handled in arrival order (RFC 6120 §10.1) and a Pending lets the
 * next one start before the first is durable; too many in flight stop reading until half have drained; the
 * rate limit (§13.12) stops reading until its debt is paid, and reading resumes only when neither holds it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { el, type Element } from '../xml/element.js';
import { StreamFailure } from './errors.js';
import { InputQueue, MAX_INFLIGHT, type InputHost } from './input-queue.js';
import type { Pending } from './types.js';

/** A promise with its resolver, for handlers the test releases. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Lets queued promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

class FakeHost implements InputHost {
  /** Every pause(true/false), in order. */
  readonly pauses: boolean[] = [];
  readonly transport = { pause: (p: boolean): void => void this.pauses.push(p) };
  private count = 0;
  readonly handledSeqs: number[] = [];
  readonly sm = {
    received: (): number => ++this.count,
    handled: (n: number): void => void this.handledSeqs.push(n),
  };
  readonly log: string[] = [];
  readonly errors: string[] = [];
  /** The handler each stanza id gets (default: returns at once). */
  readonly behaviour = new Map<string, () => Promise<Pending | void>>();
  readonly handlers = {
    handle: async (stanza: Element): Promise<Pending | void> => {
      const id = stanza.attr('id') ?? '';
      this.log.push(`start ${id}`);
      const r = await (this.behaviour.get(id) ?? (async () => undefined))();
      this.log.push(`end ${id}`);
      return r;
    },
  };
  streamError(condition: string, text?: string): void {
    this.errors.push(`stream ${condition} ${text ?? ''}`);
  }
  replyError(stanza: Element, e: unknown): void {
    this.errors.push(`reply ${stanza.attr('id') ?? ''} ${(e as Error).message}`);
  }
  get paused(): boolean {
    return this.pauses.at(-1) === true;
  }
}

const stanza = (id: string): Element => el('message', { xmlns: 'jabber:client', id });

afterEach(() => {
  vi.useRealTimers();
});

describe('InputQueue', () => {
  it('handles stanzas one after another, in arrival order (§10.1)', async () => {
    const host = new FakeHost();
    const q = new InputQueue(host, 1000);
    const slow = gate();
    host.behaviour.set('a', () => slow.promise);
    q.enqueue(stanza('a'));
    q.enqueue(stanza('b'));
    await settle();
    expect(host.log).toEqual(['start a']);
    slow.open();
    await settle();
    expect(host.log).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(host.handledSeqs).toEqual([1, 2]);
  });

  it('starts the next stanza once the handler returns, and counts a stanza handled when its Pending is done', async () => {
    const host = new FakeHost();
    const q = new InputQueue(host, 1000);
    const commit = gate();
    host.behaviour.set('a', async () => ({ done: commit.promise }));
    q.enqueue(stanza('a'));
    q.enqueue(stanza('b'));
    await settle();
    expect(host.log).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(host.handledSeqs).toEqual([2]);
    commit.open();
    await settle();
    expect(host.handledSeqs).toEqual([2, 1]);
  });

  it('ends the stream on StreamFailure and replies with an error otherwise, and goes on', async () => {
    const host = new FakeHost();
    const q = new InputQueue(host, 1000);
    host.behaviour.set('a', () => Promise.reject(new StreamFailure('policy-violation', 'no')));
    host.behaviour.set('b', () => Promise.reject(new Error('bad')));
    q.enqueue(stanza('a'));
    q.enqueue(stanza('b'));
    q.enqueue(stanza('c'));
    await settle();
    expect(host.errors).toEqual(['stream policy-violation no', 'reply b bad']);
    expect(host.log).toContain('end c');
    expect(host.handledSeqs).toEqual([1, 2, 3]);
  });

  it('stops reading at MAX_INFLIGHT stanzas in flight and resumes below half of it', async () => {
    const host = new FakeHost();
    const q = new InputQueue(host, 1_000_000);
    const gates = new Map<string, ReturnType<typeof gate>>();
    for (let i = 0; i < MAX_INFLIGHT; i++) {
      const g = gate();
      gates.set(String(i), g);
      host.behaviour.set(String(i), () => g.promise);
    }
    for (let i = 0; i < MAX_INFLIGHT - 1; i++) q.enqueue(stanza(String(i)));
    expect(host.pauses).toEqual([]);
    q.enqueue(stanza(String(MAX_INFLIGHT - 1)));
    expect(host.pauses).toEqual([true]);
    // Draining to exactly half is not enough; one more is.
    for (let i = 0; i < MAX_INFLIGHT / 2; i++) {
      gates.get(String(i))?.open();
      await settle();
    }
    expect(host.pauses).toEqual([true]);
    gates.get(String(MAX_INFLIGHT / 2))?.open();
    await settle();
    expect(host.pauses).toEqual([true, false]);
  });

  it('over the rate, stops reading until the debt is paid (§13.12)', () => {
    vi.useFakeTimers();
    const host = new FakeHost();
    let now = 0;
    const q = new InputQueue(host, 10, () => now);
    for (let i = 0; i < 10; i++) q.throttle();
    expect(host.pauses).toEqual([]);
    q.throttle();
    q.throttle(); // still read from the same chunk: more debt, no second timer
    expect(host.pauses).toEqual([true]);
    vi.advanceTimersByTime(99);
    expect(host.pauses).toEqual([true]);
    vi.advanceTimersByTime(1);
    expect(host.pauses).toEqual([true, false]);
    now = 100; // the first 100 ms paid one token of the two owed
    q.throttle();
    expect(host.pauses).toEqual([true, false, true]);
  });

  it('resumes reading only when neither the rate nor the stanzas in flight hold it', async () => {
    vi.useFakeTimers();
    const host = new FakeHost();
    const q = new InputQueue(host, 1, () => 0);
    const g = gate();
    for (let i = 0; i < MAX_INFLIGHT; i++) host.behaviour.set(String(i), () => g.promise);
    q.throttle();
    q.throttle(); // over the rate: paused for 1 s
    for (let i = 0; i < MAX_INFLIGHT; i++) q.enqueue(stanza(String(i)));
    expect(host.pauses).toEqual([true, true]); // each reason pauses on its own account
    vi.advanceTimersByTime(1000); // the rate's wait ends, but too many are in flight
    expect(host.paused).toBe(true);
    g.open();
    await vi.runAllTimersAsync();
    expect(host.pauses).toEqual([true, true, false]);
  });
});
