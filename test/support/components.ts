/**
 * Shared set-up of the tests that run a server with XEP-0114 components played by slixmpp
 * (test/xmpp/slix-component.ts): the accounts are made in the database before the server starts (a component's
 * owner must exist when the components module checks its options), and everything is stopped in one call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUser } from '../../src/engine/admin-service.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import type { TestServer } from '../harness.js';
import { SlixComponent } from '../xmpp/slix-component.js';
import { SlixClient } from '../xmpp/slix.js';

/** A database in a new temporary directory, with the domain localhost and `users` (each's password pw-<local part>). */
export async function databaseWithUsers(prefix: string, users: readonly string[]): Promise<{ dir: string; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), `parley-${prefix}-`));
  const path = join(dir, 'parley.db');
  const store = createSqliteStore({ path });
  await store.domains.add('localhost', 0);
  for (const u of users) await addUser(store, u, `pw-${u.split('@')[0]}`, { admin: false, iterations: 4096, now: Date.now() });
  await store.close();
  return { dir, path };
}

/** The storage section of a server on the database at `path`. */
export const sqliteAt = (path: string): never => ({ sqlite: { path, synchronous: 'normal' } }) as never;

/** Starts a slixmpp component connecting to `port` as `domain`, and waits until its stream is open. */
export async function componentOnline(port: number, domain: string, secret: string): Promise<SlixComponent> {
  const c = SlixComponent.start(port, domain, secret);
  await c.waitFor('session_start', () => true, 15_000);
  return c;
}

/** Kills every slixmpp client and component, closes the server and removes the directory (each if there is one). */
export async function stopAll(t: TestServer | undefined, dir: string): Promise<void> {
  await SlixClient.killAll();
  await SlixComponent.killAll();
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
