/**
 * The writer process of `npm run bench:presentities-writes` (forked by bench/presentities-writes.ts): posts
 * presence updates of things at a paced target rate over keep-alive HTTP connections, open loop (an update is
 * due at start + i / rate whether or not earlier ones were answered), with at most `inFlight` outstanding; one
 * that finds them all busy waits, and one sent more than 10 ms after it was due counts as `deferred`. Each
 * update carries its send time (`fields.sentAt`, on the shared clock) and a sequence number (`fields.seq`).
 *
 * IPC: the parent sends `start` (WriterSetup); the writer answers `done` (WriterReport) after warm-up plus
 * measurement, with the reply latencies of the updates sent during the measurement.
 */
import { Agent, request } from 'node:http';
import { clock } from './clock.js';

/** What the parent tells the writer. */
export interface WriterSetup {
  type: 'start';
  /** http://host:port/api/v1 */
  base: string;
  /** Per thing: its address and the API key that writes it. */
  things: Array<{ address: string; key: string }>;
  /** Updates per second. */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  /** Most requests outstanding at once (also the keep-alive connections). */
  inFlight: number;
}

/** What the writer reports. */
export interface WriterReport {
  type: 'done';
  /** The measurement window on the shared clock (send times). */
  from: number;
  to: number;
  /** Updates sent within the window, answered 200, refused as rate-limited (429), failed otherwise. */
  sent: number;
  ok: number;
  rateLimited: number;
  failed: number;
  /** Updates of the window sent more than 10 ms after they were due (all `inFlight` busy: the server fell behind). */
  deferred: number;
  /** Reply latencies (ms) of the updates sent within the window and answered 200. */
  replies: Float64Array;
  firstError: string | null;
}

async function run(setup: WriterSetup): Promise<WriterReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: setup.inFlight });
  const start = clock();
  const from = start + setup.warmupSeconds * 1000;
  const to = from + setup.seconds * 1000;
  const replies = new Float64Array(Math.ceil(setup.rate * setup.seconds * 1.1) + 16);
  let nReplies = 0;
  let sent = 0;
  let ok = 0;
  let rateLimited = 0;
  let failed = 0;
  let deferred = 0;
  let firstError: string | null = null;
  let inFlight = 0;
  let seq = 0;

  const fire = (): void => {
    const i = seq++;
    const thing = setup.things[i % setup.things.length]!;
    const sentAt = clock();
    const inWindow = sentAt >= from && sentAt <= to;
    if (inWindow) {
      sent++;
      if (sentAt - (start + (i * 1000) / setup.rate) > 10) deferred++;
    }
    const body = `{"fields":{"seq":${i},"sentAt":${sentAt}}}`;
    inFlight++;
    const req = request(
      `${setup.base}/presentities/things/${thing.address}/presence`,
      { method: 'POST', agent, headers: { authorization: `Bearer ${thing.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          inFlight--;
          const at = clock();
          if (!inWindow) return;
          if (res.statusCode === 200) {
            ok++;
            if (nReplies < replies.length) replies[nReplies++] = at - sentAt;
          } else if (res.statusCode === 429) rateLimited++;
          else {
            failed++;
            firstError ??= `HTTP ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`;
          }
        });
      },
    );
    req.on('error', (e) => {
      inFlight--;
      if (!inWindow) return;
      failed++;
      firstError ??= e.message;
    });
    req.end(body);
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = clock();
      if (now > to) {
        resolve();
        return;
      }
      const due = Math.floor(((now - start) * setup.rate) / 1000);
      while (seq < due && inFlight < setup.inFlight) fire();
      setTimeout(tick, 1);
    };
    tick();
  });
  // Let the last updates of the window be answered.
  const drainUntil = clock() + 10_000;
  while (inFlight > 0 && clock() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  agent.destroy();
  return { type: 'done', from, to, sent, ok, rateLimited, failed, deferred, replies: replies.slice(0, nReplies), firstError };
}

process.once('message', (m: WriterSetup) => {
  run(m).then(
    (report) =>
      process.send?.(report, () => {
        if (process.connected) process.disconnect();
      }),
    (e: unknown) => {
      process.stderr.write(`writer: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
});
