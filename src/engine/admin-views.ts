/**
 * What the administrators' console reads: pages of accounts and rooms, one account with its sessions on every
 * node, and the sessions of the whole cluster. Read only: changes are AdminService's.
 */
import { ParleyError } from '../core/errors.js';
import { normaliseDomain, normaliseUser } from '../core/address.js';
import type { Activity, Availability, RoomRole } from '../core/types.js';
import type { AccountKind, AccountListing } from '../ports/store.js';
import type { NodeSession } from './cluster.js';
import type { Ctx } from './context.js';
import type { ClientProtocol } from './session.js';

/** Default and largest page of the listings. */
export const ADMIN_PAGE_DEFAULT = 100;
export const ADMIN_PAGE_MAX = 1000;
/** Most sessions the cluster overview lists (its counts are always exact). */
export const ADMIN_SESSIONS_LISTED = 1000;

/** An account as the console lists it. */
export interface AdminUser {
  address: string;
  kind: AccountKind;
  admin: boolean;
  disabled: boolean;
  createdAt: number;
  lastSeen: number | null;
  /** Its sessions on every node. */
  online: number;
}

/** One session as the console shows it. */
export interface AdminSession {
  id: string;
  resource: string;
  protocol: ClientProtocol;
  openedAt: number;
  available: boolean;
  node: string;
  presence: { availability: Availability; activity?: Activity; status?: string };
}

/** A room as the console lists it. */
export interface AdminRoom {
  address: string;
  name: string;
  members: number;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  createdAt: number;
}

/** A page of a listing: `next` is the cursor (`after`) of the following page, null on the last. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Paging and filtering of a listing. */
export interface PageQuery {
  /** Case-insensitive substring of the address. */
  q?: string | undefined;
  /** Only addresses after this one (the previous page's `next`). */
  after?: string | undefined;
  limit?: number | undefined;
}

/**
 * One page of `all` (sorted by address): those containing `q`, after `after`, at most `limit`. Pure, so the
 * cursor rules are tested alone.
 */
export function pageOf<T extends { address: string }>(all: readonly T[], query: PageQuery): Page<T> {
  const limit = Math.min(Math.max(query.limit ?? ADMIN_PAGE_DEFAULT, 1), ADMIN_PAGE_MAX);
  const q = query.q?.toLowerCase() ?? '';
  const after = query.after ?? '';
  const items: T[] = [];
  let more = false;
  for (const x of all) {
    if (after !== '' && x.address <= after) continue;
    if (q !== '' && !x.address.toLowerCase().includes(q)) continue;
    if (items.length === limit) {
      more = true;
      break;
    }
    items.push(x);
  }
  return { items, next: more ? items[items.length - 1]!.address : null };
}

/** A session as the console shows it. */
export function adminSession(s: NodeSession): AdminSession {
  const p = s.presence;
  return {
    id: s.id,
    resource: s.resource,
    protocol: s.protocol ?? 'other',
    openedAt: s.openedAt,
    available: s.available,
    node: s.node,
    presence: { availability: p.availability, ...(p.activity === null ? {} : { activity: p.activity }), ...(p.status === null ? {} : { status: p.status }) },
  };
}

/** The console's read side. */
export class AdminViews {
  constructor(private readonly ctx: Ctx) {}

  private user(a: AccountListing): AdminUser {
    return { address: a.address, kind: a.kind, admin: a.admin, disabled: a.disabled, createdAt: a.createdAt, lastSeen: a.lastSeen, online: this.ctx.cluster.countOf(a.address) };
  }

  /** A page of accounts, of one domain or of all. */
  async users(domain: string | undefined, query: PageQuery): Promise<Page<AdminUser>> {
    // Stored domains are normalised, so the filter must be too (?domain=Example.COM means example.com).
    const all = await this.ctx.store.accounts.list(domain === undefined ? undefined : normaliseDomain(domain));
    const page = pageOf(all, query);
    return { items: page.items.map((a) => this.user(a)), next: page.next };
  }

  /** One account with its sessions on every node and its shared groups; item-not-found when there is none. */
  async userDetail(input: string): Promise<AdminUser & { sessions: AdminSession[]; groups: string[] }> {
    const address = normaliseUser(input);
    const a = await this.ctx.store.accounts.get(address);
    if (!a) throw new ParleyError('item-not-found', `no such user ${address}`);
    const groups = (await this.ctx.store.sharedGroups.groupsOf(address)).map((g) => g.name);
    return { ...this.user(a), sessions: this.ctx.cluster.detailsOf(address).map(adminSession), groups };
  }

  /** Every session of the cluster: exact counts, and at most ADMIN_SESSIONS_LISTED of them listed. */
  sessions(): { total: number; byProtocol: Partial<Record<ClientProtocol, number>>; users: number; sessions: Array<AdminSession & { user: string }> } {
    const byProtocol: Partial<Record<ClientProtocol, number>> = {};
    const users = new Set<string>();
    const listed: Array<AdminSession & { user: string }> = [];
    let total = 0;
    for (const s of this.ctx.cluster.allDetails()) {
      total++;
      users.add(s.user);
      const protocol = s.protocol ?? 'other';
      byProtocol[protocol] = (byProtocol[protocol] ?? 0) + 1;
      if (listed.length < ADMIN_SESSIONS_LISTED) listed.push({ user: s.user, ...adminSession(s) });
    }
    return { total, byProtocol, users: users.size, sessions: listed };
  }

  private async room(address: string): Promise<AdminRoom | null> {
    const { rooms } = this.ctx.store;
    const r = await rooms.get(address);
    if (!r) return null;
    const [members, moderated] = await Promise.all([rooms.members(address), rooms.moderated(address)]);
    return { address: r.address, name: r.name, members: members.length, public: !r.membersOnly, membersOnly: r.membersOnly, moderated, createdAt: r.createdAt };
  }

  /** A page of rooms (every rooms domain). */
  async rooms(query: PageQuery): Promise<Page<AdminRoom>> {
    const page = pageOf(await this.ctx.store.rooms.list(), query);
    const items = await Promise.all(page.items.map((r) => this.room(r.address)));
    return { items: items.filter((r): r is AdminRoom => r !== null), next: page.next };
  }

  /**
   * One room with its members and their roles (`members` is then the list, whose length the listing's count
   * is); item-not-found when there is none.
   */
  async roomDetail(input: string): Promise<Omit<AdminRoom, 'members'> & { members: Array<{ address: string; role: RoomRole }> }> {
    const address = normaliseUser(input);
    const r = await this.room(address);
    if (!r) throw new ParleyError('item-not-found', `no room ${address}`);
    const members = (await this.ctx.store.rooms.members(address)).map((m) => ({ address: m.user, role: m.role }));
    return { ...r, members };
  }
}
