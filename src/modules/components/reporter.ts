/**
 * What one component's reports do to its things, through the presentities service: a thing seen for the first
 * time is defined (owner, kind, groups, grants and fields from the component's options), then updated.
 *
 * Batching: reports are gathered for the rest of the event-loop turn and applied together at its end, one per
 * thing (several reports of one thing in a turn merge into one update, the later winning), so a burst of
 * presences costs one update per thing and the presentities store gets them in one turn (one group commit on
 * SQLite). Updates of one thing are applied one at a time, in the order received.
 *
 * When the component goes away (its connection drops, or at start before it connects) its things show as
 * unknown: nothing reports on them any more, so their last state is not to be trusted (docs/presence.md).
 */
import { ParleyError, toParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { DeviceDef, FieldType, PresentitiesService } from '../presentities/index.js';
import type { ComponentOptions } from './options.js';
import type { ThingReport } from './presence.js';

/** Things lapsed to unknown at once when a component goes away. */
const LAPSE_BATCH = 256;

/** Where a failed report is answered: the stanza it came from. */
export type ReportFailed = (address: string, stanzaId: string | undefined, error: ParleyError) => void;

interface Pending {
  report: ThingReport;
  id: string | undefined;
  failed: ReportFailed;
}

/** One component's things: reports applied in batches, lapses when it goes away. */
export class ThingReporter {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Set<string>();
  private flushing: NodeJS.Immediate | null = null;
  /** Things whose definition was checked against the options since start (redefined once when they differ). */
  private readonly checked = new Set<string>();
  /** How many things of this component exist (counted on first need). */
  private count: number | null = null;
  /** Bumped at each connect: a lapse of an older disconnection stops when it changes. */
  private generation = 0;
  /** Set at shutdown: the lapses are left to the next start, which makes every thing unknown anyway. */
  private closed = false;
  /** Called when the backlog shrank (a paused connection may read again). */
  onProgress: () => void = () => undefined;

  constructor(
    private readonly svc: PresentitiesService,
    readonly options: ComponentOptions,
    private readonly log: Logger,
  ) {}

  /** Reports queued or being applied: what a connection bounds before it reads more. */
  get backlog(): number {
    return this.pending.size + this.running.size;
  }

  /** Queues a report of `address` for the end of this turn; a failure is answered through `failed`. */
  submit(address: string, report: ThingReport, id: string | undefined, failed: ReportFailed): void {
    const before = this.pending.get(address);
    this.pending.set(address, { report: before ? merge(before.report, report) : report, id, failed });
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** A connection of this component completed its handshake. */
  connected(): void {
    this.generation++;
  }

  /**
   * The component is gone: once its queued reports are applied, each of its things that is not unknown yet
   * becomes unknown, unless the component connects again meanwhile.
   */
  async disconnected(): Promise<void> {
    if (this.closed) return;
    const generation = this.generation;
    while (this.backlog > 0) await new Promise((r) => setTimeout(r, 10));
    const things = this.things().map((d) => d.address);
    for (let i = 0; i < things.length && generation === this.generation && !this.closed; i += LAPSE_BATCH) {
      await Promise.all(
        things.slice(i, i + LAPSE_BATCH).map((a) =>
          this.svc.lapse(this.options.owner, a).catch((e: unknown) => this.log.warn({ err: e, address: a }, 'a component\'s thing could not be marked unknown')),
        ),
      );
    }
  }

  /** The server is stopping: no more lapses (the store is about to close). */
  close(): void {
    this.closed = true;
  }

  /** This component's things: its owner's in its domain. */
  private things(): DeviceDef[] {
    const suffix = `@${this.options.domain}`;
    return this.svc.owned(this.options.owner).filter((d) => d.address.endsWith(suffix));
  }

  private flush(): void {
    this.flushing = null;
    for (const [address, p] of this.pending) {
      if (this.running.has(address)) continue; // applied after the update in progress, in order
      this.pending.delete(address);
      this.running.add(address);
      this.apply(address, p.report)
        .catch((e: unknown) => p.failed(address, p.id, toParleyError(e)))
        .finally(() => {
          this.running.delete(address);
          if (this.pending.has(address)) this.flushing ??= setImmediate(() => this.flush());
          this.onProgress();
        });
    }
  }

  private async apply(address: string, r: ThingReport): Promise<void> {
    const o = this.options;
    let def = this.svc.definition(o.owner, address);
    const declared = o.fields === 'infer' ? null : o.fields;
    if (def === null) {
      this.count ??= this.things().length;
      if (this.count >= o.maxThings) throw new ParleyError('rate-limited', `this component may present at most ${o.maxThings} things (modules.components maxThings)`);
      def = await this.define(address, declared ?? r.types);
      this.count++;
    } else if (!this.checked.has(address) || (declared === null && Object.keys(r.types).some((k) => !(k in def!.fields)))) {
      // First sight since start (the options may have changed), or a field not seen before (infer).
      const fields = declared ?? { ...r.types, ...def.fields };
      if (!sameDef(def, o, fields)) def = await this.define(address, fields);
    }
    this.checked.add(address);
    await this.svc.report(o.owner, address, r.update);
  }

  private define(address: string, fields: Readonly<Record<string, FieldType>>): Promise<DeviceDef> {
    const o = this.options;
    return this.svc.define(o.owner, address, { kind: o.kind, groups: o.groups, heartbeatSeconds: o.heartbeatSeconds, fields: { ...fields }, grants: o.grants });
  }
}

/** Two reports of one thing in one turn as one: the later's state, both reports' fields. */
function merge(a: ThingReport, b: ThingReport): ThingReport {
  const fields = a.update.fields || b.update.fields ? { ...a.update.fields, ...b.update.fields } : undefined;
  return { update: { ...a.update, ...b.update, ...(fields ? { fields } : {}) }, types: { ...a.types, ...b.types } };
}

/** Whether a stored definition already says what the options (and these fields) say. */
function sameDef(d: DeviceDef, o: ComponentOptions, fields: Readonly<Record<string, FieldType>>): boolean {
  const sorted = (xs: readonly string[]): string => JSON.stringify([...xs].sort());
  const fieldsOf = (f: Readonly<Record<string, FieldType>>): string => JSON.stringify(Object.entries(f).sort(([x], [y]) => (x < y ? -1 : 1)));
  return (
    d.kind === o.kind &&
    d.heartbeatSeconds === o.heartbeatSeconds &&
    sorted(d.groups) === sorted(o.groups) &&
    fieldsOf(d.fields) === fieldsOf(fields) &&
    sorted(d.grants.users) === sorted(o.grants.users) &&
    sorted(d.grants.groups) === sorted(o.grants.groups) &&
    sorted(d.grants.domains) === sorted(o.grants.domains)
  );
}
