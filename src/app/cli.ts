/**
 * The operator command line: `parley <area> <action> ...`. It works on the configured store directly, so it
 * runs whether or not the server is up (SQLite allows another process alongside; the server notices changes).
 * Passwords come from a prompt or standard input, never from the command line.
 */
import { readPassword } from '../auth/password-input.js';
import { isParleyError } from '../core/errors.js';
import { addDomain, addGroupMember, addUser, groupName, normaliseDomain, normaliseUser, removeDomain, removeUser, setPassword } from '../engine/admin-service.js';
import { openStore, openStoreReady } from './store.js';
import { ConfigError, loadConfig, resolveConfigPath, type Config } from './config.js';

const USAGE = `usage: parley [--config FILE] <command>

  config check                      validate the configuration and print the result
  domain add|remove <domain>        host a domain / stop hosting it (removes its users)
  domain list
  user add <local@domain> [--admin] create an account (password from prompt or stdin)
  user passwd <local@domain>        set a new password (revokes the user's tokens)
  user remove <local@domain>
  user list [domain]
  group add <group> <local@domain>  add a user to a shared group (created if absent)
  group remove <group> <local@domain>
  group list
`;

const COMMANDS = new Set([
  'domain add',
  'domain remove',
  'domain list',
  'user add',
  'user passwd',
  'user remove',
  'user list',
  'group add',
  'group remove',
  'group list',
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
  if (!COMMANDS.has(`${area} ${action}`)) {
    io.err(`unknown command "${args.join(' ')}"\n${USAGE}`);
    return 2;
  }
  // Domain commands see the store as it is; the others get the default domain a fresh install starts with.
  const store = area === 'domain' ? openStore(config) : await openStoreReady(config);
  const now = Date.now();
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new UsageError(`missing ${what}`);
    return v;
  };
  const password = (confirm: boolean): Promise<string> =>
    readPassword({ prompt: 'Password: ', stdin: process.stdin, stderr: process.stderr, confirm });
  try {
    switch (`${area} ${action}`) {
      case 'domain add':
        io.out(`added domain ${await addDomain(store, need(a1, 'domain'), now)}\n`);
        break;
      case 'domain remove':
        io.out(`removed domain ${await removeDomain(store, need(a1, 'domain'))}\n`);
        break;
      case 'domain list':
        for (const d of await store.domains.list()) io.out(`${d}\n`);
        break;
      case 'user add': {
        const who = normaliseUser(need(a1, 'address'));
        noPasswordArg(a2);
        const pw = await password(true);
        io.out(`added user ${await addUser(store, who, pw, { admin, iterations: config.auth.scramIterations, now })}${admin ? ' (admin)' : ''}\n`);
        break;
      }
      case 'user passwd': {
        const who = normaliseUser(need(a1, 'address'));
        noPasswordArg(a2);
        const pw = await password(true);
        io.out(`password changed for ${await setPassword(store, who, pw, config.auth.scramIterations)}\n`);
        break;
      }
      case 'user remove':
        io.out(`removed user ${await removeUser(store, need(a1, 'address'))}\n`);
        break;
      case 'user list':
        // Stored domains are normalised, so the filter must be too (`user list Example.COM`).
        for (const u of await store.accounts.list(a1 === undefined ? undefined : normaliseDomain(a1))) io.out(`${u.address}${u.admin ? ' (admin)' : ''}\n`);
        break;
      case 'group add':
        io.out(`added ${await addGroupMember(store, need(a1, 'group'), need(a2, 'address'))} to ${a1}\n`);
        break;
      case 'group remove': {
        const ok = await store.sharedGroups.removeMember(groupName(need(a1, 'group')), normaliseUser(need(a2, 'address')));
        if (!ok) throw new UsageError(`${a2} is not in group ${a1}`);
        io.out(`removed ${a2} from ${a1}\n`);
        break;
      }
      case 'group list':
        for (const g of await store.sharedGroups.list()) io.out(`${g.name}: ${(await store.sharedGroups.members(g.name)).join(', ')}\n`);
        break;
      default:
        io.err(`unknown command "${args.join(' ')}"\n${USAGE}`);
        return 2;
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${USAGE}`);
      return 2;
    }
    if (isParleyError(e)) {
      io.err(`error (${e.code}): ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}

class UsageError extends Error {}

/**
 * Refuses an extra argument after the address: it is most likely a password (or a mistyped flag such as
 * --admn), and silently ignoring it would leave the operator believing it was used.
 */
function noPasswordArg(extra: string | undefined): void {
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument after the address; the password is read from the prompt or standard input, never from the command line`);
  }
}
