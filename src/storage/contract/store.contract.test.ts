/**
 * Runs the Store contract against every adapter. PARLEY_STORE_ADAPTERS (comma list, e.g. "sqlite") narrows
 * the run; adapters left out are reported as skipped rather than silently missing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../memory/index.js';
import { createSqliteStore, migrate, MIGRATIONS, SchemaTooNewError, type SqliteStoreOptions } from '../sqlite/index.js';
import { RESERVED_VERSIONS } from '../sqlite/migrations.js';
import { createSqliteWorkerStore, type SqliteWorkerStoreOptions } from '../sqlite/worker.js';
import { MESSAGE_QUERIES } from '../sqlite/messages.js';
import { OPEN_ROOMS_QUERY, ROOM_QUERIES } from '../sqlite/rooms.js';
import { area as fixtureArea, FIXTURE_MODULE, fixtureSpec, memoryFixtureArea, REFUSED_BODY, type FixtureArea } from './fixture-area.js';
import { account, dm } from './fixtures.js';
import { describeStoreContract } from './store-contract.js';

const ADAPTERS = ['memory', 'sqlite', 'sqlite-worker'] as const;
type Adapter = (typeof ADAPTERS)[number];

const requested = process.env['PARLEY_STORE_ADAPTERS']?.split(',').map((a) => a.trim()).filter((a) => a.length > 0);
const unknown = (requested ?? []).filter((a) => !(ADAPTERS as readonly string[]).includes(a));
if (unknown.length > 0) console.warn(`[store contract] PARLEY_STORE_ADAPTERS names unknown adapters: ${unknown.join(', ')}`);

/** Registers `body` for the adapter, or a skipped placeholder with a warning saying why. */
function forAdapter(adapter: Adapter, body: () => void): void {
  if (requested === undefined || requested.includes(adapter)) {
    describe(adapter, body);
    return;
  }
  console.warn(`[store contract] skipping adapter "${adapter}": not listed in PARLEY_STORE_ADAPTERS=${process.env['PARLEY_STORE_ADAPTERS']}`);
  describe.skip(adapter, () => {
    it(`contract (skipped: not in PARLEY_STORE_ADAPTERS)`, () => {});
  });
}

// Every store of the contract is opened with the fixture module's area (module-contract.ts).
const sqliteFixture: SqliteStoreOptions['modules'] = [{ name: FIXTURE_MODULE, area: fixtureArea }];
const workerFixture: SqliteWorkerStoreOptions['modules'] = [{ name: FIXTURE_MODULE, url: fixtureSpec.sqlite! }];

forAdapter('memory', () => {
  describeStoreContract('memory', () => createMemoryStore({ modules: [{ name: FIXTURE_MODULE, memory: memoryFixtureArea }] }));
});

// The same SQLite store behind the worker thread the server uses: every call crosses threads and back.
forAdapter('sqlite-worker', () => {
  let dir = '';
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-store-worker-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  describeStoreContract('sqlite-worker', () =>
    createSqliteWorkerStore({ path: join(dir, `store-${++n}.db`), synchronous: 'normal', modules: workerFixture }),
  );
  it('reports a database it cannot open as an error, not a hang', async () => {
    await expect(createSqliteWorkerStore({ path: join(dir, 'no-such-dir', '\0bad') })).rejects.toThrow();
  });

  it("opens a module's area on the worker thread, keeps it across reopen, and refuses a newer module schema", async () => {
    const path = join(dir, `store-${++n}.db`);
    const s1 = await createSqliteWorkerStore({ path, modules: workerFixture });
    try {
      await s1.area<FixtureArea>(FIXTURE_MODULE).put('k', 'v');
      const [res] = await s1.messages.append([dm('alice@a.test', 'bob@a.test', 'seen')]);
      await expect(s1.messages.append([dm('alice@a.test', 'bob@a.test', REFUSED_BODY)])).rejects.toMatchObject({ code: 'policy-violation' });
      expect(await s1.area<FixtureArea>(FIXTURE_MODULE).seen()).toEqual([res!.record.seq]);
      await s1.positions.set('journal', res!.record.seq);
    } finally {
      await s1.close();
    }
    const s2 = await createSqliteWorkerStore({ path, modules: workerFixture });
    try {
      expect(await s2.area<FixtureArea>(FIXTURE_MODULE).get('k')).toBe('v');
      expect(await s2.positions.get('journal')).toBeGreaterThan(0);
    } finally {
      await s2.close();
    }
    const raw = new Database(path);
    raw.prepare("INSERT INTO module_migrations (module, version, name, applied_at) VALUES ('fixture', 3, 'from the future', 0)").run();
    raw.close();
    await expect(createSqliteWorkerStore({ path, modules: workerFixture })).rejects.toThrow(/module "fixture" is at version 3/);
  });

  it('reports a module file without a storage area as an error', async () => {
    const notAnArea = new URL('./fixtures.ts', import.meta.url).href;
    await expect(createSqliteWorkerStore({ path: join(dir, `store-${++n}.db`), modules: [{ name: 'empty', url: notAnArea }] })).rejects.toThrow(
      /module "empty".*does not export a SQLite storage area/,
    );
  });
});

forAdapter('sqlite', () => {
  let dir = '';
  let n = 0;
  const nextPath = (): string => join(dir, `store-${++n}.db`);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // synchronous=normal only to keep the suite fast; one test below runs the 'full' default.
  describeStoreContract('sqlite', () => createSqliteStore({ path: nextPath(), synchronous: 'normal', modules: sqliteFixture }));

  describe('sqlite specifics', () => {
    it('keeps data across close and reopen, and does not re-apply migrations', async () => {
      const path = nextPath();
      const s1 = createSqliteStore({ path, now: () => 111 });
      await s1.domains.add('a.test', 1);
      await s1.accounts.create(account('alice@a.test'));
      const [res] = await s1.messages.append([dm('alice@a.test', 'bob@a.test', 'persist me', { clientId: 'p1', offlineFor: ['bob@a.test'] })]);
      await s1.close();

      const s2 = createSqliteStore({ path, now: () => 222 });
      try {
        expect(await s2.accounts.get('alice@a.test')).toEqual(account('alice@a.test'));
        expect(await s2.messages.getById(res!.record.id)).toEqual(res!.record);
        expect(await s2.messages.offline('bob@a.test', 0, 10)).toEqual([res!.record]);
        expect(await s2.messages.lastSeq()).toBe(res!.record.seq);
        // Dedupe survives the restart too.
        const [again] = await s2.messages.append([dm('alice@a.test', 'bob@a.test', 'persist me', { clientId: 'p1' })]);
        expect(again!.duplicate).toBe(true);
        const [next] = await s2.messages.append([dm('alice@a.test', 'bob@a.test', 'later')]);
        expect(next!.record.seq).toBeGreaterThan(res!.record.seq);
      } finally {
        await s2.close();
      }
      const raw = new Database(path);
      try {
        // applied_at stayed 111: the reopen recorded (and so ran) nothing.
        const rows = raw.prepare('SELECT version, applied_at AS appliedAt FROM schema_migrations ORDER BY version').all();
        expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, appliedAt: 111 })));
        expect(migrate(raw, () => 333)).toEqual([]);
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        raw.close();
      }
    });

    it("applies a module's migrations once, in its own records, and keeps its data and positions across reopen", async () => {
      const path = nextPath();
      const s1 = createSqliteStore({ path, now: () => 111, modules: sqliteFixture });
      await s1.area<FixtureArea>(FIXTURE_MODULE).put('k', 'v');
      await s1.positions.set('journal', 7);
      await s1.close();
      const s2 = createSqliteStore({ path, now: () => 222, modules: sqliteFixture });
      try {
        expect(await s2.area<FixtureArea>(FIXTURE_MODULE).get('k')).toBe('v');
        expect(await s2.positions.get('journal')).toBe(7);
      } finally {
        await s2.close();
      }
      // Opened without the module, the store leaves its tables alone and does not offer its area.
      const bare = createSqliteStore({ path });
      try {
        expect(() => bare.area(FIXTURE_MODULE)).toThrow(/no storage area "fixture"/);
      } finally {
        await bare.close();
      }
      const raw = new Database(path);
      try {
        const rows = raw.prepare('SELECT module, version, name, applied_at AS appliedAt FROM module_migrations ORDER BY module, version').all();
        expect(rows).toEqual(fixtureArea.migrations.map((m) => ({ module: FIXTURE_MODULE, version: m.version, name: m.name, appliedAt: 111 })));
        expect(raw.prepare('SELECT COUNT(*) FROM fixture_items').pluck().get()).toBe(1);
      } finally {
        raw.close();
      }
    });

    it('refuses a database whose module schema is newer than the module, naming the module', async () => {
      const path = nextPath();
      await createSqliteStore({ path, modules: sqliteFixture }).close();
      const raw = new Database(path);
      raw.prepare("INSERT INTO module_migrations (module, version, name, applied_at) VALUES ('fixture', 3, 'from the future', 0)").run();
      raw.close();
      expect(() => createSqliteStore({ path, modules: sqliteFixture })).toThrow(SchemaTooNewError);
      expect(() => createSqliteStore({ path, modules: sqliteFixture })).toThrow(/module "fixture" is at version 3.* up to 2/);
      // Other modules and the core are unaffected.
      await createSqliteStore({ path }).close();
    });

    it('migrates a module that gains a migration, and refuses migrations that do not count 1, 2, 3', async () => {
      const path = nextPath();
      // An older release of the module: only its first migration, and nothing to open yet.
      const first = { migrations: fixtureArea.migrations.slice(0, 1), open: () => ({}) };
      const s1 = createSqliteStore({ path, now: () => 1, modules: [{ name: FIXTURE_MODULE, area: first }] });
      await s1.close();
      const s2 = createSqliteStore({ path, now: () => 2, modules: sqliteFixture });
      await s2.close();
      const raw = new Database(path, { readonly: true });
      try {
        expect(raw.prepare('SELECT version, applied_at FROM module_migrations ORDER BY version').raw().all()).toEqual([
          [1, 1],
          [2, 2],
        ]);
      } finally {
        raw.close();
      }
      const skipping = { ...fixtureArea, migrations: [fixtureArea.migrations[1]!] };
      expect(() => createSqliteStore({ path: nextPath(), modules: [{ name: FIXTURE_MODULE, area: skipping }] })).toThrow(/versions must count 1, 2, 3/);
    });

    it('keeps secrets across reopen, and two processes on one file agree on them', async () => {
      const path = nextPath();
      const server = createSqliteStore({ path });
      const cli = createSqliteStore({ path });
      try {
        const first = await cli.secrets.ensure('scram-unknown-users', 'from-the-cli');
        expect(await server.secrets.ensure('scram-unknown-users', 'from-the-server')).toBe(first);
      } finally {
        await server.close();
        await cli.close();
      }
      const again = createSqliteStore({ path });
      try {
        expect(await again.secrets.ensure('scram-unknown-users', 'after-restart')).toBe('from-the-cli');
      } finally {
        await again.close();
      }
    });

    it('migrations are numbered 1, 2, 3 ... in order, skipping only reserved versions', () => {
      const last = MIGRATIONS.at(-1)!.version;
      const expected = Array.from({ length: last }, (_, i) => i + 1).filter((v) => !RESERVED_VERSIONS.includes(v));
      expect(MIGRATIONS.map((m) => m.version)).toEqual(expected);
    });

    it('applies a reserved version that lands after a later one to a database that has the later one', () => {
      const db = new Database(nextPath());
      try {
        migrate(db, () => 1);
        const last = MIGRATIONS.at(-1)!.version;
        const missing = RESERVED_VERSIONS.filter((v) => v < last);
        const arrived = [...MIGRATIONS, ...missing.map((v) => ({ version: v, name: `late ${v}`, sql: `CREATE TABLE late_${v} (x INTEGER);` }))].sort((a, b) => a.version - b.version);
        expect(migrate(db, () => 2, arrived)).toEqual(missing);
        for (const v of missing) expect(db.prepare('SELECT name FROM sqlite_master WHERE name = ?').pluck().get(`late_${v}`)).toBe(`late_${v}`);
        expect(migrate(db, () => 3, arrived)).toEqual([]);
      } finally {
        db.close();
      }
    });

    it('answers every log read with an index search, never a table scan', async () => {
      const path = nextPath();
      await createSqliteStore({ path }).close();
      const raw = new Database(path, { readonly: true });
      try {
        for (const [name, sql] of Object.entries(MESSAGE_QUERIES)) {
          const params = sql.includes(':conv')
            ? [{ conv: 'c', after: 0, before: 9, limit: 5 }]
            : sql.includes(':user')
              ? [{ user: 'u', after: 0, before: 9, limit: 5 }]
              : Array.from(sql.match(/\?/g) ?? [], () => 'x');
          const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
          expect(plan.filter((d) => d.startsWith('SCAN')), `${name}: ${plan.join(' | ')}`).toEqual([]);
          expect(plan.filter((d) => d.includes('TEMP B-TREE')), `${name} sorts: ${plan.join(' | ')}`).toEqual([]);
        }
        expect(MESSAGE_QUERIES.historyNewest).toContain("kind = 'message'");
        const history = raw.prepare(`EXPLAIN QUERY PLAN ${MESSAGE_QUERIES.historyNewest}`).all({ conv: 'c', after: 0, before: 9, limit: 5 });
        expect(JSON.stringify(history)).toContain('log_by_conv');
        const view = raw.prepare(`EXPLAIN QUERY PLAN ${MESSAGE_QUERIES.view}`).all('x');
        expect(JSON.stringify(view)).toMatch(/SEARCH l USING INDEX sqlite_autoindex_log_\d+ \(id=\?\)/);
      } finally {
        raw.close();
      }
    });

    it("answers invitesOf from an index in order, without a scan or a sort", async () => {
      const path = nextPath();
      await createSqliteStore({ path }).close();
      const raw = new Database(path, { readonly: true });
      try {
        for (const [name, sql] of Object.entries(ROOM_QUERIES)) {
          const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as Array<{ detail: string }>).map((r) => r.detail);
          expect(plan.filter((d) => d.startsWith('SCAN')), `${name}: ${plan.join(' | ')}`).toEqual([]);
          expect(plan.filter((d) => d.includes('TEMP B-TREE')), `${name} sorts: ${plan.join(' | ')}`).toEqual([]);
          expect(plan.join(' | '), name).toContain('room_invites_by_user_at');
        }
      } finally {
        raw.close();
      }
    });

    it('pages through open rooms along an index, without a scan or a sort', async () => {
      const path = nextPath();
      await createSqliteStore({ path }).close();
      const raw = new Database(path, { readonly: true });
      try {
        const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${OPEN_ROOMS_QUERY}`).all('d', 'a', 5) as Array<{ detail: string }>).map((r) => r.detail);
        expect(plan.filter((d) => d.startsWith('SCAN') || d.includes('TEMP B-TREE')), plan.join(' | ')).toEqual([]);
        expect(plan.join(' | ')).toContain('rooms_by_domain');
      } finally {
        raw.close();
      }
    });

    it('upgrades a version 1 database in place, keeping its invitations', async () => {
      const path = nextPath();
      const raw = new Database(path);
      try {
        raw.pragma('foreign_keys = ON');
        expect(migrate(raw, () => 1, MIGRATIONS.slice(0, 1))).toEqual([1]);
        raw.prepare("INSERT INTO rooms (address, domain, name, members_only, created_by, created_at) VALUES ('r@rooms.a.test', 'rooms.a.test', 'R', 1, 'alice@a.test', 1)").run();
        raw.prepare("INSERT INTO room_invites (room, user, invited_by, invited_at) VALUES ('r@rooms.a.test', 'bob@a.test', 'alice@a.test', 7)").run();
      } finally {
        raw.close();
      }
      const s = createSqliteStore({ path, now: () => 2 });
      try {
        expect(await s.rooms.invitesOf('bob@a.test')).toEqual([{ room: 'r@rooms.a.test', by: 'alice@a.test', at: 7 }]);
      } finally {
        await s.close();
      }
      const check = new Database(path, { readonly: true });
      try {
        const versions = check.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
        expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
        const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'room_invites' AND sql IS NOT NULL ORDER BY name").pluck().all();
        expect(indexes).toContain('room_invites_by_user_at');
        expect(indexes).not.toContain('room_invites_by_user');
      } finally {
        check.close();
      }
    });

    it('upgrades a version 4 database: accounts and rooms that exist keep all their history', async () => {
      const path = nextPath();
      const raw = new Database(path);
      try {
        raw.pragma('foreign_keys = ON');
        expect(migrate(raw, () => 1, MIGRATIONS.slice(0, 4))).toEqual([1, 2, 3, 4]);
        raw.prepare("INSERT INTO domains (domain, created_at) VALUES ('a.test', 1)").run();
        for (const a of ['alice@a.test', 'bob@a.test']) {
          raw.prepare("INSERT INTO accounts (address, domain, credentials, admin, created_at) VALUES (?, 'a.test', '{}', 0, 1)").run(a);
        }
        raw.prepare("INSERT INTO rooms (address, domain, name, members_only, created_by, created_at) VALUES ('r@rooms.a.test', 'rooms.a.test', 'R', 1, 'alice@a.test', 1)").run();
        const log = raw.prepare("INSERT INTO log (id, kind, type, conv, from_addr, to_addr, body, ts) VALUES (?, 'message', ?, ?, 'alice@a.test', ?, ?, 1)");
        log.run('m1', 'chat', 'dm:alice@a.test bob@a.test', 'bob@a.test', 'before the upgrade');
        log.run('m2', 'groupchat', 'room:r@rooms.a.test', 'r@rooms.a.test', 'in the room');
      } finally {
        raw.close();
      }
      const s = createSqliteStore({ path, now: () => 2 });
      try {
        expect((await s.accounts.get('bob@a.test'))!.createdSeq).toBe(0);
        // Accounts from before kinds existed are people (migration 8).
        expect((await s.accounts.get('bob@a.test'))!.kind).toBe('person');
        expect((await s.messages.history('dm:alice@a.test bob@a.test', { limit: 10 })).map((m) => m.body)).toEqual(['before the upgrade']);
        expect((await s.messages.history('room:r@rooms.a.test', { limit: 10 })).map((m) => m.body)).toEqual(['in the room']);
        expect((await s.messages.since('bob@a.test', ['r@rooms.a.test'], 0, 10)).map((m) => m.id)).toEqual(['m1', 'm2']);
        // Created after the upgrade: starts at the log's end.
        await s.accounts.create(account('carol@a.test'));
        expect((await s.accounts.get('carol@a.test'))!.createdSeq).toBe(2);
      } finally {
        await s.close();
      }
    });

    it('refuses a database whose schema is newer than the code', async () => {
      const path = nextPath();
      await createSqliteStore({ path }).close();
      const raw = new Database(path);
      raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)").run();
      raw.close();
      expect(() => createSqliteStore({ path })).toThrow(SchemaTooNewError);
      expect(() => createSqliteStore({ path })).toThrow(/version 999/);
    });

    it("notices another connection's commit through dataVersion", async () => {
      const path = nextPath();
      const s = createSqliteStore({ path });
      try {
        const before = await s.dataVersion();
        await s.domains.add('own.test', 1);
        expect(await s.dataVersion()).toBe(before);
        const other = new Database(path);
        other.prepare("INSERT INTO domains (domain, created_at) VALUES ('cli.test', 2)").run();
        other.close();
        expect(await s.dataVersion()).not.toBe(before);
        expect(await s.domains.list()).toEqual(['cli.test', 'own.test']);
      } finally {
        await s.close();
      }
    });

    it('works with the default synchronous=full and sees a second store on the same file', async () => {
      const path = nextPath();
      const server = createSqliteStore({ path });
      const cli = createSqliteStore({ path });
      try {
        await cli.domains.add('a.test', 1);
        await cli.accounts.create(account('alice@a.test'));
        expect(await server.accounts.get('alice@a.test')).toEqual(account('alice@a.test'));
        const [a] = await server.messages.append([dm('alice@a.test', 'bob@a.test', 'x')]);
        const [b] = await cli.messages.append([dm('alice@a.test', 'bob@a.test', 'y')]);
        expect(b!.record.seq).toBeGreaterThan(a!.record.seq);
      } finally {
        await server.close();
        await cli.close();
      }
    });
  });
});
