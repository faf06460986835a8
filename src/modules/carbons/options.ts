/** Options of the carbons module (`modules.carbons` in the configuration). */
import { z } from 'zod';

/** `modules.carbons`: whether clients may enable XEP-0280 Message Carbons. */
export const carbonsOptions = z.strictObject({
  enabled: z.boolean().default(true).describe('Offer XEP-0280 Message Carbons: the enable/disable iqs and the urn:xmpp:carbons:2 server feature'),
});
