/**
 * Operator actions on domains, users and shared groups. The `parley` CLI calls these directly on the store;
 * the HTTP admin API calls them through the running server.
 */
import { ParleyError } from '../core/errors.js';
import { parseAddress, parseUserAddress } from '../core/address.js';
import { deriveCredentials } from '../auth/scram.js';
import type { Store } from '../ports/store.js';

/** Normalises a domain name (RFC 7622 §3.2) or throws jid-malformed. */
export function normaliseDomain(input: string): string {
  const a = parseAddress(input);
  if (a.local !== null || a.resource !== null) throw new ParleyError('jid-malformed', `"${input}" is not a bare domain`);
  return a.domain;
}

/** Normalises a user address (local@domain, no resource). */
export function normaliseUser(input: string): string {
  const a = parseUserAddress(input);
  if (a.resource !== null) throw new ParleyError('jid-malformed', `"${input}" has a resource; give local@domain`);
  return `${a.local}@${a.domain}`;
}

/** Adds a hosted domain. */
export async function addDomain(store: Store, input: string, now: number): Promise<string> {
  const d = normaliseDomain(input);
  await store.domains.add(d, now);
  return d;
}

/** Removes a hosted domain and everything in it. */
export async function removeDomain(store: Store, input: string): Promise<string> {
  const d = normaliseDomain(input);
  if (!(await store.domains.remove(d))) throw new ParleyError('item-not-found', `domain ${d} is not hosted here`);
  return d;
}

/** Creates an account; the password is kept only as SCRAM keys. */
export async function addUser(store: Store, input: string, password: string, opts: { admin: boolean; iterations: number; now: number }): Promise<string> {
  const address = normaliseUser(input);
  const credentials = await deriveCredentials(password, opts.iterations);
  await store.accounts.create({ address, credentials, admin: opts.admin, createdAt: opts.now, lastSeen: null, lastStatus: null });
  return address;
}

/** Removes an account and what it owns. */
export async function removeUser(store: Store, input: string): Promise<string> {
  const address = normaliseUser(input);
  if (!(await store.accounts.remove(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
  return address;
}

/** Sets a new password and revokes every token of the user. */
export async function setPassword(store: Store, input: string, password: string, iterations: number): Promise<string> {
  const address = normaliseUser(input);
  const credentials = await deriveCredentials(password, iterations);
  if (!(await store.accounts.setCredentials(address, credentials))) throw new ParleyError('item-not-found', `no such user ${address}`);
  await store.tokens.revokeAll(address);
  return address;
}

/** Validates a shared group name (a short identifier). */
export function groupName(input: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(input)) {
    throw new ParleyError('bad-request', 'a group name is 1-64 letters, digits, dot, dash or underscore');
  }
  return input;
}

/** Adds a user to a shared group, creating the group when absent. */
export async function addGroupMember(store: Store, group: string, user: string): Promise<string> {
  const name = groupName(group);
  const address = normaliseUser(user);
  if (!(await store.accounts.get(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
  if (!(await store.sharedGroups.list()).some((g) => g.name === name)) await store.sharedGroups.create({ name, displayName: name });
  await store.sharedGroups.addMember(name, address);
  return address;
}
