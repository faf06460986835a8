/** Prometheus metrics (prom-client): connections, sessions, messages, delivery and storage latency, logins. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineMetrics } from '../engine/context.js';
import type { Outbound } from '../engine/outbound.js';

/** The server's metrics and the adapters the engine and front doors report through. */
export class Metrics {
  readonly registry = new Registry();
  private readonly messages = new Counter({ name: 'parley_messages_total', help: 'Messages by type and outcome', labelNames: ['type', 'outcome'] as const, registers: [this.registry] });
  private readonly logins = new Counter({ name: 'parley_logins_total', help: 'Password logins by result', labelNames: ['result'] as const, registers: [this.registry] });
  private readonly refusals = new Counter({ name: 'parley_refused_total', help: 'Requests refused by an engine limit, by limit', labelNames: ['limit'] as const, registers: [this.registry] });
  private readonly sessionsGauge = new Gauge({ name: 'parley_sessions', help: 'Online sessions', registers: [this.registry] });
  readonly connections = new Gauge({ name: 'parley_connections', help: 'Open client connections (JSON WebSocket and XMPP)', registers: [this.registry] });
  private readonly delivery = new Histogram({
    name: 'parley_delivery_latency_seconds',
    help: 'From a request arriving to the resulting event being written to a recipient',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly storageLatency = new Histogram({
    name: 'parley_storage_latency_seconds',
    help: 'Storage operation latency by operation',
    labelNames: ['op'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });

  constructor() {
    // The event loop delay is sampled by a timer of this period (ms). prom-client's default, 10 ms, wakes the
    // process 100 times a second, most of what an idle server did; at 100 ms an idle server takes about 0.5 % of a
    // core (`npm run bench:idle-cpu`, docs/PERFORMANCE.md). Ten samples a second still show a blocked loop.
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_', eventLoopMonitoringPrecision: 100 });
  }

  /**
   * Gauges read when /metrics is scraped. `read` returns the current values; one call serves every gauge of
   * the group (e.g. XEP-0198: resumable sessions, hibernating ones and the bytes they hold unacknowledged).
   */
  gaugeGroup(names: Record<string, string>, read: () => Record<string, number>): void {
    for (const [key, help] of Object.entries(names)) {
      new Gauge({
        name: `parley_${key}`,
        help,
        registers: [this.registry],
        collect() {
          this.set(read()[key] ?? 0);
        },
      });
    }
  }

  /**
   * A counter whose counts are kept elsewhere (e.g. the front doors' refusals), by one label, read when /metrics
   * is scraped.
   */
  countedElsewhere(name: string, help: string, label: string, read: () => Record<string, number>): void {
    new Counter({
      name: `parley_${name}`,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
      },
    });
  }

  /** The engine's view. */
  engine(): EngineMetrics {
    return {
      message: (type, outcome) => this.messages.inc({ type, outcome }),
      login: (result) => this.logins.inc({ result }),
      sessions: (delta) => this.sessionsGauge.inc(delta),
      refused: (limit) => this.refusals.inc({ limit }),
      storage: <T>(op: string, p: Promise<T>): Promise<T> => {
        const end = this.storageLatency.startTimer({ op });
        return p.finally(() => end());
      },
    };
  }

  /** Called when an event reaches a connection's socket. */
  flushed(out: Outbound): void {
    if (out.startedAt > 0) this.delivery.observe((Date.now() - out.startedAt) / 1000);
  }
}
