/**
 * Operator changes over a Store that the CLI (its own process) and AdminService (inside the server) share:
 * disabling and enabling accounts, administrator rights, the lifecycle of shared groups, destroying rooms. Each
 * passes `gate` (the change.check gate, events.ts) after the checks that can refuse it and before the store
 * write, so a refusal (the compliance journal cannot record it) leaves everything as it was.
 */
import { ParleyError } from '../core/errors.js';
import { normaliseUser } from '../core/address.js';
import type { Room } from '../core/types.js';
import type { SharedGroup, Store } from '../ports/store.js';
import { ungated, type ChangeGate } from './events.js';

/** Validates a shared group name (a short identifier). */
export function groupName(input: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(input)) {
    throw new ParleyError('bad-request', 'a group name is 1-64 letters, digits, dot, dash or underscore');
  }
  return input;
}

const noUser = (address: string): ParleyError => new ParleyError('item-not-found', `no such user ${address}`);

/**
 * Disables (it cannot sign in by any path, its tokens are revoked) or enables an account; returns its
 * normalised address and whether anything changed. An administrator cannot disable themself (`by`), so a
 * server always keeps someone who can enable accounts again.
 */
export async function setDisabled(
  store: Store,
  input: string,
  disabled: boolean,
  by: string | null = null,
  gate: ChangeGate = ungated,
): Promise<{ address: string; changed: boolean }> {
  const address = normaliseUser(input);
  const acc = await store.accounts.get(address);
  if (!acc) throw noUser(address);
  if (disabled && by === address) throw new ParleyError('conflict', 'you cannot disable your own account: another administrator must do it');
  if (acc.disabled === disabled) return { address, changed: false };
  await gate({ type: 'account.changed', address, change: disabled ? 'disabled' : 'enabled', by }, async () => {
    if (!(await store.accounts.setDisabled(address, disabled))) throw noUser(address);
    // Tokens issued before a disabling open nothing after an enabling either: the person signs in again.
    if (disabled) await store.tokens.revokeAll(address);
  });
  return { address, changed: true };
}

/**
 * Gives or takes administrator rights; returns the normalised address and whether anything changed. Bots are
 * never administrators (as addUser), and an administrator cannot demote themself (`by`): the server keeps one.
 */
export async function setAdmin(store: Store, input: string, admin: boolean, by: string | null = null, gate: ChangeGate = ungated): Promise<{ address: string; changed: boolean }> {
  const address = normaliseUser(input);
  const acc = await store.accounts.get(address);
  if (!acc) throw noUser(address);
  if (admin && acc.kind === 'bot') throw new ParleyError('bad-request', 'a bot cannot be an administrator');
  if (!admin && by === address) throw new ParleyError('conflict', 'you cannot take your own administrator rights: another administrator must do it');
  if (acc.admin === admin) return { address, changed: false };
  await gate({ type: 'account.changed', address, change: 'admin', admin, by }, async () => {
    if (!(await store.accounts.setAdmin(address, admin))) throw noUser(address);
  });
  return { address, changed: true };
}

/** The display name a group gets: 1..200 characters of text, trimmed. */
export function displayName(input: string): string {
  const d = input.trim();
  if (d.length < 1 || d.length > 200) throw new ParleyError('bad-request', 'a display name is 1-200 characters');
  return d;
}

/** Creates an empty shared group (display name: the name, when not given); conflict when it exists. */
export async function createGroup(store: Store, name: string, display: string | null, by: string | null = null, gate: ChangeGate = ungated): Promise<SharedGroup> {
  const group: SharedGroup = { name: groupName(name), displayName: display === null ? name : displayName(display) };
  if ((await store.sharedGroups.list()).some((g) => g.name === group.name)) throw new ParleyError('conflict', `shared group ${group.name} exists`);
  await gate({ type: 'group.changed', group: group.name, change: 'created', displayName: group.displayName, by }, () => store.sharedGroups.create(group));
  return group;
}

/** Sets a shared group's display name; item-not-found when there is no such group. */
export async function renameGroup(store: Store, name: string, display: string, by: string | null = null, gate: ChangeGate = ungated): Promise<SharedGroup> {
  const group: SharedGroup = { name: groupName(name), displayName: displayName(display) };
  const missing = (): ParleyError => new ParleyError('item-not-found', `no shared group ${group.name}`);
  if (!(await store.sharedGroups.list()).some((g) => g.name === group.name)) throw missing();
  await gate({ type: 'group.changed', group: group.name, change: 'renamed', displayName: group.displayName, by }, async () => {
    if (!(await store.sharedGroups.rename(group.name, group.displayName))) throw missing();
  });
  return group;
}

/** Removes a shared group with its memberships; returns its former members (their presence audiences change). */
export async function removeGroup(store: Store, name: string, by: string | null = null, gate: ChangeGate = ungated): Promise<string[]> {
  const g = groupName(name);
  const missing = (): ParleyError => new ParleyError('item-not-found', `no shared group ${g}`);
  if (!(await store.sharedGroups.list()).some((x) => x.name === g)) throw missing();
  const members = await store.sharedGroups.members(g);
  await gate({ type: 'group.changed', group: g, change: 'removed', displayName: null, by }, async () => {
    if (!(await store.sharedGroups.remove(g))) throw missing();
  });
  return members;
}

/** A room's address as stored (a bare address, normalised). */
export function roomAddress(input: string): string {
  // Rooms are addressed like accounts: a local part (the room's name) at the rooms domain.
  return normaliseUser(input);
}

/** The rooms, of one rooms domain or of all, sorted by address. */
export function listRoomsOf(store: Store, domain?: string): Promise<Room[]> {
  return store.rooms.list(domain);
}

/**
 * Destroys a room from outside a running server (the CLI): the room with its members, invitations and bans.
 * Nobody is told: members' clients learn it when the running server drops its caches (store.changed).
 */
export async function destroyRoom(store: Store, input: string, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const room = roomAddress(input);
  const missing = (): ParleyError => new ParleyError('item-not-found', `no room ${room}`);
  if (!(await store.rooms.get(room))) throw missing();
  await gate({ type: 'room.destroyed', room, by: by ?? 'operator' }, async () => {
    if (!(await store.rooms.remove(room))) throw missing();
  });
  return room;
}
