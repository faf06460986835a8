/** Options of the blocking module (`modules.blocking` in the configuration). */
import { z } from 'zod';

/** `modules.blocking`: whether users may manage their block lists (XEP-0191 and the JSON block.* operations). */
export const blockingOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Let users manage their block lists: the XEP-0191 blocklist/block/unblock iqs, the urn:xmpp:blocking feature and the JSON block.list/add/remove operations'),
});
