/**
 * The audit module through the seam, on the test engine and the memory store: changes made through the engine
 * (accounts, shared groups, rooms, a module's own) are recorded with actor, type, subject and data once made, a
 * refused change is not, secrets never reach the log; every change type is hooked; the CLI's changes are
 * recorded and taken back when they fail; filters, paging and pruning.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import { CHANGES, type Change } from '../../engine/events.js';
import { defineModule, type ModuleApi } from '../api.js';
import { moduleFixture, runOp } from '../testing.js';
import { parseListArgs } from './commands.js';
import { digestOf, entryOf } from './entry.js';
import { audit, pruneAudit } from './index.js';
import type { AuditArea } from './sqlite.js';

/** A module that makes its own changes through ModuleApi.change, as apikeys or notify do. */
function probe(): { module: ReturnType<typeof defineModule>; api: () => ModuleApi<{ enabled: boolean }> } {
  let captured: ModuleApi<{ enabled: boolean }> | null = null;
  const module = defineModule({
    name: 'probe',
    summary: 'a module that makes changes',
    options: z.strictObject({ enabled: z.boolean().default(true) }),
    setup(api) {
      captured = api;
    },
  });
  return { module, api: () => captured! };
}

async function fixture() {
  const p = probe();
  const f = await moduleFixture([p.module, audit]);
  const area = f.store.area<AuditArea>('audit');
  const all = async () => (await area.list({ limit: 1000 })).entries;
  return { ...f, probe: p.api(), area, all };
}

describe('the audit log', () => {
  it('records changes made through the engine, once made, with actor, type, subject and data', async () => {
    const { engine, all } = await fixture();
    await engine.admin.addUser('carol@example.com', 'pw-carol-123', false, 'root@example.com');
    await engine.admin.addGroupMember('sales', 'carol@example.com', 'root@example.com');
    await engine.admin.addDomain('other.example', null);
    const entries = await all();
    const byType = new Map(entries.map((e) => [e.type, e]));
    expect(byType.get('account.created')).toMatchObject({ actor: 'root@example.com', subject: 'carol@example.com', data: {}, node: engine.nodeId });
    expect(byType.get('group.membership')).toMatchObject({ actor: 'root@example.com', subject: 'carol@example.com', data: { group: 'sales', member: true } });
    expect(byType.get('domain.added')).toMatchObject({ actor: null, subject: 'other.example', data: {} });
    // Newest first, ids increasing with time.
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort((a, b) => b - a));
    expect(entries.every((e) => typeof e.at === 'number' && e.at > 0)).toBe(true);
  });

  it('records rooms and memberships with the member as subject and the room in data', async () => {
    const { engine, host, all } = await fixture();
    const { room } = (await runOp(host, engine, 'a@example.com', 'room.create', { name: 'Planning' })) as { room: { address: string } };
    const r = { room: room.address };
    await runOp(host, engine, 'a@example.com', 'room.invite', { room: r.room, user: 'b@example.com' });
    const entries = await all();
    expect(entries.find((e) => e.type === 'room.created')).toMatchObject({ actor: 'a@example.com', subject: r.room });
    expect(entries.find((e) => e.type === 'room.invited')).toMatchObject({ actor: 'a@example.com', subject: 'b@example.com', data: { room: r.room } });
  });

  it('records a module\'s own change as <module>.<kind>, without secrets', async () => {
    const { probe: api, all } = await fixture();
    await api.change('key.created', { actor: 'root@example.com', subject: 'bot@example.com', data: { name: 'ci', scopes: ['presence'], key: 'pk_live_123', secret: 's', password: 'p', nested: { token: 't', keep: 1 } } }, async () => 1);
    const [e] = await all();
    expect(e).toMatchObject({ type: 'probe.key.created', actor: 'root@example.com', subject: 'bot@example.com' });
    expect(e!.data).toEqual({ name: 'ci', scopes: ['presence'], nested: { keep: 1 } });
    expect(JSON.stringify(e)).not.toMatch(/pk_live_123|"s"|"p"|"t"/);
  });

  it('shows a subject that is a capability (a file\'s download token) only as a digest', async () => {
    const { probe: api, all } = await fixture();
    await api.change('stored', { actor: 'a@example.com', subject: 'tok-256-random-bits', secretSubject: true, data: { name: 'x.pdf' } }, async () => 1);
    const [e] = await all();
    expect(e).toMatchObject({ type: 'probe.stored', subject: digestOf('tok-256-random-bits'), data: { name: 'x.pdf' } });
    expect(e!.subject).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(JSON.stringify(e)).not.toContain('tok-256-random-bits');
  });

  it('does not record a change that was refused or failed', async () => {
    const { engine, probe: api, all } = await fixture();
    const off = engine.events.on('change.check', (c) => {
      if (c.type === 'account.created' && c.address.startsWith('refused')) throw new ParleyError('policy-violation', 'no');
    });
    await expect(engine.admin.addUser('refused@example.com', 'pw-refused-1', false, 'root@example.com')).rejects.toThrow();
    off();
    await expect(api.change('thing.made', {}, async () => Promise.reject(new ParleyError('conflict', 'taken')))).rejects.toThrow('taken');
    expect((await all()).map((e) => e.type)).toEqual([]);
  });

  it('hooks the notification of every change type the engine lists', async () => {
    const { engine } = await fixture();
    for (const name of CHANGES) expect({ name, hooked: engine.events.has(name) }).toEqual({ name, hooked: true });
  });

  it('a CLI change is recorded at the check with the operator as actor, and taken back when it fails', async () => {
    const { store, area } = await fixture();
    const options = { enabled: true, retentionDays: 400 };
    const made: Change = { type: 'account.created', address: 'dave@example.com', by: 'cli:ops' };
    const failed: Change = { type: 'domain.removed', domain: 'gone.example', by: 'cli:ops' };
    await audit.operatorChange!({ phase: 'check', change: made }, { options, store });
    await audit.operatorChange!({ phase: 'check', change: failed }, { options, store });
    await audit.operatorChange!({ phase: 'failed', change: failed, code: 'item-not-found' }, { options, store });
    const entries = (await area.list({ limit: 10 })).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ type: 'account.created', actor: 'cli:ops', subject: 'dave@example.com', node: null });
  });

  it('filters by type (exact or prefix), actor, subject and time, and pages newest first', async () => {
    const { area } = await fixture();
    const at = 1_700_000_000_000;
    const changes: Change[] = [
      { type: 'account.created', address: 'u1@example.com', by: 'root@example.com' },
      { type: 'account.removed', address: 'u1@example.com', by: 'root@example.com' },
      { type: 'room.created', room: 'r@rooms.example.com', owner: 'u2@example.com' },
      { type: 'domain.added', domain: 'x.example', by: null },
      { type: 'account.changed', address: 'u2@example.com', change: 'password', by: 'u2@example.com' },
    ];
    for (const [i, c] of changes.entries()) await area.recordOne(entryOf(c, at + i * 1000, 'n1'));
    const types = async (q: Parameters<AuditArea['list']>[0]) => (await area.list(q)).entries.map((e) => e.type);
    expect(await types({ limit: 10, type: 'account.*' })).toEqual(['account.changed', 'account.removed', 'account.created']);
    expect(await types({ limit: 10, type: 'account.created' })).toEqual(['account.created']);
    expect(await types({ limit: 10, actor: 'root@example.com' })).toEqual(['account.removed', 'account.created']);
    expect(await types({ limit: 10, subject: 'u2@example.com' })).toEqual(['account.changed']);
    expect(await types({ limit: 10, from: at + 1000, to: at + 3001 })).toEqual(['domain.added', 'room.created', 'account.removed']);
    // Pages of two: next is the last entry's id, and the last page has none.
    const p1 = await area.list({ limit: 2 });
    const p2 = await area.list({ limit: 2, before: p1.next! });
    const p3 = await area.list({ limit: 2, before: p2.next! });
    expect([...p1.entries, ...p2.entries, ...p3.entries].map((e) => e.type)).toEqual(changes.map((c) => c.type).reverse());
    expect(p3.next).toBeNull();
  });

  it('prunes entries older than the retention, and keeps everything with 0', async () => {
    const { area, all } = await fixture();
    const now = Date.now();
    const c: Change = { type: 'domain.added', domain: 'x.example', by: null };
    await area.recordOne(entryOf(c, now - 10 * 86_400_000, null));
    await area.recordOne(entryOf(c, now - 2 * 86_400_000, null));
    await area.recordOne(entryOf(c, now, null));
    expect(await pruneAudit(area, 0, now)).toBe(0);
    expect(await pruneAudit(area, 5, now)).toBe(1);
    expect((await all()).map((e) => e.at)).toEqual([now, now - 2 * 86_400_000]);
  });

  it('parses the CLI\'s list flags', () => {
    expect(parseListArgs(['--type', 'account.*', '--actor', 'root@example.com', '--since', '2026-01-02', '--limit', '5'])).toEqual({
      limit: 5,
      type: 'account.*',
      actor: 'root@example.com',
      from: Date.UTC(2026, 0, 2),
    });
    expect(parseListArgs(['--since', 'yesterday'])).toMatch(/--since/);
    expect(parseListArgs(['--limit', '0'])).toMatch(/--limit/);
    expect(parseListArgs(['--colour', 'red'])).toMatch(/unknown option/);
  });
});
