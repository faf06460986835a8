/** Rooms: the rooms with search and paging; a room's members with their roles; destroy a room with a reason. */
import { useState } from 'preact/hooks';
import { api, hrefOf, navigate } from './context.js';
import { ConfirmAction, Failure, Head, Link, Page, Pager, Scroll, useAction, useLoad, usePager, when } from './ui.js';

function RoomDetail({ room, onDestroyed }: { room: string; onDestroyed: () => void }) {
  const detail = useLoad(() => api().getRoom(room), [room]);
  const action = useAction();
  const r = detail.data;
  return (
    <section class="card" aria-labelledby="room-title">
      <div class="page-head">
        <h2 id="room-title">{r?.name ?? room}</h2>
        <ConfirmAction
          label="Destroy room"
          title={`Destroy ${room}?`}
          message="Everyone in it is told the reason and removed; its history stays in the archive if that is on."
          confirm="Destroy room"
          action={action}
          act={(f) => api().destroyRoom(room, String(f.get('reason') ?? '').trim() || undefined)}
          done={`Destroyed ${room}.`}
          after={() => {
            navigate(hrefOf('rooms'));
            onDestroyed();
          }}
        >
          <label for="destroy-reason">Reason (told to the members)</label>
          <input id="destroy-reason" name="reason" />
        </ConfirmAction>
      </div>
      <Failure error={detail.error} />
      <Failure error={action.error} />
      {r !== null && (
        <>
          <p class="muted">
            {room}
            {r.subject ? ` · ${r.subject}` : ''} · {r.public ? 'public' : 'not listed'} · {r.membersOnly ? 'members only' : 'open'}
            {r.moderated ? ' · moderated' : ''}
          </p>
          <ul class="plain-list" aria-label={`Members of ${r.name}`}>
            {r.members.map((m) => (
              <li key={m.address}>
                <span>{m.address}</span>
                <span class="muted">{m.role}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The rooms page; `open` is the room whose members are shown. */
export function RoomsPage({ open }: { open: string | null }) {
  const [q, setQ] = useState('');
  const pager = usePager<string>();
  const list = useLoad(() => api().listRooms({ q, after: pager.cursor, limit: 25 }), [q, pager.cursor]);
  return (
    <Page title="Rooms">
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(String(new FormData(e.currentTarget).get('q') ?? '').trim());
          pager.reset();
        }}
      >
        <label for="room-search">Search rooms</label>
        <input id="room-search" name="q" type="search" />
        <button type="submit">Search</button>
      </form>
      <Failure error={list.error} />
      {open !== null && <RoomDetail key={open} room={open} onDestroyed={list.reload} />}
      {list.data !== null && (
        <>
          <Scroll label="Rooms">
            <table>
              <caption class="sr-only">Rooms</caption>
              <Head columns={['Room', 'Members', 'Kind', 'Created']} />
              <tbody>
                {list.data.rooms.map((r) => (
                  <tr key={r.address}>
                    <th scope="row">
                      <Link href={hrefOf('rooms', r.address)}>{r.name}</Link> <span class="muted">{r.address}</span>
                    </th>
                    <td>{r.members}</td>
                    <td>{[r.public ? 'public' : 'not listed', r.membersOnly ? 'members only' : 'open', r.moderated ? 'moderated' : ''].filter(Boolean).join(', ')}</td>
                    <td>{when(r.createdAt)}</td>
                  </tr>
                ))}
                {list.data.rooms.length === 0 && (
                  <tr>
                    <td colSpan={4} class="empty">
                      No rooms match.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Scroll>
          <Pager label="Rooms" page={pager.page} hasNext={list.data.next !== null} onBack={pager.back} onNext={() => list.data?.next && pager.next(list.data.next)} />
        </>
      )}
    </Page>
  );
}
