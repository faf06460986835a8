/**
 * XEP-0045 owner and admin queries over Parley rooms: the room configuration form (§10.1-10.2, muc#owner),
 * destroying a room (§10.9), and the affiliation and role lists and their changes (§9, §8.2, muc#admin). Each maps
 * onto an engine operation with the engine's own rules: owners change roles and destroy rooms, admins and owners
 * remove members of lower rank, members may read the member list.
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
function configFields(r: { name: string; membersOnly: boolean }): Array<[string, string, string, string]> {
  return [
    ['muc#roomconfig_roomname', 'text-single', 'Name', r.name],
    ['muc#roomconfig_persistentroom', 'boolean', 'Persistent (Parley rooms always are)', '1'],
    ['muc#roomconfig_membersonly', 'boolean', 'Members only', r.membersOnly ? '1' : '0'],
    ['muc#roomconfig_publicroom', 'boolean', 'Listed in the room directory', r.membersOnly ? '0' : '1'],
    ['muc#roomconfig_moderatedroom', 'boolean', 'Moderated (Parley rooms are not)', '0'],
    ['muc#roomconfig_whois', 'list-single', 'Who may see occupants\' addresses (everyone, in Parley)', 'anyone'],
    ['muc#roomconfig_changesubject', 'boolean', 'Occupants may change the subject (the subject is the name)', '0'],
    ['muc#roomconfig_allowpm', 'list-single', 'Private messages through the room (write to the person instead)', 'none'],
  ];
}

/** XEP-0004 booleans: "1"/"true" and "0"/"false". */
const sameValue = (type: string, a: string, b: string): boolean =>
  type === 'boolean' ? (a === '1' || a === 'true') === (b === '1' || b === 'true') : a === b;

/** The room the iq is for, which must exist, and the caller's Parley role in it (not a member: forbidden). */
async function roomAndRole(c: IqContext): Promise<{ room: string; name: string; membersOnly: boolean; role: RoomRole }> {
  const engine = c.conn.engine;
  const r = await engine.rooms.get(c.target.bare);
  if (!r) throw new ParleyError('item-not-found', `no room ${c.target.bare}`);
  const role = await engine.rooms.requireMember(r.address, c.session.user);
  return { room: r.address, name: r.name, membersOnly: r.membersOnly, role };
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
    if (v === 'muc#roomconfig_allowpm') f.append(el('option', { label: 'Nobody' }, el('value', null, 'none')));
    x.append(f);
  }
  return el('query', { xmlns: NS.mucOwner }, x);
}

/**
 * muc#owner set: a submitted form (an empty one accepts the defaults of a new room, §10.1.2), a cancel, or a
 * destroy (§10.9). A submitted value that differs from the room's is refused with not-acceptable naming the
 * field: Parley rooms are persistent and non-anonymous, and their name and membership rule are set when created.
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
  for (const f of x.getChildren('field')) {
    const known = fields.find(([v]) => v === f.attr('var'));
    const value = f.getChild('value')?.text();
    if (!known || value === undefined) continue; // XEP-0004 §3.3: fields the room does not offer change nothing
    if (!sameValue(known[1], value, known[3])) {
      throw new ParleyError('not-acceptable', `${known[0]} cannot be changed here (${known[2]}: ${known[3]})`);
    }
  }
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
    // Parley keeps no ban list (outcasts), and "none" is everyone else: both lists are empty.
    for (const m of await engine.rooms.memberList(r.room, c.session.user)) {
      if (affiliationOf(m.role) === affiliation) out.append(el('item', { affiliation, jid: m.user, nick: nickOf(m.user) }));
    }
    return out;
  }
  if (role !== undefined) {
    if (!['moderator', 'participant', 'visitor'].includes(role)) throw new ParleyError('bad-request', `no role ${role}`);
    for (const o of await engine.rooms.occupants(r.room, c.session.user)) {
      if (mucRoleOf(o.role) === role) out.append(el('item', { role, affiliation: affiliationOf(o.role), jid: o.user, nick: nickOf(o.user) }));
    }
    return out;
  }
  throw new ParleyError('bad-request', 'ask for an affiliation or a role: <item affiliation="member"/>');
}

/**
 * muc#admin set: each item changes one member (§9.3-9.4 and §10.3-10.7 by affiliation, §8.2 a kick by role
 * none). member: an invitation for someone not in the room yet, else the member role; admin and owner: the
 * role (owners only); none, or role none by nick: removed from the room (kicked). Bans (outcast) are not kept.
 */
export async function adminSet(c: IqContext): Promise<null> {
  const r = await roomAndRole(c);
  const engine = c.conn.engine;
  const by = c.session.user;
  const items = c.payload.getChildren('item');
  if (items.length === 0) throw new ParleyError('bad-request', 'name at least one <item/>');
  const members = await engine.rooms.memberList(r.room, by);
  for (const item of items) {
    const reason = item.getChild('reason')?.text() ?? null;
    const role = item.attr('role');
    const affiliation = item.attr('affiliation');
    if (role !== undefined && affiliation === undefined) {
      const nick = item.attr('nick');
      const target = members.find((m) => nickOf(m.user) === nick);
      if (!target) throw new ParleyError('item-not-found', `no occupant ${nick ?? '(no nick)'} in ${r.room}`);
      if (role !== 'none') throw new ParleyError('feature-not-implemented', 'roles follow affiliations here: owners and admins moderate; change the affiliation');
      await engine.rooms.kick(r.room, by, target.user, reason);
      continue;
    }
    const jid = item.attr('jid');
    if (jid === undefined || affiliation === undefined) throw new ParleyError('bad-request', 'an item names a jid and an affiliation, or a nick and a role');
    const user = parseBare(jid);
    const current = members.find((m) => m.user === user);
    if (affiliation === 'outcast') throw new ParleyError('feature-not-implemented', 'bans are not kept; remove the member (affiliation none) and make the room members-only');
    if (affiliation === 'none') {
      if (current) await engine.rooms.kick(r.room, by, user, reason);
      continue;
    }
    if (affiliation !== 'member' && affiliation !== 'admin' && affiliation !== 'owner') throw new ParleyError('bad-request', `no affiliation ${affiliation}`);
    if (!current) {
      if (affiliation !== 'member') throw new ParleyError('item-not-found', `${user} is not a member of ${r.room} yet: make them a member first`);
      await engine.rooms.invite(r.room, by, user);
      continue;
    }
    if (current.role !== affiliation) await engine.rooms.setRole(r.room, by, user, affiliation);
  }
  return null;
}
