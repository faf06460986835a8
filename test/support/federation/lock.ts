/**
 * One federation harness at a time on a machine: the peers' addresses and ports (127.0.0.2-6, 5222/5269) and the
 * /etc/hosts block are fixed, while test files run in parallel processes. A lock file created exclusively holds
 * the pid of its owner; a lock whose owner is gone (a crashed run) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the lock lives. */
export const LOCK_FILE = join(tmpdir(), 'parley-federation-peers.lock');

function ownerAlive(): boolean {
  try {
    const pid = Number(readFileSync(LOCK_FILE, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists (another user's); ENOENT from the read: the lock just went away, try again.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits (up to `ms`) until this process holds the lock; resolves with its release. */
export async function acquirePeersLock(ms = 200_000): Promise<() => void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let held = true;
      return () => {
        if (held) rmSync(LOCK_FILE, { force: true });
        held = false;
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!ownerAlive()) {
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
    }
    if (Date.now() > end) throw new Error(`another federation harness (pid ${readFileSync(LOCK_FILE, 'utf8').trim()}) held ${LOCK_FILE} for ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
