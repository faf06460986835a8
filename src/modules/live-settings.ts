/**
 * The running server's live options (docs/settings.md): each module's configured options merged with the overrides
 * administrators stored (Store.settings), what ModuleApi.options returns, and the changes: set and reset through
 * the engine's change gate (`settings.changed`, which the compliance archive journals), applied at once and told
 * to the module (ModuleApi.onOptions), to the other nodes of a cluster (the `parley.settings` bus subject, on
 * which they re-read the store) and, for the `parley` CLI's changes in another process, picked up on the engine's
 * `store.changed`.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import type { Logger } from '../engine/context.js';
import type { Engine } from '../engine/engine.js';
import type { Bus } from '../ports/bus.js';
import type { SettingRecord, Store } from '../ports/store.js';
import type { ParleyModule } from './api.js';
import { checkKey, checkValues, entryOf, liveKeysOf, merge, mergeStored, sameValue, type OptionsObject, type SettingsEntry } from './settings.js';

/** The bus subject on which a node tells the others that a module's live options changed. */
export const SETTINGS_SUBJECT = 'parley.settings';

/** What crosses the bus: the sender and the module whose stored options changed. */
interface SettingsMessage {
  from: string;
  module: string;
}

/** A function told of a change of a module's options. */
export type OptionsListener = (next: OptionsObject, previous: OptionsObject) => void | Promise<void>;

interface ModuleState {
  readonly module: ParleyModule;
  readonly enabled: boolean;
  /** The configuration file's options. */
  readonly configured: OptionsObject;
  /** The options in effect. */
  current: OptionsObject;
  /** The stored overrides in effect, by key. */
  applied: Map<string, SettingRecord>;
  /** Stored overrides that do not validate (ignored), for the log and /health. */
  ignored: Array<{ key: string; error: string }>;
  readonly listeners: OptionsListener[];
}

/** What the live settings need from the server. */
export interface LiveSettingsDeps {
  engine: Engine;
  store: Store;
  bus: Bus;
  log: Logger;
}

/** Every module's options as they are now, and the way to change the live ones. */
export class LiveSettings {
  private readonly states = new Map<string, ModuleState>();
  private readonly id = randomBytes(9).toString('hex');
  /** One change or reload at a time, so a reload never interleaves with a change's write. */
  private queue: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  constructor(
    modules: readonly ParleyModule[],
    options: Readonly<Record<string, OptionsObject & { enabled: boolean }>>,
    private readonly deps: LiveSettingsDeps,
  ) {
    for (const m of modules) {
      liveKeysOf(m);
      const configured = options[m.name] ?? (m.options.parse({}) as OptionsObject & { enabled: boolean });
      this.states.set(m.name, { module: m, enabled: configured.enabled === true, configured, current: configured, applied: new Map(), ignored: [], listeners: [] });
    }
  }

  /** Reads the stored overrides and applies them (at start, before the modules are set up: no listener yet). */
  async load(): Promise<void> {
    const records = await this.deps.store.settings.list();
    for (const s of this.states.values()) this.merged(s, records.filter((r) => r.module === s.module.name));
  }

  /** Listens for other nodes' changes (the bus) and the CLI's (store.changed). */
  listen(): void {
    if (this.unsubscribe !== null) return;
    const offBus = this.deps.bus.subscribe(SETTINGS_SUBJECT, (m) => {
      const msg = m as SettingsMessage;
      if (msg.from === this.id || !this.states.has(msg.module)) return;
      return this.reload(msg.module);
    });
    const offStore = this.deps.engine.events.on('store.changed', () => this.reload(), { owner: 'settings' });
    this.unsubscribe = () => {
      offBus();
      offStore();
    };
  }

  /** Stops listening. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The options module `name` runs with now. */
  optionsOf(name: string): OptionsObject {
    return this.state(name).current;
  }

  /** Tells `fn` of every later change of module `name`'s options. */
  onOptions(name: string, fn: OptionsListener): void {
    this.state(name).listeners.push(fn);
  }

  /** Every module that declares live options, in set-up order. */
  list(): SettingsEntry[] {
    return [...this.states.values()].filter((s) => (s.module.live ?? []).length > 0).map((s) => this.entry(s));
  }

  /** One module's entry; item-not-found when it has no live options. */
  get(name: string): SettingsEntry {
    return this.entry(this.liveState(name));
  }

  /** Stored overrides that were ignored because they no longer validate, by module (for /health). */
  problems(): Array<{ module: string; key: string; error: string }> {
    return [...this.states.values()].flatMap((s) => s.ignored.map((i) => ({ module: s.module.name, ...i })));
  }

  /**
   * Sets live options of module `name` (`values`: key -> new value), validated by the module's schema over its
   * current options, through the change gate; applied at once here and on the other nodes.
   */
  set(name: string, values: unknown, by: string): Promise<SettingsEntry> {
    return this.serial(async () => {
      const s = this.liveState(name);
      const given = checkValues(s.module, values);
      const keys = Object.keys(given).sort();
      const overrides = { ...Object.fromEntries([...s.applied].map(([k, r]) => [k, r.value])), ...given };
      merge(s.module, s.configured, overrides);
      const now = Date.now();
      await this.deps.engine.events.change({ type: 'settings.changed', module: name, keys, by }, async () => {
        for (const key of keys) await this.deps.store.settings.put({ module: name, key, value: given[key], updatedAt: now, updatedBy: by });
      });
      return this.changed(s, keys, by);
    });
  }

  /** Resets one live option of module `name` to the configuration file's value. */
  reset(name: string, key: string, by: string): Promise<SettingsEntry> {
    return this.serial(async () => {
      const s = this.liveState(name);
      checkKey(s.module, key);
      if (!s.applied.has(key) && (await this.deps.store.settings.get(name, key)) === null) return this.entry(s);
      const overrides = Object.fromEntries([...s.applied].filter(([k]) => k !== key).map(([k, r]) => [k, r.value]));
      merge(s.module, s.configured, overrides);
      await this.deps.engine.events.change({ type: 'settings.changed', module: name, keys: [key], by }, () => this.deps.store.settings.remove(name, key));
      return this.changed(s, [key], by);
    });
  }

  /** Re-reads the stored overrides of one module (or all) and applies what changed. */
  reload(name?: string): Promise<void> {
    return this.serial(async () => {
      const records = await this.deps.store.settings.list(name);
      for (const s of this.states.values()) {
        if (name !== undefined && s.module.name !== name) continue;
        if ((s.module.live ?? []).length === 0) continue;
        await this.apply(s, records.filter((r) => r.module === s.module.name));
      }
    });
  }

  /** After a change was stored: applies it here, tells the other nodes and the modules' event handlers. */
  private async changed(s: ModuleState, keys: string[], by: string): Promise<SettingsEntry> {
    await this.apply(s, await this.deps.store.settings.list(s.module.name));
    this.deps.bus.publish(SETTINGS_SUBJECT, { from: this.id, module: s.module.name } satisfies SettingsMessage);
    this.deps.log.info({ module: s.module.name, keys, by }, 'live options changed');
    await this.deps.engine.events.emit('settings.changed', { module: s.module.name, keys, by });
    return this.entry(s);
  }

  /** Merges `records` into the module's options; tells its listeners when the options changed. */
  private async apply(s: ModuleState, records: readonly SettingRecord[]): Promise<void> {
    const previous = s.current;
    this.merged(s, records);
    if (sameValue(previous, s.current) || !s.enabled) return;
    for (const fn of s.listeners) {
      try {
        await fn(s.current, previous);
      } catch (e) {
        this.deps.log.error({ err: e, module: s.module.name }, 'a module failed to apply its new options');
      }
    }
  }

  private merged(s: ModuleState, records: readonly SettingRecord[]): void {
    const r = mergeStored(s.module, s.configured, records);
    const known = new Set(s.ignored.map((i) => `${i.key} ${i.error}`));
    s.current = r.options;
    s.applied = r.applied;
    s.ignored = r.ignored;
    // Loudly, once per problem (a reload finds the same ones again).
    for (const i of r.ignored.filter((x) => !known.has(`${x.key} ${x.error}`))) {
      this.deps.log.error({ module: s.module.name, key: i.key, error: i.error }, `IGNORED a stored live option of modules.${s.module.name}: it does not validate; the configuration file's value is used (parley settings reset ${s.module.name} ${i.key})`);
    }
  }

  private entry(s: ModuleState): SettingsEntry {
    return entryOf(s.module, s.enabled, s.current, s.applied.keys());
  }

  private state(name: string): ModuleState {
    const s = this.states.get(name);
    if (s === undefined) throw new ParleyError('item-not-found', `no module ${name}`);
    return s;
  }

  private liveState(name: string): ModuleState {
    const s = this.state(name);
    if ((s.module.live ?? []).length === 0) throw new ParleyError('item-not-found', `module ${name} has no live options`);
    return s;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
