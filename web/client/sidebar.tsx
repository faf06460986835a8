/** The conversation list: contacts and other correspondents with presence, unread counts and a filter. */
import type { RefObject } from 'preact';
import { useState } from 'preact/hooks';
import { ACTIVITIES, describe, Dot } from './presence.js';
import { active, contacts, conversationList, conversations, me, open, presences, setPresence } from './state.js';

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
      <ul class="conversations">
        {shown.map((peer) => {
          const unread = conversations.value.get(peer)?.unread ?? 0;
          const p = presences.value.get(peer);
          return (
            <li key={peer}>
              <button type="button" class={active.value === peer ? 'current' : ''} aria-current={active.value === peer ? 'true' : undefined} onClick={() => void open(peer)}>
                <Dot p={p} />
                <span class="name">{names.get(peer) ?? peer}</span>
                <span class="detail">{describe(p)}</span>
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
    </nav>
  );
}
