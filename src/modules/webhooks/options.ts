/** Options of the webhooks module (`modules.webhooks` in the configuration). */
import { z } from 'zod';
import { isCidr } from './guard.js';

/** `modules.webhooks`: signed HTTP deliveries of presence changes (docs/webhooks.md). */
export const webhooksOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Deliver presence changes to webhooks: signed HTTP POSTs, retried with backoff, disabled after repeated failure (docs/webhooks.md); needs modules.apikeys and modules.presentities'),
  allowPrivateTargets: z
    .boolean()
    .default(false)
    .describe('Let webhooks target loopback, private (RFC 1918, RFC 4193), link-local (RFC 3927), shared (RFC 6598) and other non-public addresses; off, such targets are refused (server-side request forgery)'),
  allowCidrs: z
    .array(z.string().refine(isCidr, 'a CIDR range: address/prefix length, e.g. 10.1.2.0/24 or fd00::/8'))
    .max(1000)
    .default([])
    .describe('Non-public address ranges webhooks may target anyway (e.g. an internal integration host, 10.1.2.3/32); the rest stay refused'),
  maxPerOwner: z.number().int().min(1).max(100_000).default(100).describe('Most webhooks one account may own'),
  maxConsecutiveFailures: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(10)
    .describe('Failed attempts in a row after which a webhook is disabled, with the reason stored; it is re-enabled through the API'),
  retryMinSeconds: z
    .number()
    .min(0.01)
    .max(3600)
    .default(10)
    .describe('Delay before the first retry; each further retry waits twice as long (with jitter), up to retryMaxSeconds'),
  retryMaxSeconds: z
    .number()
    .min(0.01)
    .max(86_400)
    .default(3600)
    .describe('Longest delay between attempts; also the delay after an answer that says retrying soon will not help (4xx other than 408 and 429), and the most a Retry-After is honoured'),
  timeoutSeconds: z.number().min(0.1).max(120).default(10).describe('Time one attempt may take, redirects included, before it counts as failed'),
  maxRedirects: z.number().int().min(0).max(10).default(3).describe('Redirects followed per attempt; each new target is checked like the first'),
  maxResponseBytes: z.number().int().min(0).max(1 << 20).default(64 << 10).describe('Bytes of a response body read before the connection is dropped (the body is not used)'),
  maxPendingPerWebhook: z
    .number()
    .int()
    .min(16)
    .max(10_000_000)
    .default(10_000)
    .describe('Changes held in memory for one webhook; beyond it they are dropped from memory and read again from the change log by position once the webhook catches up'),
  deliveryLogKeep: z.number().int().min(1).max(100_000).default(100).describe('Attempts kept in each webhook\'s delivery log (the newest)'),
});

/** Validated webhooks options. */
export type WebhooksOptions = z.output<typeof webhooksOptions>;
