/**
 * One webhook's deliveries: a subscription to the presentities service (as the webhook's owner sees it, from
 * the position last delivered), a queue of what it heard, and one delivery in flight at a time, so a receiver
 * gets a webhook's events in position order. A delivery is retried until it succeeds or the webhook is disabled;
 * the position moves on only after a 2xx, so after a restart the webhook resumes after the last delivery that
 * succeeded (at least once: the receiver dedups by the Parley-Delivery-Id header).
 *
 * Retries: network errors, timeouts, 408, 429 and 5xx are retried after an exponential delay with jitter (the
 * answer's Retry-After, RFC 9110 §10.2.3, when longer); any other failure (4xx, a refused target, too many
 * redirects) waits the longest delay, since retrying soon would not help. Each failed attempt counts; after
 * `maxConsecutiveFailures` in a row the webhook is disabled with the reason.
 *
 * Memory: at most `maxPendingPerWebhook` events wait in memory; beyond that the subscription ends, the waiting
 * events are dropped, and when the one at the head is delivered the webhook subscribes again from its position,
 * so the dropped changes are read again from the change log.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../engine/context.js';
import type { PresentitiesService, Presentity, Subscription, SubscriptionOut } from '../presentities/index.js';
import type { WebhookClient } from './client.js';
import type { WebhooksOptions } from './options.js';
import { signatureHeader } from './signature.js';
import type { WebhookRecord, WebhooksArea } from './sqlite.js';

/** The event types a webhook receives. */
export type WebhookEvent = 'presence.change' | 'presence.snapshot' | 'webhook.test';

/** An event waiting for delivery. */
interface Pending {
  deliveryId: string;
  event: WebhookEvent;
  position: number | null;
  body: Buffer;
  attempts: number;
}

/** What every runner shares. */
export interface RunnerDeps {
  presentities: PresentitiesService;
  store: WebhooksArea;
  client: WebhookClient;
  options: WebhooksOptions;
  log: Logger;
  /** Keeps a store write's promise until it settles (shutdown waits for them). */
  track(p: Promise<unknown>): void;
  now(): number;
}

/** The `data` of a change, serialised once per state for every webhook that gets it. */
const changeData = new WeakMap<Presentity, string>();

function dataOfChange(position: number, address: string, presentity: Presentity | null, match: boolean): string {
  if (presentity === null || !match) return JSON.stringify({ position, address, match: false });
  let d = changeData.get(presentity);
  if (d === undefined) {
    d = JSON.stringify({ position, address, match: true, presentity });
    changeData.set(presentity, d);
  }
  return d;
}

/** A duration for a reason: `40 s`, `12 min`, `1.5 h`. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  const h = ms / 3_600_000;
  return `${h < 10 ? Math.round(h * 10) / 10 : Math.round(h)} h`;
}

/** The delay before retry number `failures` (1 for the first): exponential, equal jitter, capped. */
export function backoffMs(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 40));
  return d / 2 + random() * (d / 2);
}

/** One webhook at work. */
export class WebhookRunner {
  private queue: Pending[] = [];
  private sub: Subscription | null = null;
  /** Bumped whenever the subscription is replaced or ended: events of an older one are ignored. */
  private generation = 0;
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private abort: AbortController | null = null;
  /** The queue overflowed: subscribe again from `acked` once it drains. */
  private behind = false;
  private stopped = false;
  /** The last position delivered. */
  acked: number;

  constructor(
    public hook: WebhookRecord,
    private readonly deps: RunnerDeps,
  ) {
    this.acked = hook.position;
  }

  /** Events waiting, the one in flight included. */
  get pending(): number {
    return this.queue.length;
  }

  /** Starts following the webhook's target from its position. */
  start(): void {
    this.subscribe();
  }

  /** Ends the subscription, any retry timer and the attempt in flight; the runner is done. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.queue = [];
  }

  /**
   * When nothing is waiting, in flight or being re-read and the subscription is live, the webhook has had
   * every change up to `position` that concerns it: its position may move there (so a quiet webhook does not
   * resume from far behind after a restart). Returns whether it moved.
   */
  advanceIdle(position: number): boolean {
    const idle = this.sub !== null && this.queue.length === 0 && !this.busy && this.timer === null && !this.behind && !this.stopped && this.hook.disabled === null;
    if (!idle || position <= this.acked) return false;
    this.acked = position;
    return true;
  }

  /** Queues a test event (no position); returns its delivery id. */
  test(): string {
    const deliveryId = `${this.hook.id}.test.${randomBytes(6).toString('hex')}`;
    this.push('webhook.test', null, deliveryId, JSON.stringify({ message: 'a test event from Parley', requestedAt: this.deps.now() }));
    return deliveryId;
  }

  private subscribe(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    const alive = (): boolean => gen === this.generation && !this.stopped;
    const out: SubscriptionOut = {
      snapshot: (position, presentities, reset) => {
        if (alive()) this.push('presence.snapshot', position, `${this.hook.id}.${position}.snapshot`, JSON.stringify({ position, reset, presentities }));
      },
      resumed: () => undefined,
      change: (position, address, presentity, match) => {
        if (alive()) this.push('presence.change', position, `${this.hook.id}.${position}`, dataOfChange(position, address, presentity, match));
      },
    };
    this.deps.presentities.subscribe(this.hook.owner, this.hook.target, this.acked, out).then(
      (sub) => {
        if (alive()) this.sub = sub;
        else this.deps.presentities.unsubscribe(sub);
      },
      (e: unknown) => {
        this.deps.log.error({ err: e, webhook: this.hook.id }, 'subscribing a webhook failed; trying again');
        const t = setTimeout(() => {
          if (alive()) this.subscribe();
        }, 5000);
        t.unref();
      },
    );
  }

  private unsubscribe(): void {
    this.generation++;
    if (this.sub) this.deps.presentities.unsubscribe(this.sub);
    this.sub = null;
  }

  private push(event: WebhookEvent, position: number | null, deliveryId: string, data: string): void {
    if (this.stopped || this.behind) return;
    if (this.queue.length >= this.deps.options.maxPendingPerWebhook) {
      // Too far behind to hold in memory: keep the head (in flight or waiting for its retry), read the rest again later.
      this.behind = true;
      this.unsubscribe();
      this.queue.length = 1;
      return;
    }
    const body = Buffer.from(`{"id":${JSON.stringify(deliveryId)},"type":"${event}","webhook":"${this.hook.id}","createdAt":${this.deps.now()},"data":${data}}`);
    this.queue.push({ deliveryId, event, position, body, attempts: 0 });
    this.pump();
  }

  /** Sends the head of the queue unless one is in flight, waiting for a retry, or the webhook is off. */
  private pump(): void {
    if (this.busy || this.timer !== null || this.stopped || this.hook.disabled !== null) return;
    const p = this.queue[0];
    if (p === undefined) {
      if (this.behind) {
        this.behind = false;
        this.subscribe();
      }
      return;
    }
    this.busy = true;
    this.send(p).then(
      () => {
        this.busy = false;
        this.pump();
      },
      (e: unknown) => {
        this.busy = false;
        this.deps.log.error({ err: e, webhook: this.hook.id }, 'a webhook delivery failed unexpectedly');
      },
    );
  }

  private async send(p: Pending): Promise<void> {
    const { client, store, options, now } = this.deps;
    const hook = this.hook;
    p.attempts++;
    const at = now();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Parley-Webhooks/1',
      'parley-webhook-id': hook.id,
      'parley-delivery-id': p.deliveryId,
      'parley-event': p.event,
      'parley-attempt': String(p.attempts),
      'parley-signature': signatureHeader(hook.secret, p.body, Math.floor(at / 1000)),
    };
    this.abort = new AbortController();
    const r = await client.post(hook.url, p.body, headers, this.abort.signal);
    this.abort = null;
    if (this.stopped) return;
    const attempt = { webhookId: hook.id, deliveryId: p.deliveryId, event: p.event, position: p.position, attempt: p.attempts, at, status: r.status, durationMs: r.durationMs, error: r.error };
    if (r.error === null) {
      this.queue.shift();
      if (p.position !== null && p.position > this.acked) this.acked = p.position;
      hook.failures = 0;
      hook.failingSince = null;
      hook.lastError = null;
      this.deps.track(store.attempted(attempt, options.deliveryLogKeep, { ok: true, position: p.position }));
      return;
    }
    hook.failures++;
    hook.failingSince ??= at;
    hook.lastError = r.error;
    const failed = { ok: false as const, failures: hook.failures, failingSince: hook.failingSince, lastError: r.error };
    if (hook.failures >= options.maxConsecutiveFailures) {
      const t = now();
      hook.disabled = { at: t, reason: `${r.error} after ${hook.failures} attempts over ${humanDuration(t - hook.failingSince)}` };
      this.deps.log.warn({ webhook: hook.id, reason: hook.disabled.reason }, 'a webhook was disabled');
      this.deps.track(store.attempted(attempt, options.deliveryLogKeep, { ...failed, disabled: hook.disabled }));
      // Nothing is held while it is off: enabling it again resumes from its position.
      this.unsubscribe();
      this.queue = [];
      this.behind = false;
      return;
    }
    this.deps.track(store.attempted(attempt, options.deliveryLogKeep, { ...failed, disabled: null }));
    const maxMs = options.retryMaxSeconds * 1000;
    let delay = r.retryable ? backoffMs(hook.failures, options.retryMinSeconds * 1000, maxMs) : maxMs;
    if (r.retryAfterMs !== null) delay = Math.min(maxMs, Math.max(delay, r.retryAfterMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delay);
    this.timer.unref();
  }
}
