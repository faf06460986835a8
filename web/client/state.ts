/**
 * The web client's state, as Preact signals, and the session that feeds it: roster, presence, conversations
 * with their messages and unread counts, typing. A dropped connection reconnects with a growing pause and
 * resumes from the last log position it saw (`since`), so nothing is missed; messages are kept by id, so a
 * record replayed twice is shown once.
 */
import { batch, computed, signal } from '@preact/signals';
import { conversationUpdateOf, markConversationRead, removeConversation, type ConversationDeparture, type ConversationSummary } from '../../client/conversations.js';
import type { ParleyEvent } from '../../client/session.js';
import { ParleyApiError } from '../../client/session.js';
import { BrowserSession, currentIdentity, type WebIdentity } from './connection.js';
import { countsLive, fetchConversations, mentionNotice, withSummary } from './counts.js';
import { followThings, onPresentitiesEvent } from './things.js';

export { things, type Thing } from './things.js';

/** One presence as the server reports it (docs/protocol.md, UserPresence). */
export interface Presence {
  user: string;
  state: 'dnd' | 'busy' | 'chat' | 'available' | 'away' | 'xa' | 'offline';
  availability: string | null;
  activity: string | null;
  status: string | null;
  lastSeen: number | null;
}

/** A roster entry (the fields the client shows). */
export interface Contact {
  contact: string;
  name: string | null;
  subscription: string;
  groups: string[];
}

/** A room the user belongs to or is invited to (room.list). */
export interface Room {
  address: string;
  name: string;
  membersOnly: boolean;
  role: 'owner' | 'admin' | 'member' | null;
  invitedBy: string | null;
}

/** A message as the conversation shows it. */
export interface Message {
  id: string;
  seq: number;
  from: string;
  body: string | null;
  ts: number;
  edited: boolean;
  /** Extension elements (XEP-0461 reply, XEP-0066 link, …) as the server keeps them, or null. */
  xml: string | null;
  /** The sender's own id (XMPP clients name a message by it in replies), or null. */
  clientId: string | null;
}

/**
 * One conversation: its messages in log order, whether older ones exist, what the user has not read. The counts
 * come from the server's conversation list (exact up to the log position `counted`), plus the live messages after
 * that position the page has received since.
 */
export interface Conversation {
  peer: string;
  messages: Message[];
  olderExist: boolean;
  unread: number;
  /** The log position of the user's newest message the other person has read (1:1; 0: none yet). */
  readUpTo: number;
  /** The id of the other person's newest message this user marked read (on any device), or null. */
  markedRead: string | null;
  /** Room messages after the user's read position that mention the user (the server's count). */
  mentions: number;
  /** Ids of messages that mention the user (highlighted; kept after they are read). */
  mentionIds: ReadonlySet<string>;
  /** The user's own read position (a seq), as the server keeps it for all the user's devices. */
  readPosition: number;
  /** The log position up to which the server counted `unread` (live messages after it are counted here). */
  counted: number;
  /** The newest message as the server's list summarised it (a conversation whose messages are not loaded). */
  last: { ts: number; preview: string; from: string } | null;
  /** Whether the server lists it as a 1:1 conversation (`chat`) or a room. */
  kind: 'chat' | 'room' | null;
  /** A room the user left (or was removed or banned from): its past stays readable, nothing new arrives. */
  left: boolean;
  /** How it was left, by whom and why (the server's list), or null. */
  departure: ConversationDeparture | null;
  /** Whether the user may join the room it left again now. */
  rejoin: boolean;
  /** A room left: its name (the user's rooms no longer list it), or null. */
  name: string | null;
}

export type Link = 'connecting' | 'online' | 'reconnecting';

export const me = signal<WebIdentity | null>(null);
export const link = signal<Link>('connecting');
export const contacts = signal<Contact[]>([]);
export const rooms = signal<Room[]>([]);
export const presences = signal<ReadonlyMap<string, Presence>>(new Map());
export const conversations = signal<ReadonlyMap<string, Conversation>>(new Map());
export const active = signal<string | null>(null);
export const typing = signal<ReadonlyMap<string, number>>(new Map());
/** The latest notice for screen readers (an ARIA live region reads it). */
export const announcement = signal('');
/**
 * Why the page is signed out when the server ended the web session (its token was revoked: an administrator
 * ended all of the user's sessions, the password was changed, the account was disabled); the sign-in page says it.
 */
export const signedOutReason = signal<string | null>(null);

/** Whether an address is one of the user's rooms (or a room they are invited to, or one they left). */
export const isRoom = (address: string): boolean => rooms.value.some((r) => r.address === address) || conversations.value.get(address)?.kind === 'room';

/** Rooms the user left that its list keeps (with their past), newest activity first. */
export const leftRooms = computed(() =>
  [...conversations.value.values()].filter((c) => c.kind === 'room' && c.left && !rooms.value.some((r) => r.address === c.peer && r.role !== null)).sort((a, b) => (b.last?.ts ?? 0) - (a.last?.ts ?? 0)),
);

/**
 * Conversations to list: every contact, and anyone else the user has a conversation with (the server's list,
 * so after a reload too), newest activity first (rooms apart).
 */
export const conversationList = computed(() => {
  const peers = new Set(contacts.value.map((c) => c.contact));
  for (const [p, c] of conversations.value) if (c.kind !== 'room' && !isRoom(p)) peers.add(p);
  const last = (p: string): number => {
    const c = conversations.value.get(p);
    return Math.max(c?.messages.at(-1)?.ts ?? 0, c?.last?.ts ?? 0);
  };
  return [...peers].sort((a, b) => last(b) - last(a) || a.localeCompare(b));
});

let session: BrowserSession | null = null;
let position = 0;
let stopped = false;

const bare = (a: string): string => a.split('/')[0]!;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function conversation(peer: string): Conversation {
  return (
    conversations.value.get(peer) ?? {
      peer,
      messages: [],
      olderExist: true,
      unread: 0,
      readUpTo: 0,
      markedRead: null,
      mentions: 0,
      mentionIds: new Set(),
      readPosition: 0,
      counted: 0,
      last: null,
      kind: null,
      left: false,
      departure: null,
      rejoin: false,
      name: null,
    }
  );
}

function putConversation(c: Conversation): void {
  const next = new Map(conversations.value);
  next.set(c.peer, c);
  conversations.value = next;
}

/** Inserts messages by seq, dropping any already held (a replay after a reconnect repeats none on screen). */
function merge(list: readonly Message[], add: readonly Message[]): Message[] {
  // The common cases without a sort over the whole conversation: an older page before it, a new message after it.
  const first = list[0];
  const last = list.at(-1);
  if (first === undefined) return [...add].sort((a, b) => a.seq - b.seq);
  if (add.length > 0 && add.every((m, i) => m.seq < first.seq && (i === 0 || add[i - 1]!.seq < m.seq))) return [...add, ...list];
  if (add.length === 1 && add[0]!.seq > last!.seq) return [...list, add[0]!];
  const ids = new Set(list.map((m) => m.id));
  const out = list.slice();
  for (const m of add) if (!ids.has(m.id)) out.push(m);
  return out.sort((a, b) => a.seq - b.seq);
}

/** The conversation a record belongs to: the room for room messages, else the other person. */
function peerOf(d: Record<string, unknown>): string {
  const from = bare(String(d.from));
  return d.type === 'groupchat' || from === me.value!.address ? bare(String(d.to)) : from;
}

function onMessage(d: Record<string, unknown>): void {
  if ((d.type !== 'chat' && d.type !== 'groupchat') || typeof d.body !== 'string') return;
  const self = me.value!.address;
  const from = bare(String(d.from));
  const peer = peerOf(d);
  const m: Message = { id: String(d.id), seq: Number(d.seq), from, body: d.body, ts: Number(d.ts), edited: false, xml: str(d.xml), clientId: str(d.clientId) };
  const c = conversation(peer);
  const isNew = !c.messages.some((x) => x.id === m.id);
  const unread = isNew && countsLive(c, m, self) && (active.value !== peer || document.hidden) ? c.unread + 1 : c.unread;
  putConversation({ ...c, messages: merge(c.messages, [m]), unread });
  if (isNew && from !== self && active.value === peer) markRead(peer);
  if (isNew && from !== self) {
    announcement.value = `New message from ${from}: ${m.body}`;
    notifyDesktop(from, m.body ?? '', peer);
    const t = new Map(typing.value);
    t.delete(peer);
    typing.value = t;
  }
}

/**
 * A desktop notification for a message that arrives while the page is not being looked at, unless the user's
 * own presence is do not disturb (or they have not allowed notifications).
 */
function notifyDesktop(from: string, body: string, peer: string): void {
  if (!('Notification' in globalThis) || Notification.permission !== 'granted' || !document.hidden) return;
  if (presences.value.get(me.value!.address)?.state === 'dnd') return;
  const n = new Notification(from, { body: body.length > 200 ? `${body.slice(0, 200)}…` : body, tag: peer });
  n.onclick = () => {
    focus();
    void open(peer);
    n.close();
  };
}

function onEdit(d: Record<string, unknown>, retract: boolean): void {
  const c = conversations.value.get(peerOf(d));
  if (!c) return;
  const messages = c.messages.map((m) => (m.id === d.ref ? { ...m, body: retract ? null : String(d.body), edited: !retract, xml: retract ? null : (str(d.xml) ?? m.xml) } : m));
  putConversation({ ...c, messages });
}

/**
 * A read receipt (XEP-0333 semantics: everything up to that message is read). From the other person: how far
 * they have read the user's messages. From the user's own other device: the conversation was read there, so it
 * has nothing unread here either.
 */
function onReceipt(d: Record<string, unknown>): void {
  if (d.receipt !== 'read') return;
  const self = me.value!.address;
  const from = bare(String(d.from));
  if (from === self) {
    const c = conversations.value.get(bare(String(d.to)));
    if (c) putConversation({ ...c, unread: 0, markedRead: String(d.ref) });
    return;
  }
  const c = conversations.value.get(from);
  const read = c?.messages.find((m) => m.id === d.ref);
  if (c && read && read.seq > c.readUpTo) putConversation({ ...c, readUpTo: read.seq });
}

/**
 * Marks a conversation read up to its newest message on the server (`conversation.read`), so the count clears
 * on the user's other devices too; in a 1:1 conversation a read receipt for the other person's newest message
 * also tells them (XEP-0333 semantics: everything before it is read too). Once per message.
 */
function markRead(peer: string): void {
  const c = conversations.value.get(peer);
  // A room left: nothing new arrives in it, and the server keeps no read position for it any more.
  if (!session || !c || document.hidden || c.left) return;
  const newest = c.messages.at(-1);
  if (newest !== undefined && newest.seq > c.readPosition) {
    putConversation({ ...c, unread: 0, mentions: 0, readPosition: newest.seq });
    markConversationRead(session, peer, newest.seq).catch(() => undefined);
  }
  if (isRoom(peer)) return;
  const self = me.value!.address;
  const last = c.messages.findLast((m) => m.from !== self && m.body !== null);
  if (!last || last.id === c.markedRead) return;
  putConversation({ ...conversation(peer), markedRead: last.id });
  session.request('message.receipt', { id: last.id, kind: 'read' }).catch(() => undefined);
}

/** One conversation as the server counts it (the list, or a `conversations.update` event): see counts.ts. */
function applySummary(s: ConversationSummary, position: number): void {
  const c = conversation(s.with);
  const viewing = active.value === s.with && !document.hidden;
  const next = withSummary(c, s, position, me.value!.address, viewing);
  if (next === null) return;
  const notice = viewing ? null : mentionNotice(c.mentions, s.mentions, rooms.value.find((r) => r.address === s.with)?.name ?? s.with);
  if (notice !== null) announcement.value = notice;
  putConversation(next);
  // Looked at now: read up to the newest message held (markRead sends nothing when that is read already).
  if (viewing) markRead(s.with);
}

function onPresence(list: readonly Record<string, unknown>[]): void {
  const next = new Map(presences.value);
  for (const p of list) next.set(String(p.user), p as unknown as Presence);
  presences.value = next;
}

function onEvent(e: ParleyEvent): void {
  const d = e.data;
  switch (e.ev) {
    case 'message':
      onMessage(d);
      break;
    case 'message.edit':
      onEdit(d, false);
      break;
    case 'message.retract':
      onEdit(d, true);
      break;
    case 'message.receipt':
      onReceipt(d);
      break;
    case 'conversations.update': {
      const u = conversationUpdateOf(e);
      if (u !== null) applySummary(u, u.position);
      break;
    }
    case 'conversations.removed':
      dropConversation(String(d.with));
      break;
    case 'presence':
      onPresence([d]);
      break;
    case 'presence.snapshot':
      onPresence(d.presences as Record<string, unknown>[]);
      break;
    case 'roster':
      void loadRoster();
      break;
    case 'presentities.snapshot':
    case 'presentities.change':
      onPresentitiesEvent(e);
      break;
    case 'room.member':
    case 'room.invite':
      void loadRooms();
      break;
    case 'typing': {
      const peer = bare(String(d.from));
      const t = new Map(typing.value);
      if (d.state === 'composing') t.set(peer, Date.now());
      else t.delete(peer);
      typing.value = t;
      break;
    }
  }
}

async function loadRoster(): Promise<void> {
  if (!session) return;
  const r = await session.request<{ items: Contact[] }>('roster.get');
  contacts.value = r.items;
  void followThings(session, r.items.map((c) => c.contact));
}

/** The rooms the user belongs to or is invited to (open rooms they have no part in are not listed). */
async function loadRooms(): Promise<void> {
  if (!session) return;
  const r = await session.request<{ rooms: Room[] }>('room.list');
  rooms.value = r.rooms.filter((x) => x.role !== null || x.invitedBy !== null);
}

/** Creates a room owned by the user and opens it. */
export async function createRoom(name: string): Promise<void> {
  if (!session) throw new Error('not connected');
  const r = await session.request<{ room: Room }>('room.create', { name, membersOnly: true });
  await loadRooms();
  await open(r.room.address);
}

/** Joins a room the user was invited to (or an open room, or one it left that it may join again). */
export async function joinRoom(room: string): Promise<void> {
  await session?.request('room.join', { room });
  const c = conversations.value.get(room);
  if (c?.left === true) putConversation({ ...c, left: false, departure: null, rejoin: false });
  await loadRooms();
  if (active.value === room) await loadHistory(room);
}

/** Takes a room the user left off its list, on every device (its history is no longer readable). */
export async function forgetRoom(room: string): Promise<void> {
  if (!session) throw new Error('not connected');
  await removeConversation(session, room);
  dropConversation(room);
}

function dropConversation(peer: string): void {
  if (!conversations.value.has(peer)) return;
  const next = new Map(conversations.value);
  next.delete(peer);
  batch(() => {
    conversations.value = next;
    if (active.value === peer) active.value = null;
  });
}

/** A room's members with their roles (room.members). */
export async function roomMembers(room: string): Promise<Array<{ user: string; role: string }>> {
  if (!session) return [];
  const r = await session.request<{ members: Array<{ user: string; role: string }> }>('room.members', { room });
  return r.members;
}

/**
 * Leaves a room. With the server's conversation list, the room stays listed as left, its past readable (the
 * server's update says whether it may be joined again); without it, its conversation closes.
 */
export async function leaveRoom(room: string): Promise<void> {
  await session?.request('room.leave', { room });
  const c = conversations.value.get(room);
  if (c?.kind === 'room') {
    const name = rooms.value.find((r) => r.address === room)?.name ?? c.name;
    if (!c.left) putConversation({ ...c, left: true, departure: { how: 'left', by: null, reason: null }, name });
  } else if (active.value === room) active.value = null;
  await loadRooms();
}

/** Invites someone to a room. */
export async function invite(room: string, user: string): Promise<void> {
  await session?.request('room.invite', { room, user });
}

/** Replaces the body of one of the user's own messages (the archive keeps every version). */
export async function edit(peer: string, id: string, body: string): Promise<void> {
  await session?.request('message.edit', { id, body });
  const c = conversation(peer);
  putConversation({ ...c, messages: c.messages.map((m) => (m.id === id ? { ...m, body, edited: true } : m)) });
}

/** Retracts one of the user's own messages. */
export async function retract(peer: string, id: string): Promise<void> {
  await session?.request('message.retract', { id });
  const c = conversation(peer);
  putConversation({ ...c, messages: c.messages.map((m) => (m.id === id ? { ...m, body: null } : m)) });
}

/** Connects (or reconnects, resuming after the last position seen) and keeps the connection up until stopped. */
export async function connect(): Promise<void> {
  stopped = false;
  let pause = 500;
  while (!stopped) {
    link.value = session === null && position === 0 ? 'connecting' : 'reconnecting';
    try {
      const s = await BrowserSession.open({ resource: `web-${Math.random().toString(36).slice(2, 8)}`, ...(position > 0 ? { since: position } : {}) }, onEvent);
      s.on('*', () => {
        if (s.position > position) position = s.position;
      });
      session = s;
      if (s.hello.position > position) position = s.hello.position;
      link.value = 'online';
      pause = 500;
      await Promise.all([loadRoster(), loadRooms()]);
      // Without the conversations module (unknown-op) the list is the roster, the rooms and what arrives.
      await fetchConversations(s, (page) => batch(() => page.conversations.forEach((x) => applySummary(x, page.position)))).catch(() => undefined);
      if (active.value !== null) await loadHistory(active.value);
      await s.closed;
      session = null;
    } catch (err) {
      session = null;
      if (!stopped && (await tokenRefused(err))) {
        signedOut(err);
        break;
      }
    }
    if (stopped) break;
    link.value = 'reconnecting';
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 15_000);
  }
}

/**
 * Whether a failed (re)connection means the web session is over: the server refused the cookie's token
 * (not-authorized: revoked or expired; account-disabled). A connection that closed before hello was answered
 * asks who the cookie is: no one means the same. A server out of reach is not a refusal: the page goes on trying.
 */
async function tokenRefused(err: unknown): Promise<boolean> {
  if (err instanceof ParleyApiError && (err.code === 'not-authorized' || err.code === 'account-disabled')) return true;
  if (!(err instanceof ParleyApiError) || err.message.includes('cannot be reached')) return false;
  return (await currentIdentity().catch(() => undefined)) === null;
}

/** The server ended the web session: the page forgets what it held and shows the sign-in form, saying why. */
function signedOut(err: unknown): void {
  stopped = true;
  clear();
  signedOutReason.value =
    err instanceof ParleyApiError && err.code === 'account-disabled'
      ? 'Your account is disabled. Ask your administrator.'
      : 'You were signed out on every device (an administrator ended your sessions, or your password changed). Sign in again with your password.';
  me.value = null;
}

/** Closes the connection for good (signing out). */
export async function disconnect(): Promise<void> {
  stopped = true;
  await session?.close();
  clear();
}

/** Forgets everything the signed-in page held. */
function clear(): void {
  session = null;
  position = 0;
  batch(() => {
    contacts.value = [];
    rooms.value = [];
    presences.value = new Map();
    conversations.value = new Map();
    active.value = null;
  });
}

interface HistoryPage {
  more: boolean;
  /** On a 1:1 conversation's newest page: the other person's newest read receipt (docs/protocol.md, history). */
  read?: { id: string; seq: number; ts: number } | null;
  messages: Array<{ id: string; seq: number; from: string; body: string | null; ts: number; editedAt: number | null; xml: string | null; clientId: string | null }>;
}

/** Loads the newest page of a conversation, or the page before its oldest message (`older`). */
export async function loadHistory(peer: string, older = false): Promise<void> {
  if (!session) return;
  const c = conversation(peer);
  const before = older ? c.messages[0]?.seq : undefined;
  // Older pages are larger: fewer round trips while scrolling back through a long conversation.
  const page = await session.request<HistoryPage>('history', { with: peer, limit: older ? 100 : 50, ...(before !== undefined ? { before } : {}) });
  const msgs = page.messages.map((m) => ({ id: m.id, seq: m.seq, from: m.from, body: m.body, ts: m.ts, edited: m.editedAt !== null, xml: m.xml ?? null, clientId: m.clientId ?? null }));
  const now = conversation(peer);
  // How far the other person has read, as the server kept it: right after a reload too, not only once they read again.
  const readUpTo = Math.max(now.readUpTo, page.read?.seq ?? 0);
  putConversation({ ...now, messages: merge(now.messages, msgs), olderExist: older || now.messages.length === 0 || !page.more ? page.more : now.olderExist, readUpTo });
}

/** Opens a conversation: marks it read (on the server, so on every device) and loads its newest messages. */
export async function open(peer: string): Promise<void> {
  active.value = peer;
  const c = conversation(peer);
  putConversation({ ...c, unread: 0, mentions: 0 });
  await loadHistory(peer);
  markRead(peer);
}

/**
 * Sends a message to a conversation, with extension elements when given (a reply, a shared file: docs/protocol.md
 * `message.send` `xml`); shown once the server has stored it.
 */
export async function send(peer: string, body: string, xml?: string): Promise<void> {
  if (!session) throw new Error('not connected');
  const clientId = crypto.randomUUID();
  const ack = await session.request<{ id: string; seq: number; ts: number }>('message.send', { to: peer, body, clientId, ...(xml !== undefined ? { xml } : {}) });
  const c = conversation(peer);
  putConversation({ ...c, messages: merge(c.messages, [{ id: ack.id, seq: ack.seq, from: me.value!.address, body, ts: ack.ts, edited: false, xml: xml ?? null, clientId }]) });
}

/** One request on the page's connection (rejects when it is not connected). */
export function call<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}): Promise<T> {
  if (!session) return Promise.reject(new Error('not connected'));
  return session.request<T>(op, args);
}

/** Tells the peer whether the user is typing (XEP-0085 states). */
export function setTyping(peer: string, state: 'composing' | 'paused' | 'active'): void {
  session?.request('typing', { to: peer, state }).catch(() => undefined);
}

/** Sets the user's own presence (availability, activity, status text). */
export async function setPresence(p: { availability: string; activity: string | null; status: string | null }): Promise<void> {
  await session?.request('presence.set', { ...p, explicit: true });
}

/** Marks the active conversation read when the page comes back into view. */
export function pageVisible(): void {
  const peer = active.value;
  if (peer === null) return;
  const c = conversations.value.get(peer);
  if (c && (c.unread > 0 || c.mentions > 0)) putConversation({ ...c, unread: 0, mentions: 0 });
  markRead(peer);
}
