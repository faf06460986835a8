/**
 * A test rig for the archive's unit tests: the archive over a real SQLite file (or the memory store) on the test
 * engine, with sessions for alice and bob and a room they share, and the HTTP routes behind Fastify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { deriveCredentials } from '../../auth/scram.js';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';
import { authenticators, registerRoutes } from '../../protocols/http/routes.js';
import type { Store } from '../../ports/store.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { ModuleHost } from '../host.js';
import { archive } from './index.js';
import { archiveOptions } from './options.js';
import { area, type ArchiveArea } from './sqlite.js';
import { silentHostLog } from '../testing.js';

/** The origin the rig signs with. */
export const RIG_ORIGIN = 'example.com/archive';
const presence = testPresence;

/** What `archiveRig` returns. */
export interface ArchiveRig {
  engine: Engine;
  store: Store;
  host: ModuleHost;
  archive: ArchiveArea;
  /** The SQLite file. */
  path: string;
  /** The shared room's address. */
  room: string;
  /** Sends a 1:1 message from alice to bob (or to `to`). */
  dm(body: string, to?: string): Promise<{ seq: number; id: string }>;
  /** Sends a room message from `who` (alice or bob). */
  say(body: string, who?: 'alice' | 'bob'): Promise<{ seq: number; id: string }>;
  /** Fastify with the core's routes and the archive's (inject only). */
  http(): Promise<FastifyInstance>;
  /** A bearer token of `address` (password secret-pw). */
  token(address: string): Promise<string>;
  close(): Promise<void>;
}

/** Builds the rig; `options` overlays the archive's options. */
export async function archiveRig(options: Record<string, unknown> = {}): Promise<ArchiveRig> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-archive-'));
  const path = join(dir, 'parley.db');
  const store = createSqliteStore({ path, modules: [{ name: 'archive', area }] });
  const { engine } = await testEngine(['alice@example.com', 'bob@example.com', 'carol@example.com'], { password: 'secret-pw', store });
  const credentials = await deriveCredentials('secret-pw', 4096);
  await store.accounts.create({ address: 'root@example.com', credentials, admin: true, createdAt: 0, lastSeen: null, lastStatus: null });
  const parsed = { archive: archiveOptions.parse({ enabled: true, origin: RIG_ORIGIN, checkpointSeconds: 3600, ...options }) };
  const host = await ModuleHost.setup([archive], parsed, { engine, store, bus: engine.bus, log: silentHostLog });
  const open = async (user: string): Promise<Session> => {
    const s = await engine.openSession(user, 'desk', { send: () => undefined, close: () => undefined }, { ...presence });
    engine.goLive(s.session);
    return s.session;
  };
  const alice = await open('alice@example.com');
  const bob = await open('bob@example.com');
  const room = await engine.rooms.create('alice@example.com', 'Desk', 'desk', false);
  await engine.rooms.join(room.address, 'bob@example.com');
  const apps: FastifyInstance[] = [];
  return {
    engine,
    store,
    host,
    archive: store.area<ArchiveArea>('archive'),
    path,
    room: room.address,
    dm: (body, to = 'bob@example.com') => engine.messages.send(alice, parseAddress(to), body, null, 0),
    say: (body, who = 'alice') => engine.messages.send(who === 'alice' ? alice : bob, parseAddress(room.address), body, null, 0),
    async http() {
      const app = Fastify();
      registerRoutes(app, { engine, metricsToken: null, metrics: async () => ({ contentType: 'text/plain', body: '' }), health: () => ({}) });
      await host.registerHttp(app, authenticators(engine));
      apps.push(app);
      return app;
    },
    async token(address) {
      return (await engine.auth.login(address, 'secret-pw', '127.0.0.1')).token;
    },
    async close() {
      for (const a of apps) await a.close();
      await host.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
