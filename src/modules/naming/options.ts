/** Options of the naming module (`modules.naming` in the configuration). */
import { z } from 'zod';

/**
 * Mailbox names RFC 2142 reserves for a domain's operators, and a few more that impersonate the server or its
 * staff. Only an administrator may create them (in-band registration may not).
 */
export const DEFAULT_RESERVED = [
  'abuse', 'admin', 'administrator', 'hostmaster', 'info', 'noc', 'postmaster', 'root', 'security', 'support',
  'sysadmin', 'webmaster', 'www', 'xmpp', 'parley', 'compliance', 'helpdesk', 'it',
];

/** A regular expression that compiles (with the `u` flag), matched against the whole local part. */
const pattern = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => {
    try {
      new RegExp(`^(?:${p})$`, 'u');
      return true;
    } catch {
      return false;
    }
  }, 'not a valid regular expression');

/** One domain's naming rules. */
export const namingPolicy = z.strictObject({
  localPattern: pattern
    .nullable()
    .default(null)
    .describe('Regular expression every local part must match as a whole, e.g. "[a-z]+\\\\.[a-z]+" for first.last (null: any)'),
  patternHint: z.string().max(256).nullable().default(null).describe('The rule in words, for the error a refused address gets, e.g. "first.last in lower case"'),
  minLength: z.number().int().min(1).max(1023).default(1).describe('Fewest characters of a local part'),
  maxLength: z.number().int().min(1).max(1023).default(64).describe('Most characters of a local part'),
  reserved: z
    .array(z.string().min(1).max(1023))
    .default(DEFAULT_RESERVED)
    .describe('Local parts only an administrator may create (in-band registration may not)'),
  displayNamePattern: pattern
    .nullable()
    .default(null)
    .describe('Regular expression every name a person shows others (a vCard\'s FN and NICKNAME, a PEP nickname) must match as a whole, e.g. "\\p{Lu}\\p{Ll}+ \\p{Lu}\\p{Ll}+" for "First Last" (null: any)'),
  displayNameHint: z.string().max(256).nullable().default(null).describe('The display-name rule in words, for the error a refused name gets, e.g. "first and last name, capitalised"'),
  blocked: z
    .array(z.string().min(2).max(256))
    .default([])
    .describe('Words no local part may contain, whoever creates it, compared without case, separators or look-alike digits (0→o, 1→i, 3→e, 4→a, 5→s, 7→t, 8→b)'),
})
  // Said at the field, in the words the admin console's Policies form labels the two fields with.
  .refine((p) => p.minLength <= p.maxLength, { message: '"Max length" is less than "Min length"', path: ['maxLength'] });

/** A domain's naming rules, parsed. */
export type NamingPolicy = z.output<typeof namingPolicy>;

/** `modules.naming`: rules for the addresses accounts get. */
export const namingOptions = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Check every new account\'s address against its domain\'s naming rules'),
    default: namingPolicy.prefault({}).describe('The rules of every domain not listed under domains'),
    domains: z.record(z.string().min(1), namingPolicy).default({}).describe('Rules per domain, instead of the default (each key a hosted domain)'),
  });
