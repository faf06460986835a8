/**
 * The one contract every Store adapter must pass. Adapter test files call describeStoreContract with a
 * factory; the memory adapter is the reference, so a test that only one adapter passes is a bug in the other.
 */
import { describe, expect, it } from 'vitest';
import { appendContract } from './append-contract.js';
import { deliveryContract } from './delivery-contract.js';
import { directoryContract } from './directory-contract.js';
import { dm } from './fixtures.js';
import { useStore, type StoreFactory } from './harness.js';
import { historyContract } from './history-contract.js';
import { incarnationContract } from './incarnation-contract.js';
import { logConsumersContract } from './log-consumers-contract.js';
import { moduleContract } from './module-contract.js';
import { profilesContract } from './profiles-contract.js';
import { roomsContract } from './rooms-contract.js';
import { secretsContract } from './secrets-contract.js';
import { settingsContract } from './settings-contract.js';
import { socialContract } from './social-contract.js';

/** Re-exported so adapter test files need only this module. */
export type { StoreFactory } from './harness.js';

/**
 * Registers the full Store contract suite for one adapter under `describe(name)`. The factory must open the store
 * with the fixture module's area (fixture-area.ts) under its name.
 */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    const store = useStore(factory);
    directoryContract(store);
    socialContract(store);
    roomsContract(store);
    appendContract(store);
    historyContract(store, factory);
    deliveryContract(store);
    profilesContract(store);
    incarnationContract(store);
    secretsContract(store);
    settingsContract(store);
    logConsumersContract(store);
    moduleContract(store);

    describe('store lifecycle', () => {
      it('dataVersion is an integer that stays put while nobody else writes', async () => {
        const s = store();
        const v = await s.dataVersion();
        expect(Number.isInteger(v)).toBe(true);
        expect(await s.dataVersion()).toBe(v);
      });

      it('close flushes pending appends, may be repeated, and later appends are refused', async () => {
        const s = store();
        const pending = [s.messages.append([dm('a@a.test', 'b@a.test', '1')]), s.messages.append([dm('a@a.test', 'b@a.test', '2')])];
        await s.close();
        const settled = await Promise.all(pending);
        expect(settled.map(([r]) => r!.record.body)).toEqual(['1', '2']);
        await s.close();
        await expect(s.messages.append([dm('a@a.test', 'b@a.test', '3')])).rejects.toMatchObject({ code: 'service-unavailable' });
      });
    });
  });
}
