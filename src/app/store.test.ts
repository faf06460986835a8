import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../ports/store.js';
import { FIXTURE_MODULE, fixtureSpec, type FixtureArea } from '../storage/contract/fixture-area.js';
import { dm } from '../storage/contract/fixtures.js';
import { validateConfig } from './config.js';
import { openStore, openStoreReady } from './store.js';

describe('opening the store with modules', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-open-store-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Puts, reads back and checks that the participant saw an append. */
  const exercise = async (store: Store): Promise<void> => {
    const area = store.area<FixtureArea>(FIXTURE_MODULE);
    await area.put('k', 'v');
    expect(await area.get('k')).toBe('v');
    const [res] = await store.messages.append([dm('alice@a.test', 'bob@a.test', 'hi')]);
    expect(await area.seen()).toEqual([res!.record.seq]);
  };

  it.each([
    ['memory', { storage: { adapter: 'memory' } }, false],
    ['SQLite in process, importing the area here', { storage: { sqlite: { path: 'in-process.db', worker: false } } }, true],
    ['SQLite on its worker thread', { storage: { sqlite: { path: 'worker.db' } } }, true],
  ])('%s', async (_name, raw, thread) => {
    const sqlite = (raw.storage as { sqlite?: { path: string } }).sqlite;
    if (sqlite) sqlite.path = join(dir, sqlite.path);
    const store = await openStoreReady(validateConfig(raw), { thread, modules: [fixtureSpec] });
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });

  it('refuses a module without storage for the configured adapter', async () => {
    const config = validateConfig({ storage: { adapter: 'memory' } });
    await expect(openStore(config, [{ name: 'sqlite-only', sqlite: fixtureSpec.sqlite! }])).rejects.toThrow(/"sqlite-only" brings no storage for the memory store/);
  });
});
