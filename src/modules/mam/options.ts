/** Options of the mam module (`modules.mam` in the configuration). */
import { z } from 'zod';

/** `modules.mam`: whether XMPP clients may query the message archive (XEP-0313). */
export const mamOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Answer XEP-0313 archive queries (urn:xmpp:mam:2) for accounts and rooms and announce the feature; the JSON history operation is not affected'),
});
