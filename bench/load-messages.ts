/**
 * Load process for the 1:1 message scenario. Senders and their receivers live in this process, so the
 * timestamp a sender puts in the body and the receive time come from the same clock (performance.now()).
 *
 * Commands from run.ts (IPC):
 *   {cmd:'max', warmupMs, measureMs}  closed loop: each sender keeps `window` message.send requests outstanding;
 *                                     reports acknowledged and delivered messages per second in the window.
 *   {cmd:'paced', rate, warmupMs, measureMs}  open loop at `rate` messages/s (this process's share), evenly spaced;
 *                                     reports delivery latency at the receivers.
 *   {cmd:'exit'}
 */
import { childMain, LeanClient, nextMessage, pool, send, sleep, sourceAddress, type Frame } from './lib/lean-client.js';
import { summary } from './lib/stats.js';

interface Init {
  cmd: 'init';
  wsUrl: string;
  pairs: Array<{ sender: { address: string; token: string }; receiver: { address: string; token: string } }>;
  window: number;
  sourceAddresses: number;
  /** Offset of this process's connections, so processes use different source addresses. */
  connOffset: number;
  bodyBytes: number;
}

interface Sender {
  c: LeanClient;
  to: string;
  n: number;
  outstanding: number;
  prefix: string;
}

childMain(async () => {
  const init = await nextMessage<Init>((m) => m.cmd === 'init');
  const pad = 'x'.repeat(Math.max(0, init.bodyBytes - 40));

  // --- counters shared by both modes --------------------------------------------------------------------------
  let acked = 0;
  let failed = 0;
  let delivered = 0;
  let sent = 0;
  let lastError = '';
  let recording = false;
  let running = false;
  let window = init.window;
  const debug = process.env.BENCH_DEBUG === '1';
  const debugSeries: Array<[number, number]> = [];
  const lat: number[] = []; // receive − actual send, ms
  const latSched: number[] = []; // receive − scheduled send, ms (open loop only; includes generator lag)

  const onDelivered = (f: Frame, at: number): void => {
    if (f.ev !== 'message') return;
    delivered++;
    if (!recording) return;
    const body = f.data?.body;
    if (typeof body !== 'string') return;
    const sp = body.indexOf(' ');
    const actual = Number(body.slice(0, sp));
    const sched = Number(body.slice(sp + 1, body.indexOf(' ', sp + 1)));
    lat.push(at - actual);
    if (sched > 0) latSched.push(at - sched);
    if (debug) debugSeries.push([actual, at - actual]);
  };

  // --- connect: receivers first, then senders -----------------------------------------------------------------
  const t0 = performance.now();
  const receivers = await pool(init.pairs, 50, async (p, i) => {
    const c = await LeanClient.connect(init.wsUrl, p.receiver.token, { localAddress: sourceAddress(init.connOffset + 2 * i, init.sourceAddresses) });
    c.autoAck = true; // like the SDK: sync.ack at most every 50 ms
    c.onEvent = onDelivered;
    return c;
  });
  const senders: Sender[] = await pool(init.pairs, 50, async (p, i) => {
    const c = await LeanClient.connect(init.wsUrl, p.sender.token, { localAddress: sourceAddress(init.connOffset + 2 * i + 1, init.sourceAddresses) });
    return { c, to: p.receiver.address, n: 0, outstanding: 0, prefix: `b${process.pid}-${i}-` };
  });
  // Events other than messages (presence snapshots etc.) are simply ignored.

  const sendOne = (s: Sender, scheduled: number): void => {
    const now = performance.now();
    const clientId = `${s.prefix}${s.n++}`;
    s.c.fire('message.send', { to: s.to, body: `${now.toFixed(3)} ${scheduled.toFixed(3)} ${pad}`, clientId });
    s.outstanding++;
    sent++;
  };

  for (const s of senders) {
    s.c.onReply = (f) => {
      s.outstanding--;
      if (f.ok) acked++;
      else {
        failed++;
        lastError = `${f.error?.code}: ${f.error?.message}`;
      }
      if (running && window > 0) while (s.outstanding < window) sendOne(s, 0);
    };
  }
  send({ type: 'ready', connectMs: Math.round(performance.now() - t0) });

  /** Waits until every request is answered and every message delivered (or the timeout passes). */
  const drain = async (ms: number): Promise<boolean> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (senders.every((s) => s.outstanding === 0) && delivered >= acked) return true;
      await sleep(20);
    }
    return false;
  };

  for (;;) {
    const cmd = await nextMessage<{ cmd: string; warmupMs: number; measureMs: number; rate?: number; window?: number }>();
    if (cmd.cmd === 'exit') break;
    if (cmd.cmd === 'max') {
      window = cmd.window ?? init.window;
      running = true;
      for (const s of senders) while (s.outstanding < window) sendOne(s, 0);
      await sleep(cmd.warmupMs);
      const a0 = acked;
      const d0 = delivered;
      const f0 = failed;
      const start = performance.now();
      send({ type: 'window-start' });
      await sleep(cmd.measureMs);
      const secs = (performance.now() - start) / 1000;
      const a1 = acked;
      const d1 = delivered;
      const f1 = failed;
      send({ type: 'window-end' });
      running = false;
      const drained = await drain(15_000);
      send({
        type: 'result',
        ackedPerSec: Math.round((a1 - a0) / secs),
        deliveredPerSec: Math.round((d1 - d0) / secs),
        failed: f1 - f0,
        lastError,
        drained,
        sentTotal: sent,
      });
    } else if (cmd.cmd === 'paced') {
      window = 0;
      const rate = cmd.rate!;
      const interval = 1000 / rate;
      const startT = performance.now();
      let k = 0;
      let stop = false;
      const measureFrom = startT + cmd.warmupMs;
      const measureTo = measureFrom + cmd.measureMs;
      let windowStarted = false;
      const a0 = { acked: 0, delivered: 0 };
      // Evenly spaced send times start + k·interval, round-robin over the senders; a 1 ms timer catches up
      // on whatever is due, so a slow turn sends a burst instead of shifting the schedule (open loop).
      const tick = (): void => {
        if (stop) return;
        const now = performance.now();
        if (!windowStarted && now >= measureFrom) {
          windowStarted = true;
          recording = true;
          a0.acked = acked;
          a0.delivered = delivered;
          send({ type: 'window-start' });
        }
        if (now >= measureTo) {
          stop = true;
          recording = false;
          return;
        }
        while (startT + k * interval <= now) {
          sendOne(senders[k % senders.length]!, startT + k * interval);
          k++;
        }
        setTimeout(tick, 1);
      };
      tick();
      while (!stop) await sleep(20);
      send({ type: 'window-end' });
      const secs = cmd.measureMs / 1000;
      const ackedPerSec = Math.round((acked - a0.acked) / secs);
      const deliveredPerSec = Math.round((delivered - a0.delivered) / secs);
      // Messages sent in the window may still be in flight: let them arrive (and be counted in lat).
      recording = true;
      const drained = await drain(15_000);
      recording = false;
      const l = summary(lat, 2);
      const ls = summary(latSched, 2);
      send({ type: 'result', targetRate: rate, ackedPerSec, deliveredPerSec, failed, lastError, drained, latency: l, latencyFromSchedule: ls });
      if (debug && debugSeries.length > 0) {
        // Latency per 250 ms of send time: shows whether it is a standing queue, a trend or periodic stalls.
        const t0 = debugSeries[0]![0];
        const buckets = new Map<number, number[]>();
        for (const [t, l] of debugSeries) {
          const b = Math.floor((t - t0) / 250);
          let a = buckets.get(b);
          if (!a) buckets.set(b, (a = []));
          a.push(l);
        }
        for (const [b, a] of [...buckets].sort((x, y) => x[0] - y[0])) {
          const su = summary(a, 1);
          process.stderr.write(`  t+${(b / 4).toFixed(2)}s n=${su.n} p50=${su.p50} max=${su.max}\n`);
        }
        debugSeries.length = 0;
      }
      lat.length = 0;
      latSched.length = 0;
    }
  }
  for (const c of [...receivers, ...senders.map((s) => s.c)]) c.close();
  await sleep(200);
  process.exit(0);
});
