/** Options of the presentities module (`modules.presentities` in the configuration). */
import { z } from 'zod';

/** `modules.presentities`: presence of people, things and processes for other systems (docs/presence.md). */
export const presentitiesOptions = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Serve presence of people, things and processes to other systems: REST, Server-Sent Events and JSON WebSocket subscriptions (docs/presence.md); needs modules.apikeys'),
  ringSize: z
    .number()
    .int()
    .min(16)
    .max(10_000_000)
    .default(100_000)
    .describe('Recent changes kept in memory so a stream resumes from its last position without a gap, and the most changes a resume replays (older ones come from the stored change log); further behind, a stream gets a fresh snapshot instead'),
  changeLogKeep: z
    .number()
    .int()
    .min(0)
    .default(1_000_000)
    .describe('Changes kept in the stored change log (the positions later consumers follow); older ones are pruned every minute; 0 keeps all'),
  sseHeartbeatSeconds: z
    .number()
    .min(1)
    .max(300)
    .default(15)
    .describe('Seconds between comment lines on an idle event stream, so proxies keep it open'),
  sseMaxBufferedBytes: z
    .number()
    .int()
    .min(65_536)
    .default(8 << 20)
    .describe('Bytes an event stream may have unsent before it is closed (the client resumes from its last position); bounds what a slow reader makes the server hold'),
  maxRequestBytes: z
    .number()
    .int()
    .min(65_536)
    .max(64 << 20)
    .default(4 << 20)
    .describe('Largest request body of the reads and subscriptions that take address lists (thousands of addresses per call)'),
});

/** Validated presentities options. */
export type PresentitiesOptions = z.output<typeof presentitiesOptions>;
