/**
 * Prosody 0.12 as a federation peer: a config file written by the test, its own data directory, log and pid file,
 * listening for clients (5222) and servers (5269) on its own loopback address only, with a MUC component.
 *
 * Facts this relies on (Prosody 0.12.3 from Debian):
 * - Prosody refuses to start as root (mod_posix: "Refusing to run as root") unless `run_as_root = true`;
 *   prosodyctl would otherwise switch to the `prosody` user. The harness runs as root, so it sets the option
 *   (its files then stay in a root-owned temporary directory).
 * - Prosody resolves names only through lua-unbound; `unbound = { hoststxt = "/etc/hosts" }` makes it read the
 *   harness's /etc/hosts block (without lua-unbound every s2s attempt fails with remote-server-not-found).
 * - `s2s_secure_auth = true` with `ssl.cafile` requires a certificate that validates (SASL EXTERNAL, RFC 6120
 *   §6.4; RFC 6125 DNS-ID matching); with `s2s_secure_auth = false` an unvalidated certificate leaves XEP-0220
 *   dialback as the way in. Encryption stays required either way (`s2s_require_encryption`).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, startChild, stopChild, waitListening, type Child } from './process.js';
import type { CertPair } from './certs.js';

/** How a peer authenticates federated streams. */
export type AuthMode = 'external' | 'dialback';

/** What a Prosody peer needs. */
export interface ProsodySpec {
  domain: string;
  address: string;
  dir: string;
  cert: CertPair;
  caFile: string;
  mode: AuthMode;
  users: Record<string, string>;
  /** Log level (default debug: the s2s negotiation in full for failures; benchmarks use info). */
  logLevel?: 'debug' | 'info';
  /**
   * Whether users' messages are archived (mod_mam, default true). On Prosody's default file storage this cost
   * several ms of CPU per message in the federation benchmark, more than the link itself, so that turns it off.
   */
  archive?: boolean;
  /**
   * Where Prosody keeps its data: its default files ('internal'), or one SQLite database through mod_storage_sql
   * ('sqlite', Debian's lua-dbi-sqlite3), the like of Parley's store for a benchmark where both archive messages.
   */
  storage?: 'internal' | 'sqlite';
}

/** A running Prosody. */
export interface PeerServer {
  name: 'prosody' | 'ejabberd';
  domain: string;
  address: string;
  c2sPort: number;
  /** The last `chars` characters of its log (for failure messages). */
  log(chars?: number): string;
  /** Registers another user (password given). */
  register(user: string, password: string): void;
  /** The process ids of the server (for CPU accounting from /proc). */
  pids(): number[];
  stop(): Promise<void>;
}

const lua = (s: string): string => JSON.stringify(s);

/** The config file's text. */
export function prosodyConfig(s: ProsodySpec): string {
  const data = join(s.dir, 'data');
  return `-- Written by Parley's federation interop harness.
run_as_root = true
daemonize = false
pidfile = ${lua(join(s.dir, 'prosody.pid'))}
data_path = ${lua(data)}
log = { ${s.logLevel ?? 'debug'} = ${lua(join(s.dir, 'prosody.log'))} }
interfaces = { ${lua(s.address)} }
local_interfaces = { ${lua(s.address)} }
c2s_interfaces = { ${lua(s.address)} }
c2s_ports = { 5222 }
s2s_interfaces = { ${lua(s.address)} }
s2s_ports = { 5269 }
http_ports = { }
https_ports = { }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
unbound = { hoststxt = "/etc/hosts" }
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "posix", "version", "vcard_legacy", "carbons"${s.archive === false ? '' : ', "mam"'} }
modules_disabled = { "s2s_bidi" }
authentication = "internal_hashed"
${s.storage === 'sqlite' ? `storage = "sql"\nsql = { driver = "SQLite3", database = ${lua(join(data, 'prosody.sqlite'))} }\n` : ''}c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = ${s.mode === 'external' ? 'true' : 'false'}
ssl = { certificate = ${lua(s.cert.certFile)}, key = ${lua(s.cert.keyFile)}, cafile = ${lua(s.caFile)} }
VirtualHost ${lua(s.domain)}
Component ${lua(`conference.${s.domain}`)} "muc"
  restrict_room_creation = false
`;
}

/** Writes the config, registers the users, starts `prosody --config FILE -F` and waits until it listens. */
export async function startProsody(s: ProsodySpec): Promise<PeerServer> {
  mkdirSync(join(s.dir, 'data'), { recursive: true });
  const config = join(s.dir, 'prosody.cfg.lua');
  writeFileSync(config, prosodyConfig(s));
  const logFile = join(s.dir, 'prosody.log');
  const register = (user: string, password: string): void => {
    run('prosodyctl', ['--config', config, 'register', user, s.domain, password]);
  };
  for (const [user, password] of Object.entries(s.users)) register(user, password);
  const child: Child = startChild('prosody', ['--config', config, '-F'], { cwd: s.dir });
  const log = (chars = 6_000): string => {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    return `--- prosody output ---\n${child.output().slice(-2_000)}\n--- prosody.log ---\n${text.slice(-chars)}`;
  };
  await waitListening(child, [[s.address, 5222], [s.address, 5269]], 20_000, () => log());
  return {
    name: 'prosody',
    domain: s.domain,
    address: s.address,
    c2sPort: 5222,
    log,
    register,
    pids: () => (child.proc.pid === undefined ? [] : [child.proc.pid]),
    async stop() {
      await stopChild(child);
      appendFileSync(logFile, '\n-- stopped by the harness --\n');
    },
  };
}
