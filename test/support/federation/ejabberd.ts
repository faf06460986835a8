/**
 * ejabberd 23.01 as a federation peer: a private config directory (ejabberd.yml, ejabberdctl.cfg, inetrc), its
 * own spool (Mnesia) and log directories, listening on its own loopback address only, with a MUC host.
 *
 * Facts this relies on (ejabberd 23.01 from Debian):
 * - ejabberdctl run as root executes everything as the `ejabberd` user (su), so its directories are chowned to it.
 * - Its Erlang node must not meet the other Erlang node on this machine (RabbitMQ's, through epmd): the private
 *   ejabberdctl.cfg names its own node, sets ERL_DIST_PORT (no epmd at all: the node listens on that port and
 *   ejabberdctl's commands connect there) and INET_DIST_INTERFACE (loopback).
 * - It resolves names through Erlang's inet (inetrc: the hosts file first), so the harness's /etc/hosts block is
 *   enough; `outgoing_s2s_ipv4_address` makes its outgoing s2s streams come from its own address.
 * - `s2s_use_starttls: required` with `ca_file`/`s2s_cafile` authenticates by SASL EXTERNAL (RFC 6120 §6.4);
 *   XEP-0220 dialback needs `mod_s2s_dialback`, loaded only in dialback mode so EXTERNAL mode proves EXTERNAL.
 * - Its inbound s2s process crashes on a peer certificate carrying an xmppAddr name (see certs.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, run, startChild, stopChild, waitListening, type Child } from './process.js';
import type { CertPair } from './certs.js';
import type { AuthMode, PeerServer } from './prosody.js';

/** What an ejabberd peer needs. */
export interface EjabberdSpec {
  domain: string;
  address: string;
  dir: string;
  cert: CertPair;
  caFile: string;
  mode: AuthMode;
  users: Record<string, string>;
  /** Load mod_s2s_dialback (default: in dialback mode only, so EXTERNAL mode proves EXTERNAL). */
  dialback?: boolean;
}

/** The ejabberd.yml text (YAML; JSON strings are valid YAML scalars). */
export function ejabberdConfig(s: EjabberdSpec, pem: string): string {
  const q = (v: string): string => JSON.stringify(v);
  return `# Written by Parley's federation interop harness.
hosts:
  - ${q(s.domain)}
loglevel: info
certfiles:
  - ${q(pem)}
ca_file: ${q(s.caFile)}
s2s_cafile: ${q(s.caFile)}
s2s_use_starttls: required
s2s_access: s2s
outgoing_s2s_families:
  - ipv4
outgoing_s2s_ipv4_address: ${q(s.address)}
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  s2s:
    allow: all
  muc_create:
    allow: all
listen:
  - port: 5222
    ip: ${q(s.address)}
    module: ejabberd_c2s
    starttls_required: true
    access: c2s
  - port: 5269
    ip: ${q(s.address)}
    module: ejabberd_s2s_in
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_version: {}
  mod_vcard: {}
  mod_caps: {}
  mod_stream_mgmt: {}
  mod_muc:
    host: ${q(`conference.${s.domain}`)}
    access: all
    access_create: muc_create
    access_persistent: muc_create
    access_admin: none
${(s.dialback ?? s.mode === 'dialback') ? '  mod_s2s_dialback: {}\n' : ''}`;
}

/** Starts `ejabberdctl foreground` under a private config directory; registers the users once it runs. */
export async function startEjabberd(s: EjabberdSpec): Promise<PeerServer> {
  const conf = join(s.dir, 'etc');
  const logs = join(s.dir, 'logs');
  const spool = join(s.dir, 'spool');
  for (const d of [conf, logs, spool]) mkdirSync(d, { recursive: true });
  // ejabberd wants the certificate and its key in one file.
  const pem = join(conf, 'server.pem');
  writeFileSync(pem, readFileSync(s.cert.certFile, 'utf8') + readFileSync(s.cert.keyFile, 'utf8'));
  writeFileSync(join(conf, 'ejabberd.yml'), ejabberdConfig(s, pem));
  const distPort = await freePort();
  const node = `ejabberd-parleytest-${distPort}@localhost`;
  writeFileSync(
    join(conf, 'ejabberdctl.cfg'),
    `ERLANG_NODE=${node}\nERL_DIST_PORT=${distPort}\nINET_DIST_INTERFACE=127.0.0.1\nEJABBERD_BYPASS_WARNINGS=true\n`,
  );
  writeFileSync(join(conf, 'inetrc'), '{lookup,["file","native"]}.\n{file, resolv, "/etc/resolv.conf"}.\n');
  run('chown', ['-R', 'ejabberd:ejabberd', s.dir]);
  run('chmod', ['-R', 'u+rwX,go+rX', s.dir]);
  const ctlArgs = ['--config-dir', conf, '--logs', logs, '--spool', spool];
  const ctl = (...args: string[]): string => run('ejabberdctl', [...ctlArgs, ...args], { timeoutMs: 60_000 });
  const child: Child = startChild('ejabberdctl', [...ctlArgs, 'foreground'], { cwd: s.dir });
  const log = (chars = 6_000): string => {
    const files = existsSync(logs) ? readdirSync(logs).filter((f) => f.endsWith('.log')) : [];
    const text = files.map((f) => `--- ${f} ---\n${readFileSync(join(logs, f), 'utf8').slice(-chars)}`).join('\n');
    return `--- ejabberd output ---\n${child.output().slice(-3_000)}\n${text}`;
  };
  await waitListening(child, [[s.address, 5222], [s.address, 5269]], 45_000, () => log());
  const register = (user: string, password: string): void => {
    ctl('register', user, s.domain, password);
  };
  for (const [user, password] of Object.entries(s.users)) register(user, password);
  return {
    name: 'ejabberd',
    domain: s.domain,
    address: s.address,
    c2sPort: 5222,
    log,
    register,
    pids: () => beamPids(node),
    async stop() {
      const beams = beamPids(node);
      try {
        ctl('stop');
      } catch {
        // Not answering: the kills below end it.
      }
      await stopChild(child, 10_000);
      // `ejabberdctl stop` returns before the node has shut down; the next peer on this address needs the ports.
      const end = Date.now() + 15_000;
      while (beams.some(alive)) {
        if (Date.now() > end) for (const pid of beams.filter(alive)) process.kill(pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Whether a process still exists (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The beam.smp processes of this node (their command line names it), for CPU accounting. */
function beamPids(node: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('beam') && cmd.includes(node)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}
