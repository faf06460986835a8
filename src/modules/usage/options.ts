/** Options of the usage module (`modules.usage` in the configuration), with their defaults and documentation. */
import { z } from 'zod';

/** `modules.usage`: daily figures for the admin console's charts (docs/admin-data.md). */
export const usageOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Keep daily usage figures: messages, active users, sessions per protocol, peak connections, new accounts (docs/admin-data.md)'),
  flushSeconds: z
    .number()
    .min(0.05)
    .max(300)
    .default(5)
    .describe('How often the figures counted in memory are written to the store (and at shutdown); a crash loses at most this much'),
  retentionDays: z
    .number()
    .int()
    .min(0)
    .max(36_500)
    .default(400)
    .describe('Days the figures are kept before they are pruned (checked hourly); 0 keeps them all'),
});

/** Validated usage options. */
export type UsageOptions = z.output<typeof usageOptions>;
