/**
 * The conversation list: contacts and other correspondents (from the server's list, so after a reload too) with
 * presence, unread counts and a filter; rooms with unread and mention counts.
 */
import type { RefObject } from 'preact';
import { messageOf } from './connection.js';
import { useState } from 'preact/hooks';
import { ACTIVITIES, describe, Dot } from './presence.js';
import { MessageSearch } from './search.js';
import { active, contacts, conversationList, conversations, createRoom, joinRoom, leftRooms, me, open, presences, rooms, setPresence, things, type Conversation } from './state.js';

function OwnPresence() {
  const mine = presences.value.get(me.value!.address);
  const change = (e: Event): void => {
    const f = (e.currentTarget as HTMLSelectElement).form!;
    const data = new FormData(f);
    const activity = String(data.get('activity'));
    void setPresence({ availability: String(data.get('availability')), activity: activity === '' ? null : activity, status: mine?.status ?? null });
  };
  return (
    <form class="own-presence" aria-label="Your presence" onSubmit={(e) => e.preventDefault()}>
      <Dot p={mine} />
      <label for="availability" class="sr-only">
        Availability
      </label>
      <select id="availability" name="availability" value={mine?.availability ?? 'available'} onChange={change}>
        <option value="available">Available</option>
        <option value="away">Away</option>
        <option value="dnd">Do not disturb</option>
        <option value="xa">Away for a while</option>
      </select>
      <label for="activity" class="sr-only">
        Activity
      </label>
      <select id="activity" name="activity" value={mine?.activity ?? ''} onChange={change}>
        <option value="">No activity</option>
        {ACTIVITIES.map(([v, label]) => (
          <option value={v} key={v}>
            {label}
          </option>
        ))}
      </select>
    </form>
  );
}

/** What a room left says in the list and in its conversation: left on one's own, or removed or banned, by whom, why. */
export function departureText(c: Pick<Conversation, 'departure'>): string {
  const d = c.departure;
  if (d === null || d.how === 'left') return 'You left this room';
  const what = `${d.how === 'banned' ? 'Banned' : 'Removed'}${d.by !== null ? ` by ${d.by}` : ''}`;
  return d.reason !== null && d.reason !== '' ? `${what}: ${d.reason}` : what;
}

/** The user's rooms, invitations to join, rooms it left (kept with their past), and a form to create one. */
function Rooms() {
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(f).get('room-name')).trim();
    if (name === '') return;
    try {
      await createRoom(name);
      f.reset();
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <section aria-labelledby="rooms-title">
      <h2 id="rooms-title" class="section-title">
        Rooms
      </h2>
      <ul class="conversations">
        {rooms.value.map((r) => {
          const unread = conversations.value.get(r.address)?.unread ?? 0;
          const mentions = conversations.value.get(r.address)?.mentions ?? 0;
          return (
            <li key={r.address}>
              {r.role === null ? (
                <button type="button" onClick={() => void joinRoom(r.address)}>
                  <span class="dot room" aria-hidden="true" />
                  <span class="name">{r.name}</span>
                  <span class="detail">Invited by {r.invitedBy} · Join</span>
                </button>
              ) : (
                <button type="button" class={active.value === r.address ? 'current' : ''} aria-current={active.value === r.address ? 'true' : undefined} onClick={() => void open(r.address)}>
                  <span class="dot room" aria-hidden="true" />
                  <span class="name">{r.name}</span>
                  <span class="detail">{r.address}</span>
                  {unread > 0 && (
                    <span class="unread" aria-label={`${unread} unread`}>
                      {unread}
                    </span>
                  )}
                  {mentions > 0 && (
                    <span class="mention-count" aria-label={`${mentions} ${mentions === 1 ? 'mention' : 'mentions'} of you`}>
                      @{mentions}
                    </span>
                  )}
                </button>
              )}
            </li>
          );
        })}
        {leftRooms.value.map((c) => (
          <li key={c.peer} class="left-room">
            <button type="button" class={active.value === c.peer ? 'current' : ''} aria-current={active.value === c.peer ? 'true' : undefined} onClick={() => void open(c.peer)}>
              <span class="dot room left" aria-hidden="true" />
              <span class="name">{c.name ?? c.peer}</span>
              <span class="detail">{departureText(c)}</span>
            </button>
          </li>
        ))}
      </ul>
      <form class="new-room" onSubmit={create}>
        <label for="room-name" class="sr-only">
          New room name
        </label>
        <input id="room-name" name="room-name" type="text" placeholder="New room name" maxLength={256} />
        <button type="submit">Create</button>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}

/** The sidebar. */
export function Sidebar({ filterRef }: { filterRef: RefObject<HTMLInputElement | null> }) {
  const [filter, setFilter] = useState('');
  const names = new Map(contacts.value.map((c) => [c.contact, c.name]));
  const shown = conversationList.value.filter((p) => p.includes(filter.toLowerCase()) || (names.get(p) ?? '').toLowerCase().includes(filter.toLowerCase()));
  return (
    <nav class="sidebar" aria-label="Conversations">
      <OwnPresence />
      <label for="filter" class="sr-only">
        Find a conversation (Ctrl+K)
      </label>
      <input id="filter" ref={filterRef} type="search" placeholder="Find a conversation (Ctrl+K)" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
      <MessageSearch />
      <ul class="conversations">
        {shown.map((peer) => {
          const c = conversations.value.get(peer);
          const unread = c?.unread ?? 0;
          const p = presences.value.get(peer);
          // Someone who is not a contact has no presence to show: the newest message says what the conversation is.
          const newest = c?.messages.at(-1);
          const preview = names.has(peer) ? null : newest !== undefined && newest.body !== null && newest.ts >= (c?.last?.ts ?? 0) ? newest.body : (c?.last?.preview ?? null);
          return (
            <li key={peer}>
              <button type="button" class={active.value === peer ? 'current' : ''} aria-current={active.value === peer ? 'true' : undefined} onClick={() => void open(peer)}>
                <Dot p={p} />
                <span class="name">{names.get(peer) ?? peer}</span>
                <span class="detail">{preview ?? describe(p, things.value.get(peer))}</span>
                {unread > 0 && (
                  <span class="unread" aria-label={`${unread} unread`}>
                    {unread}
                  </span>
                )}
              </button>
            </li>
          );
        })}
        {shown.length === 0 && <li class="empty">No conversations yet.</li>}
      </ul>
      <Rooms />
    </nav>
  );
}
