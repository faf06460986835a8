/** Options of the audit module (`modules.audit` in the configuration), with their defaults and documentation. */
import { z } from 'zod';

/** `modules.audit`: the operator's trail of every change made to the server (docs/admin-data.md). */
export const auditOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Keep the audit log: every change made to accounts, domains, shared groups, rooms and the modules\' own records, with who made it (docs/admin-data.md)'),
  retentionDays: z
    .number()
    .int()
    .min(0)
    .max(36_500)
    .default(400)
    .describe('Days an entry is kept before it is pruned (checked hourly); 0 keeps every entry'),
});

/** Validated audit options. */
export type AuditOptions = z.output<typeof auditOptions>;
