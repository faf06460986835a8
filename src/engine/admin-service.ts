/**
 * Operator actions on domains, users and shared groups. The functions over a Store are what the `parley` CLI
 * runs in its own process, on the database directly; AdminService runs the same actions inside the server for
 * the HTTP admin API and also keeps the running server consistent (caches, sessions of removed accounts).
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import { normaliseDomain, normaliseUser } from '../core/address.js';

export { normaliseDomain, normaliseUser };
export { groupName };
import { deriveCredentials } from '../auth/scram.js';
import type { AccountKind, Credentials, SharedGroup, Store } from '../ports/store.js';
import { createGroup, groupName, removeGroup, renameGroup, setAdmin, setDisabled } from './admin-changes.js';
import { AdminViews } from './admin-views.js';
import type { EndCode } from './cluster.js';
import type { Ctx } from './context.js';
import { ungated, type ChangeGate } from './events.js';
import type { RoomService } from './room-service.js';

/** An account as the admin listings show it. */
export type AccountSummary = Awaited<ReturnType<Store['accounts']['list']>>[number];

/**
 * Adds a hosted domain. Like every change below it passes `gate` (the change.check gate, events.ts) after the
 * checks that can refuse it and before the store write: a gate that refuses it (the compliance journal cannot
 * record it) leaves everything as it was.
 */
export async function addDomain(store: Store, input: string, now: number, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const domain = normaliseDomain(input);
  if ((await store.domains.list()).includes(domain)) throw new ParleyError('conflict', `domain ${domain} is already hosted here`);
  await gate({ type: 'domain.added', domain, by }, () => store.domains.add(domain, now));
  return domain;
}

/** Removes a hosted domain and everything in it. */
export async function removeDomain(store: Store, input: string, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const domain = normaliseDomain(input);
  const missing = (): ParleyError => new ParleyError('item-not-found', `domain ${domain} is not hosted here`);
  if (!(await store.domains.list()).includes(domain)) throw missing();
  await gate({ type: 'domain.removed', domain, by }, async () => {
    if (!(await store.domains.remove(domain))) throw missing();
  });
  return domain;
}

/**
 * Creates an account; the password is kept only as SCRAM keys. A `bot` (docs/bots.md) gets no password anyone
 * knows: `password` is ignored and its keys are derived from 256 random bits that are then forgotten, so the
 * account has well-formed credentials (sessions are bound to their fingerprint) that no password matches; it
 * logs in with an API key, and password logins are refused for it before any password is checked.
 */
export async function addUser(
  store: Store,
  input: string,
  password: string | null,
  opts: { admin: boolean; iterations: number; now: number; by?: string | null; kind?: AccountKind },
  gate: ChangeGate = ungated,
): Promise<string> {
  const address = normaliseUser(input);
  const kind = opts.kind ?? 'person';
  if (kind === 'bot' && opts.admin) throw new ParleyError('bad-request', 'a bot cannot be an administrator');
  if (kind === 'person' && password === null) throw new ParleyError('bad-request', 'a person needs a password');
  if (await store.accounts.get(address)) throw new ParleyError('conflict', `${address} exists`);
  const domain = address.slice(address.indexOf('@') + 1);
  if (!(await store.domains.list()).includes(domain)) throw new ParleyError('item-not-found', `domain ${domain} is not hosted here`);
  const secret = kind === 'bot' || password === null ? randomBytes(32).toString('base64url') : password;
  const credentials = await deriveCredentials(secret, opts.iterations);
  await gate({ type: 'account.created', address, by: opts.by ?? null }, () =>
    store.accounts.create({ address, credentials, admin: opts.admin, kind, createdAt: opts.now, lastSeen: null, lastStatus: null }),
  );
  return address;
}

/** Removes an account and what it owns. */
export async function removeUser(store: Store, input: string, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const address = normaliseUser(input);
  const missing = (): ParleyError => new ParleyError('item-not-found', `no such user ${address}`);
  if (!(await store.accounts.get(address))) throw missing();
  await gate({ type: 'account.removed', address, by }, async () => {
    if (!(await store.accounts.remove(address))) throw missing();
  });
  return address;
}

/** Sets a new password and revokes every token of the user (not of a bot: bots have no password). */
export async function setPassword(store: Store, input: string, password: string, iterations: number, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const address = normaliseUser(input);
  const acc = await store.accounts.get(address);
  if (!acc) throw new ParleyError('item-not-found', `no such user ${address}`);
  if (acc.kind === 'bot') throw new ParleyError('not-acceptable', `${address} is a bot: it has no password and logs in with an API key (docs/bots.md)`);
  await gate({ type: 'account.changed', address, change: 'password', by }, () => rekey(store, address, password, iterations));
  return address;
}

/** Stores new SCRAM keys for a normalised address and revokes its tokens; returns the keys. */
export async function rekey(store: Store, address: string, password: string, iterations: number): Promise<Credentials> {
  const credentials = await deriveCredentials(password, iterations);
  if (!(await store.accounts.setCredentials(address, credentials))) throw new ParleyError('item-not-found', `no such user ${address}`);
  await store.tokens.revokeAll(address);
  return credentials;
}


/** Adds a user to a shared group, creating the group when absent. */
export async function addGroupMember(store: Store, group: string, user: string, by: string | null = null, gate: ChangeGate = ungated): Promise<string> {
  const name = groupName(group);
  const address = normaliseUser(user);
  if (!(await store.accounts.get(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
  await gate({ type: 'group.membership', group: name, user: address, member: true, by }, async () => {
    if (!(await store.sharedGroups.list()).some((g) => g.name === name)) await store.sharedGroups.create({ name, displayName: name });
    await store.sharedGroups.addMember(name, address);
  });
  return address;
}

/** Removes a user from a shared group; false when the user was not in it (nothing changes then). */
export async function removeGroupMember(store: Store, group: string, user: string, by: string | null = null, gate: ChangeGate = ungated): Promise<boolean> {
  const name = groupName(group);
  const address = normaliseUser(user);
  if (!(await store.sharedGroups.members(name)).includes(address)) return false;
  return gate({ type: 'group.membership', group: name, user: address, member: false, by }, () => store.sharedGroups.removeMember(name, address));
}

/** Every shared group with its members. */
export async function listGroups(store: Store): Promise<Array<SharedGroup & { members: string[] }>> {
  const groups = await store.sharedGroups.list();
  return Promise.all(groups.map(async (g) => ({ ...g, members: await store.sharedGroups.members(g.name) })));
}

/** What AdminService needs of the engine: ending sessions on every node, and the rooms. */
export interface AdminHooks {
  /**
   * Ends every session of the given users on every node (accounts removed or disabled, an administrator's kick),
   * telling the clients `code` and `message`; returns how many this node ended.
   */
  endSessions(users: Iterable<string>, message: string, code?: EndCode): Promise<number>;
  /** Ends the session `user`/`resource` on whichever node holds it (policy-violation); false when there is none. */
  endSession(user: string, resource: string, message: string): Promise<boolean>;
  rooms: RoomService;
}

/** The admin actions inside the running server (HTTP admin API). */
export class AdminService {
  /** The administrators' listings of accounts, sessions and rooms (admin-views.ts). */
  readonly views: AdminViews;

  constructor(
    private readonly ctx: Ctx,
    private readonly iterations: number,
    private readonly hooks: AdminHooks,
  ) {
    this.views = new AdminViews(ctx);
  }

  private endSessions(users: Iterable<string>, message: string, code?: EndCode): Promise<number> {
    return this.hooks.endSessions(users, message, code);
  }

  /** Changes pass the engine's change.check gate (events.ts). */
  private readonly gate: ChangeGate = (change, write) => this.ctx.events.change(change, write);

  /** Whether the user's account is an administrator's (read from the store, so a demotion counts at once). */
  async isAdmin(user: string): Promise<boolean> {
    return (await this.ctx.store.accounts.get(user))?.admin ?? false;
  }

  /** The kind of an account now (read from the store), or null when there is none. */
  async kindOf(user: string): Promise<AccountKind | null> {
    return (await this.ctx.store.accounts.get(user))?.kind ?? null;
  }

  /** Whether an account exists now (read from the store). */
  async userExists(user: string): Promise<boolean> {
    return (await this.ctx.store.accounts.get(user)) !== null;
  }

  /** Throws forbidden unless the user is an administrator. */
  async requireAdmin(user: string): Promise<void> {
    if (!(await this.isAdmin(user))) throw new ParleyError('forbidden', 'administrators only');
  }

  /** The hosted domains. */
  domains(): Promise<string[]> {
    return this.ctx.store.domains.list();
  }

  /** Hosts a domain; returns its normalised name. */
  async addDomain(input: string, by: string | null = null): Promise<string> {
    const domain = await addDomain(this.ctx.store, input, this.ctx.now(), by, this.gate);
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('domain.added', { domain, by });
    return domain;
  }

  /** Stops hosting a domain, removes its accounts and ends their sessions; returns its normalised name. */
  async removeDomain(input: string, by: string | null = null): Promise<string> {
    // Removing a domain removes its accounts: note them first so their open sessions can be ended too.
    const users = await this.ctx.store.accounts.list(normaliseDomain(input));
    const domain = await removeDomain(this.ctx.store, input, by, this.gate);
    await this.endSessions(
      users.map((u) => u.address),
      `the domain ${domain} was removed`,
    );
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('domain.removed', { domain, by });
    return domain;
  }

  /** The accounts, of one domain or of all. */
  users(domain?: string): Promise<AccountSummary[]> {
    // Stored domains are normalised, so the filter must be too (?domain=Example.COM means example.com).
    return this.ctx.store.accounts.list(domain === undefined ? undefined : normaliseDomain(domain));
  }

  /** Creates an account (a bot has no password: pass null); returns its normalised address. */
  async addUser(input: string, password: string | null, admin: boolean, by: string | null = null, kind: AccountKind = 'person'): Promise<string> {
    const address = await addUser(this.ctx.store, input, password, { admin, iterations: this.iterations, now: this.ctx.now(), by, kind }, this.gate);
    this.ctx.directory.forget(address);
    await this.ctx.events.emit('account.created', { address, by });
    return address;
  }

  /** Removes an account and ends its sessions; returns its normalised address. */
  async removeUser(input: string, by: string | null = null): Promise<string> {
    const address = await removeUser(this.ctx.store, input, by, this.gate);
    await this.endSessions([address], 'the account was removed');
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('account.removed', { address, by });
    return address;
  }

  /** Every shared group with its members. */
  groups(): Promise<Array<SharedGroup & { members: string[] }>> {
    return listGroups(this.ctx.store);
  }

  /**
   * Disables an account (it cannot sign in by any path; its tokens are revoked and its sessions end on every
   * node, told `account-disabled`) or enables it again. An administrator cannot disable themself (conflict).
   */
  async setDisabled(input: string, disabled: boolean, by: string | null = null): Promise<string> {
    const { address, changed } = await setDisabled(this.ctx.store, input, disabled, by, this.gate);
    if (!changed) return address;
    if (disabled) await this.endSessions([address], 'the account was disabled by an administrator', 'account-disabled');
    this.ctx.directory.forget(address);
    await this.ctx.events.emit('account.changed', { address, change: disabled ? 'disabled' : 'enabled', by });
    return address;
  }

  /** Gives or takes administrator rights (never a bot's; never one's own: conflict). */
  async setAdmin(input: string, admin: boolean, by: string | null = null): Promise<string> {
    const { address, changed } = await setAdmin(this.ctx.store, input, admin, by, this.gate);
    if (changed) await this.ctx.events.emit('account.changed', { address, change: 'admin', admin, by });
    return address;
  }

  /**
   * Sets a user's password (new SCRAM keys, every token revoked) and ends its sessions on every node; bots are
   * refused (not-acceptable: they have no password).
   */
  async resetPassword(input: string, password: string, by: string | null = null): Promise<string> {
    const address = await setPassword(this.ctx.store, input, password, this.iterations, by, this.gate);
    await this.endSessions([address], 'the password was changed');
    await this.ctx.events.emit('account.changed', { address, change: 'password', by });
    return address;
  }

  /**
   * Ends every session of a user on every node (policy-violation, told why) and revokes the user's session
   * tokens (web session cookies, tokens from /api/v1/login and `login`), so no device comes straight back with a
   * stored token: each must sign in again with the password. API keys (a module's credentials) stay valid.
   * Returns how many sessions there were.
   */
  async endUserSessions(input: string): Promise<number> {
    const address = normaliseUser(input);
    if (!(await this.userExists(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
    // Counted before: the other nodes end theirs asynchronously.
    const count = this.ctx.cluster.countOf(address);
    // Revoked first: a client told its session ended reconnects at once, and must find its token refused.
    await this.ctx.store.tokens.revokeAll(address);
    await this.endSessions([address], 'an administrator ended this session', 'policy-violation');
    return count;
  }

  /** Ends one session of a user, wherever it runs; item-not-found when there is none. */
  async endUserSession(input: string, resource: string): Promise<void> {
    const address = normaliseUser(input);
    if (!(await this.hooks.endSession(address, resource, 'an administrator ended this session'))) {
      throw new ParleyError('item-not-found', `${address} has no session ${resource}`);
    }
  }

  /**
   * Destroys a room as its owner's XEP-0045 §10.9 destroy does (members and occupants told, with `reason`),
   * the administrator acting with owner rights.
   */
  async destroyRoom(room: string, by: string, reason: string | null): Promise<void> {
    await this.hooks.rooms.destroy(room, by, { reason, asAdmin: true });
  }

  /** Creates an empty shared group; conflict when it exists. */
  async createGroup(name: string, display: string | null, by: string | null = null): Promise<SharedGroup> {
    const g = await createGroup(this.ctx.store, name, display, by, this.gate);
    await this.ctx.events.emit('group.changed', { group: g.name, change: 'created', displayName: g.displayName, by });
    return g;
  }

  /** Sets a shared group's display name. */
  async renameGroup(name: string, display: string, by: string | null = null): Promise<SharedGroup> {
    const g = await renameGroup(this.ctx.store, name, display, by, this.gate);
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('group.changed', { group: g.name, change: 'renamed', displayName: g.displayName, by });
    return g;
  }

  /** Removes a shared group; its former members' rosters and presence audiences are refreshed. */
  async removeGroup(name: string, by: string | null = null): Promise<void> {
    await removeGroup(this.ctx.store, name, by, this.gate);
    // As for a membership change: caches dropped here and on the other nodes.
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('group.changed', { group: name, change: 'removed', displayName: null, by });
  }

  /** Whether an account exists (modules check owners and targets with it; cached by the directory). */
  accountExists(address: string): Promise<boolean> {
    return this.ctx.directory.userExists(address);
  }

  /**
   * Names the current incarnation of an account, or null when there is none: an address removed and created again
   * is a new incarnation, so a module's data kept for the old one is never shown to the new one.
   */
  async incarnation(address: string): Promise<string | null> {
    const a = await this.ctx.store.accounts.get(address);
    return a === null ? null : `${a.createdAt}.${a.createdSeq}`;
  }

  /** Whether this server hosts `domain` (normalised). */
  hostsDomain(domain: string): boolean {
    return this.ctx.directory.hostsDomain(domain);
  }

  /** The members of one shared group (none when there is no such group). */
  groupMembers(group: string): Promise<string[]> {
    return this.ctx.store.sharedGroups.members(group);
  }

  /** Names of the shared groups `user` is in (modules scope policies by group). */
  async groupsOf(user: string): Promise<string[]> {
    return (await this.ctx.store.sharedGroups.groupsOf(user)).map((g) => g.name);
  }

  /** Adds a user to a shared group (created when absent); returns the user's normalised address. */
  async addGroupMember(group: string, user: string, by: string | null = null): Promise<string> {
    const address = await addGroupMember(this.ctx.store, group, user, by, this.gate);
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('group.membership', { group: groupName(group), user: address, member: true, by });
    return address;
  }

  /** Removes a user from a shared group; item-not-found when the user was not in it. */
  async removeGroupMember(group: string, user: string, by: string | null = null): Promise<void> {
    if (!(await removeGroupMember(this.ctx.store, group, user, by, this.gate))) throw new ParleyError('item-not-found', 'no such member');
    await this.ctx.directory.refresh();
    await this.ctx.events.emit('group.membership', { group: groupName(group), user: normaliseUser(user), member: false, by });
  }
}
