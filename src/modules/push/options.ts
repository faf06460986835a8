/** Options of the push module (`modules.push` in the configuration), with their defaults and documentation. */
import { z } from 'zod';

/** `modules.push`: XEP-0357 push notifications to the app servers clients register. */
export const pushOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Answer XEP-0357 enable/disable and publish push notifications to the app servers clients register (nothing is sent until a client enables push)'),
  maxRegistrations: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(5)
    .describe('Most push registrations (app server address and node) one account may hold; one more is refused with policy-violation'),
  coalesceSeconds: z
    .number()
    .min(0)
    .max(3600)
    .default(15)
    .describe('At most one publish per registration in this many seconds: what arrives meanwhile is counted and sent in one publish at the end of the window'),
  includeBody: z
    .boolean()
    .default(false)
    .describe('Send the last message body in the summary (last-message-body). Off by default: the app server, and the vendor push service behind it, would read message content'),
  timeoutSeconds: z
    .number()
    .min(0.1)
    .max(120)
    .default(10)
    .describe('How long to wait for the app server to answer a publish; a publish that times out is retried once after coalesceSeconds (at least one second)'),
});

/** Validated push options. */
export type PushOptions = z.output<typeof pushOptions>;
