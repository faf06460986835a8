/** Options of the extdisco module (`modules.extdisco` in the configuration). */
import { z } from 'zod';

/** One STUN or TURN server clients are told about. */
export const serviceOptions = z
  .strictObject({
    type: z.enum(['stun', 'stuns', 'turn', 'turns']).describe('What the server offers (XEP-0215 §4 registry)'),
    host: z.string().min(1).max(255).describe('Its host name or address, as clients reach it'),
    port: z.number().int().min(1).max(65535).describe('Its port'),
    transport: z.enum(['udp', 'tcp']).optional().describe('The transport, when the server offers only one'),
    name: z.string().max(200).optional().describe('A name a client may show'),
    secret: z.string().min(16).optional().describe('The shared secret of a TURN server that checks time-limited credentials (coturn: use-auth-secret, static-auth-secret)'),
    secretFile: z.string().optional().describe('A file holding that secret (kept out of the configuration)'),
    credentialSeconds: z.number().int().min(60).max(7 * 86_400).default(86_400).describe('How long the credentials given for this server stay valid'),
  })
  .refine((s) => !(s.secret !== undefined && s.secretFile !== undefined), 'give secret or secretFile, not both')
  .refine((s) => s.type.startsWith('turn') || (s.secret === undefined && s.secretFile === undefined), 'only TURN servers take a secret');

/** `modules.extdisco`: XEP-0215 external service discovery (STUN and TURN servers for calls). */
export const extdiscoOptions = z.strictObject({
  enabled: z.boolean().default(false).describe('Tell clients about STUN and TURN servers (XEP-0215), with time-limited TURN credentials'),
  services: z.array(serviceOptions).max(32).default([]).describe('The STUN and TURN servers'),
});

/** One configured service. */
export type ServiceOptions = z.output<typeof serviceOptions>;
