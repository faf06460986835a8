import { afterEach, describe, expect, it, vi } from 'vitest';
import { serialize } from '../xml/serialize.js';
import type { Element } from '../xml/element.js';
import { IdleTimer, type IdleHost } from './idle.js';

/** A stream that records pings and whether it was dropped. */
function host(session: unknown): IdleHost & { sent: string[]; dropped: boolean } {
  const h = {
    session,
    domain: 'x',
    full: 'a@x/r',
    sent: [] as string[],
    dropped: false,
    sendElement: (e: Element): void => void h.sent.push(serialize(e)),
    transport: { destroy: (): void => void (h.dropped = true) },
  };
  return h;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('IdleTimer', () => {
  it('pings a bound stream silent for idleMs (XEP-0199) and drops it when silent for twice that', () => {
    vi.useFakeTimers();
    const h = host({});
    const t = new IdleTimer(h, 1000);
    vi.advanceTimersByTime(999);
    expect(h.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatch(/^<iq [^>]*type="get"[^>]*><ping xmlns="urn:xmpp:ping"\/><\/iq>$/);
    expect(h.sent[0]).toContain('to="a@x/r"');
    vi.advanceTimersByTime(500);
    expect(h.sent).toHaveLength(1); // one ping, not one per check
    expect(h.dropped).toBe(false);
    vi.advanceTimersByTime(500);
    expect(h.dropped).toBe(true);
    t.stop();
  });

  it('counts anything heard as life: the silence and the pending ping start over', () => {
    vi.useFakeTimers();
    const h = host({});
    const t = new IdleTimer(h, 1000);
    vi.advanceTimersByTime(1000);
    expect(h.sent).toHaveLength(1);
    t.heard();
    vi.advanceTimersByTime(1500);
    expect(h.dropped).toBe(false);
    expect(h.sent).toHaveLength(2);
    t.stop();
  });

  it('drops an unbound stream after twice idleMs without pinging it', () => {
    vi.useFakeTimers();
    const h = host(null);
    const t = new IdleTimer(h, 1000);
    vi.advanceTimersByTime(1500);
    expect(h.dropped).toBe(false);
    vi.advanceTimersByTime(500);
    expect(h.dropped).toBe(true);
    expect(h.sent).toEqual([]);
    t.stop();
  });
});
