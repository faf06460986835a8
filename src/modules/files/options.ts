/** Options of the files module (`modules.files` in the configuration). */
import { z } from 'zod';

const MiB = 1 << 20;
const GiB = 1 << 30;

/** `modules.files.clamd`: the ClamAV daemon every upload is streamed to before it is stored (docs/files.md). */
const clamdOptions = z
  .strictObject({
    socket: z.string().min(1).nullable().default(null).describe("clamd's LocalSocket (a unix socket path); with it (or host) every upload is scanned"),
    host: z.string().min(1).nullable().default(null).describe("clamd's TCPAddr, when it listens on TCP instead of a unix socket"),
    port: z.number().int().min(1).max(65535).default(3310).describe("clamd's TCPSocket"),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(30_000)
      .describe('Time clamd may take to accept a connection, to read a chunk, and to answer once the whole file was sent; past it the upload is refused'),
    required: z
      .boolean()
      .default(true)
      .describe('Refuse uploads while clamd cannot scan them (down, timed out, over its limits); false stores them unscanned with a warning (not recommended)'),
    checkSeconds: z.number().min(1).max(3600).default(30).describe('How often clamd is asked for its VERSION, for /health'),
  })
  .refine((c) => c.socket === null || c.host === null, 'give clamd.socket or clamd.host, not both');

/** `modules.files`: XEP-0363 HTTP File Upload and the same through the JSON and HTTP APIs (docs/files.md). */
export const filesOptions = z.strictObject({
  enabled: z.boolean().default(false).describe('Serve file uploads and downloads (XEP-0363, JSON files.slot, POST /api/v1/files/slots); docs/files.md'),
  directory: z.string().min(1).default('./data/files').describe('Where stored files are kept (created if missing; uploads in progress in its .incoming folder)'),
  maxFileBytes: z.number().int().min(1).max(64 * GiB).default(100 * MiB).describe('Largest file one slot may be for (announced in disco#info as max-file-size, XEP-0363 §2)'),
  perUserDailyBytes: z
    .number()
    .int()
    .min(0)
    .default(1 * GiB)
    .describe("Bytes one account may upload in any 24 hours (open slots count); 0: no limit"),
  totalBytes: z.number().int().min(0).default(50 * GiB).describe('Bytes all stored files may take together (open slots count); 0: no limit'),
  slotSeconds: z.number().int().min(1).max(86_400).default(300).describe('Time a slot may be used for its one PUT'),
  expiryDays: z.number().min(0).max(36_500).default(30).describe('Files are removed this many days after their upload; 0 keeps them'),
  sweepSeconds: z.number().min(1).max(86_400).default(3600).describe('How often expired files and unused slots are removed'),
  publicUrl: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .default(null)
    .describe('Base URL clients reach the HTTP listener at (e.g. https://chat.example.com behind a proxy); null: the listener\'s own address'),
  clamd: clamdOptions.prefault({}),
});

/** Validated files options. */
export type FilesOptions = z.output<typeof filesOptions>;
