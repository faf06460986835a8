/** Opens a fresh store before each contract test and closes it after. */
import { afterEach, beforeEach } from 'vitest';
import type { Store } from '../../ports/store.js';

/** Opens a new, empty store; each call must return an independent one. */
export type StoreFactory = () => Store | Promise<Store>;

/** Registers the hooks and returns an accessor for the current test's store. */
export function useStore(factory: StoreFactory): () => Store {
  let current: Store | null = null;
  beforeEach(async () => {
    current = await factory();
  });
  afterEach(async () => {
    // Tests may close the store themselves; close() must then be a no-op.
    await current?.close();
    current = null;
  });
  return () => {
    if (!current) throw new Error('no store is open');
    return current;
  };
}
