/**
 * Load process for the login scenario: `concurrency` workers POST /api/v1/login back to back (HTTP keep-alive)
 * round-robin over the seeded users; counts successful logins per second in the measurement window. Worker i
 * connects from source address 127.0.0.(2 + i mod sources), like clients behind different addresses; with
 * sources = 1 every request comes from one address (a NAT or proxy), which the login throttle treats differently.
 */
import { Agent, request } from 'node:http';
import { childMain, nextMessage, send, sleep, sourceAddress } from './lib/lean-client.js';
import { summary } from './lib/stats.js';

/** POSTs JSON and resolves with status and parsed body. */
function post(url: URL, agent: Agent, localAddress: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Init {
  cmd: 'init';
  baseUrl: string;
  users: Array<{ address: string; password: string }>;
  concurrency: number;
  sources: number;
  warmupMs: number;
  measureMs: number;
}

childMain(async () => {
  const init = await nextMessage<Init>((m) => m.cmd === 'init');
  let ok = 0;
  let failed = 0;
  let lastError = '';
  let next = 0;
  let stop = false;
  let recording = false;
  const lat: number[] = [];
  const url = new URL('/api/v1/login', init.baseUrl);
  const worker = async (_: unknown, w: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const localAddress = sourceAddress(w, init.sources);
    while (!stop) {
      const u = init.users[next++ % init.users.length]!;
      const t = performance.now();
      try {
        const res = await post(url, agent, localAddress, JSON.stringify({ address: u.address, password: u.password }));
        const body = res.body as { token?: string; error?: { code: string; message: string } };
        if (res.status === 200 && body.token) {
          ok++;
          if (recording) lat.push(performance.now() - t);
        } else {
          failed++;
          lastError = `${res.status} ${body.error?.code}: ${body.error?.message}`;
        }
      } catch (e) {
        failed++;
        lastError = (e as Error).message;
      }
    }
    agent.destroy();
  };
  const workers = Array.from({ length: init.concurrency }, worker);
  await sleep(init.warmupMs);
  const o0 = ok;
  const f0 = failed;
  recording = true;
  const start = performance.now();
  send({ type: 'window-start' });
  await sleep(init.measureMs);
  const secs = (performance.now() - start) / 1000;
  const o1 = ok;
  const f1 = failed;
  recording = false;
  send({ type: 'window-end' });
  stop = true;
  await Promise.all(workers);
  send({ type: 'result', loginsPerSec: Math.round(((o1 - o0) / secs) * 10) / 10, failed: f1 - f0, lastError, latency: summary(lat, 1) });
  await nextMessage((m) => m.cmd === 'exit');
  process.exit(0);
});
