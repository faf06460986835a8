/** Options of the search module (`modules.search` in the configuration). */
import { z } from 'zod';

/** `modules.search`: full-text search of a user's own history. */
export const searchOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Index message bodies and let users search their own history (JSON `search`, GET /api/v1/search, XEP-0431 in MAM)'),
  maxResults: z
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .describe('Most hits one search returns (a larger `limit` is lowered to it); page on with `next`'),
});

/** The module's options once validated. */
export type SearchOptions = z.output<typeof searchOptions>;
