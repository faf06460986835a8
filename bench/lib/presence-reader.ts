/**
 * One reader process of the presentities benchmarks (forked by bench/lib/presence-readers.ts): it holds its
 * share of the subscribers, as Server-Sent Event streams or JSON WebSocket subscriptions, and times every
 * change frame that carries a `sentAt` field (the writer's send time) on the clock all benchmark processes
 * share, `performance.timeOrigin + performance.now()` (wall-clock ms with sub-ms precision).
 *
 * IPC (structured clone): the parent sends `open` (ReaderSetup); the reader answers `ready` once every
 * subscriber has its snapshot. In `rounds` mode it answers `round` with its latencies of round `n` once all its
 * subscribers had that round; in `stream` mode it records every change and answers `collect` with `samples`.
 */
import { request, type IncomingMessage } from 'node:http';
import { clock } from './clock.js';
import { LeanClient, pool, sourceAddress } from './lean-client.js';

/** One subscriber: how it listens and what it follows. */
export interface SubscriberSpec {
  transport: 'sse' | 'ws';
  /** Addresses followed (one SSE stream, or one JSON subscription, for all of them). */
  addresses: string[];
  /** Global index (source address choice). */
  index: number;
  /** Session token (ws only). */
  token?: string;
}

/** What the parent tells a reader. */
export interface ReaderSetup {
  type: 'open';
  /** http://host:port/api/v1 */
  base: string;
  /** ws://host:port/ws */
  wsUrl: string;
  /** API key with presence:read (sse). */
  key: string;
  subscribers: SubscriberSpec[];
  /** Loopback source addresses to spread connections over. */
  sources: number;
  mode: 'rounds' | 'stream';
}

/** Messages from a reader. */
export type ReaderReport =
  | { type: 'ready'; sse: number; ws: number }
  | { type: 'round'; n: number; latencies: Float64Array; last: number }
  | { type: 'samples'; latencies: Float64Array; received: number; late: number }
  | { type: 'error'; message: string };

const SENT_AT = /"sentAt":(\d+(?:\.\d+)?)/;
const ROUND = /"n":(\d+)/;

/** Growable array of doubles. */
class Samples {
  data = new Float64Array(1 << 16);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
}

const send = (m: ReaderReport): void => {
  process.send?.(m);
};

async function run(setup: ReaderSetup): Promise<void> {
  const total = setup.subscribers.length;
  // rounds: round → arrivals so far, and latencies
  const rounds = new Map<number, { got: number; lat: number[]; last: number }>();
  // stream: send time and arrival of every change
  const sentAts = new Samples();
  const arrivals = new Samples();
  let received = 0;

  /** One change frame (its text) arrived at `at`. */
  const onChange = (text: string, at: number): void => {
    const s = SENT_AT.exec(text);
    if (!s) return;
    const sentAt = Number(s[1]);
    received++;
    if (setup.mode === 'stream') {
      sentAts.push(sentAt);
      arrivals.push(at);
      return;
    }
    const r = ROUND.exec(text);
    if (!r) return;
    const n = Number(r[1]);
    let round = rounds.get(n);
    if (!round) rounds.set(n, (round = { got: 0, lat: [], last: 0 }));
    round.lat.push(at - sentAt);
    round.last = Math.max(round.last, at);
    if (++round.got === total) {
      rounds.delete(n);
      send({ type: 'round', n, latencies: Float64Array.from(round.lat), last: round.last });
    }
  };

  const openSse = (sub: SubscriberSpec): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const url = `${setup.base}/presentities/stream?addresses=${sub.addresses.join(',')}`;
      const req = request(url, { headers: { authorization: `Bearer ${setup.key}` }, agent: false, localAddress: sourceAddress(sub.index, setup.sources) }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        let buf = '';
        let snapshot = false;
        res.on('data', (chunk: string) => {
          const at = clock();
          buf += chunk;
          // Events end with a blank line; a chunk may hold several, or part of one.
          let end = buf.indexOf('\n\n');
          while (end >= 0) {
            const ev = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (ev.includes('event: change')) onChange(ev, at);
            else if (!snapshot && ev.includes('event: snapshot')) {
              snapshot = true;
              resolve(res);
            }
            end = buf.indexOf('\n\n');
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
      req.end();
    });

  const openWs = async (sub: SubscriberSpec): Promise<LeanClient> => {
    const c = await LeanClient.connect(setup.wsUrl, sub.token!, { localAddress: sourceAddress(sub.index, setup.sources) });
    c.onRaw = (raw) => {
      const at = clock();
      // Only change events are timed; replies and other events go to the client as usual.
      if (raw.includes('"presentities.change"')) {
        onChange(raw.toString('utf8'), at);
        return true;
      }
      return false;
    };
    await c.request('presentities.subscribe', { subscription: 's', addresses: sub.addresses });
    return c;
  };

  const sse: IncomingMessage[] = [];
  const ws: LeanClient[] = [];
  await pool(setup.subscribers, 100, async (sub) => {
    if (sub.transport === 'sse') sse.push(await openSse(sub));
    else ws.push(await openWs(sub));
  });
  send({ type: 'ready', sse: sse.length, ws: ws.length });

  process.on('message', (m: { type: string; from?: number; to?: number }) => {
    if (m.type === 'collect') {
      // Changes sent inside [from, to]: their latency; `late` counts those that arrived after `to` plus a second.
      const lat = new Samples();
      let late = 0;
      for (let i = 0; i < sentAts.length; i++) {
        const t = sentAts.data[i]!;
        if (t < m.from! || t > m.to!) continue;
        lat.push(arrivals.data[i]! - t);
        if (arrivals.data[i]! > m.to! + 1000) late++;
      }
      send({ type: 'samples', latencies: lat.data.slice(0, lat.length), received, late });
    } else if (m.type === 'close') {
      for (const s of sse) s.destroy();
      for (const c of ws) c.ws.terminate();
      process.disconnect();
    }
  });
}

process.once('message', (m: ReaderSetup) => {
  run(m).catch((e: unknown) => {
    send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    process.exitCode = 1;
  });
});
