/**
 * XEP-0045 owner and admin queries over Parley rooms: the room configuration form (§10.1-10.2, muc#owner),
 * destroying a room (§10.9), and the affiliation and role lists and their changes (§9, §8, muc#admin). Each maps
 * onto an engine operation with the engine's own rules: owners change roles, configure and destroy rooms, admins
 * and owners remove and ban members of lower rank and give or take voice, members may read the member list.
 */
import { parseBare } from '../../../core/address.js';
import { ParleyError } from '../../../core/errors.js';
import type { RoomRole } from '../../../core/types.js';
import { el, type Element } from '../xml/element.js';
import { affiliationOf, mucRoleOf, nickOf } from './encode.js';
import { NS } from './ns.js';
import type { IqContext } from './types.js';

const ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';

/** A Parley room's settings as muc#roomconfig fields (§15.5.3): [var, type, label, value]. */
function configFields(r: { name: string; membersOnly: boolean; moderated: boolean }): Array<[string, string, string, string]> {
  return [
    ['muc#roomconfig_roomname', 'text-single', 'Name', r.name],
    ['muc#roomconfig_persistentroom', 'boolean', 'Persistent (Parley rooms always are)', '1'],
    ['muc#roomconfig_membersonly', 'boolean', 'Members only', r.membersOnly ? '1' : '0'],
    ['muc#roomconfig_publicroom', 'boolean', 'Listed in the room directory', r.membersOnly ? '0' : '1'],
    ['muc#roomconfig_moderatedroom', 'boolean', 'Moderated (only those with voice speak)', r.moderated ? '1' : '0'],
    ['muc#roomconfig_whois', 'list-single', 'Who may see occupants\' addresses (everyone, in Parley)', 'anyone'],
    ['muc#roomconfig_changesubject', 'boolean', 'Occupants may change the subject (the subject is the name)', '0'],
    ['muc#roomconfig_allowpm', 'list-single', 'Who may send private messages to occupants', 'anyone'],
  ];
}

/** XEP-0004 booleans: "1"/"true" and "0"/"false". */
const sameValue = (type: string, a: string, b: string): boolean =>
  type === 'boolean' ? (a === '1' || a === 'true') === (b === '1' || b === 'true') : a === b;

/** Fields Parley lets an owner change (§10.2); the others show settings fixed when the room was made. */
const CHANGEABLE = new Set(['muc#roomconfig_moderatedroom']);

/** The room the iq is for, which must exist, and the caller's Parley role in it (not a member: forbidden). */
async function roomAndRole(c: IqContext): Promise<{ room: string; name: string; membersOnly: boolean; moderated: boolean; role: RoomRole }> {
  const engine = c.conn.engine;
  const r = await engine.rooms.get(c.target.bare);
  if (!r) throw new ParleyError('item-not-found', `no room ${c.target.bare}`);
  const role = await engine.rooms.requireMember(r.address, c.session.user);
  return { room: r.address, name: r.name, membersOnly: r.membersOnly, moderated: await engine.rooms.moderation.isModerated(r.address), role };
}

/** muc#owner get: the configuration form with the room's settings (§10.2), for owners. */
export async function ownerGet(c: IqContext): Promise<Element> {
  const r = await roomAndRole(c);
  if (r.role !== 'owner') throw new ParleyError('forbidden', 'only owners configure a room (XEP-0045 §10.2)');
  const x = el('x', { xmlns: NS.dataForms, type: 'form' }, el('title', null, `Configuration of ${r.room}`));
  x.append(el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', null, ROOMCONFIG)));
  for (const [v, type, label, value] of configFields(r)) {
    const f = el('field', { var: v, type, label }, el('value', null, value));
    if (v === 'muc#roomconfig_whois') f.append(el('option', { label: 'Anyone' }, el('value', null, 'anyone')));
    if (v === 'muc#roomconfig_allowpm') f.append(el('option', { label: 'Anyone' }, el('value', null, 'anyone')));
    x.append(f);
  }
  return el('query', { xmlns: NS.mucOwner }, x);
}

/**
 * muc#owner set: a submitted form (an empty one accepts the defaults of a new room, §10.1.2), a cancel, or a
 * destroy (§10.9). Whether the room is moderated may change; any other value that differs from the room's is
 * refused with not-acceptable naming the field (checked before anything changes): Parley rooms are persistent
 * and non-anonymous, and their name and membership rule are set when created.
 */
export async function ownerSet(c: IqContext): Promise<null> {
  const r = await roomAndRole(c);
  if (r.role !== 'owner') throw new ParleyError('forbidden', 'only owners configure or destroy a room (XEP-0045 §10)');
  const destroy = c.payload.getChild('destroy');
  if (destroy) {
    await c.conn.engine.rooms.destroy(r.room, c.session.user);
    return null;
  }
  const x = c.payload.getChild('x', NS.dataForms);
  if (!x) throw new ParleyError('bad-request', 'send a muc#roomconfig form, a cancel or a destroy');
  const type = x.attr('type');
  if (type === 'cancel') return null;
  if (type !== 'submit') throw new ParleyError('bad-request', 'a configuration form is submitted with type "submit"');
  const fields = configFields(r);
  let moderated: boolean | null = null;
  for (const f of x.getChildren('field')) {
    const known = fields.find(([v]) => v === f.attr('var'));
    const value = f.getChild('value')?.text();
    if (!known || value === undefined) continue; // XEP-0004 §3.3: fields the room does not offer change nothing
    if (sameValue(known[1], value, known[3])) continue;
    if (!CHANGEABLE.has(known[0])) throw new ParleyError('not-acceptable', `${known[0]} cannot be changed here (${known[2]}: ${known[3]})`);
    moderated = value === '1' || value === 'true';
  }
  if (moderated !== null) await c.conn.engine.rooms.moderation.setModerated(r.room, c.session.user, moderated);
  return null;
}

/** muc#admin get: the members of one affiliation, or the occupants of one role (§9.5, §9.8, §8.5). */
export async function adminGet(c: IqContext): Promise<Element> {
  const r = await roomAndRole(c);
  const item = c.payload.getChild('item');
  const affiliation = item?.attr('affiliation');
  const role = item?.attr('role');
  const out = el('query', { xmlns: NS.mucAdmin });
  const engine = c.conn.engine;
  if (affiliation !== undefined) {
    if (!['owner', 'admin', 'member', 'outcast', 'none'].includes(affiliation)) throw new ParleyError('bad-request', `no affiliation ${affiliation}`);
    if (affiliation === 'outcast') {
      // §9.2: the ban list, for owners and admins.
      for (const b of await engine.rooms.moderation.bans(r.room, c.session.user)) {
        const item = el('item', { affiliation, jid: b.target });
        if (b.reason !== null) item.append(el('reason', null, b.reason));
        out.append(item);
      }
      return out;
    }
    // "none" is everyone else: that list is empty.
    for (const m of await engine.rooms.memberList(r.room, c.session.user)) {
      if (affiliationOf(m.role) === affiliation) out.append(el('item', { affiliation, jid: m.user, nick: nickOf(m.user) }));
    }
    return out;
  }
  if (role !== undefined) {
    if (!['moderator', 'participant', 'visitor'].includes(role)) throw new ParleyError('bad-request', `no role ${role}`);
    for (const o of await engine.rooms.occupants(r.room, c.session.user)) {
      if (mucRoleOf(o.role, o.voice) === role) out.append(el('item', { role, affiliation: affiliationOf(o.role), jid: o.user, nick: nickOf(o.user) }));
    }
    return out;
  }
  throw new ParleyError('bad-request', 'ask for an affiliation or a role: <item affiliation="member"/>');
}

/**
 * muc#admin set: each item changes one member or occupant. By nick and role (§8): none kicks (§8.2), visitor and
 * participant take and give voice (§8.3-8.4); moderator is not granted or revoked that way, since owners and
 * admins are the moderators (§9.7-9.8: change the affiliation). By jid and affiliation (§9, §10): member invites
 * someone not in the room yet (lifting a ban first), else sets the member role; admin and owner set the role
 * (owners only); outcast bans an address or a domain (§9.1); none lifts a ban or removes the member.
 */
export async function adminSet(c: IqContext): Promise<null> {
  const r = await roomAndRole(c);
  const rooms = c.conn.engine.rooms;
  const by = c.session.user;
  const items = c.payload.getChildren('item');
  if (items.length === 0) throw new ParleyError('bad-request', 'name at least one <item/>');
  const members = await rooms.memberList(r.room, by);
  for (const item of items) {
    const reason = item.getChild('reason')?.text() ?? null;
    const role = item.attr('role');
    const affiliation = item.attr('affiliation');
    if (role !== undefined && affiliation === undefined) {
      const nick = item.attr('nick');
      const target = members.find((m) => nickOf(m.user) === nick);
      if (!target) throw new ParleyError('item-not-found', `no occupant ${nick ?? '(no nick)'} in ${r.room}`);
      if (role === 'none') await rooms.kick(r.room, by, target.user, reason);
      else if (role === 'visitor' || role === 'participant') await rooms.moderation.setVoice(r.room, by, target.user, role === 'participant');
      else if (role === 'moderator') throw new ParleyError('not-allowed', 'owners and admins are the moderators here: make them an admin (XEP-0045 §9.3)');
      else throw new ParleyError('bad-request', `no role ${role}`);
      continue;
    }
    const jid = item.attr('jid');
    if (jid === undefined || affiliation === undefined) throw new ParleyError('bad-request', 'an item names a jid and an affiliation, or a nick and a role');
    const user = parseBare(jid);
    const current = members.find((m) => m.user === user);
    if (affiliation === 'outcast') {
      await rooms.moderation.ban(r.room, by, user, reason);
      continue;
    }
    if (affiliation === 'none') {
      if (current) await rooms.kick(r.room, by, user, reason);
      else await rooms.moderation.unban(r.room, by, user);
      continue;
    }
    if (affiliation !== 'member' && affiliation !== 'admin' && affiliation !== 'owner') throw new ParleyError('bad-request', `no affiliation ${affiliation}`);
    if (!current) {
      if (affiliation !== 'member') throw new ParleyError('item-not-found', `${user} is not a member of ${r.room} yet: make them a member first`);
      // §9.3: granting membership replaces an outcast's affiliation.
      await rooms.moderation.unban(r.room, by, user);
      await rooms.invite(r.room, by, user);
      continue;
    }
    if (current.role !== affiliation) await rooms.setRole(r.room, by, user, affiliation);
  }
  return null;
}
