/**
 * The conversation list's counts as the server keeps them (the conversations module, docs/protocol.md
 * "Conversations"), merged with what the page holds: a server count is exact up to the log position it names, so
 * the page adds the live messages after that position it has, and counts none twice (a message replayed after a
 * reconnect was either counted by the server or is added here, never both). Positions only move forward.
 */
import { listConversations, type ConversationPage, type ConversationSummary, type Requester } from '../../client/conversations.js';
import type { Conversation, Message } from './state.js';

/** Pages of the server's list read at most (newest activity first; older conversations come as they are used). */
const MAX_PAGES = 5;

/** Whether a live message adds to a conversation's count: from someone else, after what the server counted and read. */
export function countsLive(c: Conversation, m: Message, self: string): boolean {
  return m.from !== self && m.seq > c.counted && m.seq > c.readPosition;
}

/**
 * The conversation with the server's summary applied (null: the summary is older than what the page knows of the
 * read position). Messages the page holds after `position` and after the read position are added to `unread`;
 * the conversation being looked at has nothing unread. Mentioning messages stay marked once read.
 */
export function withSummary(c: Conversation, s: ConversationSummary, position: number, self: string, viewing: boolean): Conversation | null {
  if (s.readUpTo < c.readPosition) return null;
  const later = c.messages.filter((m) => m.from !== self && m.seq > position && m.seq > s.readUpTo).length;
  const mentionIds = s.mentionIds.every((id) => c.mentionIds.has(id)) ? c.mentionIds : new Set([...c.mentionIds, ...s.mentionIds]);
  return {
    ...c,
    unread: viewing ? 0 : s.unread + later,
    mentions: viewing ? 0 : s.mentions,
    mentionIds,
    readPosition: s.readUpTo,
    counted: Math.max(c.counted, position),
    last: s.last === null ? c.last : { ts: s.last.ts, preview: s.last.preview, from: s.last.from },
    kind: s.kind,
    left: s.left,
    departure: s.departure ?? null,
    rejoin: s.rejoin ?? false,
    name: s.name ?? c.name,
  };
}

/** What the polite live region says when a room's mention count grows, or null. */
export function mentionNotice(before: number, after: number, name: string): string | null {
  return after > before ? `${after} ${after === 1 ? 'mention' : 'mentions'} of you in ${name}` : null;
}

/** Reads the server's list (a few pages at most), handing each page to `apply`. */
export async function fetchConversations(s: Requester, apply: (page: ConversationPage) => void): Promise<void> {
  let before: number | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await listConversations(s, before === undefined ? {} : { before });
    apply(page);
    if (page.next === null) return;
    before = page.next;
  }
}
