/**
 * Changes that are not messages (rooms, membership, invitations, accounts, domains, shared groups, live options, and the
 * modules' own: notifications and the like) as journal entries. The archive hears of each before it is stored, through the engine's change.check gate or, for the `parley` CLI,
 * the module's operatorChange hook: the entry is written first, and if it cannot be, the change is refused with
 * service-unavailable and nothing changes. A change the store then refuses gets a `change.failed` entry, so the
 * journal never claims a change that was not made.
 */
import { ParleyError } from '../../core/errors.js';
import type { Change } from '../../engine/events.js';
import { eventDraft, type EntryDraft } from './entry.js';
import type { ArchiveArea } from './sqlite.js';

/** Who acted, whom it concerns and the conversation (a room) of a change, as the entry's fixed fields. */
function fieldsOf(c: Change): { actor: string | null; subject: string | null; conv?: string; data?: Record<string, unknown> } {
  switch (c.type) {
    case 'room.created':
      return { actor: c.owner, subject: c.room, conv: c.room };
    case 'room.destroyed':
      return { actor: c.by, subject: c.room, conv: c.room };
    case 'room.membership':
    case 'room.role':
      return { actor: c.by, subject: c.user, conv: c.room, data: { role: c.role } };
    case 'room.invited':
      return { actor: c.by, subject: c.user, conv: c.room };
    case 'room.banned':
      return { actor: c.by, subject: c.target, conv: c.room, data: { banned: c.banned, reason: c.reason } };
    case 'room.voice':
      return { actor: c.by, subject: c.user, conv: c.room, data: { voice: c.voice } };
    case 'room.configured':
      return { actor: c.by, subject: c.room, conv: c.room, data: { moderated: c.moderated } };
    case 'account.created':
    case 'account.removed':
      return { actor: c.by, subject: c.address };
    case 'account.changed':
      return { actor: c.by, subject: c.address, data: c.admin === undefined ? { change: c.change } : { change: c.change, admin: c.admin } };
    case 'domain.added':
    case 'domain.removed':
      return { actor: c.by, subject: c.domain };
    case 'group.changed':
      return { actor: c.by, subject: c.group, data: { change: c.change, displayName: c.displayName } };
    case 'group.membership':
      return { actor: c.by, subject: c.user, data: { group: c.group, member: c.member } };
    case 'module.change':
      return { actor: c.actor, subject: c.subject, data: c.data };
    case 'settings.changed':
      return { actor: c.by, subject: c.module, data: { keys: c.keys } };
  }
}

/** The entry type of a change: its own, or `<module>.<kind>` for a module's. */
const typeOf = (c: Change): string => (c.type === 'module.change' ? `${c.module}.${c.kind}` : c.type);

/** The entry of a change (its type is the change's). */
export function changeDraft(c: Change, now: number): EntryDraft {
  return eventDraft(typeOf(c), now, fieldsOf(c));
}

/** The entry saying that a journaled change was not made after all (the store refused it with `code`). */
export function failedDraft(c: Change, code: string, now: number): EntryDraft {
  const f = fieldsOf(c);
  return eventDraft('change.failed', now, { ...f, data: { ...f.data, change: typeOf(c), code } });
}

/** Journals a change before it is made; a journal that cannot be written refuses it with service-unavailable. */
export async function journalChange(archive: ArchiveArea, c: Change, now: number): Promise<void> {
  try {
    await archive.journal([changeDraft(c, now)]);
  } catch (e) {
    throw new ParleyError('service-unavailable', `the compliance journal could not record the change (${typeOf(c)}), so it was not made (${(e as Error).message})`);
  }
}
