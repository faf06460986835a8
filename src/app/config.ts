/**
 * Configuration: one YAML file plus environment overrides, validated once at start.
 * Every problem is reported at once with its key path; unknown keys are errors.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseAddress } from '../core/address.js';
import { MODULES } from './modules.js';

const tlsSchema = z
  .strictObject({
    cert: z.string().min(1).describe('PEM certificate chain file'),
    key: z.string().min(1).describe('PEM private key file'),
  })
  .nullable()
  .default(null);

/**
 * A domain name as addresses use it (RFC 7622 §3.2). Checked here so that `parley config check` reports a bad
 * one instead of the server creating a domain no address can ever name.
 */
const domainName = z.string().superRefine((value, ctx) => {
  try {
    const a = parseAddress(value);
    if (a.local !== null || a.resource !== null) ctx.addIssue({ code: 'custom', message: `"${value}" is not a bare domain name` });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
  }
});

/**
 * The `modules` section: one entry per module of the composition root (app/modules.ts), each the module's own
 * options schema with its defaults and docs (src/modules/<name>/), so unknown keys there are errors too.
 */
const modulesSchema = z
  .strictObject(Object.fromEntries(MODULES.map((m) => [m.name, m.options.prefault({})])))
  .prefault({})
  .describe('Options of each module (src/modules/<name>/README.md); modules.<name>.enabled turns one on or off');

/** The whole configuration schema with defaults; each option documented where it is declared. */
export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Address the HTTP/WebSocket listener binds'),
      port: z.number().int().min(0).max(65535).default(5280).describe('HTTP/WebSocket port (0 = any free port)'),
      tls: tlsSchema.describe('With a certificate the listener serves HTTPS and WSS'),
      allowedOrigins: z
        .array(z.string())
        .default([])
        .describe('Origins allowed to open a WebSocket besides the server itself; "*" allows any'),
      secureCookies: z
        .enum(['auto', 'always'])
        .default('auto')
        .describe('Web session cookies: always Secure, or (auto) when the request came over TLS or to a loopback host; use always behind a TLS proxy'),
      defaultDomain: domainName.default('localhost').describe('Domain created on first start when none exists'),
      shutdownGraceMs: z.number().int().min(0).default(5000).describe('How long SIGTERM waits for clients'),
      metricsToken: z
        .string()
        .min(16, 'use a long random token (at least 16 characters)')
        .nullable()
        .default(null)
        .describe('Bearer token a Prometheus scraper sends to read /metrics from another host (null: /metrics answers loopback clients only)'),
    })
    .prefault({}),
  storage: z
    .strictObject({
      adapter: z.enum(['sqlite', 'memory']).default('sqlite'),
      sqlite: z
        .strictObject({
          path: z.string().default('./data/parley.db'),
          synchronous: z
            .enum(['full', 'normal'])
            .default('full')
            .describe('full: every commit is on disk before a message is acknowledged'),
          worker: z
            .boolean()
            .default(true)
            .describe('Run the database on its own thread, so commits and fsyncs never stall the server thread'),
        })
        .prefault({}),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxFrameBytes: z.number().int().min(1024).default(262_144).describe('Largest WebSocket frame accepted'),
      maxBodyBytes: z.number().int().min(1).default(65_536).describe('Largest message body (UTF-8 bytes)'),
      maxSessionsPerUser: z.number().int().min(1).default(32),
      historyPageMax: z.number().int().min(1).default(500),
      historyPageMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(262_144)
        .describe('Message bodies per history or MAM page, in UTF-8 bytes; a page stops at the first message that reaches it'),
      readsInFlightPerUser: z
        .number()
        .int()
        .min(1)
        .default(4)
        .describe('Heavy reads (history, MAM, rosters, room lists and members) one user may have running at once'),
      readsQueuedPerUser: z
        .number()
        .int()
        .min(0)
        .default(8)
        .describe('Heavy reads of one user waiting for a turn; beyond them a request is refused with rate-limited'),
      requestsPerSecond: z.number().int().min(1).default(2000).describe('Per-connection request rate limit'),
      maxOfflineMessages: z
        .number()
        .int()
        .min(1)
        .default(10_000)
        .describe("Entries in one user's offline queue; a message to a full queue is refused with service-unavailable (RFC 6121 §8.5.2.2.1)"),
      maxOfflineBytes: z
        .number()
        .int()
        .min(65_536)
        .default(64 << 20)
        .describe("UTF-8 body bytes in one user's offline queue (refused like maxOfflineMessages)"),
      maxPendingSendBytes: z
        .number()
        .int()
        .min(65_536)
        .default(4 << 20)
        .describe('Bytes of one session\'s messages accepted and not yet stored (body + 1 KiB each); beyond it sends are refused with rate-limited'),
      connectionsPerAddress: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('Open connections from one source address (IPv4 address, IPv6 /64) on all listeners; many people may share one behind NAT'),
      unauthenticatedPerAddress: z
        .number()
        .int()
        .min(1)
        .default(50)
        .describe('Connections from one source address still in a TLS handshake or not yet logged in (WebSocket before hello, XMPP before binding)'),
      tlsHandshakeTimeoutSeconds: z
        .number()
        .min(0.05)
        .default(10)
        .describe('Time a client has to finish a TLS handshake on any listener (HTTPS, XMPP direct TLS and STARTTLS)'),
    })
    .prefault({}),
  auth: z
    .strictObject({
      scramIterations: z
        .number()
        .int()
        .min(4096)
        .default(10_000)
        .describe('PBKDF2 iterations of new and changed passwords; RFC 7677 asks for at least 4096, OWASP for 600,000 (about 120 ms of CPU per password login: docs/SECURITY.md)'),
      tokenTtlHours: z.number().min(0.01).default(24 * 30),
      freeFailures: z.number().int().min(0).default(3),
      lockAfter: z.number().int().min(1).default(10).describe('Failures per account before a lock'),
      ipLockAfter: z.number().int().min(1).default(50).describe('Failures per source address before a lock'),
      ipMaxInFlight: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('Logins in progress at once from one source address (many people may share one, behind NAT)'),
      ipAccountMaxInFlight: z
        .number()
        .int()
        .min(1)
        .default(3)
        .describe('Logins to one account in progress at once from one source address: how much of an account\'s lock budget one address can hold'),
      loginExchangeSeconds: z
        .number()
        .min(0.05)
        .max(60)
        .default(10)
        .describe('Time a client has to finish a login exchange it started (SASL SCRAM, after any throttle delay); then it fails and stops counting against the account'),
      // Positive: the throttle needs a lock to last some time, and 0 would otherwise fail only at start-up.
      lockMinutes: z.number().positive().default(15).describe('How long a lock lasts'),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      heartbeatSeconds: z.number().min(0.05).default(30).describe('WebSocket ping interval; a connection that has not answered by the next ping is closed'),
      helloTimeoutSeconds: z.number().min(0.05).default(10).describe('Time to authenticate after connecting'),
    })
    .prefault({}),
  rooms: z
    .strictObject({
      subdomain: z
        .string()
        // Addresses are normalised to lowercase, so an uppercase or otherwise non-canonical label would never
        // match the room domain the engine builds from it (rooms would be unreachable).
        .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be one lowercase DNS label (a-z, 0-9, "-")')
        .default('conference')
        .describe('Rooms live at name@<subdomain>.<domain>'),
      maxMembers: z.number().int().min(2).default(5000),
      maxOwnedPerUser: z.number().int().min(1).default(100).describe('Rooms one user may own (create, or be made owner of)'),
      maxMembershipsPerUser: z.number().int().min(1).default(1000).describe('Rooms one user may belong to'),
      listPageSize: z
        .number()
        .int()
        .min(1)
        .default(100)
        .describe('Open rooms per room.list page (rooms the user has no relation to), and pending invitations listed'),
    })
    .prefault({}),
  xmpp: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve XMPP clients (RFC 6120) besides the JSON API'),
      host: z.string().default('127.0.0.1').describe('Address the XMPP listeners bind'),
      port: z.number().int().min(0).max(65535).nullable().default(5222).describe('Client port with STARTTLS (null = off, 0 = any free port)'),
      directTlsPort: z.number().int().min(0).max(65535).nullable().default(5223).describe('Client port with TLS from the first byte, XEP-0368 (null = off)'),
      requireTls: z.boolean().default(true).describe('Clients must negotiate STARTTLS before authenticating'),
      allowPlainWithoutTls: z
        .boolean()
        .default(false)
        .describe('Offer SASL PLAIN on unencrypted streams (only for benchmarks on loopback: the password travels in clear)'),
      certDir: z.string().default('./data/certs').describe('Where self-signed certificates are generated for domains without a configured one'),
      certificates: z
        .record(z.string(), z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }))
        .default({})
        .describe('PEM certificate and key files per domain'),
      maxStanzaBytes: z.number().int().min(10_000).default(262_144).describe('Largest stanza after authentication (before it: 10,000 bytes)'),
      negotiationTimeoutSeconds: z.number().min(0.05).default(30).describe('Time to complete TLS, authentication and binding'),
      idleSeconds: z.number().min(0.05).default(120).describe('A silent stream is pinged after this long and closed after twice as long'),
      stanzasPerSecond: z.number().int().min(1).default(2000).describe('Per-stream rate; a faster client is read more slowly'),
      resumeSeconds: z.number().min(0).default(300).describe('How long a broken stream-management session waits to be resumed (XEP-0198)'),
      smMaxUnackedBytes: z
        .number()
        .int()
        .min(65_536)
        .default(8 << 20)
        .describe('Most bytes of stanzas a stream-management session holds unacknowledged (or while it waits to be resumed); past it the stream ends and its unacknowledged messages return to the offline queue'),
      websocketPath: z
        .string()
        .regex(/^\/[^?#\s]*$/, 'must be an HTTP path such as /xmpp-websocket')
        .refine((p) => p !== '/ws', 'the JSON API has /ws')
        .nullable()
        .default('/xmpp-websocket')
        .describe('HTTP path of XMPP over WebSocket (RFC 7395) on the HTTP/WebSocket port (null = off)'),
      bosh: z
        .strictObject({
          path: z
            .string()
            .regex(/^\/[^?#\s]*$/, 'must be an HTTP path such as /http-bind')
            .refine((p) => p !== '/ws' && !p.startsWith('/api/') && !p.startsWith('/.well-known/'), 'the path is taken by the JSON API or discovery')
            .nullable()
            .default('/http-bind')
            .describe('HTTP path of XMPP over BOSH (XEP-0124, XEP-0206) on the HTTP port (null = off)'),
          maxWaitSeconds: z.number().int().min(1).max(300).default(60).describe('Longest time a BOSH request is held waiting for data (the `wait` granted)'),
          inactivitySeconds: z.number().int().min(5).max(600).default(60).describe('A BOSH session with no request for this long is gone (XEP-0198 sessions then wait for resumption)'),
          pollingSeconds: z.number().int().min(0).max(60).default(2).describe('Shortest interval between empty polls of a BOSH client that holds no request'),
        })
        .prefault({}),
      registration: z
        .array(domainName)
        .default([])
        .describe('Domains where anyone may create an account from an XMPP client (XEP-0077 in-band registration); none by default'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  modules: modulesSchema,
});

/** Validated configuration. */
export type Config = z.infer<typeof configSchema>;

/** One configuration problem with its key path. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Thrown when configuration is invalid; carries every problem at once. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

const ENV_PREFIX = 'PARLEY_';

/**
 * Environment overrides: PARLEY_SERVER__PORT=5281 sets server.port. Double underscore separates levels;
 * single underscores inside a level become camelCase (PARLEY_LIMITS__MAX_BODY_BYTES). Values are parsed
 * as JSON when they parse, else taken as strings.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || name === 'PARLEY_CONFIG') continue;
    const parts = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((p) => p.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    if (parts.length < 2) continue;
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    let node = out;
    for (const p of parts.slice(0, -1)) {
      const next = node[p];
      node = (typeof next === 'object' && next !== null ? next : (node[p] = {})) as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

/** Validates a raw object; throws ConfigError listing every problem with its key path. */
export function validateConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const keys = 'keys' in i && Array.isArray(i.keys) ? i.keys : [];
    const base = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys' && keys.length > 0) {
      return keys.map((k) => ({ path: base ? `${base}.${k}` : k, message: 'unknown key' }));
    }
    return [{ path: base || '(root)', message: i.message }];
  });
  throw new ConfigError(problems.flat());
}

/** Where the config file comes from: explicit path, $PARLEY_CONFIG, or ./parley.yaml if present. */
export function resolveConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (explicit) return explicit;
  if (env.PARLEY_CONFIG) return env.PARLEY_CONFIG;
  return existsSync('parley.yaml') ? 'parley.yaml' : null;
}

/** Loads file (if any) + environment, validates, and returns the config and where it came from. */
export function loadConfig(path: string | null, env: NodeJS.ProcessEnv = process.env): { config: Config; source: string } {
  let fromFile: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError([{ path: '(file)', message: `cannot read ${path}: ${(e as Error).message}` }]);
    }
    try {
      fromFile = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError([{ path: '(file)', message: `${path} is not valid YAML: ${(e as Error).message}` }]);
    }
    // Checked before merging: merging environment overrides onto a list or a scalar would replace it, and the
    // file's contents would be ignored without a word.
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new ConfigError([{ path: '(file)', message: `${path} must contain a mapping of sections (server:, storage:, ...)` }]);
    }
  }
  const config = validateConfig(merge(fromFile, envOverrides(env)));
  return { config, source: path ?? 'defaults' };
}
