/**
 * Parley as the interop tests' third server: parley.test on its own 127.0.0.x address (FEDERATION_ADDRESSES), s2s on
 * 5269 with the certificate the test gives it (issued by the harness's CA for SASL EXTERNAL, or self-signed for
 * dialback), the peers' CA as its trust anchor, dialback allowed, the outsider policy open, and the accounts
 * `<name>@parley.test` (password `pw-<name>`) plus `root@parley.test`, an administrator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { login } from '../../../client/index.js';
import { addUser } from '../../../src/engine/admin-service.js';
import { createSqliteStore } from '../../../src/storage/sqlite/index.js';
import { startServer, type TestServer } from '../../harness.js';
import type { CertPair } from './certs.js';
import { FEDERATION_ADDRESSES } from './index.js';

/** The Parley domain of the interop tests. */
export const PARLEY = 'parley.test';

/** A running Parley for the interop tests, with an administrator's token. */
export interface InteropParley {
  t: TestServer;
  rootToken: string;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

/** Starts Parley with `users` and the certificate `cert`, trusting `caFile` for peers' certificates. */
export async function startInteropParley(users: readonly string[], cert: CertPair, caFile: string): Promise<InteropParley> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-federation-interop-'));
  const path = join(dir, 'parley.db');
  const store = createSqliteStore({ path });
  await store.domains.add(PARLEY, Date.now());
  for (const u of users) await addUser(store, `${u}@${PARLEY}`, `pw-${u}`, { admin: false, iterations: 4096, now: Date.now() });
  await addUser(store, `root@${PARLEY}`, 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  await store.close();
  const t = await startServer({
    storage: { sqlite: { path, synchronous: 'normal' } } as never,
    xmpp: { certificates: { [PARLEY]: { cert: cert.certFile, key: cert.keyFile } } } as never,
    modules: {
      federation: {
        enabled: true,
        listen: { host: FEDERATION_ADDRESSES[PARLEY], port: 5269 },
        tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        trust: { caFile },
        dialback: { enabled: true, allowUntrusted: true },
        policy: { default: { mode: 'open' } },
      },
    } as never,
  });
  const rootToken = (await login(t.url, `root@${PARLEY}`, 'pw-root')).token;
  return {
    t,
    rootToken,
    async close() {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
