/**
 * The servers Parley is compared with, each started from scratch in a temp dir with its own configuration:
 * Prosody (Debian package `prosody`) and ejabberd (Debian package `ejabberd`). Both are configured alike:
 * one virtual host, c2s on 127.0.0.1 only, no TLS, SASL PLAIN allowed without TLS, passwords stored in plain
 * text, roster/disco/ping/in-band-registration modules (registration closed), no offline storage, no
 * archive, no s2s, no stream management, no rate limits, listen backlog 511 (Node's default, which Parley uses).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, findInTree, killGroup, liveGroups, run, sleep, waitForPort, waitGone } from './proc.js';

/** One account: user<i> with password pass<i>, the names Tsung's ts_jabber derives. */
export interface Account {
  user: string;
  password: string;
}

/** Everything a target needs for one run. */
export interface TargetRun {
  /** Fresh temp dir of this run (mode 0755, so a server running as another user can enter it). */
  dir: string;
  port: number;
  domain: string;
  accounts: Account[];
}

/** A started server. */
export interface Started {
  /** The process whose RSS and CPU time are the server's (lua for Prosody, beam.smp for ejabberd). */
  pid: number;
  stop(): Promise<void>;
  /** The last output of the server, for error reports. */
  output(): string;
}

/** Thrown when a server cannot be measured on this machine or build; the table shows it as not available. */
export class Unavailable extends Error {}

export interface Target {
  name: string;
  /** Version as packaged (or built). */
  version(): Promise<string>;
  /** Why this target cannot run here, or null. */
  check(): Promise<string | null>;
  /** Configuration and, where the server stores accounts in files or a database, the accounts. */
  prepare(r: TargetRun): Promise<void>;
  /** Starts the server and waits until its c2s port accepts connections. */
  start(r: TargetRun): Promise<Started>;
  /** Accounts that can only be created in a running server. */
  register?(r: TargetRun, s: Started): Promise<void>;
  /** Removes what prepare() put outside the run's dir; called after every run, also after a failure. */
  cleanup?(r: TargetRun): void;
  /** How it is configured, one line for the notes. */
  describe: string;
}

/** The Debian package version, or "unknown". */
export async function packageVersion(pkg: string): Promise<string> {
  try {
    const r = await run('dpkg-query', ['-W', '-f=${Version}', pkg], { timeoutMs: 10_000 });
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function onPath(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${cmd}`], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** A child whose output is kept (last 20 kB) for error reports. */
function spawnKept(cmd: string, args: string[], cwd: string, as?: { uid: number; gid: number; home: string }): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(as ? { uid: as.uid, gid: as.gid, env: { ...process.env, HOME: as.home } } : {}),
  });
  if (child.pid !== undefined) {
    liveGroups.add(child.pid);
    child.once('exit', () => liveGroups.delete(child.pid!));
  }
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  return { child, output: () => out };
}

/** Starts a child and waits for its port; kills it and throws if it exits or never listens. */
async function startAndWait(
  cmd: string,
  args: string[],
  r: TargetRun,
  name: string,
  timeoutMs: number,
  as?: { uid: number; gid: number; home: string },
): Promise<{ child: ChildProcess; output: () => string }> {
  const s = spawnKept(cmd, args, r.dir, as);
  const up = await waitForPort(r.port, timeoutMs, () => s.child.exitCode === null && s.child.signalCode === null);
  if (!up) {
    killGroup(s.child.pid!, 'SIGKILL');
    throw new Error(`${name} did not listen on port ${r.port} within ${timeoutMs / 1000} s (exit ${s.child.exitCode ?? s.child.signalCode ?? 'none'}):\n${s.output().slice(-3000)}`);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Prosody
// ---------------------------------------------------------------------------------------------------------------

/** Prosody's file names for a node or host (util.datamanager: every non-alphanumeric byte as %xx). */
function prosodyEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`))
    .join('');
}

/** A Lua string literal. */
function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * How the peers store passwords. `hashed` (the default) stores SCRAM-SHA-256 credentials with the comparison's
 * PBKDF2 iteration count, as Parley does, so that every server derives PBKDF2 on a SASL PLAIN login; `plain`
 * stores the passwords in plain text (the servers then compare strings, which Parley cannot be set up to do).
 */
export type PeerPasswords = 'hashed' | 'plain';

/** Options shared by the peer targets. */
export interface PeerOptions {
  passwords: PeerPasswords;
  /** PBKDF2 iterations of hashed credentials (ejabberd 23.01 always uses 4096). */
  iterations: number;
}

/**
 * The servers a comparison can run, by name (Parley as given, Prosody and ejabberd with `peers`), and those
 * `--servers` names, in its order (default all three); an unknown name exits 2.
 */
export function chooseTargets(parley: Target, peers: PeerOptions, servers: string | undefined): { all: Record<string, Target>; chosen: string[] } {
  const all: Record<string, Target> = { parley, prosody: prosodyTarget(peers), ejabberd: ejabberdTarget(peers) };
  const chosen = (servers ?? 'parley,prosody,ejabberd').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const s of chosen) {
    if (!all[s]) {
      process.stderr.write(`unknown server "${s}" (parley, prosody, ejabberd)\n`);
      process.exit(2);
    }
  }
  return { all, chosen };
}

/** SCRAM-SHA-256 StoredKey and ServerKey (RFC 5802 §3) for a password, hex-encoded as Prosody keeps them. */
function scramSha256Hex(password: string, salt: string, iterations: number): { storedKey: string; serverKey: string } {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest('hex'),
    serverKey: createHmac('sha256', salted).update('Server Key').digest('hex'),
  };
}

/** Prosody as a target. */
export function prosodyTarget(opts: PeerOptions): Target {
  const hashed = opts.passwords === 'hashed';
  return {
  name: 'prosody',
  describe:
    'Prosody: own config in a temp dir; modules roster, saslauth, disco, ping, presence, register (registration closed); ' +
    's2s, tls and offline disabled; ' +
    (hashed
      ? `authentication internal_hashed with password_hash SHA-256 and default_iteration_count ${opts.iterations} (SCRAM credentials in account files, written directly in the internal storage format); `
      : 'authentication internal_plain (plain-text passwords in account files, written directly in the internal storage format); ') +
    'c2s_require_encryption = false, allow_unencrypted_plain_auth = true; ' +
    'limits c2s rate 100mb/s (inert: mod_limits is not loaded); tcp_backlog 511; default network backend (epoll); one Lua process.',
  version: () => packageVersion('prosody'),
  async check() {
    if (!(await onPath('prosody'))) return 'prosody is not installed (apt-get install prosody)';
    return null;
  },
  async prepare(r) {
    const data = join(r.dir, 'data');
    const accounts = join(data, prosodyEncode(r.domain), 'accounts');
    mkdirSync(accounts, { recursive: true });
    mkdirSync(join(r.dir, 'certs'), { recursive: true });
    const cfg = [
      '-- Generated for a benchmark run; everything lives in this directory.',
      'run_as_root = true',
      'daemonize = false',
      `pidfile = ${luaString(join(r.dir, 'prosody.pid'))}`,
      `data_path = ${luaString(data)}`,
      `certificates = ${luaString(join(r.dir, 'certs'))}`,
      'interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${r.port} }`,
      'c2s_direct_tls_ports = { }',
      'network_settings = { tcp_backlog = 511 }',
      'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "register" }',
      'modules_disabled = { "s2s"; "tls"; "offline"; "s2s_auth_certs" }',
      ...(hashed
        ? ['authentication = "internal_hashed"', 'password_hash = "SHA-256"', `default_iteration_count = ${opts.iterations}`]
        : ['authentication = "internal_plain"']),
      'storage = "internal"',
      'c2s_require_encryption = false',
      'allow_unencrypted_plain_auth = true',
      'allow_registration = false',
      'limits = { c2s = { rate = "100mb/s" } }',
      `log = { warn = ${luaString(join(r.dir, 'prosody.log'))} }`,
      `VirtualHost ${luaString(r.domain)}`,
      '',
    ].join('\n');
    writeFileSync(join(r.dir, 'prosody.cfg.lua'), cfg);
    // The layout `prosodyctl register` produces: <data>/<host>/accounts/<user>.dat, holding either the password
    // (internal_plain) or what mod_auth_internal_hashed's create_user stores (hex keys, a UUID as the salt).
    for (const a of r.accounts) {
      let body: string;
      if (hashed) {
        const salt = randomUUID();
        const k = scramSha256Hex(a.password, salt, opts.iterations);
        body = `\t["stored_key"] = ${luaString(k.storedKey)};\n\t["server_key"] = ${luaString(k.serverKey)};\n\t["salt"] = ${luaString(salt)};\n\t["iteration_count"] = ${opts.iterations};\n`;
      } else {
        body = `\t["password"] = ${luaString(a.password)};\n`;
      }
      writeFileSync(join(accounts, `${prosodyEncode(a.user)}.dat`), `return {\n${body}};\n`);
    }
  },
  async start(r) {
    const s = await startAndWait('prosody', ['--config', join(r.dir, 'prosody.cfg.lua'), '-F'], r, 'prosody', 30_000);
    const root = s.child.pid!;
    const pid = findInTree(root, 'lua5.4') ?? findInTree(root, 'lua') ?? root;
    return {
      pid,
      output: s.output,
      async stop() {
        killGroup(root, 'SIGTERM');
        if (!(await waitGone(pid, 15_000))) killGroup(root, 'SIGKILL');
        await waitGone(pid, 5_000);
      },
    };
  },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// ejabberd
// ---------------------------------------------------------------------------------------------------------------

interface EjabberdRun {
  node: string;
  cookie: string;
  ctl: string[];
  uid: number;
  gid: number;
  spool: string;
}

const ejabberdRuns = new Map<string, EjabberdRun>();

/** ejabberd as a target. */
export function ejabberdTarget(opts: PeerOptions): Target {
  const hashed = opts.passwords === 'hashed';
  return {
  name: 'ejabberd',
  describe:
    'ejabberd: own ejabberd.yml and ejabberdctl.cfg in a temp dir (own node name, cookie, Mnesia spool and logs, ' +
    'started directly as the ejabberd user, so with this process\'s open-file limit); one c2s listener on 127.0.0.1 without STARTTLS, backlog 511, no shaper; ' +
    (hashed
      ? 'auth_method internal with auth_password_format scram and auth_scram_hash sha256 (Mnesia; ejabberd 23.01 derives with 4096 iterations); '
      : 'auth_method internal with auth_password_format plain (Mnesia); ') +
    'modules mod_roster (no versioning), mod_disco, ' +
    'mod_ping, mod_register (registration denied); no mod_offline, MAM, stream management, carbons or s2s; accounts ' +
    'created with ejabberd_auth:try_register over Erlang RPC from one helper node (`ejabberdctl register` costs an Erlang VM start per user).',
  version: () => packageVersion('ejabberd'),
  async check() {
    if (!(await onPath('ejabberdctl'))) return 'ejabberd is not installed (apt-get install ejabberd)';
    if (!(await onPath('erl'))) return 'erl (erlang-base) is not on PATH';
    if (process.getuid?.() !== 0) return 'ejabberdctl runs ejabberd as the ejabberd user and must be started as root';
    const id = await run('id', ['-u', 'ejabberd'], { timeoutMs: 10_000 });
    if (id.code !== 0) return 'there is no ejabberd system user';
    return null;
  },
  async prepare(r) {
    const uid = Number((await run('id', ['-u', 'ejabberd'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'ejabberd'])).stdout.trim());
    const spool = join(r.dir, 'spool');
    const logs = join(r.dir, 'logs');
    for (const d of [spool, logs]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    const node = `parleybench${randomBytes(4).toString('hex')}@localhost`;
    const cookie = randomBytes(12).toString('hex');
    const yml = [
      '# Generated for a benchmark run.',
      'hosts:',
      `  - ${JSON.stringify(r.domain)}`,
      'loglevel: warning',
      'hide_sensitive_log_data: true',
      'auth_method: internal',
      ...(hashed ? ['auth_password_format: scram', 'auth_scram_hash: sha256'] : ['auth_password_format: plain']),
      'default_db: mnesia',
      'registration_timeout: infinity',
      'listen:',
      '  -',
      `    port: ${r.port}`,
      '    ip: "127.0.0.1"',
      '    module: ejabberd_c2s',
      '    starttls: false',
      '    starttls_required: false',
      '    backlog: 511',
      '    max_stanza_size: 262144',
      'acl:',
      '  local:',
      '    user_regexp: ""',
      'access_rules:',
      '  local:',
      '    allow: local',
      '  c2s:',
      '    allow: all',
      '  register:',
      '    deny: all',
      'modules:',
      '  mod_disco: {}',
      '  mod_ping: {}',
      '  mod_roster:',
      '    versioning: false',
      '  mod_register:',
      '    access: register',
      '',
    ].join('\n');
    writeFileSync(join(r.dir, 'ejabberd.yml'), yml);
    // ejabberdctl sources this file after its command-line options, so it (not --config) decides the paths.
    const ctlCfg = [
      `ERLANG_NODE=${node}`,
      `EJABBERD_CONFIG_PATH=${join(r.dir, 'ejabberd.yml')}`,
      `EJABBERD_PID_PATH=${join(spool, 'ejabberd.pid')}`,
      'INET_DIST_INTERFACE=127.0.0.1',
      `ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie ${cookie}"`,
      '',
    ].join('\n');
    writeFileSync(join(r.dir, 'ejabberdctl.cfg'), ctlCfg);
    ejabberdRuns.set(r.dir, { node, cookie, ctl: ['--ctl-config', join(r.dir, 'ejabberdctl.cfg'), '--spool', spool, '--logs', logs], uid, gid, spool });
  },
  async start(r) {
    const e = ejabberdRuns.get(r.dir);
    if (!e) throw new Error('ejabberd: prepare() was not called');
    // Started as the ejabberd user directly (ejabberdctl then runs erl itself): run as root, ejabberdctl would
    // switch user with su, whose PAM session lowers the open-file limit to 1024 and so caps ejabberd at about
    // 1000 connections, where the other servers get this process's limit.
    const s = await startAndWait('ejabberdctl', [...e.ctl, 'foreground'], r, 'ejabberd', 90_000, { uid: e.uid, gid: e.gid, home: e.spool });
    const root = s.child.pid!;
    let beam: number | null = null;
    for (let i = 0; i < 50 && beam === null; i++) {
      beam = findInTree(root, 'beam.smp');
      if (beam === null) await sleep(100);
    }
    if (beam === null) {
      killGroup(root, 'SIGKILL');
      throw new Error(`ejabberd: no beam.smp under ejabberdctl:\n${s.output().slice(-2000)}`);
    }
    const pid = beam;
    return {
      pid,
      output: s.output,
      async stop() {
        if (alive(pid)) await run('ejabberdctl', [...e.ctl, 'stop'], { timeoutMs: 60_000, cwd: r.dir }).catch(() => undefined);
        if (!(await waitGone(pid, 30_000))) {
          killGroup(root, 'SIGKILL');
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await waitGone(pid, 5_000);
        }
        killGroup(root, 'SIGKILL'); // the ejabberdctl/su wrappers, if still there
      },
    };
  },
  cleanup(r) {
    ejabberdRuns.delete(r.dir);
  },
  async register(r) {
    const e = ejabberdRuns.get(r.dir);
    if (!e) throw new Error('ejabberd: prepare() was not called');
    // One helper Erlang node registers everybody through RPC (a few ms per account).
    const terms = join(r.dir, 'accounts.terms');
    const bin = (s: string): string => `<<${JSON.stringify(s)}/utf8>>`;
    writeFileSync(terms, r.accounts.map((a) => `{${bin(a.user)}, ${bin(a.password)}}.`).join('\n') + '\n');
    const script = [
      `Node = '${e.node}',`,
      `Host = ${bin(r.domain)},`,
      'pong = net_adm:ping(Node),',
      `{ok, Accounts} = file:consult(${JSON.stringify(terms)}),`,
      'Bad = [{U, Res} || {U, P} <- Accounts, (Res = rpc:call(Node, ejabberd_auth, try_register, [U, Host, P])) =/= ok],',
      'io:format("registered ~p failed ~p ~p~n", [length(Accounts) - length(Bad), length(Bad), lists:sublist(Bad, 3)]),',
      'halt(case Bad of [] -> 0; _ -> 1 end).',
    ].join(' ');
    const helper = `reg${randomBytes(4).toString('hex')}@localhost`;
    const res = await run('erl', ['-sname', helper, '-hidden', '-setcookie', e.cookie, '-noshell', '-kernel', 'inet_dist_use_interface', '{127,0,0,1}', '-eval', script], {
      cwd: r.dir,
      timeoutMs: 120_000 + r.accounts.length * 50,
    });
    if (res.code !== 0) throw new Error(`ejabberd account registration failed (exit ${res.code ?? res.signal}): ${(res.stdout + res.stderr).slice(-2000)}`);
  },
};
}
