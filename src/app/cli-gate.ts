/**
 * The `parley` CLI's change gate: the engine's `change.check` gate and `change.failed` notification for a process
 * where no engine runs. Every enabled module with an operatorChange hook (the audit log, the archive's journal)
 * hears of a change before it is stored and may refuse it; if it is not made after all, they hear that too. Core
 * commands (accounts, domains, groups, settings) and modules' own commands (CliContext.change) go through it.
 */
import { userInfo } from 'node:os';
import type { Change, ChangeGate } from '../engine/events.js';
import { failureCode } from '../engine/events.js';
import { enabledModules, type AnyModule, type ModuleOptions } from '../modules/host.js';
import type { Store } from '../ports/store.js';
import type { Config } from './config.js';
import { currentOptions } from './cli-settings.js';
import { MODULES } from './modules.js';

/** The modules that hear of operators' changes; their storage is opened with the CLI's store. */
export function listeningModules(config: Config): AnyModule[] {
  return enabledModules(MODULES, config.modules as ModuleOptions).filter((m) => m.operatorChange !== undefined);
}

/** Who the operator is, as changes record it: `cli:<operating-system user>`. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // No passwd entry for the uid (some containers).
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * The gate over `store` for the listening modules. Each hears with the options the server runs with: configured,
 * with the stored live ones (read when a change is made, so commands that change nothing read nothing more).
 */
export function cliGate(store: Store, config: Config, listening: readonly AnyModule[]): ChangeGate {
  const live = new Map<string, ModuleOptions[string]>();
  return async <T>(change: Change, write: () => Promise<T>): Promise<T> => {
    for (const m of listening) {
      if (!live.has(m.name)) live.set(m.name, (await currentOptions(store, m, (config.modules as ModuleOptions)[m.name]!)) as ModuleOptions[string]);
    }
    const ctx = (m: AnyModule): Parameters<NonNullable<AnyModule['operatorChange']>>[1] => ({ options: live.get(m.name)!, store });
    const passed: AnyModule[] = [];
    try {
      for (const m of listening) {
        await m.operatorChange!({ phase: 'check', change }, ctx(m));
        passed.push(m);
      }
    } catch (e) {
      // A later module refused what earlier ones passed: they hear that the change was not made.
      for (const m of passed) await m.operatorChange!({ phase: 'failed', change, code: failureCode(e) }, ctx(m)).catch(() => undefined);
      throw e;
    }
    try {
      return await write();
    } catch (e) {
      for (const m of listening) await m.operatorChange!({ phase: 'failed', change, code: failureCode(e) }, ctx(m)).catch(() => undefined);
      throw e;
    }
  };
}
