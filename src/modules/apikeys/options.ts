/** Options of the apikeys module (`modules.apikeys` in the configuration). */
import { z } from 'zod';

/** `modules.apikeys`: scoped API keys for other systems, and their per-key rate limit. */
export const apikeysOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Issue scoped API keys to other systems (docs/presence.md, "API keys"); other modules check them through the apikeys service'),
  requestsPerSecond: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(20)
    .describe('Requests each API key (and each user calling with a session token) may make per second, with a burst of the same size; over it a request is refused with rate-limited'),
  usersMayCreate: z
    .boolean()
    .default(true)
    .describe('Let users create keys for themselves (a key never sees more than its owner); administrators create keys for any owner either way'),
  maxKeysPerOwner: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(100)
    .describe('Most keys (not revoked) one owner may hold'),
  cacheSeconds: z
    .number()
    .min(0)
    .max(3600)
    .default(5)
    .describe('How long a verified key is trusted without reading the store again: a key revoked with `parley apikeys revoke` (another process) stops working within this time; one revoked over HTTP at once'),
});

/** Validated apikeys options. */
export type ApiKeysOptions = z.output<typeof apikeysOptions>;
