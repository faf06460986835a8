/**
 * The federation interop harness: a temporary directory, a test CA and certificates, the /etc/hosts block, and
 * real Prosody and ejabberd peers on their own loopback addresses, started and stopped for a test file.
 *
 * Addresses and names are fixed (the contract with Parley's federation module): parley.test on 127.0.0.4,
 * prosody.test on 127.0.0.2, ejabberd.test on 127.0.0.3 (and parley2.test on 127.0.0.5 for a second Parley), each with a `conference.` subdomain on the same address.
 *
 * Usage (vitest): `const why = federationPeersUnavailable()` at the top (skip loudly when it is not null), then
 * `peers = await startPeers({ mode: 'external' })` in beforeAll and `await peers.stop()` in afterAll. On a
 * failure, `peers.logs()` is the tail of each peer's log. Test files get all of this, and Parley on parley.test,
 * from interop.ts (federationTestUnavailable, interopServers, peerHooks).
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki, type TestPki } from './certs.js';
import { startEjabberd } from './ejabberd.js';
import { HOSTS_FILE, addHostsBlock, removeHostsBlock } from './hosts.js';
import { acquirePeersLock } from './lock.js';
import { killAllChildren, listening } from './process.js';
import { startProsody, type AuthMode, type PeerServer } from './prosody.js';

export type { AuthMode, PeerServer } from './prosody.js';
export type { TestPki } from './certs.js';

/** The test domains and their loopback addresses. */
export const FEDERATION_ADDRESSES = {
  'prosody.test': '127.0.0.2',
  'ejabberd.test': '127.0.0.3',
  'parley.test': '127.0.0.4',
  /** A second Parley (the Parley-to-Parley benchmark). */
  'parley2.test': '127.0.0.5',
  /** A remote domain a test script plays (the forged-from test's authoritative server). */
  'forger.test': '127.0.0.6',
} as const;

/** Every name the block maps (each domain and its conference subdomain). */
export function hostNames(): Record<string, string> {
  const names: Record<string, string> = {};
  for (const [domain, addr] of Object.entries(FEDERATION_ADDRESSES)) {
    names[domain] = addr;
    names[`conference.${domain}`] = addr;
  }
  return names;
}

const hasCommand = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).error === undefined;

/** Why the real peers cannot run here (missing package, not root), or null when they can. */
export function federationPeersUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the peers run on Linux only';
  if (process.getuid?.() !== 0) return 'the harness runs as root (it edits /etc/hosts and starts the peers as their users)';
  if (!hasCommand('prosody', ['--help'])) return 'prosody is not installed (apt-get install prosody lua-unbound)';
  if (!hasCommand('prosodyctl', ['about'])) return 'prosodyctl is not installed';
  if (!hasLuaUnbound()) return 'lua-unbound is not installed (Prosody cannot read /etc/hosts without it)';
  if (!hasCommand('ejabberdctl', ['help'])) return 'ejabberd is not installed (apt-get install ejabberd)';
  if (!hasCommand('openssl', ['version'])) return 'openssl is not installed';
  try {
    accessSync(HOSTS_FILE, constants.W_OK);
  } catch {
    return `${HOSTS_FILE} is not writable`;
  }
  return null;
}

/** Whether Debian's lua-unbound shared object is present (Prosody loads it as "lunbound"). */
function hasLuaUnbound(): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', 'lua-unbound'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** What to start. */
export interface PeersOptions {
  /** EXTERNAL: CA-issued certificates that every peer trusts; dialback: self-signed ones nobody can validate. */
  mode: AuthMode;
  /** Which peers (default both). */
  peers?: Array<'prosody' | 'ejabberd'>;
  /** Users per peer: local part -> password (default alice/bob/carol with "pw-" + name). */
  users?: Record<string, string>;
  /**
   * Whether ejabberd also offers and falls back to dialback in EXTERNAL mode (default: only in dialback mode). With
   * it, a peer that does not offer ejabberd SASL EXTERNAL is still reached (ejabberd retries with dialback when
   * EXTERNAL is not offered, as its packaged configuration does).
   */
  ejabberdDialback?: boolean;
  /** Prosody's log level (default debug). */
  prosodyLogLevel?: 'debug' | 'info';
  /** Whether Prosody archives messages (mod_mam; default true). */
  prosodyArchive?: boolean;
  /** Prosody's storage (ProsodySpec.storage; default its files). */
  prosodyStorage?: 'internal' | 'sqlite';
}

/** The running peers and what the harness made. */
export interface Peers {
  dir: string;
  pki: TestPki;
  mode: AuthMode;
  prosody?: PeerServer;
  ejabberd?: PeerServer;
  /** The tail of every running peer's log. */
  logs(): string;
  /** Stops the peers, removes the hosts block and the directory (safe to call twice). */
  stop(): Promise<void>;
}

/** Default users on every peer. */
export const PEER_USERS: Record<string, string> = { alice: 'pw-alice', bob: 'pw-bob', carol: 'pw-carol' };

let exitHookInstalled = false;

/** Makes certificates, writes the hosts block and starts the peers (both in parallel). */
export async function startPeers(o: PeersOptions): Promise<Peers> {
  // Test files run in parallel; the addresses and the hosts block are one per machine.
  const release = await acquirePeersLock();
  // A peer left running by a crashed run would answer in place of the one started here.
  for (const domain of ['prosody.test', 'ejabberd.test'] as const) {
    const addr = FEDERATION_ADDRESSES[domain];
    for (const port of [5222, 5269]) {
      if (await listening(addr, port)) {
        release();
        throw new Error(`something already listens on ${addr}:${port} (${domain}'s address): a peer from an earlier run?`);
      }
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-federation-'));
  spawnSync('chmod', ['755', dir]);
  let pki: TestPki;
  try {
    pki = makeTestPki(join(dir, 'pki'), Object.keys(FEDERATION_ADDRESSES));
  } catch (e) {
    release();
    throw e;
  }
  const undoHosts = addHostsBlock(hostNames());
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test file that dies without afterAll still leaves no peer running and no block behind.
    process.once('exit', () => {
      killAllChildren();
      removeHostsBlock();
    });
  }
  const which = o.peers ?? ['prosody', 'ejabberd'];
  const users = o.users ?? PEER_USERS;
  const certOf = (domain: string) => (o.mode === 'external' ? pki.issued[domain]! : pki.selfSigned[domain]!);
  const peers: Peers = {
    dir,
    pki,
    mode: o.mode,
    logs: () => [peers.prosody?.log(), peers.ejabberd?.log()].filter(Boolean).join('\n'),
    async stop() {
      await Promise.all([peers.prosody?.stop(), peers.ejabberd?.stop()]);
      peers.prosody = undefined;
      peers.ejabberd = undefined;
      undoHosts();
      rmSync(dir, { recursive: true, force: true });
      release();
    },
  };
  const started = await Promise.allSettled([
    which.includes('prosody')
      ? startProsody({ domain: 'prosody.test', address: FEDERATION_ADDRESSES['prosody.test'], dir: join(dir, 'prosody'), cert: certOf('prosody.test'), caFile: pki.caFile, mode: o.mode, users, logLevel: o.prosodyLogLevel ?? 'debug', archive: o.prosodyArchive ?? true, storage: o.prosodyStorage })
      : Promise.resolve(undefined),
    which.includes('ejabberd')
      ? startEjabberd({ domain: 'ejabberd.test', address: FEDERATION_ADDRESSES['ejabberd.test'], dir: join(dir, 'ejabberd'), cert: certOf('ejabberd.test'), caFile: pki.caFile, mode: o.mode, users, dialback: o.ejabberdDialback ?? o.mode === 'dialback' })
      : Promise.resolve(undefined),
  ]);
  const [p, e] = started;
  if (p.status === 'fulfilled') peers.prosody = p.value;
  if (e.status === 'fulfilled') peers.ejabberd = e.value;
  const failures = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    await peers.stop();
    throw new Error(`federation peers did not start:\n${failures.map((f) => String((f.reason as Error).message ?? f.reason)).join('\n')}`);
  }
  return peers;
}
