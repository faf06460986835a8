/**
 * The webhooks of the server: created, changed and removed by their owners, each run by a WebhookRunner while
 * enabled. At start every enabled webhook resumes from its stored position.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { ModuleApi } from '../api.js';
import type { PresentitiesService, Target } from '../presentities/index.js';
import { WebhookClient } from './client.js';
import type { TargetGuard } from './guard.js';
import type { WebhooksOptions } from './options.js';
import { WebhookRunner } from './runner.js';
import { newSecret } from './signature.js';
import type { DeliveryAttempt, Disabled, WebhookRecord, WebhooksArea } from './sqlite.js';

/** A webhook as its owner sees it (never the secret). */
export interface WebhookView {
  id: string;
  owner: string;
  url: string;
  target: Target;
  description: string | null;
  enabled: boolean;
  disabled: Disabled | null;
  /** The last position delivered. */
  position: number;
  /** Events waiting to be delivered now. */
  pending: number;
  failures: number;
  failingSince: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A change to a webhook (PATCH). */
export interface WebhookPatch {
  url?: string | undefined;
  target?: Target | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
  rotateSecret?: true | undefined;
}

/** How often idle webhooks move their stored position to the present. */
const IDLE_ADVANCE_MS = 10_000;

/** The webhooks service. */
export class WebhookService {
  private readonly runners = new Map<string, WebhookRunner>();
  private readonly writes = new Set<Promise<unknown>>();
  private readonly client: WebhookClient;
  private readonly timer: NodeJS.Timeout;

  /**
   * `currentOptions` is asked per use, so the live limits (docs/settings.md) apply to the next webhook created and
   * the next attempt; the HTTP client's timeout, redirects and response size are fixed at start.
   */
  constructor(
    private readonly store: WebhooksArea,
    private readonly presentities: PresentitiesService,
    private readonly guard: TargetGuard,
    private readonly currentOptions: () => WebhooksOptions,
    private readonly log: Logger,
    /** The engine's change gate (ModuleApi.change): the audit log and the archive record what is made here. */
    private readonly change: ModuleApi<unknown>['change'],
    private readonly now: () => number = Date.now,
  ) {
    const options = currentOptions();
    this.client = new WebhookClient(guard, { timeoutMs: options.timeoutSeconds * 1000, maxRedirects: options.maxRedirects, maxResponseBytes: options.maxResponseBytes });
    this.timer = setInterval(() => this.advanceIdle(), IDLE_ADVANCE_MS);
    this.timer.unref();
  }

  /** Moves the stored position of every idle webhook to the present (WebhookRunner.advanceIdle). */
  private advanceIdle(): void {
    const position = this.presentities.position;
    for (const [id, r] of this.runners) if (r.advanceIdle(position)) this.track(this.store.delivered(id, r.acked), id);
  }

  private track(p: Promise<unknown>, id: string): void {
    this.writes.add(p);
    p.then(
      () => this.writes.delete(p),
      (e: unknown) => {
        this.writes.delete(p);
        this.log.error({ err: e, webhook: id }, 'storing a webhook\'s delivery state failed');
      },
    );
  }

  /** Resumes every enabled webhook from its stored position. */
  async start(): Promise<void> {
    for (const w of await this.store.list(null)) if (w.disabled === null) this.run(w);
  }

  /** Stops every runner and waits for the store writes under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.advanceIdle();
    for (const r of this.runners.values()) r.stop();
    this.runners.clear();
    this.client.close();
    await Promise.allSettled([...this.writes]);
  }

  private get options(): WebhooksOptions {
    return this.currentOptions();
  }

  private run(w: WebhookRecord): void {
    const current = this.currentOptions;
    const r = new WebhookRunner(w, {
      presentities: this.presentities,
      store: this.store,
      client: this.client,
      // A getter: the runner reads the retry and failure limits per attempt.
      get options() {
        return current();
      },
      log: this.log,
      now: this.now,
      track: (p) => this.track(p, w.id),
    });
    this.runners.set(w.id, r);
    r.start();
  }

  private halt(id: string): WebhookRunner | undefined {
    const r = this.runners.get(id);
    r?.stop();
    this.runners.delete(id);
    return r;
  }

  private view(w: WebhookRecord): WebhookView {
    const r = this.runners.get(w.id);
    const live = r?.hook ?? w;
    return {
      id: w.id,
      owner: w.owner,
      url: w.url,
      target: w.target,
      description: w.description,
      enabled: live.disabled === null,
      disabled: live.disabled,
      position: Math.max(w.position, r?.acked ?? 0),
      pending: r?.pending ?? 0,
      failures: live.failures,
      failingSince: live.failingSince,
      lastError: live.lastError,
      createdAt: w.createdAt,
      updatedAt: w.updatedAt,
    };
  }

  /** The webhook `id` of `owner` (the runner's state is the newest), or item-not-found. */
  private async owned(owner: string, id: string): Promise<WebhookRecord> {
    const w = await this.store.get(id);
    // Someone else's webhook is reported as missing: ids do not leak whose they are.
    if (!w || w.owner !== owner) throw new ParleyError('item-not-found', `no webhook ${id}`);
    const r = this.runners.get(id);
    return r ? { ...w, ...r.hook, position: Math.max(w.position, r.acked) } : w;
  }

  /** Creates a webhook that gets the changes after the current position; the secret is in the answer once. */
  async create(owner: string, b: { url: string; target: Target; description?: string | undefined }, keyId: string | null = null): Promise<{ webhook: WebhookView; secret: string }> {
    const url = await this.guard.checkUrl(b.url);
    const t = this.now();
    const w: WebhookRecord = {
      id: `wh_${randomBytes(8).toString('hex')}`,
      owner,
      url: url.href,
      target: b.target,
      description: b.description ?? null,
      secret: newSecret(),
      disabled: null,
      position: this.presentities.position,
      failures: 0,
      failingSince: null,
      lastError: null,
      createdAt: t,
      updatedAt: t,
    };
    await this.change('created', { actor: owner, subject: w.id, data: { url: w.url, target: w.target, ...via(keyId) } }, () => this.store.create(w, this.options.maxPerOwner));
    this.run(w);
    return { webhook: this.view(w), secret: w.secret };
  }

  /** The webhooks of `owner`. */
  async list(owner: string): Promise<WebhookView[]> {
    return (await this.store.list(owner)).map((w) => this.view(w));
  }

  /** One webhook of `owner`. */
  async get(owner: string, id: string): Promise<WebhookView> {
    return this.view(await this.owned(owner, id));
  }

  /** Changes a webhook; a new secret (rotateSecret) is in the answer once. */
  async update(owner: string, id: string, p: WebhookPatch, by: string, keyId: string | null = null): Promise<{ webhook: WebhookView; secret?: string }> {
    const w = await this.owned(owner, id);
    const next: WebhookRecord = { ...w, updatedAt: this.now() };
    if (p.url !== undefined) next.url = (await this.guard.checkUrl(p.url)).href;
    if (p.target !== undefined) next.target = p.target;
    if (p.description !== undefined) next.description = p.description;
    if (p.rotateSecret) next.secret = newSecret();
    if (p.enabled === true && w.disabled !== null) {
      next.disabled = null;
      next.failures = 0;
      next.failingSince = null;
      next.lastError = null;
    } else if (p.enabled === false && w.disabled === null) {
      next.disabled = { at: next.updatedAt, reason: `disabled by ${by}` };
    }
    // What changed, never the secret itself (only that it was rotated).
    const changed = { ...(p.url !== undefined ? { url: next.url } : {}), ...(p.target !== undefined ? { target: next.target } : {}), ...(p.description !== undefined ? { description: next.description } : {}), ...(p.rotateSecret ? { rotated: true } : {}), ...(p.enabled !== undefined ? { enabled: p.enabled } : {}) };
    await this.change('updated', { actor: owner, subject: id, data: { ...changed, ...via(keyId) } }, () => this.store.update(next));
    const restart = next.url !== w.url || p.target !== undefined || (next.disabled === null) !== (w.disabled === null);
    const r = this.runners.get(id);
    if (restart || !r) {
      this.halt(id);
      if (next.disabled === null) this.run(next);
    } else {
      // Secret or description only: the runner goes on with the new record.
      r.hook = { ...next, failures: r.hook.failures, failingSince: r.hook.failingSince, lastError: r.hook.lastError };
    }
    return { webhook: this.view(next), ...(p.rotateSecret ? { secret: next.secret } : {}) };
  }

  /** Deletes a webhook and its delivery log. */
  async remove(owner: string, id: string, keyId: string | null = null): Promise<void> {
    const w = await this.owned(owner, id);
    await this.change('removed', { actor: owner, subject: id, data: { url: w.url, ...via(keyId) } }, () => this.store.remove(id));
    this.halt(id);
  }

  /** The newest attempts of a webhook. */
  async deliveries(owner: string, id: string, limit: number): Promise<DeliveryAttempt[]> {
    await this.owned(owner, id);
    return this.store.deliveries(id, limit);
  }

  /** Queues a test event behind the webhook's pending ones; its delivery id. */
  async test(owner: string, id: string): Promise<string> {
    const w = await this.owned(owner, id);
    const r = this.runners.get(id);
    if (w.disabled !== null || !r) throw new ParleyError('not-allowed', `the webhook ${id} is disabled (${w.disabled?.reason ?? 'off'}); enable it first`);
    return r.test();
  }
}

/** The API key a change was made with, for the audit log (the key's id, never its token). */
function via(keyId: string | null): { keyId?: string } {
  return keyId === null ? {} : { keyId };
}
