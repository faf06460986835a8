/** Shared domain types of the Parley core. Pure data: no I/O, no node:* imports. */

/** Per-session availability, as RFC 6121 §4.7.2.1 <show> plus plain "available". */
export type Availability = 'available' | 'chat' | 'away' | 'xa' | 'dnd';
export const AVAILABILITIES: readonly Availability[] = ['available', 'chat', 'away', 'xa', 'dnd'];

/** What a person (or thing) is doing; some activities make a user busy (see presence.ts). */
export type Activity =
  | 'on-the-phone'
  | 'in-meeting'
  | 'presenting'
  | 'busy'
  | 'out-of-office'
  | 'on-holiday'
  | 'travelling'
  | 'at-lunch'
  | 'working-remotely';
export const ACTIVITIES: readonly Activity[] = [
  'on-the-phone',
  'in-meeting',
  'presenting',
  'busy',
  'out-of-office',
  'on-holiday',
  'travelling',
  'at-lunch',
  'working-remotely',
];

/** The presence one session publishes. */
export interface SessionPresence {
  availability: Availability;
  activity: Activity | null;
  status: string | null;
  /** RFC 6121 §4.7.2.3: -128..127. */
  priority: number;
  /** Epoch ms since when the session's user has been idle, or null. */
  idleSince: number | null;
  /** True when the user chose this state by hand (it then outranks automatic states). */
  explicit: boolean;
  /** Epoch ms of the last change; among explicit choices the newest wins. */
  updatedAt: number;
  /**
   * What the engine keeps with the presence and relays without reading it: for XMPP, the serialised child
   * elements of the client's presence that Parley does not interpret (XEP-0115 caps, XEP-0153 avatar hash,
   * XEP-0172 nick, unknown extensions). Absent when there is none; JSON clients cannot set it (validatePresence).
   */
  extensions?: string;
  /**
   * What presence extenders add after the client's extensions (PresenceService.addExtender: e.g. the XEP-0153
   * avatar hash), kept apart so that running them again replaces it instead of adding it twice.
   */
  added?: string;
}

/**
 * One resource's presence as broadcast from its full address (RFC 6121 §4.2.2, §4.4.2): `presence` null when the
 * resource became unavailable (§4.5.2).
 */
export interface ResourcePresence {
  resource: string;
  presence: SessionPresence | null;
}

/** The aggregated state of a user, as shown to subscribers. */
export type PresenceState = 'dnd' | 'busy' | 'chat' | 'available' | 'away' | 'xa' | 'offline';

/** One user's presence as seen by others: the aggregate over all sessions. */
export interface UserPresence {
  user: string;
  state: PresenceState;
  availability: Availability | null;
  activity: Activity | null;
  status: string | null;
  idleSince: number | null;
  /** How many sessions are online. */
  sessions: number;
  /** Epoch ms the user was last online; null while online or never seen. */
  lastSeen: number | null;
  /** While online: each available resource and the state it shows (core/presence.ts sessionState), by name. */
  resources?: ResourceState[];
}

/** What the JSON API shows of one available resource of a user (docs/protocol.md §5 `presence`). */
export interface ResourceState {
  resource: string;
  state: Exclude<PresenceState, 'offline'>;
  /** RFC 6121 §4.7.2.3: -128..127. */
  priority: number;
}

/** RFC 6121 §3 subscription states (the "pending" flags are separate). */
export type Subscription = 'none' | 'to' | 'from' | 'both';

/** One contact in a user's roster. */
export interface RosterItem {
  owner: string;
  contact: string;
  name: string | null;
  groups: string[];
  subscription: Subscription;
  /** Pending-out: the owner asked to see the contact's presence and awaits an answer. */
  pendingOut: boolean;
  /** Pending-in: the contact asked to see the owner's presence and awaits the owner's answer. */
  pendingIn: boolean;
}

/** Message type: 1:1 chat or room (group) chat. */
export type MessageType = 'chat' | 'groupchat';

/** What a journal record is. Edits, retractions and receipts are records too: the log keeps what happened. */
export type RecordKind = 'message' | 'edit' | 'retract' | 'receipt';

export type ReceiptKind = 'delivered' | 'read';

/** A record to append to the message log (before the store assigns seq and id). */
export interface NewRecord {
  kind: RecordKind;
  type: MessageType;
  /** Conversation key, see conversationKey(). */
  conv: string;
  from: string;
  fromResource: string | null;
  /** Bare address of the recipient user or room. */
  to: string;
  toResource: string | null;
  clientId: string | null;
  body: string | null;
  /** For edit/retract/receipt: the id of the message it refers to. */
  ref: string | null;
  receipt: ReceiptKind | null;
  ts: number;
  /**
   * The message's extension elements Parley does not interpret (XEP-0066 links, XEP-0444 reactions, OMEMO, ...):
   * canonical XML, each top-level element with its own xmlns, kept as opaque text and put back into every copy
   * delivered. Absent or null: none (the common case costs one null check).
   */
  xml?: string | null;
  /** Users whose offline queue gets this record (they had no session when it was routed). */
  offlineFor: string[];
}

/** A record as stored: with its global position and server id. */
export interface LogRecord extends Omit<NewRecord, 'offlineFor' | 'xml'> {
  /** The extension elements (NewRecord.xml), null when there are none. */
  xml: string | null;
  /** Global, strictly increasing position in the log; also the client's resume cursor. */
  seq: number;
  /** Server-assigned id (stable, unique). */
  id: string;
}

/** A message as a reader sees it now: edits applied, retraction marked. */
export interface MessageView {
  seq: number;
  id: string;
  type: MessageType;
  conv: string;
  from: string;
  fromResource: string | null;
  to: string;
  clientId: string | null;
  /** Current body (after edits); null once retracted. */
  body: string | null;
  /** The extension elements the message carried (NewRecord.xml), null when none. */
  xml: string | null;
  ts: number;
  editedAt: number | null;
  retractedAt: number | null;
}

/** Room roles, strongest first. */
export type RoomRole = 'owner' | 'admin' | 'member';
export const ROOM_ROLES: readonly RoomRole[] = ['owner', 'admin', 'member'];

export interface Room {
  address: string;
  name: string;
  /** Members-only rooms need an invitation to join; open rooms can be joined by anyone in the domain. */
  membersOnly: boolean;
  createdBy: string;
  createdAt: number;
}

export interface RoomMember {
  room: string;
  user: string;
  role: RoomRole;
  joinedAt: number;
}

/** Conversation key of a 1:1 chat (order-independent) or a room. */
export function conversationKey(type: MessageType, a: string, b: string): string {
  if (type === 'groupchat') return `room:${b}`;
  return a < b ? `dm:${a} ${b}` : `dm:${b} ${a}`;
}
