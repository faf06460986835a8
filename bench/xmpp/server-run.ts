/**
 * One run of one server, as both XMPP benchmarks (compare.ts, idle.ts) do it: a fresh temp dir with accounts
 * user1…userN (passwords pass1…passN), the target's prepare, start and register, one probe login with SASL
 * PLAIN, then the benchmark's own part; afterwards, also after a failure or an interrupt, the server is stopped
 * and the run removed.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../lib/server.js';
import { Unavailable, type Account, type Started, type Target, type TargetRun } from './peers.js';
import { log, probeXmppLogin, type ActiveRun } from './proc.js';

/** A started server, ready for the benchmark. */
export interface ServerRun {
  r: TargetRun;
  started: Started;
  /** Seconds from prepare() to a successful probe login. */
  setupSeconds: number;
}

/** Why a run gave no figures: the server cannot run here (unavailable), or something went wrong (failed). */
export interface RunFailure {
  status: 'unavailable' | 'failed';
  reason: string;
  keptDir?: string;
}

export interface ServerRunOptions {
  /** Prefix of the temp dir's name. */
  prefix: string;
  domain: string;
  users: number;
  /** Keep the temp dir (configuration, logs) after the run. */
  keep: boolean;
  /** Called before the server is stopped (after the benchmark, on failure and on interrupt): close clients. */
  beforeStop?: () => void;
}

let active: ActiveRun | null = null;

/** The run in progress, if any: what an interrupt must stop and remove (see onInterrupt). */
export function activeRun(): ActiveRun | null {
  return active;
}

/** Runs `body` against a freshly set up `target`; its result, or why there is none. */
export async function withServer<T>(target: Target, opts: ServerRunOptions, body: (run: ServerRun) => Promise<T>): Promise<T | RunFailure> {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix));
  chmodSync(dir, 0o755); // ejabberd runs as its own user and must reach its spool inside
  const accounts: Account[] = Array.from({ length: opts.users }, (_, i) => ({ user: `user${i + 1}`, password: `pass${i + 1}` }));
  const r: TargetRun = { dir, port: await freePort(), domain: opts.domain, accounts };
  let started: Started | null = null;
  const kept = opts.keep ? { keptDir: dir } : {};
  const cleanup = (): void => {
    target.cleanup?.(r);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  active = {
    stop: async () => {
      opts.beforeStop?.();
      await started?.stop();
    },
    cleanup,
  };
  try {
    const t0 = Date.now();
    await target.prepare(r);
    started = await target.start(r);
    if (target.register) await target.register(r, started);
    const probe = await probeXmppLogin(r.port, r.domain, accounts[0]!.user, accounts[0]!.password);
    if (probe) throw new Error(`login probe as ${accounts[0]!.user} failed: ${probe}`);
    return await body({ r, started, setupSeconds: (Date.now() - t0) / 1000 });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (e instanceof Unavailable) return { status: 'unavailable', reason };
    const output = started?.output().slice(-1500);
    return { status: 'failed', reason: output ? `${reason}\nserver output:\n${output}` : reason, ...kept };
  } finally {
    opts.beforeStop?.();
    if (started) await started.stop().catch((e: unknown) => log(`${target.name}: stop failed: ${String(e)}`));
    cleanup();
    active = null;
  }
}
