/** Options of the conversations module (`modules.conversations` in the configuration). */
import { z } from 'zod';

/** `modules.conversations`: the server-side conversation list, read positions and mentions. */
export const conversationsOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Keep each user\'s conversations with read positions, unread and mention counts (JSON `conversations`, GET /api/v1/conversations)'),
  pageSize: z
    .number()
    .int()
    .min(1)
    .max(500)
    .default(100)
    .describe('Most conversations one page lists (a larger `limit` is lowered to it); page on with `next`'),
});

/** The module's options once validated. */
export type ConversationsOptions = z.output<typeof conversationsOptions>;
