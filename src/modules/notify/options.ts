/** Options of the notify module (`modules.notify` in the configuration), with their defaults and documentation. */
import { z } from 'zod';

/** Longest delay of one escalation step, in seconds (a week). */
export const MAX_STEP_SECONDS = 7 * 86_400;

/** One step of an escalation policy as configured or posted. */
export const stepOptions = z.strictObject({
  delaySeconds: z
    .number()
    .min(0.05)
    .max(MAX_STEP_SECONDS)
    .describe('How long the person this step notified has to acknowledge before the next step runs'),
});

/** `modules.notify`: notifications routed by presence (docs/notifications.md). */
export const notifyOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Accept notifications from business systems and route them to people by presence (docs/notifications.md); off by default'),
  serviceLocalpart: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a lower-case local part: letters, digits, dot, dash, underscore')
    .default('notify')
    .describe('Local part of the per-domain service address notifications come from and replies go to (notify@<domain>); the module keeps an account of that name in every hosted domain'),
  strategy: z
    .enum(['round-robin', 'fewest-open'])
    .default('round-robin')
    .describe('How a group or room role target spreads notifications over its members when a target names none'),
  defaultPolicy: z
    .strictObject({
      steps: z.array(stepOptions).min(1).max(20).describe('The steps, in order: each notifies the next person of the target'),
      repeats: z.number().int().min(0).max(10).describe('How many times the steps run again before the e-mail fallback'),
    })
    .default({ steps: [{ delaySeconds: 300 }, { delaySeconds: 300 }, { delaySeconds: 300 }], repeats: 0 })
    .describe('The escalation policy of notifications that name none (policy "default")'),
  smtp: z
    .strictObject({
      host: z.string().min(1).nullable().default(null).describe('SMTP relay for the e-mail fallback (RFC 5321); null turns the fallback off'),
      port: z.number().int().min(1).max(65_535).default(587).describe('SMTP port: 587 for submission with STARTTLS, 465 for implicit TLS (RFC 8314)'),
      security: z
        .enum(['starttls', 'tls', 'none'])
        .default('starttls')
        .describe('starttls: upgrade with STARTTLS and refuse a server without it (RFC 3207); tls: implicit TLS (RFC 8314); none: plain text, for a relay on the same host only'),
      rejectUnauthorized: z.boolean().default(true).describe('Verify the relay\'s certificate and host name'),
      user: z.string().min(1).nullable().default(null).describe('SMTP AUTH user name (RFC 4954); null: no authentication'),
      password: z.string().nullable().default(null).describe('SMTP AUTH password'),
      from: z
        .string()
        .min(3)
        .nullable()
        .default(null)
        .describe('From address of the e-mails (RFC 5322 §3.6.2), e.g. "Parley <notify@example.com>"; null: the service address of the recipient\'s domain'),
      timeoutSeconds: z.number().min(1).max(300).default(30).describe('Connection and greeting timeout of the relay'),
    })
    .default({ host: null, port: 587, security: 'starttls', rejectUnauthorized: true, user: null, password: null, from: null, timeoutSeconds: 30 })
    .describe('The e-mail fallback: sent when nobody was available or nobody acknowledged by the end of the policy'),
  email: z
    .strictObject({
      useAccountAddress: z
        .boolean()
        .default(true)
        .describe('Mail a person at their Parley address (user@domain) when no e-mail address was set for them through the API'),
    })
    .default({ useAccountAddress: true })
    .describe('Where the e-mail fallback goes'),
  limits: z
    .strictObject({
      maxOpen: z.number().int().min(1).default(100_000).describe('Most notifications open at once; a post beyond it is refused with policy-violation'),
      maxBodyLength: z.number().int().min(1).max(100_000).default(4000).describe('Longest notification body, in characters'),
      maxTitleLength: z.number().int().min(1).max(1000).default(200).describe('Longest notification title, in characters'),
      maxCandidates: z.number().int().min(1).max(10_000).default(500).describe('Most people one target is resolved to'),
      listMax: z.number().int().min(1).max(1000).default(200).describe('Most notifications one list request returns'),
    })
    .default({ maxOpen: 100_000, maxBodyLength: 4000, maxTitleLength: 200, maxCandidates: 500, listMax: 200 })
    .describe('Bounds on what business systems may post'),
});

/** Validated notify options. */
export type NotifyOptions = z.output<typeof notifyOptions>;
