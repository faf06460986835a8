/** Options of the private module (`modules.private` in the configuration). */
import { z } from 'zod';

/** `modules.private`: XEP-0049 private XML storage. */
export const privateOptions = z.strictObject({
  enabled: z.boolean().default(true).describe('Answer XEP-0049 private XML storage iqs (jabber:iq:private): clients keep settings and legacy bookmarks (XEP-0048) on the server'),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 << 20)
    .default(64 << 10)
    .describe('Largest fragment one element may store, in UTF-8 bytes of its XML; a larger one is refused with not-acceptable'),
  maxElements: z.number().int().min(1).max(100_000).default(100).describe('Most fragments (by root element name and namespace) one account may store'),
});
