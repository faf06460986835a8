/**
 * The control pair of the hostile-load suite, run as its own process (node dist/test/hostile/control-pair.js
 * URL SENDER RECEIVER INTERVAL_MS) so that an attacker in the test process cannot slow its clock or event loop.
 * The sender sends one message every interval; the receiver notes when each arrives. On SIGTERM (or stdin end)
 * it waits a moment for stragglers and prints one JSON line of statistics: sent, acknowledged, received,
 * errors, and delivery latency (send to arrival) as p50/p99/max in ms.
 */
import { ParleyClient, login } from '../../client/index.js';

const [url, sender, receiver, intervalArg] = process.argv.slice(2);
if (!url || !sender || !receiver) {
  process.stderr.write('usage: control-pair URL SENDER RECEIVER [INTERVAL_MS]\n');
  process.exit(2);
}
const interval = Number(intervalArg ?? 20);
const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;

async function open(address: string): Promise<ParleyClient> {
  const { token } = await login(url!, address, `pw-${address.split('@')[0]}`);
  // Events are kept until `synced` has been seen: it can arrive in the same read as the hello reply, before a
  // listener added after connect() resolves could catch it. The sender's timer empties the list afterwards.
  const c = await ParleyClient.connect({ url: wsUrl, token, resource: 'control' });
  await c.waitFor('synced');
  c.events.length = 0;
  return c;
}

const sentAt = new Map<string, number>();
const latencies: number[] = [];
let sent = 0;
let acked = 0;
let errors = 0;
let stopping = false;

const a = await open(sender);
const b = await open(receiver);
b.on('message', (e) => {
  const t = sentAt.get(String(e.data.body));
  if (t === undefined) return;
  sentAt.delete(String(e.data.body));
  latencies.push(performance.now() - t);
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');

const timer = setInterval(() => {
  if (stopping) return;
  a.events.length = 0;
  b.events.length = 0;
  const body = `control-${process.pid}-${++sent}`;
  sentAt.set(body, performance.now());
  a.send(receiver, body).then(
    () => acked++,
    () => errors++,
  );
}, interval);

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  const end = Date.now() + 3000;
  while (sentAt.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const sorted = [...latencies].sort((x, y) => x - y);
  const q = (p: number): number => (sorted.length === 0 ? Infinity : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  const stats = { sent, acked, received: latencies.length, errors, p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? Infinity };
  process.stdout.write(JSON.stringify(stats) + '\n');
  await Promise.all([a.close(), b.close()]).catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
