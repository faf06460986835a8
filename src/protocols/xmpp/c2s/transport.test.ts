import { describe, expect, it } from 'vitest';
import { WriteTracker } from './transport.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WriteTracker', () => {
  it('calls afterWrite callbacks once the writes made before them are confirmed, in order', async () => {
    const t = new WriteTracker();
    const seen: string[] = [];
    t.wrote();
    t.after(() => seen.push('a'));
    const second = t.wrote();
    t.after(() => seen.push('b'));
    t.confirm(1);
    expect(seen).toEqual(['a']);
    t.confirm(second);
    expect(seen).toEqual(['a', 'b']);
  });

  it('calls back at once (next microtask) when nothing is outstanding', async () => {
    const t = new WriteTracker();
    let called = false;
    t.after(() => (called = true));
    await tick();
    expect(called).toBe(true);
  });

  it('never confirms writes lost with the connection, but wakes flow-control waiters', () => {
    const t = new WriteTracker();
    const seen: string[] = [];
    t.wrote();
    t.after(() => seen.push('written'));
    t.onceDrained(() => seen.push('drained'));
    t.close();
    t.confirm(1);
    expect(seen).toEqual(['drained']);
  });

  it('wakes each drain waiter once', () => {
    const t = new WriteTracker();
    let n = 0;
    t.onceDrained(() => n++);
    t.drain();
    t.drain();
    expect(n).toBe(1);
  });
});
