/**
 * Search of one's own messages (GET /api/v1/search with the session cookie): a search box in the sidebar
 * (Ctrl/Cmd+Shift+F focuses it; Ctrl/Cmd+K stays the conversation filter's), hits newest first with their
 * conversation, time and text, the matches marked from the server's ranges as text and <mark> elements (never
 * markup from the server), more on demand. Hits of rooms the user left (up to the leaving) carry the room's name
 * from the conversation list. Choosing a hit opens its conversation.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ParleyApiError } from '../../client/session.js';
import { messageOf } from './connection.js';
import { contacts, leftRooms, me, open, rooms } from './state.js';
import './search.css';

/** One hit as the server sends it (docs/protocol.md `search`). */
interface Hit {
  id: string;
  seq: number;
  ts: number;
  from: string;
  to: string;
  room?: string;
  body: string;
  snippet: Array<[number, number]>;
}

interface Page {
  hits: Hit[];
  next: number | null;
}

/** Characters of context shown before the first match, and most characters shown of a body. */
const LEAD = 40;
const SHOWN = 200;

async function fetchPage(q: string, before: number | null): Promise<Page> {
  const params = new URLSearchParams({ q, limit: '20' });
  if (before !== null) params.set('before', String(before));
  const res = await fetch(`/api/v1/search?${params.toString()}`, { credentials: 'same-origin' });
  const data = (await res.json().catch(() => ({}))) as Partial<Page> & { error?: { code: string; message: string } };
  if (!res.ok || data.error) throw new ParleyApiError(data.error?.code ?? 'internal-server-error', data.error?.message ?? res.statusText);
  return { hits: data.hits ?? [], next: data.next ?? null };
}

/**
 * The body around its first match with the matches in <mark>: slices of the text between the server's ranges
 * (UTF-16 offsets, as JavaScript strings count), so nothing in a body is ever read as markup.
 */
export function Snippet({ body, ranges }: { body: string; ranges: ReadonlyArray<readonly [number, number]> }) {
  const from = Math.max(0, (ranges[0]?.[0] ?? 0) - LEAD);
  const to = Math.min(body.length, from + SHOWN);
  const parts: ComponentChildren[] = [];
  if (from > 0) parts.push('…');
  let at = from;
  for (const [s, e] of ranges) {
    if (e <= at || s >= to) continue;
    const start = Math.max(s, at);
    if (start > at) parts.push(body.slice(at, start));
    parts.push(<mark key={start}>{body.slice(start, Math.min(e, to))}</mark>);
    at = Math.min(e, to);
  }
  if (at < to) parts.push(body.slice(at, to));
  if (to < body.length) parts.push('…');
  return <span class="snippet">{parts}</span>;
}

/** The conversation a hit belongs to: its room, or the other person of a one-to-one chat. */
const conversationOf = (h: Hit, self: string): string => h.room ?? (h.from === self ? h.to : h.from);

/** The search box and its results. */
export function MessageSearch() {
  const input = useRef<HTMLInputElement>(null);
  const [query, setQuery] = useState('');
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const key = (e: KeyboardEvent): void => {
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'f') {
        e.preventDefault();
        input.current?.focus();
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, []);
  const run = async (more: boolean): Promise<void> => {
    if (query.trim() === '') return;
    setBusy(true);
    setError(null);
    try {
      const next = await fetchPage(query, more && page ? page.next : null);
      setPage(more && page ? { hits: [...page.hits, ...next.hits], next: next.next } : next);
    } catch (err) {
      setError(messageOf(err));
      if (!more) setPage(null);
    } finally {
      setBusy(false);
    }
  };
  const clear = (): void => {
    setQuery('');
    setPage(null);
    setError(null);
  };
  const self = me.value!.address;
  // Rooms the user left are searched too (up to the leaving): their names come from the conversation list.
  const names = new Map<string, string>([
    ...contacts.value.map((c) => [c.contact, c.name ?? c.contact] as const),
    ...leftRooms.value.map((c) => [c.peer, c.name ?? c.peer] as const),
    ...rooms.value.map((r) => [r.address, r.name] as const),
  ]);
  return (
    <section class="message-search" role="search" aria-labelledby="message-search-title">
      <h2 id="message-search-title" class="sr-only">
        Search messages
      </h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(false);
        }}
      >
        <label for="message-search" class="sr-only">
          Search messages (Ctrl+Shift+F)
        </label>
        <input
          id="message-search"
          ref={input}
          type="search"
          placeholder="Search messages (Ctrl+Shift+F)"
          maxLength={500}
          value={query}
          onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') clear();
          }}
        />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <p class="sr-only" aria-live="polite">
        {page === null ? '' : page.hits.length === 0 ? 'No messages found' : `${page.hits.length}${page.next !== null ? ' or more' : ''} messages found`}
      </p>
      {page !== null && (
        <ul class="search-hits" aria-label="Messages found">
          {page.hits.map((h) => {
            const conv = conversationOf(h, self);
            return (
              <li key={h.id}>
                <button type="button" onClick={() => void open(conv)}>
                  <span class="hit-head">
                    <span class="name">{names.get(conv) ?? conv}</span>
                    <time dateTime={new Date(h.ts).toISOString()}>{new Date(h.ts).toLocaleString()}</time>
                  </span>
                  {h.room !== undefined && <span class="sender">{h.from === self ? 'You' : (names.get(h.from) ?? h.from)}</span>}
                  <Snippet body={h.body} ranges={h.snippet} />
                </button>
              </li>
            );
          })}
          {page.hits.length === 0 && <li class="empty">No messages found.</li>}
          {page.next !== null && (
            <li>
              <button type="button" class="link-button" disabled={busy} onClick={() => void run(true)}>
                More results
              </button>
            </li>
          )}
        </ul>
      )}
    </section>
  );
}
