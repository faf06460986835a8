/**
 * The notify module through the seam, on the test engine: the routing rules, load spreading (round robin and
 * fewest open), the deadline heap, replies to the service address, the JSON operations, escalation and its
 * deadlines surviving a restart (over a SQLite file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionPresence, UserPresence } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';
import type { Outbound } from '../../engine/outbound.js';
import type { Store } from '../../ports/store.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { ModuleHost } from '../host.js';
import { cliContext, runOp, silentHostLog } from '../testing.js';
import { archive } from '../archive/index.js';
import { archiveOptions } from '../archive/options.js';
import type { ArchiveArea } from '../archive/sqlite.js';
import { notifyCommands } from './commands.js';
import { Deadlines } from '../deadlines.js';
import { notify, notifyServiceOf } from './index.js';
import { notifyOptions } from './options.js';
import { choose, tierOf, type Candidate } from './routing.js';
import { parseReply, type NotifyService } from './service.js';
import { area, type NotifyArea } from './sqlite.js';

const USERS = ['a@example.com', 'b@example.com', 'c@example.com', 'root@example.com'];

describe('routing rules', () => {
  const p = (availability: UserPresence['availability'], activity: UserPresence['activity'] = null, state: UserPresence['state'] = 'available') => ({ state, availability, activity });
  it('puts people in tiers by presence and severity', () => {
    expect(tierOf(p('available'), 'info')).toBe(1);
    expect(tierOf(p('chat'), 'warning')).toBe(1);
    expect(tierOf(p('away'), 'info')).toBe(2);
    expect(tierOf(p('xa'), 'info')).toBe(2);
    expect(tierOf(p('available', 'in-meeting'), 'error')).toBe(2);
    expect(tierOf(p('available', 'busy'), 'error')).toBe(2);
    // Never in do-not-disturb, presenting or on the phone unless critical; then last.
    for (const q of [p('dnd'), p('available', 'presenting'), p('available', 'on-the-phone'), p('away', 'on-holiday')]) {
      expect(tierOf(q, 'error')).toBeNull();
      expect(tierOf(q, 'critical')).toBe(3);
    }
    expect(tierOf({ state: 'offline', availability: null, activity: null }, 'critical')).toBeNull();
  });

  it('chooses the best tier, then spreads by round robin or fewest open', () => {
    const c = (tier: Candidate['tier'], open = 0): Candidate => ({ address: 'x', tier, open });
    const group = [c(1, 3), c(2), c(1, 1), c(1, 1), c(null)];
    expect(choose(group, 'ordered', -1)).toBe(0);
    expect(choose(group, 'round-robin', -1)).toBe(0);
    expect(choose(group, 'round-robin', 0)).toBe(2);
    expect(choose(group, 'round-robin', 2)).toBe(3);
    expect(choose(group, 'round-robin', 3)).toBe(0);
    // Fewest open among tier 1 (index 2 and 3 have one each): the tie goes to the round robin order.
    expect(choose(group, 'fewest-open', -1)).toBe(2);
    expect(choose(group, 'fewest-open', 2)).toBe(3);
    expect(choose([c(2), c(3)], 'round-robin', -1)).toBe(0);
    expect(choose([c(null), c(null)], 'round-robin', -1)).toBe(-1);
  });

  it('reads replies', () => {
    expect(parseReply(' ACK ')).toEqual({ action: 'acknowledge', id: null });
    expect(parseReply('ack 1z')).toEqual({ action: 'acknowledge', id: 71 });
    expect(parseReply('Resolve #a')).toEqual({ action: 'resolve', id: 10 });
    expect(parseReply('acknowledge.')).toEqual({ action: 'acknowledge', id: null });
    expect(parseReply('ok thanks')).toBeNull();
    expect(parseReply('ack me now')).toBeNull();
  });
});

describe('deadlines', () => {
  it('fires in deadline order, once, and honours moves and cancellations', async () => {
    const fired: number[] = [];
    const d = new Deadlines<number>((id) => fired.push(id));
    const now = Date.now();
    for (let i = 1; i <= 500; i++) d.set(i, now + ((i * 7919) % 40));
    d.set(3, now + 60);
    d.cancel(4);
    d.set(5, now - 10);
    await new Promise((r) => setTimeout(r, 120));
    expect(fired).toHaveLength(499);
    expect(new Set(fired).size).toBe(499);
    expect(fired).not.toContain(4);
    expect(fired[0]).toBe(5);
    expect(fired[fired.length - 1]).toBe(3);
    expect(d.size).toBe(0);
    d.stop();
  });
});

/** A test server of the module over `store`. */
interface Rig {
  engine: Engine;
  store: Store;
  host: ModuleHost;
  area: NotifyArea;
  service: NotifyService;
  /** Opens a session of `user` with `presence`; returns what it received. */
  online(user: string, presence?: Partial<SessionPresence>): Promise<{ session: Session; got: Array<Record<string, unknown>> }>;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.close()));
});

async function rig(options: Record<string, unknown> = {}, store: Store = createMemoryStore({ modules: [{ name: 'notify', memory: notify.storage!.memory }] }), fresh = true): Promise<Rig> {
  const { engine } = await testEngine(fresh ? USERS : [], { password: 'secret-pw', store });
  if (fresh) for (const u of ['a', 'b', 'c']) await engine.admin.addGroupMember('ops', `${u}@example.com`);
  const parsed = { notify: notifyOptions.parse({ enabled: true, ...options }) };
  const host = await ModuleHost.setup([notify], parsed, { engine, store, bus: engine.bus, log: silentHostLog });
  host.start();
  const a = store.area<NotifyArea>('notify');
  const sessions: Session[] = [];
  const r: Rig = {
    engine,
    store,
    host,
    area: a,
    service: notifyServiceOf(engine)!,
    async online(user, presence = {}) {
      const got: Array<Record<string, unknown>> = [];
      const { session } = await engine.openSession(user, `r${sessions.length}`, { send: (o: Outbound) => got.push({ ev: o.event.ev, ...o.event.data }), close: () => undefined }, { ...testPresence, updatedAt: Date.now(), ...presence });
      engine.goLive(session);
      await engine.setPresence(session, { ...testPresence, updatedAt: Date.now(), ...presence });
      sessions.push(session);
      return { session, got };
    },
    async close() {
      await host.close();
      await engine.closeAll('test over');
      await store.close();
    },
  };
  rigs.push(r);
  return r;
}

const until = async (cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((res) => setTimeout(res, 5));
  }
};

const imsTo = (got: Array<Record<string, unknown>>) => got.filter((e) => e.ev === 'message' && String(e.from).startsWith('notify@example.com'));

describe('notify module', () => {
  it('creates the service address and spreads a group by round robin', async () => {
    const r = await rig();
    expect(await r.area.serviceAccounts()).toEqual(['notify@example.com']);
    const people = await Promise.all(['a', 'b', 'c'].map((u) => r.online(`${u}@example.com`)));
    const svc = r.service;
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { notification } = await svc.post({ title: `t${i}`, body: '', severity: 'info', target: { type: 'group', group: 'ops' } }, 'root@example.com');
      got.push(notification.assignee!);
    }
    expect(got).toEqual(['a@example.com', 'b@example.com', 'c@example.com', 'a@example.com']);
    await until(() => imsTo(people[0]!.got).length === 2);
    const im = imsTo(people[0]!.got)[0]!;
    expect(im.body).toContain('[INFO] t0 (#1)');
    expect(im.body).toContain('Reply "ack" to acknowledge or "resolve" to resolve');
    expect(im.clientId).toMatch(/^notify:1:0:0:[\w-]{8}$/);
  });

  it('creates its service account again after an administrator removed it', async () => {
    const r = await rig();
    const a = await r.online('a@example.com');
    await r.engine.admin.removeUser('notify@example.com');
    expect(await r.area.serviceAccounts()).toEqual([]);
    const { notification } = await r.service.post({ title: 'back', body: '', severity: 'info', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    expect(notification.assignee).toBe('a@example.com');
    await until(() => imsTo(a.got).length === 1);
    expect(await r.area.serviceAccounts()).toEqual(['notify@example.com']);
  });

  it('opens its session again, and creates its account again, after both went behind its back', async () => {
    const r = await rig();
    const a = await r.online('a@example.com');
    await r.service.post({ title: 'one', body: '', severity: 'info', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    // As the operator CLI would: the account removed in the database, its session ended by the engine's sweep.
    await r.store.accounts.remove('notify@example.com');
    for (const s of [...r.engine.sessions.of('notify@example.com')]) await r.engine.closeSession(s);
    const { notification } = await r.service.post({ title: 'two', body: '', severity: 'info', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    expect(notification.assignee).toBe('a@example.com');
    await until(() => imsTo(a.got).length === 2);
    expect(r.engine.sessions.countOf('notify@example.com')).toBe(1);
  });

  it('spreads notifications posted at the same time evenly, by either strategy', async () => {
    for (const strategy of ['round-robin', 'fewest-open'] as const) {
      const r = await rig();
      for (const u of ['a', 'b', 'c']) await r.online(`${u}@example.com`);
      const posts = Array.from({ length: 30 }, (_, i) =>
        r.service.post({ title: `t${i}`, body: '', severity: 'info', target: { type: 'group', group: 'ops', strategy } }, 'root@example.com'),
      );
      const counts: Record<string, number> = {};
      for (const { notification } of await Promise.all(posts)) counts[notification.assignee!] = (counts[notification.assignee!] ?? 0) + 1;
      expect({ strategy, counts }).toEqual({ strategy, counts: { 'a@example.com': 10, 'b@example.com': 10, 'c@example.com': 10 } });
    }
  });

  it('spreads by fewest open, and skips do-not-disturb unless critical', async () => {
    const r = await rig({ strategy: 'fewest-open' });
    await r.online('a@example.com');
    await r.online('b@example.com');
    await r.online('c@example.com', { availability: 'dnd' });
    const svc = r.service;
    const post = async (severity: 'info' | 'critical', person?: string) =>
      (await svc.post({ title: 'x', body: '', severity, target: person ? { type: 'person', address: person } : { type: 'group', group: 'ops' } }, 'root@example.com')).notification;
    // a gets two of its own first.
    await post('info', 'a@example.com');
    await post('info', 'a@example.com');
    expect((await post('info')).assignee).toBe('b@example.com');
    expect((await post('info')).assignee).toBe('b@example.com');
    // Two each now: the tie goes round robin after b, past c (in do-not-disturb), to a.
    expect((await post('info')).assignee).toBe('a@example.com');
    // c only for critical.
    const quiet = await post('info', 'c@example.com');
    expect(quiet.assignee).toBeNull();
    expect(quiet.exhausted).toBe(true);
    expect((await post('critical', 'c@example.com')).assignee).toBe('c@example.com');
  });

  it('acknowledges by a reply "ack" and by the JSON operation; others may not', async () => {
    const r = await rig();
    const a = await r.online('a@example.com');
    const svc = r.service;
    const { notification: n1 } = await svc.post({ title: 'disk', body: 'full', severity: 'warning', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    await r.engine.messages.send(a.session, { local: 'notify', domain: 'example.com', resource: null } as never, '  ACK ', null, Date.now());
    await until(async () => (await r.area.get(n1.id))!.state === 'acknowledged');
    await until(() => imsTo(a.got).some((m) => String(m.body).startsWith('Acknowledged #1')));
    const { notification: n2 } = await svc.post({ title: 'cpu', body: '', severity: 'warning', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    const { notification: n3 } = await svc.post({ title: 'mem', body: '', severity: 'warning', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    // Two open: a bare "ack" asks which.
    await r.engine.messages.send(a.session, { local: 'notify', domain: 'example.com', resource: null } as never, 'ack', null, Date.now());
    await until(() => imsTo(a.got).some((m) => String(m.body).startsWith('Several notifications are open')));
    await r.engine.messages.send(a.session, { local: 'notify', domain: 'example.com', resource: null } as never, `resolve ${n3.short}`, null, Date.now());
    await until(async () => (await r.area.get(n3.id))!.state === 'resolved');
    // JSON operations.
    expect(await runOp(r.host, r.engine, 'a@example.com', 'notify.open', {})).toMatchObject({ notifications: [{ id: n2.id, actions: [{ action: 'acknowledge', op: 'notify.ack' }, { action: 'resolve' }] }, { id: n1.id, actions: [{ action: 'resolve' }] }] });
    await expect(runOp(r.host, r.engine, 'b@example.com', 'notify.ack', { id: n2.id })).rejects.toMatchObject({ code: 'forbidden' });
    expect(await runOp(r.host, r.engine, 'a@example.com', 'notify.ack', { id: n2.short })).toMatchObject({ changed: true, notification: { state: 'acknowledged', acknowledgedBy: 'a@example.com' } });
    expect(await runOp(r.host, r.engine, 'a@example.com', 'notify.resolve', { id: n2.id })).toMatchObject({ changed: true, notification: { state: 'resolved' } });
    await expect(runOp(r.host, r.engine, 'a@example.com', 'notify.ack', { id: n2.id, extra: 1 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(runOp(r.host, r.engine, 'a@example.com', 'notify.get', { id: 999 })).rejects.toMatchObject({ code: 'item-not-found' });
    const d = (await r.area.detail(n2.id))!;
    expect(d.acknowledgements.map((x) => [x.action, x.via])).toEqual([['acknowledge', 'json'], ['resolve', 'json']]);
    expect((await r.area.detail(n1.id))!.acknowledgements.map((x) => x.via)).toEqual(['im']);
  });

  it('routes to the holders of a room role and along a rota from the one on call', async () => {
    const r = await rig();
    const a = await r.online('a@example.com');
    await r.online('b@example.com');
    await r.online('c@example.com');
    const { address: room } = await r.engine.rooms.create('a@example.com', 'Ops', 'ops', false);
    for (const u of ['b', 'c']) await r.engine.rooms.join(room, `${u}@example.com`);
    await r.engine.rooms.setRole(room, 'a@example.com', 'c@example.com', 'admin');
    const post = async (target: Record<string, unknown>) =>
      (await r.service.post({ title: 'x', body: '', severity: 'info', target: target as never }, 'root@example.com')).notification.assignee;
    // Admins or stronger: a (owner) and c (admin), round robin; never b (member).
    const got = [await post({ type: 'role', room, role: 'admin' }), await post({ type: 'role', room, role: 'admin' }), await post({ type: 'role', room, role: 'admin' })];
    expect(got.sort()).toEqual(['a@example.com', 'a@example.com', 'c@example.com']);
    await r.area.rotaPut({ name: 'db', members: ['c@example.com', 'b@example.com', 'a@example.com'], current: 1 }, false);
    expect(await post({ type: 'rota', rota: 'db' })).toBe('b@example.com');
    await r.area.rotaAdvance('db');
    expect(await post({ type: 'rota', rota: 'db' })).toBe('a@example.com');
    // The one on call is busy on the phone: the next in the rota.
    await r.engine.setPresence(a.session, { ...testPresence, activity: 'on-the-phone', updatedAt: Date.now() });
    expect(await post({ type: 'rota', rota: 'db' })).toBe('c@example.com');
    await expect(post({ type: 'rota', rota: 'none' })).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(post({ type: 'group', group: 'none' })).rejects.toMatchObject({ code: 'item-not-found' });
  });

  it('with the compliance archive on, the post, the delivery, the IM, the reply and the acknowledgement are journaled', async () => {
    const store = createMemoryStore({ modules: [{ name: 'archive', memory: archive.storage!.memory }, { name: 'notify', memory: notify.storage!.memory }] });
    const { engine } = await testEngine(USERS, { password: 'secret-pw', store });
    const options = { archive: archiveOptions.parse({ enabled: true, checkpointSeconds: 3600 }), notify: notifyOptions.parse({ enabled: true }) };
    const host = await ModuleHost.setup([archive, notify], options, { engine, store, bus: engine.bus, log: silentHostLog });
    host.start();
    try {
      const { session } = await engine.openSession('a@example.com', 'desk', { send: () => undefined, close: () => undefined }, { ...testPresence });
      engine.goLive(session);
      await engine.setPresence(session, { ...testPresence, updatedAt: Date.now() });
      const journal = store.area<ArchiveArea>('archive');
      const before = await journal.size();
      const { notification } = await notifyServiceOf(engine)!.post({ title: 'audited', body: '', severity: 'info', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
      await engine.messages.send(session, { local: 'notify', domain: 'example.com', resource: null } as never, 'ack', null, Date.now());
      await until(async () => (await store.area<NotifyArea>('notify').get(notification.id))!.state === 'acknowledged');
      const entries: string[] = [];
      for (let i = before; i < (await journal.size()); i++) entries.push((await journal.entry(i))!.entry ?? '');
      const parsed = entries.map((e) => JSON.parse(e) as Record<string, unknown>);
      expect(parsed).toContainEqual(expect.objectContaining({ type: 'message', actor: 'notify@example.com', subject: 'a@example.com', body: expect.stringContaining('[INFO] audited') }));
      expect(parsed).toContainEqual(expect.objectContaining({ type: 'message', actor: 'a@example.com', subject: 'notify@example.com', body: 'ack' }));
      // The module's own records, through the change gate, each before it was stored.
      const types = parsed.map((e) => e['type']);
      expect(types.indexOf('notify.posted')).toBeGreaterThanOrEqual(0);
      expect(types.indexOf('notify.posted')).toBeLessThan(types.indexOf('notify.updated'));
      expect(types.indexOf('notify.updated')).toBeLessThan(types.indexOf('notify.acknowledged'));
      expect(parsed.find((e) => e['type'] === 'notify.posted')).toMatchObject({ actor: 'root@example.com', subject: 'a@example.com', title: 'audited', severity: 'info' });
      expect(parsed.find((e) => e['type'] === 'notify.updated')).toMatchObject({ subject: 'a@example.com', id: notification.id, deliveries: [expect.objectContaining({ address: 'a@example.com', channel: 'im' })] });
      expect(parsed.find((e) => e['type'] === 'notify.acknowledged')).toMatchObject({ actor: 'a@example.com', id: notification.id, via: expect.any(String) });
    } finally {
      await host.close();
      await engine.closeAll('test over');
      await store.close();
    }
  });

  it('lists and shows notifications to the operator (parley notify list|show)', async () => {
    const r = await rig();
    await r.online('a@example.com');
    const { notification } = await r.service.post({ title: 'disk', body: '', severity: 'warning', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    const [list, show] = notifyCommands();
    let out = '';
    let err = '';
    const io = cliContext(notifyOptions.parse({ enabled: true }), r.store, { out: (x: string) => void (out += x), err: (x: string) => void (err += x) });
    expect(await list!.run(['open'], io)).toBe(0);
    expect(out).toBe(`${notification.id}\t#${notification.short}\ttriggered\twarning\ta@example.com\tdisk\n`);
    out = '';
    expect(await show!.run([String(notification.id)], io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ notification: { id: notification.id }, deliveries: [{ address: 'a@example.com' }] });
    expect(await list!.run(['sleeping'], io)).toBe(2);
    expect(await show!.run(['x'], io)).toBe(2);
    expect(await show!.run(['999'], io)).toBe(1);
    expect(err).toContain('no notification 999');
  });

  it('counts a second post with the same dedup key while the first is open', async () => {
    const r = await rig();
    await r.online('a@example.com');
    const svc = r.service;
    const post = () => svc.post({ title: 'db', body: '', severity: 'error', dedupKey: 'db-1', target: { type: 'person', address: 'a@example.com' } }, 'root@example.com');
    const first = await post();
    const second = await post();
    expect(second.duplicate).toBe(true);
    expect(second.notification.id).toBe(first.notification.id);
    expect(second.notification.duplicates).toBe(1);
    await svc.act(first.notification.id, 'a@example.com', 'resolve', 'http', false);
    const third = await post();
    expect(third.duplicate).toBe(false);
    expect(third.notification.id).not.toBe(first.notification.id);
  });

  it('escalates to the next person, repeats, then gives up with nobody left', async () => {
    const r = await rig({ defaultPolicy: { steps: [{ delaySeconds: 0.05 }, { delaySeconds: 0.05 }], repeats: 1 } });
    await r.online('a@example.com');
    await r.online('b@example.com', { availability: 'away' });
    const svc = r.service;
    const { notification } = await svc.post({ title: 'x', body: '', severity: 'info', target: { type: 'group', group: 'ops' } }, 'root@example.com');
    expect(notification.assignee).toBe('a@example.com');
    await until(async () => (await r.area.get(notification.id))!.exhausted, 3000);
    const d = (await r.area.detail(notification.id))!;
    expect(d.deliveries.map((x) => `${x.cycle}.${x.step} ${x.address}`)).toEqual(['0.0 a@example.com', '0.1 b@example.com', '1.0 a@example.com', '1.1 b@example.com']);
    expect(d.events.map((e) => e.kind)).toEqual(['posted', 'delivered', 'escalated', 'delivered', 'escalated', 'repeated', 'delivered', 'escalated', 'delivered', 'escalated', 'email.skipped', 'exhausted']);
  });

  it('keeps deadlines across a restart and runs overdue steps at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-notify-'));
    try {
      const path = join(dir, 'p.db');
      const open = () => createSqliteStore({ path, modules: [{ name: 'notify', area }] });
      const opts = { defaultPolicy: { steps: [{ delaySeconds: 0.3 }, { delaySeconds: 60 }], repeats: 0 } };
      const r1 = await rig(opts, open());
      await r1.online('a@example.com');
      await r1.online('b@example.com');
      const { notification } = await r1.service.post({ title: 'x', body: '', severity: 'info', target: { type: 'group', group: 'ops' } }, 'root@example.com');
      expect(notification.assignee).toBe('a@example.com');
      rigs.splice(rigs.indexOf(r1), 1);
      await r1.close();
      await new Promise((res) => setTimeout(res, 350));
      const r2 = await rig(opts, open(), false);
      const b = await r2.online('b@example.com');
      await until(async () => (await r2.area.get(notification.id))!.assignee === 'b@example.com', 3000);
      await until(() => imsTo(b.got).length === 1);
      expect((await r2.area.get(notification.id))!.step).toBe(1);
    } finally {
      await Promise.all(rigs.splice(0).map((r) => r.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

