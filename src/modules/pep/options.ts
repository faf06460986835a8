/** Options of the pep module (`modules.pep` in the configuration). */
import { z } from 'zod';

/** `modules.pep`: users' personal eventing (XEP-0163) and what rides on it. */
export const pepOptions = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve XEP-0163 personal eventing on every account: publish-subscribe nodes on the bare address, notifications to contacts'),
  maxItemsPerNode: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1000)
    .describe('Most items one node keeps: the ceiling of its max_items (and what `max` means, XEP-0060 §16.4)'),
  maxNodes: z.number().int().min(1).max(10_000).default(100).describe('Most nodes one account holds; one more is refused with resource-constraint'),
  maxItems: z.number().int().min(1).max(1_000_000).default(10_000).describe('Most items one account keeps over all its nodes; one more is refused with resource-constraint'),
  maxBytes: z
    .number()
    .int()
    .min(4096)
    .max(1 << 30)
    .default(8 << 20)
    .describe('Most bytes (UTF-8 XML of the payloads) one account keeps over all its nodes; more is refused with resource-constraint'),
  maxPayloadBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 << 20)
    .default(256 << 10)
    .describe('Largest payload of one item, in UTF-8 bytes of its XML; a larger one is refused with not-acceptable and payload-too-big (XEP-0060 §7.1.3.6)'),
  maxSubscriptionsPerNode: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe('Most explicit subscriptions (XEP-0060 §6.1) one node holds; one more is refused with resource-constraint'),
});

/** The pep module's options, parsed. */
export type PepOptions = z.output<typeof pepOptions>;
