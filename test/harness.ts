/** Test harness: a real Parley server on a free port over a temporary SQLite database, plus users and clients. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { buildServer, type ParleyServer } from '../src/app/build.js';
import { validateConfig, type Config } from '../src/app/config.js';
import { addUser } from '../src/engine/admin-service.js';
import { ParleyClient, login, type ConnectOptions, type ParleyApiError } from '../client/index.js';

/** A running test server. */
export interface TestServer {
  server: ParleyServer;
  /** http://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
  dir: string;
  /** Creates users (password = "pw-" + local part). */
  users(...addresses: string[]): Promise<void>;
  /** Logs in over HTTP and opens a session. */
  connect(address: string, opts?: Partial<ConnectOptions>): Promise<ParleyClient>;
  close(): Promise<void>;
}

/** Deep-merges config overrides onto test defaults. */
export type ConfigOverrides = { [K in keyof Config]?: Partial<Config[K]> };

/** Starts a server for one test file. */
export async function startServer(overrides: ConfigOverrides = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const base: Record<string, Record<string, unknown>> = {
    server: { port: 0 },
    storage: { sqlite: { path: join(dir, 'parley.db'), synchronous: 'normal' } },
    auth: { scramIterations: 4096 },
    xmpp: { port: 0, directTlsPort: 0, certDir: join(dir, 'certs') },
    log: { level: 'silent' },
  };
  for (const [k, v] of Object.entries(overrides)) base[k] = { ...(base[k] ?? {}), ...(v as object) };
  const config = validateConfig(base);
  const server = await buildServer(config, { log: pino({ level: 'silent' }) });
  const url = await server.listen();
  const clients: ParleyClient[] = [];
  const t: TestServer = {
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
    dir,
    async users(...addresses) {
      for (const a of addresses) {
        await addUser(server.store, a, `pw-${a.split('@')[0]}`, { admin: false, iterations: 4096, now: Date.now() });
      }
    },
    async connect(address, opts = {}) {
      const { token } = await login(url, address, `pw-${address.split('@')[0]}`);
      const c = await ParleyClient.connect({ url: t.wsUrl, token, ...opts });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let freshCounter = 0;

/** Creates users unique to this call (`<name>-<n>@localhost`), so tests sharing a server do not interfere. */
export async function freshUsers(t: TestServer, ...names: string[]): Promise<string[]> {
  const n = ++freshCounter;
  const addrs = names.map((x) => `${x}-${n}@localhost`);
  await t.users(...addrs);
  return addrs;
}

/** Makes `a` and `b` see each other's presence (subscription both, RFC 6121 §3.1), through the engine. */
export async function mutualSubscription(t: TestServer, a: string, b: string): Promise<void> {
  const { rosters } = t.server.engine;
  await rosters.act(a, b, 'subscribe');
  await rosters.act(b, a, 'subscribed');
  await rosters.act(b, a, 'subscribe');
  await rosters.act(a, b, 'subscribed');
}

/** The error a promise rejects with (the API's refusal); throws when it resolves instead. */
export async function refusal(p: Promise<unknown>): Promise<ParleyApiError> {
  try {
    await p;
  } catch (e) {
    return e as ParleyApiError;
  }
  throw new Error('expected a refusal');
}

/** Connects and waits until the replay, the presence snapshot and `synced` have arrived. */
export async function onlineAt(t: TestServer, address: string, resource = 'r', presence?: Record<string, unknown>): Promise<ParleyClient> {
  const c = await t.connect(address, presence ? { resource, presence } : { resource });
  await c.waitFor('synced');
  return c;
}

/**
 * A request round trip on each connection: every event the server queued for it before handling the ping has
 * arrived when this resolves (one connection's frames are ordered).
 */
export async function drain(...cs: ParleyClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.request('ping')));
}

/**
 * Makes tls.connect calls for `domain` trust the test server's own certificate for it (unless a call names its
 * own CA) while a file runs: xmpp.js has no TLS options of its own, and its STARTTLS upgrade calls
 * `tls.connect({ socket, host: domain })`. Returns the undo.
 */
export function trustServerCertificate(t: TestServer, domain: string): () => void {
  const caPem = readFileSync(join(t.dir, 'certs', `${domain}.crt`), 'utf8');
  const original = tls.connect;
  const wrapped = function (this: unknown, ...args: unknown[]): tls.TLSSocket {
    const first = args[0];
    if (first !== null && typeof first === 'object' && (first as tls.ConnectionOptions).host === domain && !(first as tls.ConnectionOptions).ca) {
      args[0] = { ...(first as tls.ConnectionOptions), ca: caPem };
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  };
  (tls as unknown as { connect: unknown }).connect = wrapped;
  return () => {
    (tls as unknown as { connect: unknown }).connect = original;
  };
}
