/**
 * The subscriber side of the presentities benchmarks: subscribers split over several reader processes
 * (bench/lib/presence-reader.ts), so no one event loop holds them all. Each reader times the change frames it
 * gets against the send time the update carries (field `sentAt`, on the shared clock `clock()`), and reports
 * latencies over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReaderReport, ReaderSetup, SubscriberSpec } from './presence-reader.js';

export { clock } from './clock.js';
export type { SubscriberSpec } from './presence-reader.js';

/** How subscribers listen: all SSE, all JSON WebSocket, or alternating. */
export type Transport = 'sse' | 'ws' | 'mix';

/** The transport of subscriber `i`. */
export function transportOf(transport: Transport, i: number): 'sse' | 'ws' {
  return transport === 'mix' ? (i % 2 === 0 ? 'sse' : 'ws') : transport;
}

/** Reader processes holding the subscribers. */
export interface Readers {
  /** SSE streams and JSON subscriptions open, over all readers. */
  counts: { sse: number; ws: number };
  /** The reader processes (for their CPU time). */
  pids: number[];
  /** Rounds mode: resolves with all subscribers' latencies of round `n` and the last arrival (shared clock). */
  round(n: number, timeoutMs: number): Promise<{ latencies: number[]; last: number }>;
  /** Stream mode: latencies of the changes sent within [from, to], received change frames, and late ones. */
  collect(from: number, to: number): Promise<{ latencies: Float64Array[]; received: number; late: number }>;
  close(): Promise<void>;
}

/** Forks `count` readers, deals the subscribers round-robin, and resolves once every subscriber is open. */
export async function startReaders(opts: Omit<ReaderSetup, 'type' | 'subscribers'> & { count: number; subscribers: SubscriberSpec[] }): Promise<Readers> {
  const script = fileURLToPath(new URL('./presence-reader.js', import.meta.url));
  const children: ChildProcess[] = [];
  const shares: number[] = [];
  /** Per reader, the report handlers waiting (each says whether it took the report). */
  const listeners: Array<Set<(m: ReaderReport) => boolean>> = [];
  /** Per reader, reports nobody waited for yet (a round may be reported before its update's reply). */
  const backlog: ReaderReport[][] = [];
  const exited: Array<Promise<void>> = [];
  for (let r = 0; r < opts.count; r++) {
    const subscribers = opts.subscribers.filter((_, i) => i % opts.count === r);
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const set = new Set<(m: ReaderReport) => boolean>();
    const queue: ReaderReport[] = [];
    child.on('message', (m: ReaderReport) => {
      for (const l of [...set]) if (l(m)) return;
      queue.push(m);
    });
    backlog.push(queue);
    exited.push(new Promise((resolve) => child.once('exit', () => resolve())));
    children.push(child);
    listeners.push(set);
    shares.push(subscribers.length);
    const setup: ReaderSetup = { type: 'open', base: opts.base, wsUrl: opts.wsUrl, key: opts.key, sources: opts.sources, mode: opts.mode, subscribers };
    child.send(setup);
  }

  /** Resolves with reader r's first report that `pick` accepts; rejects on an error report or timeout. */
  const next = <T>(r: number, pick: (m: ReaderReport) => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        listeners[r]!.delete(l);
        reject(new Error(`reader ${r}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (m: ReaderReport): boolean => {
        if (m.type === 'error') {
          clearTimeout(t);
          listeners[r]!.delete(l);
          reject(new Error(`reader ${r}: ${m.message}`));
          return true;
        }
        const v = pick(m);
        if (v === undefined) return false;
        clearTimeout(t);
        listeners[r]!.delete(l);
        resolve(v);
        return true;
      };
      const queue = backlog[r]!;
      const i = queue.findIndex((m) => m.type === 'error' || pick(m) !== undefined);
      if (i >= 0) l(queue.splice(i, 1)[0]!);
      else listeners[r]!.add(l);
    });

  const ready = await Promise.all(children.map((_, r) => next(r, (m) => (m.type === 'ready' ? m : undefined), 300_000, 'ready')));
  const counts = { sse: ready.reduce((s, m) => s + m.sse, 0), ws: ready.reduce((s, m) => s + m.ws, 0) };

  return {
    counts,
    pids: children.map((c) => c.pid!),
    async round(n, timeoutMs) {
      const parts = await Promise.all(children.map((_, r) => (shares[r] === 0 ? Promise.resolve(null) : next(r, (m) => (m.type === 'round' && m.n === n ? m : undefined), timeoutMs, `round ${n}`))));
      const latencies: number[] = [];
      let last = 0;
      for (const p of parts) {
        if (!p) continue;
        for (const x of p.latencies) latencies.push(x);
        last = Math.max(last, p.last);
      }
      return { latencies, last };
    },
    async collect(from, to) {
      const parts = await Promise.all(
        children.map((c, r) => {
          const p = next(r, (m) => (m.type === 'samples' ? m : undefined), 60_000, 'samples');
          c.send({ type: 'collect', from, to });
          return p;
        }),
      );
      return { latencies: parts.map((p) => p.latencies), received: parts.reduce((s, p) => s + p.received, 0), late: parts.reduce((s, p) => s + p.late, 0) };
    },
    async close() {
      for (const c of children) if (c.connected) c.send({ type: 'close' });
      const t = setTimeout(() => {
        for (const c of children) c.kill('SIGKILL');
      }, 10_000);
      await Promise.all(exited);
      clearTimeout(t);
    },
  };
}
