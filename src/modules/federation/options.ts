/** Options of the federation module (`modules.federation` in the configuration): XMPP server-to-server (RFC 6120). */
import { z } from 'zod';

/** A DNS name in lowercase with at least two labels (RFC 7622 §3.2 domainparts of servers are hostnames). */
const domainName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, 'a lowercase DNS name with at least two labels, e.g. partner.example.com');

/** `host:port` (IPv6 literals in brackets: `[::1]:5269`). */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'host:port, e.g. 10.0.0.7:5269 or [2001:db8::7]:5269');

/** A listening address. */
const listenAddress = z.strictObject({
  host: z.string().min(1).default('0.0.0.0').describe('Address to bind'),
  port: z.number().int().min(0).max(65_535).default(5269).describe('Port (0 picks a free one)'),
});

/** A certificate and its key, PEM files. */
const certPair = z.strictObject({
  certFile: z.string().min(1).describe('PEM certificate (chain) whose DNS subjectAltNames cover the domain and its conference subdomain (RFC 6125 DNS-IDs)'),
  keyFile: z.string().min(1).describe('PEM private key of that certificate'),
});

/**
 * Exceptions of one hosted domain's policy (who may talk to whom across the boundary). Groups are shared groups
 * (the names administrators give them); people are bare addresses of local accounts.
 */
const policyException = z.strictObject({
  groups: z.array(z.string().min(1).max(256)).max(1000).default([]).describe('Shared groups whose members this exception covers'),
  people: z.array(z.string().min(3).max(3071)).max(10_000).default([]).describe('Local bare addresses this exception covers'),
  remoteDomains: z
    .array(domainName)
    .max(10_000)
    .default([])
    .describe('The remote domains the covered people may (allow) or may not (deny) talk to; empty: every remote domain'),
  effect: z.enum(['allow', 'deny']).default('allow').describe('allow: these people may talk to these domains even where the mode says no; deny: they may not, even where the mode says yes'),
});

/** One hosted domain's outsider policy. */
export const domainPolicy = z.strictObject({
  mode: z
    .enum(['closed', 'partners', 'open'])
    .default('closed')
    .describe('closed: no federation at all; partners: only the domains under partners; open: any remote domain'),
  partners: z.array(domainName).max(10_000).default([]).describe('Remote domains admitted in partners mode'),
  restrictToGroups: z
    .array(z.string().min(1).max(256))
    .max(1000)
    .default([])
    .describe('If not empty, only members of these shared groups (or people under exceptions with effect allow) may talk to outsiders at all'),
  exceptions: z.array(policyException).max(1000).default([]).describe('Per group or person exceptions, checked in order; the first that matches decides'),
});

/** A domain's policy, parsed. */
export type DomainPolicy = z.output<typeof domainPolicy>;
/** One exception, parsed. */
export type PolicyException = z.output<typeof policyException>;

/** The outsider policy: a default and one per hosted domain (conference subdomains follow their parent). */
export const outsiderPolicy = z.strictObject({
  default: domainPolicy.prefault({}).describe('The policy of every hosted domain not listed under domains'),
  domains: z.record(z.string().min(1), domainPolicy).default({}).describe('Policy per hosted domain (keys are hosted domains)'),
});

/** `modules.federation`: server-to-server federation and the outsider policy (docs/xmpp.md, this module's README). */
export const federationOptions = z.strictObject({
  enabled: z.boolean().default(false).describe('Run XMPP server-to-server federation (listener and outgoing connections)'),
  listen: listenAddress.prefault({}).describe('The s2s listener (STARTTLS required, RFC 6120 §5.3.1); default 0.0.0.0:5269'),
  directTls: listenAddress
    .extend({ port: z.number().int().min(0).max(65_535).default(5270) })
    .optional()
    .describe('Optional XEP-0368 direct-TLS listener (ALPN xmpp-server); off unless given'),
  tls: z
    .strictObject({
      certFile: z.string().min(1).optional().describe('One PEM certificate for all hosted domains (its DNS SANs name each and its conference subdomain)'),
      keyFile: z.string().min(1).optional().describe('Key of that certificate'),
      domains: z.record(z.string().min(1), certPair).default({}).describe('A certificate per hosted domain (also used for its conference subdomain), instead of the shared one'),
    })
    .default({ domains: {} })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'give both certFile and keyFile, or neither', path: ['certFile'] })
    .describe('Certificates presented on s2s streams (both directions); required when enabled: s2s streams are always encrypted'),
  trust: z
    .strictObject({
      caFile: z.string().min(1).optional().describe('PEM bundle of CAs trusted for peers\' certificates instead of the system store'),
    })
    .default({})
    .describe('Trust anchors for SASL EXTERNAL (RFC 6120 §6, XEP-0178)'),
  dialback: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Offer and use XEP-0220 dialback'),
      secret: z.string().min(16).max(1024).optional().describe('Secret of dialback keys (XEP-0220 §2.1.2); if absent a random one per start (keys then only verify against this process). Required, the same on every node, when Parley runs as a cluster'),
      allowUntrusted: z
        .boolean()
        .default(true)
        .describe('Allow dialback when the peer\'s certificate cannot be validated (self-signed, unknown CA); false: only validated certificates (EXTERNAL, or dialback over a validated stream)'),
    })
    .default({ enabled: true, allowUntrusted: true })
    .describe('Server dialback (XEP-0220): a DNS-based weak identity check, where certificates cannot be validated'),
  resolve: z
    .record(domainName, hostPort)
    .default({})
    .describe('Static "domain": "host:port" overrides tried before DNS (tests, pinned partner servers)'),
  timeouts: z
    .strictObject({
      connectSeconds: z.number().min(1).max(300).default(10).describe('TCP connect per address'),
      dnsSeconds: z.number().min(0.1).max(60).default(3).describe('SRV lookup (RFC 6120 §3.2.1) before falling back to the domain on 5269'),
      negotiationSeconds: z.number().min(1).max(600).default(30).describe('Stream setup until authenticated (TLS, SASL or dialback)'),
      idleSeconds: z.number().min(1).max(86_400).default(300).describe('An outgoing stream idle this long is closed (RFC 6120 §4.4)'),
      queueSeconds: z.number().min(1).max(600).default(30).describe('Stanzas queued while a stream is set up are bounced (remote-server-timeout) after this'),
    })
    .prefault({})
    .describe('Timeouts'),
  backoff: z
    .strictObject({
      initialSeconds: z.number().min(0.1).max(3600).default(2).describe('Wait after a failed connection before the next attempt'),
      maxSeconds: z.number().min(1).max(86_400).default(300).describe('Longest wait (the wait doubles per failure)'),
    })
    .prefault({})
    .describe('Retry of failed outgoing connections; stanzas sent during the wait bounce at once (remote-server-not-found)'),
  maxQueuedStanzas: z.number().int().min(1).max(100_000).default(1000).describe('Stanzas queued per remote domain while its stream is set up; past it they bounce (resource-constraint)'),
  stanzasPerSecond: z.number().int().min(1).max(1_000_000).default(500).describe('Stanzas one remote server may send per second over all its streams (token bucket; burst the same); past it reading pauses'),
  maxStanzaBytes: z.number().int().min(1024).max(1 << 20).default(262_144).describe('Largest stanza after authentication (before it the tighter pre-authentication limits apply)'),
  connectionsPerAddress: z.number().int().min(1).max(10_000).default(16).describe('Incoming s2s connections from one source address'),
  policy: outsiderPolicy.prefault({}).describe('The outsider policy (live: `parley settings set federation policy ...`)'),
});

/** Validated federation options. */
export type FederationOptions = z.output<typeof federationOptions>;
/** Validated outsider policy. */
export type OutsiderPolicy = z.output<typeof outsiderPolicy>;
