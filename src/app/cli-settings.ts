/**
 * `parley settings show|set|reset`: the live options administrators change (docs/settings.md), from the command
 * line, on the store directly. Validated by the module's own options schema exactly as the HTTP API does, and made
 * through the CLI's change gate (modules' operatorChange: the archive journals `settings.changed`). A running
 * server notices the write through its watch of the store (`store.changed`) and applies it.
 */
import { ParleyError } from '../core/errors.js';
import type { ChangeGate } from '../engine/events.js';
import type { AnyModule, ModuleOptions } from '../modules/host.js';
import { checkKey, checkValues, entryOf, merge, mergeStored, valuesOf, type OptionsObject, type SettingsEntry } from '../modules/settings.js';
import type { SettingRecord, Store } from '../ports/store.js';

/** What a settings command needs. */
export interface SettingsCommandContext {
  modules: readonly AnyModule[];
  options: ModuleOptions;
  store: Store;
  gate: ChangeGate;
  /** Who makes the change: `cli:<operating-system user>`. */
  by: string;
  out(s: string): void;
}

/** The options a module runs with: the configured ones with the stored live overrides that validate. */
export async function currentOptions(store: Store, m: AnyModule, configured: OptionsObject): Promise<OptionsObject> {
  if ((m.live ?? []).length === 0) return configured;
  return mergeStored(m, configured, await store.settings.list(m.name)).options;
}

/** Runs `parley settings <action> ...`; throws ParleyError (or a usage problem as bad-request). */
export async function runSettings(action: string | undefined, args: string[], ctx: SettingsCommandContext): Promise<void> {
  const find = (name: string | undefined): AnyModule => {
    const m = ctx.modules.find((x) => x.name === name);
    if (m === undefined || (m.live ?? []).length === 0) {
      const live = ctx.modules.filter((x) => (x.live ?? []).length > 0).map((x) => x.name);
      throw new ParleyError('item-not-found', `${name === undefined ? 'name a module' : `no module ${name} with live options`} (modules with live options: ${live.join(', ')})`);
    }
    return m;
  };
  const entry = async (m: AnyModule): Promise<{ entry: SettingsEntry; applied: Map<string, SettingRecord> }> => {
    const configured = ctx.options[m.name]!;
    const r = mergeStored(m, configured, await ctx.store.settings.list(m.name));
    for (const i of r.ignored) ctx.out(`warning: the stored modules.${m.name}.${i.key} is ignored: ${i.error}\n`);
    return { entry: entryOf(m, configured.enabled, r.options, r.applied.keys()), applied: r.applied };
  };
  switch (action) {
    case 'show': {
      const list = args[0] === undefined ? ctx.modules.filter((m) => (m.live ?? []).length > 0) : [find(args[0])];
      for (const m of list) {
        const { entry: e } = await entry(m);
        ctx.out(`${e.module}${e.enabled ? '' : ' (not enabled)'}: ${e.summary}\n`);
        for (const k of e.live) ctx.out(`  ${k} = ${JSON.stringify(e.values[k])}${e.overridden.includes(k) ? '   (set at runtime)' : ''}\n`);
      }
      return;
    }
    case 'set': {
      const [name, key, json] = args;
      const m = find(name);
      if (key === undefined || json === undefined) throw new ParleyError('bad-request', 'usage: parley settings set <module> <key> <json value>');
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch {
        throw new ParleyError('bad-request', `${key}: the value must be JSON (a string in double quotes: '"text"')`);
      }
      checkValues(m, { [key]: value });
      const { applied } = await entry(m);
      merge(m, ctx.options[m.name]!, { ...valuesOf(applied), [key]: value });
      await ctx.gate({ type: 'settings.changed', module: m.name, keys: [key], by: ctx.by }, () =>
        ctx.store.settings.put({ module: m.name, key, value, updatedAt: Date.now(), updatedBy: ctx.by }),
      );
      ctx.out(`set modules.${m.name}.${key} = ${JSON.stringify(value)} (a running server applies it within seconds)\n`);
      return;
    }
    case 'reset': {
      const [name, key] = args;
      const m = find(name);
      if (key === undefined) throw new ParleyError('bad-request', 'usage: parley settings reset <module> <key>');
      checkKey(m, key);
      if ((await ctx.store.settings.get(m.name, key)) === null) {
        ctx.out(`modules.${m.name}.${key} was not set at runtime\n`);
        return;
      }
      const { applied } = await entry(m);
      const rest = Object.fromEntries([...applied].filter(([k]) => k !== key).map(([k, r]) => [k, r.value]));
      merge(m, ctx.options[m.name]!, rest);
      await ctx.gate({ type: 'settings.changed', module: m.name, keys: [key], by: ctx.by }, () => ctx.store.settings.remove(m.name, key));
      ctx.out(`reset modules.${m.name}.${key} to the configuration file's value\n`);
      return;
    }
    default:
      throw new ParleyError('bad-request', 'usage: parley settings show [module] | set <module> <key> <json value> | reset <module> <key>');
  }
}
