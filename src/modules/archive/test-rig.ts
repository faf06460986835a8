/**
 * The archive's test rig: the archive module over a real SQLite file on the test engine, with a ModuleHost, the
 * HTTP routes behind Fastify (inject only) and bearer tokens. Users alice, bob and carol; olive, a compliance
 * officer; root, an administrator; all with the password "secret-pw". Sessions for alice and bob and, unless
 * told otherwise, a room they share. `record` makes journal entries shaped like log records at chosen times,
 * for seeding searches and exports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { deriveCredentials } from '../../auth/scram.js';
import { parseAddress } from '../../core/address.js';
import { conversationKey, type LogRecord, type MessageType, type RecordKind } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';
import { authenticators, registerRoutes } from '../../protocols/http/routes.js';
import type { Store } from '../../ports/store.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { ModuleHost } from '../host.js';
import { silentHostLog } from '../testing.js';
import { recordDraft, type EntryDraft } from './entry.js';
import { archive } from './index.js';
import { archiveOptions } from './options.js';
import { area, type ArchiveArea } from './sqlite.js';

/** The origin the rig signs with. */
export const RIG_ORIGIN = 'example.com/archive';
/** 2026-03-02T09:00:00Z: the first day of seeded entries. */
export const DAY0 = Date.UTC(2026, 2, 2, 9, 0, 0);
/** Every rig user's password. */
const PASSWORD = 'secret-pw';

/** What `archiveRig` returns. */
export interface ArchiveRig {
  engine: Engine;
  store: Store;
  host: ModuleHost;
  archive: ArchiveArea;
  /** Fastify with the core's routes and the archive's (inject only). */
  app: FastifyInstance;
  /** The temporary directory and the SQLite file in it. */
  dir: string;
  path: string;
  /** The shared room's address ('' when the rig was built without it). */
  room: string;
  /** Bearer tokens: olive (an officer, not an administrator), root (an administrator, not an officer), alice. */
  tokens: { officer: string; admin: string; user: string };
  /** Sends a 1:1 message from alice to bob (or to `to`). */
  dm(body: string, to?: string): Promise<{ seq: number; id: string }>;
  /** Sends a room message from `who` (alice or bob). */
  say(body: string, who?: 'alice' | 'bob'): Promise<{ seq: number; id: string }>;
  /** A bearer token of `address`. */
  token(address: string): Promise<string>;
  close(): Promise<void>;
}

/** A journal entry shaped like a log record (recordDraft), for seeding searches. */
export function record(p: { from: string; to: string; body?: string | null; ts: number; kind?: RecordKind; type?: MessageType; id: string; ref?: string; xml?: string }): EntryDraft {
  const type = p.type ?? (p.to.includes('@conference.') ? 'groupchat' : 'chat');
  const r: LogRecord = {
    seq: 0,
    id: p.id,
    kind: p.kind ?? 'message',
    type,
    conv: conversationKey(type, p.from, p.to),
    from: p.from,
    fromResource: 'desk',
    to: p.to,
    toResource: null,
    clientId: null,
    body: p.body ?? null,
    ref: p.ref ?? null,
    receipt: null,
    ts: p.ts,
    xml: p.xml ?? null,
  };
  return recordDraft(r);
}

/**
 * Builds the rig; `options` overlays the archive's options. With `room: false` no room is created (its entries
 * would be the journal's first), so seeded entries follow only olive's officer grant (entry 0).
 */
export async function archiveRig(options: Record<string, unknown> = {}, opts: { room?: boolean } = {}): Promise<ArchiveRig> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-'));
  const path = join(dir, 'parley.db');
  const store = createSqliteStore({ path, modules: [{ name: 'archive', area }] });
  const { engine } = await testEngine(['alice@example.com', 'bob@example.com', 'carol@example.com', 'olive@example.com'], { password: PASSWORD, store });
  const credentials = await deriveCredentials(PASSWORD, 4096);
  await store.accounts.create({ address: 'root@example.com', credentials, admin: true, createdAt: 0, lastSeen: null, lastStatus: null });
  const parsed = { archive: archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, checkpointSeconds: 3600, ...options }) };
  const host = await ModuleHost.setup([archive], parsed, { engine, store, bus: engine.bus, log: silentHostLog });
  const a = store.area<ArchiveArea>('archive');
  await a.setRole('olive@example.com', 'officer', true, 'cli', 0);
  const open = async (user: string): Promise<Session> => {
    const s = await engine.openSession(user, 'desk', { send: () => undefined, close: () => undefined }, { ...testPresence });
    engine.goLive(s.session);
    return s.session;
  };
  const alice = await open('alice@example.com');
  const bob = await open('bob@example.com');
  let room = '';
  if (opts.room !== false) {
    room = (await engine.rooms.create('alice@example.com', 'Desk', 'desk', false)).address;
    await engine.rooms.join(room, 'bob@example.com');
  }
  const app = Fastify();
  registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}), roles: (u) => host.rolesOf(u) });
  await host.registerHttp(app, authenticators(engine));
  const token = async (address: string): Promise<string> => (await engine.auth.login(address, PASSWORD, '127.0.0.1')).token;
  return {
    engine,
    store,
    host,
    archive: a,
    app,
    dir,
    path,
    room,
    tokens: { officer: await token('olive@example.com'), admin: await token('root@example.com'), user: await token('alice@example.com') },
    dm: (body, to = 'bob@example.com') => engine.messages.send(alice, parseAddress(to), body, null, 0),
    say: (body, who = 'alice') => engine.messages.send(who === 'alice' ? alice : bob, parseAddress(room), body, null, 0),
    token,
    async close() {
      await app.close();
      await host.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
