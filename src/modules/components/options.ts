/** Options of the components module (`modules.components` in the configuration). */
import { z } from 'zod';

const FIELD_TYPE = z.enum(['string', 'number', 'boolean']);
const fieldName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a field name is a letter then up to 63 letters, digits, _ . -');
/** A DNS name in lowercase: labels of letters, digits and hyphens (RFC 7622 §3.2 domainparts of components are hostnames in practice). */
const domainName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, 'a lowercase DNS name with at least two labels, e.g. sensors.example.com');

/** One external component (XEP-0114) and what the things it presents get. */
export const componentOptions = z
  .strictObject({
    domain: domainName.describe('The component\'s domain, e.g. sensors.example.com: a subdomain of a hosted domain, never a hosted domain itself (checked at start). Its things are <node>@<domain>'),
    secret: z.string().min(16).max(1024).optional().describe('The shared secret of the handshake (XEP-0114 §3); at least 16 characters. Never logged. Give this or secretFile'),
    secretFile: z.string().min(1).optional().describe('A file holding the shared secret (trailing whitespace ignored), read at start; instead of secret'),
    owner: z.string().min(3).max(3071).describe('The account that owns the things this component presents (must exist at start); it sees them, and grants add others'),
    kind: z.enum(['thing', 'process']).default('thing').describe('The kind of the things it creates'),
    heartbeatSeconds: z.number().int().min(1).max(7 * 86_400).nullable().default(null).describe('Seconds within which each thing must be reported again or it shows as unknown; null: none'),
    groups: z.array(z.string().min(1).max(256)).max(64).default([]).describe('Groups its things count in (subscriptions and queries by group)'),
    grants: z
      .strictObject({
        users: z.array(z.string().min(3).max(3071)).max(10_000).default([]),
        groups: z.array(z.string().min(1).max(256)).max(1000).default([]),
        domains: z.array(z.string().min(1).max(1023)).max(1000).default([]),
      })
      .default({ users: [], groups: [], domains: [] })
      .describe('Who besides the owner sees its things: users, shared groups, whole domains'),
    fields: z
      .union([z.literal('infer'), z.record(fieldName, FIELD_TYPE).refine((f) => Object.keys(f).length <= 64, 'at most 64 fields')])
      .default('infer')
      .describe('The typed fields its things carry: a map name -> string|number|boolean (others refused), or "infer": each field\'s type is taken from the first report naming it (its type attribute, else string)'),
    maxThings: z.number().int().min(1).max(1_000_000).default(10_000).describe('Most things this component may create; a report of a new thing past it is refused (resource-constraint)'),
  })
  .refine((c) => (c.secret === undefined) !== (c.secretFile === undefined), { message: 'give exactly one of secret and secretFile', path: ['secret'] });

/** `modules.components`: external components (XEP-0114) that present many things at once (docs/presence.md). */
export const componentsOptions = z.strictObject({
  enabled: z.boolean().default(false).describe('Accept XEP-0114 component connections whose things become presentities (needs modules.presentities)'),
  host: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Address the component listener binds. Loopback by default: the XEP-0114 handshake is a SHA-1 over the stream id and the secret, with no encryption, so it is only as strong as the link it runs on'),
  port: z.number().int().min(0).max(65_535).default(5275).describe('Port of the component listener (5275 is the XEP-0114 convention; 0 picks a free one)'),
  allowInsecureRemote: z
    .boolean()
    .default(false)
    .describe('Allow a non-loopback host. The protocol has no TLS: anyone on the path reads every stanza and can replay nothing but can observe; set this only on a link you trust (a private network, a tunnel)'),
  handshakeTimeoutSeconds: z.number().min(1).max(300).default(10).describe('A connection that has not completed its handshake in this time is closed (connection-timeout)'),
  stanzasPerSecond: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(2000)
    .describe('Stanzas one component connection may send per second (burst of the same size); past it the server stops reading that connection until the debt is paid'),
  maxStanzaBytes: z.number().int().min(1024).max(1 << 20).default(65_536).describe('Largest stanza after the handshake (before it, the pre-authentication limits apply)'),
  connectionsPerAddress: z.number().int().min(1).max(10_000).default(32).describe('Connections to the component port from one source address'),
  unauthenticatedPerAddress: z.number().int().min(1).max(10_000).default(8).describe('Connections from one source address that have not completed the handshake'),
  components: z
    .array(componentOptions)
    .max(1000)
    .default([])
    .refine((cs) => new Set(cs.map((c) => c.domain)).size === cs.length, 'each component domain once')
    .describe('The components allowed to connect, one per domain'),
});

/** Validated components options. */
export type ComponentsOptions = z.output<typeof componentsOptions>;
/** One validated component. */
export type ComponentOptions = z.output<typeof componentOptions>;
