/**
 * Load process for the presence fan-out scenario: N subscriber sessions and the publishing user's session all
 * live in this process, so "presence.set sent" and "last subscriber received it" use the same clock.
 * Receivers do not parse frames: each checks the raw bytes for this round's unique status string.
 */
import { childMain, LeanClient, nextMessage, pool, send, sleep, sourceAddress } from './lib/lean-client.js';
import { summary } from './lib/stats.js';

interface Init {
  cmd: 'init';
  wsUrl: string;
  star: { address: string; token: string };
  subscribers: string[];
  sourceAddresses: number;
  iterations: number;
  warmup: number;
  gapMs: number;
}

childMain(async () => {
  const init = await nextMessage<Init>((m) => m.cmd === 'init');
  const t0 = performance.now();
  let marker = Buffer.from('"never"');
  let got = 0;
  let first = 0;
  let last = 0;
  let done: (() => void) | null = null;
  const n = init.subscribers.length;
  const subs = await pool(init.subscribers, 50, async (token, i) => {
    const c = await LeanClient.connect(init.wsUrl, token, { localAddress: sourceAddress(i, init.sourceAddresses) });
    c.onRaw = (raw, at) => {
      if (raw.indexOf(marker) >= 0) {
        got++;
        if (got === 1) first = at;
        last = at;
        if (got === n) done?.();
      }
      return true; // never parse: nothing else is needed here
    };
    return c;
  });
  const star = await LeanClient.connect(init.wsUrl, init.star.token, { localAddress: sourceAddress(n, init.sourceAddresses) });
  star.onEvent = () => undefined;
  await sleep(1000); // let the login presence storm settle

  const lastMs: number[] = [];
  const firstMs: number[] = [];
  const replyMs: number[] = [];
  let timeouts = 0;
  for (let i = 0; i < init.warmup + init.iterations; i++) {
    const status = `fan-${process.pid}-${i}`;
    marker = Buffer.from(`"${status}"`);
    got = 0;
    const all = new Promise<void>((resolve) => (done = resolve));
    const sentAt = performance.now();
    const reply = star.request('presence.set', { availability: i % 2 === 0 ? 'away' : 'available', status }).then(() => performance.now());
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    const r = await Promise.race([all.then(() => 'ok' as const), timeout]);
    const repliedAt = await reply;
    if (r === 'timeout') timeouts++;
    else if (i >= init.warmup) {
      lastMs.push(last - sentAt);
      firstMs.push(first - sentAt);
      replyMs.push(repliedAt - sentAt);
    }
    done = null;
    await sleep(init.gapMs);
  }
  send({
    type: 'result',
    subscribers: subs.length,
    connectMs: Math.round(performance.now() - t0),
    timeouts,
    last: summary(lastMs, 2),
    first: summary(firstMs, 2),
    reply: summary(replyMs, 2),
  });
  await nextMessage((m) => m.cmd === 'exit');
  for (const c of [...subs, star]) c.ws.terminate();
  await sleep(100);
  process.exit(0);
});
