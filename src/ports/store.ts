/**
 * Storage ports. Every method is asynchronous so an adapter may live in another process (PostgreSQL)
 * as well as in this one (SQLite, memory). One contract suite (src/storage/contract) runs against every adapter.
 */
import type {
  LogRecord,
  MessageView,
  NewRecord,
  Room,
  RoomMember,
  RoomRole,
  RosterItem,
} from '../core/types.js';

/** Salted, iterated keys from RFC 5802 §3, verifiable by SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 7677). */
export interface ScramCredential {
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 of H(ClientKey) */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

export interface Credentials {
  'SCRAM-SHA-1': ScramCredential;
  'SCRAM-SHA-256': ScramCredential;
}

/**
 * What an account is: a `person` (logs in with a password) or a `bot` (created by an administrator, has no
 * password anyone knows, and logs in with an API key through a registered credential verifier; docs/bots.md).
 */
export type AccountKind = 'person' | 'bot';

/** Every account kind. */
export const ACCOUNT_KINDS: readonly AccountKind[] = ['person', 'bot'];

/** An account as stored. */
export interface Account {
  address: string;
  credentials: Credentials;
  admin: boolean;
  /** What the account is (`person` for every account created before kinds existed). */
  kind: AccountKind;
  /** An administrator disabled it: it cannot sign in by any path until enabled again. */
  disabled: boolean;
  createdAt: number;
  lastSeen: number | null;
  lastStatus: string | null;
  /**
   * The log position (highest seq) when this account was created, set by the store in the same write. An
   * address removed and created again is a new identity: it sees only records after this position (history,
   * since, offline queue), never its predecessor's. 0 for accounts created before Parley recorded it.
   */
  createdSeq: number;
}

/** An account to create; the store assigns createdSeq, the kind is `person` and disabled false when not given. */
export type NewAccount = Omit<Account, 'createdSeq' | 'kind' | 'disabled'> & { kind?: AccountKind; disabled?: boolean };

/** An account as the listings show it. */
export interface AccountListing {
  address: string;
  admin: boolean;
  kind: AccountKind;
  disabled: boolean;
  createdAt: number;
  lastSeen: number | null;
}

export interface DomainStore {
  /** Throws ParleyError conflict when the domain exists. */
  add(domain: string, createdAt: number): Promise<void>;
  /** Removes the domain with all its accounts, rosters, rooms and tokens. False when absent. */
  remove(domain: string): Promise<boolean>;
  list(): Promise<string[]>;
}

export interface AccountStore {
  /**
   * Throws ParleyError conflict when the address exists, item-not-found when its domain is not hosted. The
   * account's createdSeq is the log's last seq at the moment of the insert (any createdSeq passed is ignored).
   */
  create(account: NewAccount): Promise<void>;
  get(address: string): Promise<Account | null>;
  /** Addresses with admin flag, kind and disabled flag, sorted; all domains when domain is omitted. */
  list(domain?: string): Promise<AccountListing[]>;
  /** Removes the account and everything it owns (roster, tokens, offline queue, memberships, pending invitations). */
  remove(address: string): Promise<boolean>;
  setCredentials(address: string, credentials: Credentials): Promise<boolean>;
  /** Disables (true) or enables the account; false when there is no such account. */
  setDisabled(address: string, disabled: boolean): Promise<boolean>;
  /** Makes the account an administrator (true) or not; false when there is no such account. */
  setAdmin(address: string, admin: boolean): Promise<boolean>;
  setLastSeen(address: string, at: number, status: string | null): Promise<void>;
}

export interface TokenRecord {
  address: string;
  createdAt: number;
  expiresAt: number;
}

export interface TokenStore {
  /** Tokens are stored only as a hash (the caller hashes). */
  put(hash: string, record: TokenRecord): Promise<void>;
  get(hash: string): Promise<TokenRecord | null>;
  revoke(hash: string): Promise<void>;
  revokeAll(address: string): Promise<void>;
  purgeExpired(now: number): Promise<number>;
}

export interface RosterStore {
  list(owner: string): Promise<RosterItem[]>;
  get(owner: string, contact: string): Promise<RosterItem | null>;
  /** Writes all items atomically (a subscription change touches both users' rosters). */
  put(items: RosterItem[]): Promise<void>;
  remove(owner: string, contact: string): Promise<boolean>;
  /**
   * Owners whose item for `contact` receives its presence (subscription to or both), sorted: who watches a
   * presence entity (engine/entities.ts). Served by the index on the contact column.
   */
  watchersOf(contact: string): Promise<string[]>;
}

export interface SharedGroup {
  name: string;
  displayName: string;
}

/** Admin-defined groups whose members all see each other's presence without requests. */
export interface SharedGroupStore {
  create(group: SharedGroup): Promise<void>;
  /** Sets the group's display name; false when there is no such group. */
  rename(name: string, displayName: string): Promise<boolean>;
  remove(name: string): Promise<boolean>;
  list(): Promise<SharedGroup[]>;
  addMember(name: string, user: string): Promise<void>;
  removeMember(name: string, user: string): Promise<boolean>;
  members(name: string): Promise<string[]>;
  /** Groups `user` belongs to. */
  groupsOf(user: string): Promise<SharedGroup[]>;
}

export interface HistoryQuery {
  /** Only records with seq < before (page backwards). */
  before?: number;
  /** Only records with seq > after (page forwards). */
  after?: number;
  limit: number;
  /**
   * Which end of the range the page is taken from: the oldest rows (paging forwards) or the newest (backwards).
   * Default: oldest when `after` is given, else newest.
   */
  from?: 'oldest' | 'newest';
  /**
   * A budget for the page's bodies, in UTF-8 bytes. Rows are taken in paging direction (newest first when paging
   * backwards); once the bodies taken reach the budget, exactly one more row is taken, if there is one, and
   * reading stops. So a page is never empty, and a caller asking for limit + 1 rows can tell the page from its
   * look-ahead row with pageLength() (src/core/page.ts). Without it, only `limit` bounds the page.
   */
  maxBytes?: number;
}

export interface AppendResult {
  record: LogRecord;
  /** True when a record with the same (from, clientId) was stored before: nothing new was written. */
  duplicate: boolean;
}

/** What (part of) a user's offline queue holds: entries, and the UTF-8 bytes of their bodies. */
export interface OfflineSize {
  count: number;
  bytes: number;
}

/** Where a reader's newest read receipt stands: the message it names (its id and seq) and when it was given. */
export interface ReadMarker {
  id: string;
  seq: number;
  ts: number;
}

export interface MessageStore {
  /**
   * Appends records durably, in order, and returns them with seq and id. A record whose (from, clientId)
   * already exists is not written again: its first stored version is returned with duplicate=true. When that
   * first version is older than the sender's account (a removed predecessor's), the append fails with conflict
   * instead, so a new account neither loses its message nor learns of its predecessor's.
   * Adapters may group concurrent calls into one transaction (group commit); the promise settles after commit.
   */
  append(records: NewRecord[]): Promise<AppendResult[]>;
  getById(id: string): Promise<LogRecord | null>;
  /**
   * One message as readers see it now: the same shape and edit/retract semantics as a history() row.
   * Null for an unknown id and for records that are not messages (edits, retractions, receipts).
   */
  view(id: string): Promise<MessageView | null>;
  /**
   * Messages of one conversation as readers see them now, ascending by seq. Only the current incarnations'
   * conversation: a room's records after the room's createdSeq, a 1:1 conversation's after the createdSeq of
   * the later-created of its two accounts (an account or room that does not exist counts as 0).
   */
  history(conv: string, query: HistoryQuery): Promise<MessageView[]>;
  /**
   * The user's 1:1 messages of every conversation, sent and received, paged as history() pages one
   * conversation (same rows, bounds, ends and byte budget); only the account's current incarnation's
   * (after its createdSeq).
   */
  userMessages(user: string, query: HistoryQuery): Promise<MessageView[]>;
  /**
   * The first position whose record was written at or after `ts` (epoch ms), or lastSeq() + 1 when none was.
   * Records take their time from the server's clock as they are appended, so times rise with positions: the
   * records from `ts` on are those from this position on (exactly so while the clock never steps back).
   */
  seqAtTime(ts: number): Promise<number>;
  /**
   * Everything addressed to or sent by `user`, or in one of `rooms`, with seq > after; ascending. The user's
   * records start after the account's createdSeq, each room's after the room's (0 when it does not exist).
   */
  since(user: string, rooms: string[], after: number, limit: number): Promise<LogRecord[]>;
  /**
   * The user's offline queue entries with seq > after, ascending; page on with the last seq returned. Entries
   * not after the account's createdSeq (queued for a removed predecessor) are never returned.
   */
  offline(user: string, after: number, limit: number): Promise<LogRecord[]>;
  /** Drops the user's offline entries with seq <= upTo; returns what it dropped. */
  ackOffline(user: string, upTo: number): Promise<OfflineSize>;
  /** What the user's offline queue holds now (the engine counts it once, then keeps the count in memory). */
  offlineSize(user: string): Promise<OfflineSize>;
  /**
   * Puts records already in the log (back) into the user's offline queue: messages sent to a session that
   * vanished before confirming them (XEP-0198 §5). Unknown seqs and entries already queued are ignored.
   */
  queueOffline(user: string, seqs: number[]): Promise<void>;
  /**
   * The newest read receipt `reader` gave in the 1:1 conversation `conv` (XEP-0333: everything up to that message
   * is read): the message it names, that message's position and the receipt's time; null when there is none in
   * the conversation's current incarnation (see history()).
   */
  lastRead(conv: string, reader: string): Promise<ReadMarker | null>;
  /** The message `from` sent with its own id `clientId` (as readers see it now), or null. */
  byClientId(from: string, clientId: string): Promise<MessageView | null>;
  /** The highest seq in the log (0 when empty). */
  lastSeq(): Promise<number>;
  /**
   * Every record of the log after `after`, in seq order, at most `limit` (log consumers read with it), and no
   * more records once their text (recordBytes) reaches `maxBytes`: at least one, so a record larger than the
   * budget still comes through, alone. A batch of large bodies is then not copied off the store's thread at once.
   */
  after(after: number, limit: number, maxBytes?: number): Promise<LogRecord[]>;
}

export interface RoomStore {
  /**
   * Creates the room and makes its creator owner. Throws conflict when it exists. The store records the log's
   * last seq with it (the room's createdSeq): a room created again at the address of a destroyed one is a new
   * room whose history starts there.
   */
  create(room: Room): Promise<void>;
  get(address: string): Promise<Room | null>;
  list(domain?: string): Promise<Room[]>;
  /** Removes the room with its members and invitations. False when absent. */
  remove(address: string): Promise<boolean>;
  setMember(room: string, user: string, role: RoomRole, at: number): Promise<void>;
  removeMember(room: string, user: string): Promise<boolean>;
  members(room: string): Promise<RoomMember[]>;
  member(room: string, user: string): Promise<RoomMember | null>;
  roomsOf(user: string): Promise<string[]>;
  /** The user's memberships with their roles, sorted by room. */
  membershipsOf(user: string): Promise<Array<{ room: string; role: RoomRole }>>;
  /**
   * The rooms `user` is a member of with each room's createdSeq (its history starts after it), sorted by room:
   * what the user may read of rooms, for indexes kept over the log (the search module).
   */
  floorsOf(user: string): Promise<Array<{ room: string; createdSeq: number }>>;
  /**
   * The rooms among `addresses` that exist, each with its createdSeq, sorted by room: where the history of rooms
   * a user left starts (their members' floors are floorsOf's).
   */
  floorsOfRooms(addresses: string[]): Promise<Array<{ room: string; createdSeq: number }>>;
  /** The rooms among `addresses` that exist, sorted by address. */
  getMany(addresses: string[]): Promise<Room[]>;
  /** Open (not members-only) rooms whose domain is exactly `domain`, with address > `after`, sorted, at most `limit`. */
  listOpen(domain: string, after: string, limit: number): Promise<Room[]>;
  addInvite(room: string, user: string, by: string, at: number): Promise<void>;
  hasInvite(room: string, user: string): Promise<boolean>;
  removeInvite(room: string, user: string): Promise<void>;
  /** Pending invitations of `user`, ordered by `at` (then by room); a repeated invitation counts once, with its latest by/at. */
  invitesOf(user: string): Promise<Array<{ room: string; by: string; at: number }>>;
  /**
   * Bans `target` (a bare address, or a whole domain) from the room (XEP-0045 §9.1, affiliation outcast); a
   * repeated ban replaces who banned, why and when. Item-not-found when the room does not exist.
   */
  ban(room: string, target: string, by: string, reason: string | null, at: number): Promise<void>;
  /** Lifts a ban; false when there was none. */
  unban(room: string, target: string): Promise<boolean>;
  /** The room's bans, sorted by target. */
  bans(room: string): Promise<RoomBan[]>;
  /** Whether `user` (a bare address) or its domain is banned from the room. */
  isBanned(room: string, user: string): Promise<boolean>;
  /** Sets whether the room is moderated (XEP-0045 §8.3, muc#roomconfig_moderatedroom). */
  setModerated(room: string, moderated: boolean): Promise<void>;
  /** Whether the room is moderated (false when it does not exist). */
  moderated(room: string): Promise<boolean>;
  /**
   * Gives or takes a member's voice (XEP-0045 §8.3-8.4: role participant or visitor); a member starts with voice
   * and the flag goes with the membership. Does nothing for someone who is not a member.
   */
  setVoice(room: string, user: string, voice: boolean): Promise<void>;
  /** The members without voice (visitors), sorted. */
  voiceless(room: string): Promise<string[]>;
}

/** A ban from a room (XEP-0045 affiliation outcast): a bare address or a whole domain. */
export interface RoomBan {
  room: string;
  target: string;
  by: string;
  reason: string | null;
  at: number;
}

/** Everything Parley persists, behind one object the composition root creates. */
/**
 * Block lists (XEP-0191): addresses a user does not want to hear from or be seen by. An entry is a bare user
 * address or a domain (which blocks every address of it).
 */
export interface BlockStore {
  /** The user's entries, sorted. */
  list(owner: string): Promise<string[]>;
  /** Adds entries (already listed ones are ignored). */
  add(owner: string, entries: string[]): Promise<void>;
  /** Removes the given entries, or all of them with null. */
  remove(owner: string, entries: string[] | null): Promise<void>;
  /** Users whose list names `user` itself or its domain, sorted. */
  blockersOf(user: string): Promise<string[]>;
}

/** Per-user documents by kind (e.g. 'vcard-temp', the XEP-0054 vCard as XML text). */
export interface ProfileStore {
  get(owner: string, kind: string): Promise<string | null>;
  /** Stores or (with null) deletes the document. */
  put(owner: string, kind: string, value: string | null, at: number): Promise<void>;
}

/**
 * Secrets of this installation that must outlive a restart (e.g. the key behind the SCRAM salts shown for
 * unknown users), kept with the data they protect: a backup restores them together.
 */
export interface SecretStore {
  /**
   * The secret stored under `name`; when there is none yet, `value` is stored and returned. The first writer
   * wins, also across processes sharing the database, so every caller ends up with the same secret.
   */
  ensure(name: string, value: string): Promise<string>;
}

/** Where each consumer of the log got to. */
export interface PositionStore {
  /** The last seq the consumer finished (0 when it never ran). */
  get(consumer: string): Promise<number>;
  /** Records that the consumer finished everything up to `seq`. */
  set(consumer: string, seq: number): Promise<void>;
}

/**
 * One live option an administrator set while the server runs (docs/settings.md): the value of one top-level key of
 * a module's options, which wins over the configuration file's.
 */
export interface SettingRecord {
  module: string;
  key: string;
  /** The value as JSON (what JSON.parse returns); the module's own schema validates it when it is applied. */
  value: unknown;
  /** When it was set (ms since the epoch). */
  updatedAt: number;
  /** Who set it: an administrator's address, or `cli:<operating-system user>`. */
  updatedBy: string;
}

/** The live options administrators set, per module and key (the settings table). */
export interface SettingsStore {
  get(module: string, key: string): Promise<SettingRecord | null>;
  /** Stores the value of one key, replacing what was there. */
  put(record: SettingRecord): Promise<void>;
  /** Forgets one key (back to the configuration file's value); true when it was set. */
  remove(module: string, key: string): Promise<boolean>;
  /** Every key set, of one module or (without it) of all, sorted by module then key. */
  list(module?: string): Promise<SettingRecord[]>;
}

export interface Store {
  readonly domains: DomainStore;
  readonly accounts: AccountStore;
  readonly tokens: TokenStore;
  readonly rosters: RosterStore;
  readonly sharedGroups: SharedGroupStore;
  readonly messages: MessageStore;
  readonly rooms: RoomStore;
  readonly blocks: BlockStore;
  readonly profiles: ProfileStore;
  readonly secrets: SecretStore;
  /** Positions of the log's consumers (module work that follows the log, each under its own name). */
  readonly positions: PositionStore;
  /** Live options administrators set while the server runs (docs/settings.md). */
  readonly settings: SettingsStore;
  /**
   * The storage area a module brought (ports/module-storage.ts), opened with the store. Throws item-not-found
   * for a name the store was not opened with.
   */
  area<A>(name: string): A;
  /** Changes whenever another process changed the data (for cache invalidation); cheap to call. */
  dataVersion(): Promise<number>;
  /** Flushes pending writes and closes. */
  close(): Promise<void>;
}

/**
 * A log record's size as the read budget of MessageStore.after counts it: its body and extension elements in
 * UTF-16 code units (what the copy between threads costs), plus a fixed share for the other fields.
 */
export function recordBytes(r: Pick<LogRecord, 'body' | 'xml'>): number {
  return 256 + (r.body?.length ?? 0) + (r.xml?.length ?? 0);
}
