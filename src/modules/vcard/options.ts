/** Options of the vcard module (`modules.vcard` in the configuration). */
import { z } from 'zod';

/** `modules.vcard`: whether users may publish and read vCards over XMPP (XEP-0054). */
export const vcardOptions = z.strictObject({
  enabled: z.boolean().default(true).describe('Answer XEP-0054 vCard iqs (vcard-temp) and announce the feature for the server and accounts'),
});
