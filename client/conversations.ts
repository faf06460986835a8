/**
 * Typed calls of the conversation list (the conversations module, docs/protocol.md): a page of the user's
 * conversations with unread and mention counts, moving the user's read position, and the `conversations.update`
 * event that tells every session of the user when a position or a count changed. No Node.js import: the web
 * client uses it too.
 */
import type { ParleyEvent } from './session.js';

/** Anything with the session's request method (ClientSession, the web client's BrowserSession). */
export interface Requester {
  request<T = Record<string, unknown>>(op: string, params?: Record<string, unknown>): Promise<T>;
}

/** The newest message of a conversation (a one-line preview of its body). */
export interface ConversationLast {
  id: string;
  seq: number;
  ts: number;
  from: string;
  preview: string;
}

/** One conversation of the user. */
export interface ConversationSummary {
  /** The other person, or the room. */
  with: string;
  kind: 'chat' | 'room';
  /** Null when there is none. In a room the user left: the newest message up to its leaving. */
  last: ConversationLast | null;
  /** Messages from others after the read position. */
  unread: number;
  /** Room messages after the read position that mention the user. */
  mentions: number;
  /** Ids of those mentioning messages, newest first (at most 20). */
  mentionIds: string[];
  /** The user's read position: a log position (seq), 0 when nothing was read. */
  readUpTo: number;
  /** A room the user left: its past stays (its history readable up to the leaving), nothing new counts. */
  left: boolean;
  /** In a room the user left: how (on its own, removed or banned), by whom and why; null otherwise. */
  departure: ConversationDeparture | null;
  /** In a room the user left: whether it may join again now (the room is open, or it is invited; not banned). */
  rejoin: boolean;
  /** In a room the user left: the room's name (the client no longer lists it among its rooms). */
  name?: string;
}

/** How the user came to leave a room (XEP-0045 §8.2 kick, §9.1 ban). */
export interface ConversationDeparture {
  how: 'left' | 'removed' | 'banned';
  /** The moderator who removed or banned the user; null when it left on its own. */
  by: string | null;
  /** The moderator's reason, if one was given. */
  reason: string | null;
}

/** A page of conversations, newest activity first. */
export interface ConversationPage {
  conversations: ConversationSummary[];
  /** `before` of the next page; null on the last. */
  next: number | null;
  /** The log position the counts are exact at: a message after it is not counted yet. */
  position: number;
}

/** One conversation after a change, with the position its counts are exact at. */
export type ConversationUpdate = ConversationSummary & { position: number };

/** The event pushed to every JSON session of the user when a read position or a count changed. */
export const CONVERSATION_UPDATE_EVENT = 'conversations.update';
/** The event pushed to every JSON session of the user when a conversation left its list (`conversation.remove`). */
export const CONVERSATION_REMOVED_EVENT = 'conversations.removed';

/** A page of the user's conversations (JSON `conversations`). */
export function listConversations(s: Requester, params: { limit?: number; before?: number } = {}): Promise<ConversationPage> {
  return s.request<ConversationPage>('conversations', { ...params });
}

/** Marks a conversation read up to `upTo` (a seq), or up to its newest message (JSON `conversation.read`). */
export function markConversationRead(s: Requester, peer: string, upTo?: number): Promise<ConversationUpdate> {
  return s.request<ConversationUpdate>('conversation.read', { with: peer, ...(upTo !== undefined ? { upTo } : {}) });
}

/** Removes a room the user left from its list (JSON `conversation.remove`); its history is then no longer readable. */
export function removeConversation(s: Requester, peer: string): Promise<{ removed: string }> {
  return s.request<{ removed: string }>('conversation.remove', { with: peer });
}

/** The update an event carries, or null when it is another event. */
export function conversationUpdateOf(e: ParleyEvent): ConversationUpdate | null {
  return e.ev === CONVERSATION_UPDATE_EVENT ? (e.data as unknown as ConversationUpdate) : null;
}
