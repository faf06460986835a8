/**
 * The operator command line: `parley <area> <action> ...`. It works on the configured store directly, so it
 * runs whether or not the server is up (SQLite allows another process alongside; the server notices changes).
 * Passwords come from a prompt or standard input, never from the command line.
 */
import { readPassword } from '../auth/password-input.js';
import { isParleyError } from '../core/errors.js';
import { destroyRoom, listRoomsOf, setAdmin, setDisabled } from '../engine/admin-changes.js';
import { addDomain, addGroupMember, addUser, normaliseDomain, normaliseUser, removeDomain, removeGroupMember, removeUser, setPassword } from '../engine/admin-service.js';
import { storageSpecs, type AnyModule, type ModuleOptions } from '../modules/host.js';
import { cliActor, cliGate, listeningModules } from './cli-gate.js';
import { openStore, openStoreReady } from './store.js';
import { ConfigError, loadConfig, resolveConfigPath, type Config } from './config.js';
import { MODULES } from './modules.js';
import { currentOptions, runSettings } from './cli-settings.js';

const USAGE = `usage: parley [--config FILE] <command>

  config check                      validate the configuration and print the result
  domain add|remove <domain>        host a domain / stop hosting it (removes its users)
  domain list
  user add <local@domain> [--admin] create an account (password from prompt or stdin)
  user add <local@domain> --bot     create a bot account (no password; it logs in with an API key)
  user passwd <local@domain>        set a new password (revokes the user's tokens)
  user remove <local@domain>
  user list [domain]
  user disable <local@domain>       disable an account: no sign-in by any path, tokens revoked
                                    (a running server ends its sessions within about a second)
  user enable <local@domain>        let a disabled account sign in again
  user admin <local@domain> on|off  give or take administrator rights (never a bot's)
  room list [domain]                rooms (of one domain and its subdomains), with their members
  room destroy <room@domain>        destroy a room with its members and invitations; run here, its
                                    members are not told (the server's admin API tells them)
  group add <group> <local@domain>  add a user to a shared group (created if absent)
  group remove <group> <local@domain>
  group list
  settings show [module]            live options: current values, which are set at runtime
  settings set <module> <key> <json>  set a live option (docs/settings.md)
  settings reset <module> <key>     back to the configuration file's value
${MODULES.flatMap((m) => (m.commands ?? []).map((c) => `  ${`${m.name} ${c.default === true ? `[${c.name}]` : c.name} ${c.usage}`.padEnd(34)}${c.summary}`)).join('\n')}
`;

const COMMANDS = new Set([
  'domain add',
  'domain remove',
  'domain list',
  'user add',
  'user passwd',
  'user remove',
  'user list',
  'user disable',
  'user enable',
  'user admin',
  'room list',
  'room destroy',
  'group add',
  'group remove',
  'group list',
  'settings show',
  'settings set',
  'settings reset',
]);

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Runs one CLI invocation; returns the exit code. */
export async function runCli(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const args = [...argv];
  let configPath: string | undefined;
  const ci = args.indexOf('--config');
  if (ci >= 0) {
    configPath = args[ci + 1];
    args.splice(ci, 2);
    // Without this, a bare trailing --config would silently fall back to the defaults.
    if (configPath === undefined || configPath.startsWith('-')) {
      io.err(`--config needs a file name\n${USAGE}`);
      return 2;
    }
  }
  const flag = (name: string): boolean => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  const admin = flag('--admin');
  const bot = flag('--bot');
  if (flag('--help') || flag('-h') || args.length === 0) {
    io.out(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  let config: Config;
  let source: string;
  try {
    ({ config, source } = loadConfig(resolveConfigPath(configPath, process.env)));
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const [area, action, a1, a2] = args;
  if (area === 'config' && action === 'check') {
    io.out(`configuration OK (${source})\n${JSON.stringify(config, null, 2)}\n`);
    return 0;
  }
  const module = MODULES.find((m) => m.name === area);
  if (module) return runModuleCommand(module, config, args.slice(1), io);
  if (!COMMANDS.has(`${area} ${action}`)) {
    io.err(`unknown command "${args.join(' ')}"\n${USAGE}`);
    return 2;
  }
  // Modules that hear of operators' changes (the archive journals them) get their storage opened too.
  const listening = listeningModules(config);
  const specs = storageSpecs(listening, config.modules as ModuleOptions);
  // Domain commands see the store as it is; the others get the default domain a fresh install starts with.
  const store = area === 'domain' ? await openStore(config, specs) : await openStoreReady(config, { modules: specs });
  const by = cliActor();
  const gate = cliGate(store, config, listening);
  const now = Date.now();
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new UsageError(`missing ${what}`);
    return v;
  };
  const password = (confirm: boolean): Promise<string> =>
    readPassword({ prompt: 'Password: ', stdin: process.stdin, stderr: process.stderr, confirm });
  try {
    switch (`${area} ${action}`) {
      case 'domain add': {
        const d = await addDomain(store, need(a1, 'domain'), now, by, gate);
        io.out(`added domain ${d}\n`);
        break;
      }
      case 'domain remove': {
        const d = await removeDomain(store, need(a1, 'domain'), by, gate);
        io.out(`removed domain ${d}\n`);
        break;
      }
      case 'domain list':
        for (const d of await store.domains.list()) io.out(`${d}\n`);
        break;
      case 'user add': {
        const who = normaliseUser(need(a1, 'address'));
        noPasswordArg(a2);
        if (bot) {
          // A bot has no password: it logs in with an API key (parley apikeys create <bot> <name> bot).
          io.out(`added bot ${await addUser(store, who, null, { admin, kind: 'bot', iterations: config.auth.scramIterations, now, by }, gate)}\n`);
          break;
        }
        const pw = await password(true);
        io.out(`added user ${await addUser(store, who, pw, { admin, iterations: config.auth.scramIterations, now, by }, gate)}${admin ? ' (admin)' : ''}\n`);
        break;
      }
      case 'user passwd': {
        const who = normaliseUser(need(a1, 'address'));
        noPasswordArg(a2);
        const pw = await password(true);
        io.out(`password changed for ${await setPassword(store, who, pw, config.auth.scramIterations, by, gate)}\n`);
        break;
      }
      case 'user remove': {
        const who = await removeUser(store, need(a1, 'address'), by, gate);
        io.out(`removed user ${who}\n`);
        break;
      }
      case 'user list':
        // Stored domains are normalised, so the filter must be too (`user list Example.COM`).
        for (const u of await store.accounts.list(a1 === undefined ? undefined : normaliseDomain(a1))) {
          io.out(`${u.address}${u.admin ? ' (admin)' : ''}${u.kind === 'bot' ? ' (bot)' : ''}${u.disabled ? ' (disabled)' : ''}\n`);
        }
        break;
      case 'user disable':
      case 'user enable': {
        const { address, changed } = await setDisabled(store, need(a1, 'address'), action === 'disable', by, gate);
        io.out(`${action === 'disable' ? 'disabled' : 'enabled'} ${address}${changed ? '' : ' (it already was)'}
`);
        break;
      }
      case 'user admin': {
        if (a2 !== 'on' && a2 !== 'off') throw new UsageError('say on or off');
        const { address, changed } = await setAdmin(store, need(a1, 'address'), a2 === 'on', by, gate);
        io.out(`${address} is ${a2 === 'on' ? 'now' : 'no longer'} an administrator${changed ? '' : ' (no change)'}
`);
        break;
      }
      case 'room list':
        for (const r of await listRoomsOf(store, a1 === undefined ? undefined : normaliseDomain(a1))) {
          io.out(`${r.address} "${r.name}"${r.membersOnly ? ' (members only)' : ''} ${(await store.rooms.members(r.address)).length} members
`);
        }
        break;
      case 'room destroy':
        io.out(`destroyed room ${await destroyRoom(store, need(a1, 'room'), by, gate)}
`);
        break;
      case 'group add':
        io.out(`added ${await addGroupMember(store, need(a1, 'group'), need(a2, 'address'), by, gate)} to ${a1}\n`);
        break;
      case 'group remove': {
        const ok = await removeGroupMember(store, need(a1, 'group'), need(a2, 'address'), by, gate);
        if (!ok) throw new UsageError(`${a2} is not in group ${a1}`);
        io.out(`removed ${a2} from ${a1}\n`);
        break;
      }
      case 'group list':
        for (const g of await store.sharedGroups.list()) io.out(`${g.name}: ${(await store.sharedGroups.members(g.name)).join(', ')}\n`);
        break;
      case 'settings show':
      case 'settings set':
      case 'settings reset':
        await runSettings(action, args.slice(2), { modules: MODULES, options: config.modules as ModuleOptions, store, gate, by, out: io.out });
        break;
      default:
        io.err(`unknown command "${args.join(' ')}"\n${USAGE}`);
        return 2;
    }
    return 0;
  } catch (e) {
    return failed(e, io);
  } finally {
    await store.close();
  }
}

class UsageError extends Error {}


/** The exit status of a failed command, its message written: 2 with the usage, 1 with the error's code. */
function failed(e: unknown, io: Io): number {
  if (e instanceof UsageError) {
    io.err(`${e.message}\n${USAGE}`);
    return 2;
  }
  if (isParleyError(e)) {
    io.err(`error (${e.code}): ${e.message}\n`);
    return 1;
  }
  // Anything else is a bug: its stack trace is more use than a one-line message.
  throw e;
}

/** `parley <module> <command> ...`: a module's own command, on the store with the module's storage opened. */
async function runModuleCommand(module: AnyModule, config: Config, args: string[], io: Io): Promise<number> {
  // `parley <module> [--option ...]` runs the module's default command, if it has one.
  const bare = args.length === 0 || args[0]!.startsWith('-');
  const fallback = bare ? module.commands?.find((c) => c.default === true) : undefined;
  const [name, ...rest] = fallback ? [fallback.name, ...args] : args;
  const command = module.commands?.find((c) => c.name === name);
  if (!command) {
    io.err(`unknown command "${module.name} ${args.join(' ')}"\n${USAGE}`);
    return 2;
  }
  const configured = (config.modules as ModuleOptions)[module.name]!;
  if (!configured.enabled) {
    io.err(`the ${module.name} module is not enabled (modules.${module.name}.enabled)\n`);
    return 2;
  }
  // The modules that hear of operators' changes get their storage too: a command's changes go through the gate.
  const listening = listeningModules(config);
  const opened = [module, ...listening.filter((m) => m !== module)];
  const store = await openStoreReady(config, { modules: storageSpecs(opened, config.modules as ModuleOptions) });
  const gate = cliGate(store, config, listening);
  const actor = cliActor();
  // The options the server runs with: the stored live ones win over the file's (docs/settings.md).
  const options = await currentOptions(store, module, configured).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  // A terminal gets one progress line rewritten in place; a pipe or log gets plain lines.
  const tty = process.stderr.isTTY === true;
  try {
    return await command.run(rest, {
      options,
      store,
      out: io.out,
      err: io.err,
      progress: (line) => io.err(tty ? `\r\x1b[K${line}` : `${line}\n`),
      actor,
      change: (kind, about, write) =>
        gate({ type: 'module.change', module: module.name, kind, actor, subject: about.subject ?? null, data: about.data ?? {}, ...(about.secretSubject === true ? { secretSubject: true } : {}) }, write),
    });
  } catch (e) {
    return failed(e, io);
  } finally {
    await store.close();
  }
}

/**
 * Refuses an extra argument after the address: it is most likely a password (or a mistyped flag such as
 * --admn), and silently ignoring it would leave the operator believing it was used.
 */
function noPasswordArg(extra: string | undefined): void {
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument after the address; the password is read from the prompt or standard input, never from the command line`);
  }
}
