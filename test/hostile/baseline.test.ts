/** The hostile suite's yardstick: with no attacker, the control pair's messages all arrive quickly. */
import { afterAll, expect, it } from 'vitest';
import { expectControlHeld, killHostile, startControlPair, startHostile } from './lib.js';

afterAll(killHostile);

it('the control pair flows on a quiet server, under the memory ceiling', async () => {
  const srv = await startHostile([]);
  try {
    const ctl = await startControlPair(srv.url);
    await new Promise((r) => setTimeout(r, 1500));
    const s = await ctl.stop();
    expectControlHeld(s, { p99Ms: 100, maxMs: 500 });
    expect(s.received).toBe(s.sent);
    expect(srv.peakRssMiB()).toBeLessThan(200);
  } finally {
    await srv.stop();
  }
});
