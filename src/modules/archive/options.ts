/** The archive's options (`modules.archive` in the configuration), with their defaults and documentation. */
import { z } from 'zod';
import { isValidKeyName } from './note.js';

/** Options of the compliance archive. */
export const archiveOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Journal every message and change for compliance (docs/archive.md); off by default'),
  origin: z
    .string()
    .refine(isValidKeyName, 'an origin has no spaces and no "+" (it names the signing key, C2SP signed-note)')
    .default('parley-archive')
    .describe('The log\'s origin line in checkpoints and the signing key\'s name; use your domain, e.g. example.com/archive'),
  checkpointSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(300)
    .describe('How often a checkpoint (signed tree head) is signed when entries were added'),
  retention: z
    .strictObject({
      defaultMaxDays: z
        .number()
        .int()
        .min(0)
        .nullable()
        .default(null)
        .describe('Days message content is kept when no domain or room policy applies; null keeps it forever'),
      minimumDays: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('A floor no policy may go below, in days (e.g. 2190, six years, for FINRA Rule 4511 records)'),
      runHours: z
        .number()
        .min(0)
        .max(500)
        .default(24)
        .describe('Hours between retention runs in the server; 0 runs retention only by `parley archive retention run` (at most 500)'),
    })
    .refine((r) => r.defaultMaxDays === null || r.defaultMaxDays >= r.minimumDays, 'defaultMaxDays is below minimumDays')
    .default({ defaultMaxDays: null, minimumDays: 0, runHours: 24 })
    .describe('Retention of message content (docs/archive-retention.md)'),
  supervision: z
    .strictObject({
      samplePercent: z
        .number()
        .min(0)
        .max(100)
        .default(0)
        .describe('Share of all messages sent to the review queue at random (chosen from the leaf hash, so reruns agree)'),
    })
    .default({ samplePercent: 0 })
    .describe('Supervision: lexicon and sampling review of messages (docs/archive-retention.md)'),
});

/** Validated archive options. */
export type ArchiveOptions = z.output<typeof archiveOptions>;
