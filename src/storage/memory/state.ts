/** The in-memory store's tables, shared by its sub-stores so cascades can reach everything. */
import type { LogRecord, Room, RoomMember, RosterItem } from '../../core/types.js';
import type { Account, RoomBan, SharedGroup, TokenRecord } from '../../ports/store.js';

/** The current state of one message after edits and retractions (absent while untouched). */
export interface MessageState {
  body: string | null;
  editedAt: number | null;
  retractedAt: number | null;
}

/** A pending invitation of one user to one room. */
export interface Invite {
  by: string;
  at: number;
}

/** Every table of the memory adapter; values are private copies, never handed out directly. */
export interface MemoryState {
  domains: Map<string, number>;
  accounts: Map<string, Account>;
  tokens: Map<string, TokenRecord>;
  /** owner → contact → item */
  roster: Map<string, Map<string, RosterItem>>;
  groups: Map<string, SharedGroup>;
  /** group name → members */
  groupMembers: Map<string, Set<string>>;
  /** room → the room, with the log position of its creation (see RoomStore.create) */
  rooms: Map<string, Room & { createdSeq: number }>;
  /** room → user → member */
  roomMembers: Map<string, Map<string, RoomMember>>;
  /** room → invited user → who invited and when (the latest invitation) */
  invites: Map<string, Map<string, Invite>>;
  /** room → banned address or domain → the ban (XEP-0045 outcasts) */
  bans: Map<string, Map<string, RoomBan>>;
  /** moderated rooms */
  moderated: Set<string>;
  /** room → members without voice (visitors) */
  voiceless: Map<string, Set<string>>;
  /** log[seq - 1] is the record with that seq: the memory log is never trimmed. */
  log: LogRecord[];
  byId: Map<string, LogRecord>;
  /** `${from}\n${clientId}` → first record, for dedupe */
  byClientId: Map<string, LogRecord>;
  messageState: Map<string, MessageState>;
  /** user → queued seqs, ascending */
  offline: Map<string, number[]>;
  /** owner → blocked entries (XEP-0191). */
  blocks: Map<string, Set<string>>;
  /** `${owner}\n${kind}` → document. */
  profiles: Map<string, string>;
}

/** Creates empty tables. */
export function createMemoryState(): MemoryState {
  return {
    domains: new Map(),
    accounts: new Map(),
    tokens: new Map(),
    roster: new Map(),
    groups: new Map(),
    groupMembers: new Map(),
    rooms: new Map(),
    roomMembers: new Map(),
    invites: new Map(),
    bans: new Map(),
    moderated: new Set(),
    voiceless: new Map(),
    log: [],
    byId: new Map(),
    byClientId: new Map(),
    messageState: new Map(),
    offline: new Map(),
    blocks: new Map(),
    profiles: new Map(),
  };
}

/** Deletes an account and everything that names it, mirroring the SQLite cascade. False when absent. */
export function purgeAccount(s: MemoryState, address: string): boolean {
  if (!s.accounts.delete(address)) return false;
  for (const [hash, t] of s.tokens) if (t.address === address) s.tokens.delete(hash);
  s.roster.delete(address);
  for (const items of s.roster.values()) items.delete(address);
  s.offline.delete(address);
  for (const members of s.roomMembers.values()) members.delete(address);
  for (const invited of s.invites.values()) invited.delete(address);
  for (const muted of s.voiceless.values()) muted.delete(address);
  for (const members of s.groupMembers.values()) members.delete(address);
  s.blocks.delete(address);
  for (const key of [...s.profiles.keys()]) if (key.startsWith(`${address}\n`)) s.profiles.delete(key);
  return true;
}

/** Deletes a room with its members and invitations. False when absent. */
export function purgeRoom(s: MemoryState, address: string): boolean {
  if (!s.rooms.delete(address)) return false;
  s.roomMembers.delete(address);
  s.invites.delete(address);
  s.bans.delete(address);
  s.moderated.delete(address);
  s.voiceless.delete(address);
  return true;
}

/** Where an account's current incarnation begins (Account.createdSeq); 0 when it does not exist. */
export function accountFloor(s: MemoryState, address: string): number {
  return s.accounts.get(address)?.createdSeq ?? 0;
}

/** Where a room's current incarnation begins; 0 when it does not exist. */
export function roomFloor(s: MemoryState, address: string): number {
  return s.rooms.get(address)?.createdSeq ?? 0;
}

/** Strings sorted by code unit, like SQLite's default BINARY collation, so both adapters order alike. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
