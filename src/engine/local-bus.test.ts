/** The in-process bus: order per subscription, `.>` wildcards, unsubscribe, a failing subscriber isolated. */
import { describe, expect, it } from 'vitest';
import { LocalBus } from './local-bus.js';
import { silentLog } from './test-engine.js';

describe('LocalBus', () => {
  it('delivers in publication order, never inside publish, to exact and wildcard subscribers', async () => {
    const bus = new LocalBus(silentLog);
    const exact: unknown[] = [];
    const below: string[] = [];
    bus.subscribe('cache.invalidate', async (m) => {
      // A slow subscriber still sees its messages one after another.
      await new Promise((r) => setTimeout(r, 1));
      exact.push(m);
    });
    bus.subscribe('cache.>', (_m, subject) => {
      below.push(subject);
    });
    bus.publish('cache.invalidate', 1);
    bus.publish('cache.invalidate', 2);
    bus.publish('cache.other', 3);
    bus.publish('presence.changed', 4);
    expect(exact).toEqual([]);
    await bus.close();
    expect(exact).toEqual([1, 2]);
    expect(below).toEqual(['cache.invalidate', 'cache.invalidate', 'cache.other']);
  });

  it('stops delivering after unsubscribe, and a throwing subscriber does not stop the others', async () => {
    const bus = new LocalBus(silentLog);
    const got: number[] = [];
    const off = bus.subscribe('a', (m) => {
      got.push(m as number);
    });
    bus.subscribe('a', () => {
      throw new Error('broken subscriber');
    });
    bus.publish('a', 1);
    await new Promise((r) => setTimeout(r, 5));
    off();
    bus.publish('a', 2);
    await bus.close();
    expect(got).toEqual([1]);
  });
});
