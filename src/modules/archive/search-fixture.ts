/**
 * A test rig for eDiscovery (search.test.ts, export.test.ts): the archive module on a SQLite file with an
 * engine, a ModuleHost and a Fastify server with the archive's routes; journal entries shaped like log records
 * at chosen times; bearer tokens for an officer, a plain administrator and a plain user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { deriveCredentials } from '../../auth/scram.js';
import { conversationKey, type LogRecord, type MessageType, type RecordKind } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import { testEngine } from '../../engine/test-engine.js';
import type { Store } from '../../ports/store.js';
import { authenticators, registerRoutes } from '../../protocols/http/routes.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { ModuleHost } from '../host.js';
import { silentHostLog } from '../testing.js';
import { recordDraft, type EntryDraft } from './entry.js';
import { archive } from './index.js';
import { archiveOptions } from './options.js';
import { area, type ArchiveArea } from './sqlite.js';

/** The origin the rig signs with. */
export const RIG_ORIGIN = 'example.com/archive';
/** 2026-03-02T09:00:00Z: the first day of the rig's entries. */
export const DAY0 = Date.UTC(2026, 2, 2, 9, 0, 0);

/** What searchRig returns. */
export interface SearchRig {
  engine: Engine;
  store: Store;
  host: ModuleHost;
  archive: ArchiveArea;
  app: FastifyInstance;
  dir: string;
  /** Bearer tokens: an officer (not an administrator), an administrator (not an officer), a plain user. */
  tokens: { officer: string; admin: string; user: string };
  close(): Promise<void>;
}

/** A journal entry shaped like a log record (recordDraft), for seeding searches. */
export function record(p: { from: string; to: string; body?: string | null; ts: number; kind?: RecordKind; type?: MessageType; id: string; ref?: string }): EntryDraft {
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
  };
  return recordDraft(r);
}

/** Builds the rig: users alice, bob, carol (example.com), officer olive, administrator adam; all password "pw". */
export async function searchRig(): Promise<SearchRig> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  const store = createSqliteStore({ path: join(dir, 'parley.db'), modules: [{ name: 'archive', area }] });
  const { engine } = await testEngine(['alice@example.com', 'bob@example.com', 'carol@example.com', 'olive@example.com'], { store, password: 'pw' });
  await store.accounts.create({ address: 'adam@example.com', credentials: await deriveCredentials('pw', 4096), admin: true, createdAt: 0, lastSeen: null, lastStatus: null });
  const options = { archive: archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, checkpointSeconds: 3600 }) };
  const host = await ModuleHost.setup([archive], options, { engine, store, bus: engine.bus, log: silentHostLog });
  const a = store.area<ArchiveArea>('archive');
  await a.setRole('olive@example.com', 'officer', true, 'cli', 0);
  const app = Fastify();
  registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}) });
  await host.registerHttp(app, authenticators(engine));
  const login = async (u: string): Promise<string> => (await engine.auth.login(u, 'pw', '127.0.0.1')).token;
  const tokens = { officer: await login('olive@example.com'), admin: await login('adam@example.com'), user: await login('alice@example.com') };
  return {
    engine,
    store,
    host,
    archive: a,
    app,
    dir,
    tokens,
    async close() {
      await app.close();
      await host.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
