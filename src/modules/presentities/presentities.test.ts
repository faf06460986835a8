/**
 * The presentities module's parts: its storage on both adapters (SQLite file, in-memory twin), deadlines that
 * survive a restart, the deadline heap, the visibility rules, and subscriptions over the hub.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testEngine } from '../../engine/test-engine.js';
import type { Store } from '../../ports/store.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { silentHostLog } from '../testing.js';
import { Deadlines } from './deadlines.js';
import { PresentityHub, type SubscriptionOut } from './hub.js';
import { presentities } from './index.js';
import { defineBody, UNREPORTED, type DeviceRecord, type Presentity } from './model.js';
import { area, type PresentitiesArea } from './sqlite.js';
import { seesDevice, seesPerson, viewer } from './visibility.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sqliteStore(path?: string): { store: Store; path: string } {
  let p = path;
  if (p === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-presentities-'));
    dirs.push(dir);
    p = join(dir, 'parley.db');
  }
  const store = createSqliteStore({ path: p, modules: [{ name: 'presentities', area }] });
  stores.push(store);
  return { store, path: p };
}

function openStore(kind: 'sqlite' | 'memory'): Store {
  if (kind === 'sqlite') return sqliteStore().store;
  const store = createMemoryStore({ modules: [{ name: 'presentities', memory: presentities.storage!.memory }] });
  stores.push(store);
  return store;
}

const record = (address: string, owner: string, extra: Partial<DeviceRecord> = {}): DeviceRecord => ({
  def: { address, kind: 'thing', owner, groups: ['lab'], heartbeatSeconds: 30, fields: { t: 'number' }, grants: { users: [], groups: [], domains: [] }, createdAt: 1 },
  base: UNREPORTED,
  current: { availability: 'available', activity: null, status: 'ok', fields: { t: 20 } },
  expiresAt: null,
  heartbeatDue: 31_000,
  lapsed: false,
  updatedAt: 1000,
  position: 1,
  ...extra,
});

describe('presentities storage', () => {
  for (const kind of ['sqlite', 'memory'] as const) {
    it(`stores things, heartbeats and the change log, and prunes it (${kind})`, async () => {
      const a = openStore(kind).area<PresentitiesArea>('presentities');
      expect(await a.lastSeq()).toBe(0);
      const r = record('p1@example.com', 'o@example.com');
      await a.put(r, { seq: 1, address: 'p1@example.com', at: 1000, presentity: null });
      await a.put(record('p2@example.com', 'o@example.com'), { seq: 2, address: 'p2@example.com', at: 1001, presentity: null });
      await a.heartbeat('p1@example.com', 99_000);
      const page = await a.page('', 10);
      expect(page.map((x) => x.def.address)).toEqual(['p1@example.com', 'p2@example.com']);
      expect(page[0]).toMatchObject({ heartbeatDue: 99_000, current: { fields: { t: 20 } } });
      expect((await a.page('p1@example.com', 10)).map((x) => x.def.address)).toEqual(['p2@example.com']);
      await a.note({ seq: 3, address: 'u@example.com', at: 1002, presentity: { address: 'u@example.com' } as Presentity });
      await a.remove('p2@example.com', { seq: 4, address: 'p2@example.com', at: 1003, presentity: null });
      expect((await a.page('', 10)).map((x) => x.def.address)).toEqual(['p1@example.com']);
      expect(await a.lastSeq()).toBe(4);
      expect((await a.changesAfter(2, 10)).map((c) => [c.seq, c.address, c.presentity === null])).toEqual([
        [3, 'u@example.com', false],
        [4, 'p2@example.com', true],
      ]);
      expect(await a.prune(2)).toBe(2);
      expect((await a.changesAfter(0, 10)).map((c) => c.seq)).toEqual([3, 4]);
    });
  }

  it('deadlines survive a restart: a heartbeat that lapsed meanwhile fires at start', async () => {
    const { store, path } = sqliteStore();
    const { engine } = await testEngine(['o@example.com'], { store });
    const hub = new PresentityHub(engine, store.area<PresentitiesArea>('presentities'), silentHostLog, { ringSize: 100 });
    await hub.start();
    await hub.define('o@example.com', 'press@example.com', defineBody.parse({ kind: 'thing', heartbeatSeconds: 1 }));
    await hub.update('o@example.com', 'press@example.com', { availability: 'available' });
    const before = hub.position;
    hub.stop();
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    await new Promise((r) => setTimeout(r, 1100));

    const again = sqliteStore(path).store;
    const { engine: e2 } = await testEngine(['o@example.com'], { store: again });
    const hub2 = new PresentityHub(e2, again.area<PresentitiesArea>('presentities'), silentHostLog, { ringSize: 100 });
    await hub2.start();
    expect(hub2.position).toBe(before);
    for (let i = 0; i < 100 && hub2.position === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(hub2.position).toBe(before + 1);
    const v = await hub2.viewerOf('o@example.com');
    expect(await hub2.visible(v, 'press@example.com')).toMatchObject({ availability: 'unknown', position: before + 1 });
    hub2.stop();
  });
});

describe('resuming across a restart', () => {
  it('a position from before the restart resumes from the stored change log, judged by today\'s grants', async () => {
    const { store, path } = sqliteStore();
    const { engine } = await testEngine(['o@example.com', 'v@example.com'], { store });
    const hub = new PresentityHub(engine, store.area<PresentitiesArea>('presentities'), silentHostLog, { ringSize: 100 });
    await hub.start();
    const grants = { users: ['v@example.com'] };
    await hub.define('o@example.com', 'open@example.com', defineBody.parse({ kind: 'thing', grants }));
    await hub.define('o@example.com', 'closed@example.com', defineBody.parse({ kind: 'thing' }));
    const since = hub.position;
    await hub.update('o@example.com', 'open@example.com', { status: 'one' });
    await hub.update('o@example.com', 'closed@example.com', { status: 'secret' });
    await hub.update('o@example.com', 'open@example.com', { status: 'two' });
    hub.stop();
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    const again = sqliteStore(path).store;
    const { engine: e2 } = await testEngine(['o@example.com', 'v@example.com'], { store: again });
    const hub2 = new PresentityHub(e2, again.area<PresentitiesArea>('presentities'), silentHostLog, { ringSize: 100 });
    await hub2.start();
    const out = new Collector();
    await hub2.subscribe('v@example.com', { addresses: ['open@example.com', 'closed@example.com'] }, since, out);
    expect(out.events).toEqual([
      ['resumed', since, since + 3],
      ['change', since + 1, 'open@example.com', true, 'one'],
      ['change', since + 3, 'open@example.com', true, 'two'],
    ]);
    // A position the log no longer holds (pruned) gets a snapshot that says so.
    await again.area<PresentitiesArea>('presentities').prune(1);
    const fresh = new Collector();
    await hub2.subscribe('v@example.com', { addresses: ['open@example.com'] }, since, fresh);
    expect(fresh.events).toEqual([['snapshot', since + 3, ['open@example.com'], true]]);
    hub2.stop();
  });
});

describe('deadlines', () => {
  it('fire in time order, once, and not when moved or cleared', async () => {
    const fired: string[] = [];
    const d = new Deadlines((key, kind) => fired.push(`${kind} ${key}`));
    const t = Date.now();
    d.set('c', 'heartbeat', t + 30);
    d.set('a', 'heartbeat', t + 10);
    d.set('b', 'expiry', t + 20);
    d.set('x', 'heartbeat', t + 15);
    d.set('x', 'heartbeat', null);
    d.set('c', 'heartbeat', t + 40);
    d.set('c', 'heartbeat', t + 25);
    for (let i = 0; i < 1000; i++) d.set('many', 'expiry', t + 100_000 + i);
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toEqual(['heartbeat a', 'expiry b', 'heartbeat c']);
    expect(d.size).toBe(1);
    d.stop();
  });
});

describe('visibility', () => {
  const def = record('t@example.com', 'owner@example.com').def;
  it('a thing: its owner and explicit grants (a user, a group, a domain) only', () => {
    expect(seesDevice(viewer('owner@example.com', []), def)).toBe(true);
    expect(seesDevice(viewer('x@example.com', []), def)).toBe(false);
    expect(seesDevice(viewer('x@example.com', ['lab']), def)).toBe(false); // a group it counts in is no grant
    expect(seesDevice(viewer('x@example.com', []), { ...def, grants: { users: ['x@example.com'], groups: [], domains: [] } })).toBe(true);
    expect(seesDevice(viewer('x@example.com', ['ops']), { ...def, grants: { users: [], groups: ['ops'], domains: [] } })).toBe(true);
    expect(seesDevice(viewer('x@example.com', []), { ...def, grants: { users: [], groups: [], domains: ['example.com'] } })).toBe(true);
    expect(seesDevice(viewer('x@example.org', []), { ...def, grants: { users: [], groups: [], domains: ['example.com'] } })).toBe(false);
  });
  it('a person: themselves and their presence audience', () => {
    expect(seesPerson(viewer('a@example.com', []), 'a@example.com', new Set())).toBe(true);
    expect(seesPerson(viewer('b@example.com', []), 'a@example.com', new Set(['b@example.com']))).toBe(true);
    expect(seesPerson(viewer('c@example.com', []), 'a@example.com', new Set(['b@example.com']))).toBe(false);
  });
});

/** Collects a subscription's events. */
class Collector implements SubscriptionOut {
  readonly events: Array<[string, ...unknown[]]> = [];
  snapshot(position: number, list: Presentity[], reset: boolean): void {
    this.events.push(['snapshot', position, list.map((p) => p.address), reset]);
  }
  resumed(from: number, position: number): void {
    this.events.push(['resumed', from, position]);
  }
  change(position: number, address: string, p: Presentity | null, match: boolean): void {
    this.events.push(['change', position, address, match, p?.status ?? null]);
  }
}

describe('subscriptions', () => {
  it('a change made while a subscription starts is neither lost nor repeated; where filters; leaving is told once', async () => {
    const store = openStore('memory');
    const { engine } = await testEngine(['o@example.com', 'v@example.com'], { store });
    const hub = new PresentityHub(engine, store.area<PresentitiesArea>('presentities'), silentHostLog, { ringSize: 100 });
    await hub.start();
    const grants = { users: ['v@example.com'] };
    await hub.define('o@example.com', 'm1@example.com', defineBody.parse({ kind: 'thing', groups: ['floor'], grants }));
    await hub.define('o@example.com', 'm2@example.com', defineBody.parse({ kind: 'thing', groups: ['floor'], grants }));
    await hub.update('o@example.com', 'm1@example.com', { availability: 'available', status: 'a' });
    const out = new Collector();
    const starting = hub.subscribe('v@example.com', { group: 'floor', where: { availability: ['available'] } }, null, out);
    const racing = hub.update('o@example.com', 'm2@example.com', { availability: 'available', status: 'b' });
    await Promise.all([starting, racing]);
    await hub.update('o@example.com', 'm1@example.com', { availability: 'away', status: 'c' });
    await hub.update('o@example.com', 'm1@example.com', { availability: 'xa', status: 'd' });
    const snap = out.events[0]!;
    expect(snap[0]).toBe('snapshot');
    const m2 = out.events.filter((e) => e[0] === 'change' && e[2] === 'm2@example.com');
    // Either in the snapshot or as one change, never both and never neither.
    expect((snap[2] as string[]).includes('m2@example.com') ? 0 : 1).toBe(m2.length);
    // m1 left the view (away) once; the xa change is not sent.
    expect(out.events.filter((e) => e[0] === 'change' && e[2] === 'm1@example.com')).toEqual([['change', expect.any(Number), 'm1@example.com', false, null]]);
    hub.stop();
  });
});
