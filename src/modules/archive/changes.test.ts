/**
 * Changes that are not messages are journaled before they take effect: with the journal broken (as a full or
 * failing disk would break it) each is refused with service-unavailable and nothing changes; with it working,
 * each records exactly one entry. Rooms, membership, roles and invitations, accounts, domains and shared groups
 * through the server and the `parley` CLI, live options set with the CLI, the archive's own roles and policies.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ParleyError } from '../../core/errors.js';
import { runCli } from '../../app/cli.js';
import { archiveRig, type ArchiveRig } from './test-rig.js';

let r: ArchiveRig;
beforeEach(async () => {
  r = await archiveRig();
  // A second domain, so removing one is a change to test.
  await r.engine.admin.addDomain('example.net', 'root@example.com');
  await r.engine.admin.addGroupMember('traders', 'alice@example.com', 'root@example.com');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await r.close();
});

/** Makes every write to the journal fail (and mends it) from another connection, as a failing disk would. */
function journalBroken(on: boolean): void {
  const db = new Database(r.path);
  db.exec(
    on
      ? "CREATE TRIGGER archive_journal_refuses BEFORE INSERT ON archive_journal BEGIN SELECT RAISE(ABORT, 'the disk refuses'); END"
      : 'DROP TRIGGER archive_journal_refuses',
  );
  db.close();
}

/** Every stored fact a change could touch, to compare before and after a refused one. */
async function state(): Promise<unknown> {
  const { store, room } = r;
  const users = ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com', 'erin@example.com'];
  return {
    domains: await store.domains.list(),
    accounts: await Promise.all(
      users.map(async (u) => {
        const a = await store.accounts.get(u);
        return a === null ? null : { credentials: a.credentials, admin: a.admin, disabled: a.disabled };
      }),
    ),
    rooms: (await store.rooms.list()).map((x) => x.address),
    members: await store.rooms.members(room),
    invites: await store.rooms.invitesOf('carol@example.com'),
    officers: await r.archive.roleHolders('officer'),
    policies: await r.archive.retentionList(),
    holds: await r.archive.holdList(true),
    lexicons: await r.archive.lexiconList(),
    groups: await r.engine.admin.groups(),
    settings: await store.settings.list(),
  };
}

/** The entry types journaled after `size`. */
async function typesAfter(size: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = size; i < (await r.archive.size()); i++) out.push((await r.archive.entry(i))!.type);
  return out;
}

/** Runs `parley ...` in this process on the rig's database, with the archive on. */
async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  vi.stubEnv('PARLEY_STORAGE__SQLITE__PATH', r.path);
  vi.stubEnv('PARLEY_MODULES__ARCHIVE__ENABLED', 'true');
  vi.stubEnv('PARLEY_MODULES__ARCHIVE__ORIGIN', 'example.com/archive');
  let err = '';
  const code = await runCli(args, { out: () => undefined, err: (s) => (err += s) });
  return { code, err };
}

const conference = (): string => r.room.slice(r.room.indexOf('@') + 1);

/** Each change: what makes it, and the entry type it journals. */
const CHANGES: Array<{ name: string; type: string; run: () => Promise<unknown> }> = [
  { name: 'a room created', type: 'room.created', run: () => r.engine.rooms.create('carol@example.com', 'New', 'new', false) },
  { name: 'a room destroyed', type: 'room.destroyed', run: () => r.engine.rooms.destroy(r.room, 'alice@example.com') },
  { name: 'a member joining', type: 'room.membership', run: () => r.engine.rooms.join(r.room, 'carol@example.com') },
  { name: 'a member leaving', type: 'room.membership', run: () => r.engine.rooms.leave(r.room, 'bob@example.com') },
  { name: 'a member kicked', type: 'room.membership', run: () => r.engine.rooms.kick(r.room, 'alice@example.com', 'bob@example.com', 'bye') },
  { name: 'a role changed', type: 'room.role', run: () => r.engine.rooms.setRole(r.room, 'alice@example.com', 'bob@example.com', 'admin') },
  { name: 'an invitation', type: 'room.invited', run: () => r.engine.rooms.invite(r.room, 'alice@example.com', 'carol@example.com') },
  { name: 'an account created by an administrator', type: 'account.created', run: () => r.engine.admin.addUser('dave@example.com', 'dave-secret', false, 'root@example.com') },
  { name: 'an account registered', type: 'account.created', run: () => r.engine.auth.register('erin@example.com', 'erin-secret-1', '192.0.2.1') },
  { name: 'an account removed', type: 'account.removed', run: () => r.engine.admin.removeUser('carol@example.com', 'root@example.com') },
  { name: 'a password changed', type: 'account.changed', run: () => r.engine.changePassword('carol@example.com', 'carol-new-secret') },
  { name: 'an account disabled', type: 'account.changed', run: () => r.engine.admin.setDisabled('carol@example.com', true, 'root@example.com') },
  { name: 'an account given administrator rights', type: 'account.changed', run: () => r.engine.admin.setAdmin('carol@example.com', true, 'root@example.com') },
  { name: 'a password set by an administrator', type: 'account.changed', run: () => r.engine.admin.resetPassword('carol@example.com', 'carol-reset-1', 'root@example.com') },
  { name: 'an account disabled with the CLI', type: 'account.changed', run: () => cliOk('user', 'disable', 'carol@example.com') },
  { name: 'a shared group created', type: 'group.changed', run: () => r.engine.admin.createGroup('desk', 'The Desk', 'root@example.com') },
  { name: 'a shared group renamed', type: 'group.changed', run: () => r.engine.admin.renameGroup('traders', 'Traders', 'root@example.com') },
  { name: 'a shared group removed', type: 'group.changed', run: () => r.engine.admin.removeGroup('traders', 'root@example.com') },
  { name: 'a room destroyed by an administrator', type: 'room.destroyed', run: () => r.engine.admin.destroyRoom(r.room, 'root@example.com', 'closed') },
  { name: 'a room destroyed with the CLI', type: 'room.destroyed', run: () => cliOk('room', 'destroy', r.room) },
  { name: 'a domain added', type: 'domain.added', run: () => r.engine.admin.addDomain('example.org', 'root@example.com') },
  { name: 'a domain removed', type: 'domain.removed', run: () => r.engine.admin.removeDomain('example.net', 'root@example.com') },
  { name: 'a shared group member added', type: 'group.membership', run: () => r.engine.admin.addGroupMember('traders', 'bob@example.com', 'root@example.com') },
  { name: 'a shared group member removed', type: 'group.membership', run: () => r.engine.admin.removeGroupMember('traders', 'alice@example.com', 'root@example.com') },
  { name: 'a shared group member added with the CLI', type: 'group.membership', run: () => cliOk('group', 'add', 'traders', 'carol@example.com') },
  { name: 'an account removed with the CLI', type: 'account.removed', run: () => cliOk('user', 'remove', 'carol@example.com') },
  { name: 'a domain added with the CLI', type: 'domain.added', run: () => cliOk('domain', 'add', 'example.org') },
  { name: 'a domain removed with the CLI', type: 'domain.removed', run: () => cliOk('domain', 'remove', 'example.net') },
  { name: 'a live option set with the CLI', type: 'settings.changed', run: () => cliOk('settings', 'set', 'naming', 'default', '{"minLength": 2}') },
  { name: 'an officer named', type: 'archive.officer.add', run: () => r.archive.setRole('carol@example.com', 'officer', true, 'cli', Date.now()) },
  { name: 'an officer named with the CLI', type: 'archive.officer.add', run: () => cliOk('archive', 'officer', 'add', 'carol@example.com') },
  { name: 'a retention policy', type: 'archive.retention.set', run: () => r.archive.retentionSet({ domain: 'example.com', minDays: 0, maxDays: 30 }, { minimumDays: 0, defaultMaxDays: null }, 'cli', Date.now()) },
  { name: 'a legal hold', type: 'archive.hold.add', run: () => r.archive.holdAdd({ person: 'bob@example.com', reason: 'case 1' }, 'cli', Date.now()) },
  { name: 'a lexicon', type: 'archive.review.lexicon.add', run: () => r.archive.lexiconAdd({ name: 'l', scope: { kind: 'all' }, terms: { words: ['w'] } }, 'cli', Date.now()) },
];

/** A CLI command that must succeed; a failure throws with what it printed (its code in parentheses). */
async function cliOk(...args: string[]): Promise<void> {
  const { code, err } = await cli(...args);
  if (code !== 0) throw new ParleyError(/\(([a-z-]+)\)/.exec(err)?.[1] as 'service-unavailable', err);
}

describe('changes are journaled before they take effect', () => {
  for (const c of CHANGES) {
    it(`${c.name}: refused with a broken journal, state untouched; one entry with a working one`, async () => {
      const before = await state();
      const size = await r.archive.size();
      journalBroken(true);
      await expect(c.run()).rejects.toMatchObject({ code: 'service-unavailable' });
      journalBroken(false);
      expect(await state()).toEqual(before);
      expect(await r.archive.size()).toBe(size);
      await c.run();
      expect(await typesAfter(size)).toEqual([c.type]);
      expect(await state()).not.toEqual(before);
    });
  }

  it('a disabling and an enabling are journaled with what changed and who did it', async () => {
    const size = await r.archive.size();
    await r.engine.admin.setDisabled('carol@example.com', true, 'root@example.com');
    await r.engine.admin.setDisabled('carol@example.com', false, 'root@example.com');
    await r.engine.admin.setAdmin('carol@example.com', true, 'root@example.com');
    const entries = await Promise.all([size, size + 1, size + 2].map(async (i) => JSON.parse((await r.archive.entry(i))!.entry!) as Record<string, unknown>));
    expect(entries.map((e) => [e.actor, e.subject, e.change, e.admin])).toEqual([
      ['root@example.com', 'carol@example.com', 'disabled', undefined],
      ['root@example.com', 'carol@example.com', 'enabled', undefined],
      ['root@example.com', 'carol@example.com', 'admin', true],
    ]);
  });

  it('the refusal says that the compliance journal could not record the change', async () => {
    journalBroken(true);
    await expect(r.engine.rooms.create('carol@example.com', 'New', 'new', false)).rejects.toThrow(/compliance journal could not record the change \(room\.created\)/);
    journalBroken(false);
    expect(await r.store.rooms.get(`new@${conference()}`)).toBeNull();
  });

  it('a change the store refuses after it was journaled is journaled as not made', async () => {
    const size = await r.archive.size();
    vi.spyOn(r.store.rooms, 'setMember').mockRejectedValueOnce(new ParleyError('service-unavailable', 'the disk is full'));
    await expect(r.engine.rooms.join(r.room, 'carol@example.com')).rejects.toMatchObject({ code: 'service-unavailable' });
    expect(await typesAfter(size)).toEqual(['room.membership', 'change.failed']);
    const failed = JSON.parse((await r.archive.entry(size + 1))!.entry!) as Record<string, unknown>;
    expect(failed).toMatchObject({ change: 'room.membership', code: 'service-unavailable', subject: 'carol@example.com', conv: r.room });
  });
});

describe('the archive tells the administration console who holds its roles', () => {
  it('GET /api/v1/admin/me lists compliance-officer and supervision-reviewer for their holders only', async () => {
    const me = async (token: string): Promise<unknown> =>
      (await r.app.inject({ method: 'GET', url: '/api/v1/admin/me', headers: { authorization: `Bearer ${token}` } })).json();
    expect(await me(r.tokens.officer)).toEqual({ address: 'olive@example.com', admin: false, roles: ['compliance-officer'] });
    expect(await me(r.tokens.admin)).toEqual({ address: 'root@example.com', admin: true, roles: [] });
    await r.archive.setRole('olive@example.com', 'reviewer', true, 'cli', Date.now());
    await r.archive.setRole('alice@example.com', 'reviewer', true, 'cli', Date.now());
    expect(await me(r.tokens.officer)).toEqual({ address: 'olive@example.com', admin: false, roles: ['compliance-officer', 'supervision-reviewer'] });
    expect(await me(r.tokens.user)).toEqual({ address: 'alice@example.com', admin: false, roles: ['supervision-reviewer'] });
  });
});
