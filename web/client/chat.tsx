/** One conversation: its messages (older pages on demand), who is typing, and the composer. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './connection.js';
import { describe, Dot } from './presence.js';
import { active, conversations, edit, invite, isRoom, leaveRoom, loadHistory, me, presences, retract, roomMembers, rooms, send, setTyping, typing, type Message } from './state.js';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function Composer({ peer }: { peer: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const composing = useRef(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const body = text.trim();
    if (body === '') return;
    try {
      await send(peer, body);
      setText('');
      setError(null);
      composing.current = false;
      setTyping(peer, 'active');
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const input = (e: Event): void => {
    const v = (e.currentTarget as HTMLTextAreaElement).value;
    setText(v);
    if (!composing.current && v !== '') {
      composing.current = true;
      setTyping(peer, 'composing');
    } else if (composing.current && v === '') {
      composing.current = false;
      setTyping(peer, 'paused');
    }
  };
  const key = (e: KeyboardEvent): void => {
    if (e.key === 'Enter' && !e.shiftKey) void submit(e);
  };
  return (
    <form class="composer" onSubmit={submit}>
      <label for="compose" class="sr-only">
        Message to {peer}
      </label>
      <textarea id="compose" rows={2} value={text} onInput={input} onKeyDown={key} placeholder={`Message ${peer}`} />
      <button type="submit">Send</button>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** One message; the user's own can be edited or retracted (the compliance archive keeps every version). */
function Item({ peer, m, inRoom, read }: { peer: string; m: Message; inRoom: boolean; read: boolean }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mine = m.from === me.value!.address;
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const body = String(new FormData(e.currentTarget as HTMLFormElement).get('body')).trim();
    try {
      if (body !== '' && body !== m.body) await edit(peer, m.id, body);
      setEditing(false);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <li class={mine ? 'mine' : 'theirs'}>
      {inRoom && !mine && <span class="sender">{m.from}</span>}
      {editing ? (
        <form class="edit" onSubmit={save}>
          <label for={`edit-${m.id}`} class="sr-only">
            Edit message
          </label>
          <textarea id={`edit-${m.id}`} name="body" rows={2} defaultValue={m.body ?? ''} />
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <span class="body">{m.body ?? <em>This message was retracted.</em>}</span>
      )}
      <span class="meta">
        {time.format(m.ts)}
        {m.edited ? ' · edited' : ''}
        {read ? ' · Read' : ''}
        {mine && m.body !== null && !editing && (
          <>
            {' · '}
            <button type="button" class="link-button" onClick={() => setEditing(true)} aria-label={`Edit message: ${m.body}`}>
              Edit
            </button>
            {' · '}
            <button type="button" class="link-button" onClick={() => void retract(peer, m.id).catch((err: unknown) => setError(messageOf(err)))} aria-label={`Retract message: ${m.body}`}>
              Retract
            </button>
          </>
        )}
      </span>
      {error !== null && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </li>
  );
}

/** Invites someone to the open room (owners and admins of members-only rooms). */
function Invite({ room }: { room: string }) {
  const [note, setNote] = useState<string | null>(null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = e.currentTarget as HTMLFormElement;
    const user = String(new FormData(f).get('invitee')).trim();
    if (user === '') return;
    try {
      await invite(room, user);
      setNote(`Invited ${user}.`);
      f.reset();
    } catch (err) {
      setNote(messageOf(err));
    }
  };
  return (
    <form class="invite" onSubmit={submit}>
      <label for="invitee" class="sr-only">
        Address to invite
      </label>
      <input id="invitee" name="invitee" type="text" placeholder="Invite name@company.com" />
      <button type="submit">Invite</button>
      {note !== null && <span role="status">{note}</span>}
    </form>
  );
}

/** A room's members (shown on demand) and leaving the room. */
function RoomMembers({ room }: { room: string }) {
  const [members, setMembers] = useState<Array<{ user: string; role: string }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="room-members">
      <button type="button" aria-expanded={members !== null} onClick={() => (members === null ? void roomMembers(room).then(setMembers, (err: unknown) => setError(messageOf(err))) : setMembers(null))}>
        Members
      </button>
      <button type="button" onClick={() => void leaveRoom(room).catch((err: unknown) => setError(messageOf(err)))}>
        Leave
      </button>
      {members !== null && (
        <ul aria-label="Room members">
          {members.map((m) => (
            <li key={m.user}>
              <Dot p={presences.value.get(m.user)} /> {m.user} <span class="detail">{m.role}</span>
            </li>
          ))}
        </ul>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** The conversation pane (empty until one is chosen). */
export function Chat() {
  const peer = active.value;
  const list = useRef<HTMLOListElement>(null);
  const c = peer === null ? undefined : conversations.value.get(peer);
  const count = c?.messages.length ?? 0;
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [peer, c?.messages.at(-1)?.id]);
  if (peer === null) {
    return (
      <main class="chat empty">
        <p>Choose a conversation.</p>
      </main>
    );
  }
  const inRoom = isRoom(peer);
  const room = rooms.value.find((r) => r.address === peer);
  const isTyping = typing.value.has(peer);
  // "Read" goes under the user's newest message the other person has read (XEP-0333: all before it are read too).
  const self = me.value!.address;
  const lastRead = c === undefined || c.readUpTo === 0 ? null : (c.messages.findLast((m) => m.from === self && m.seq <= c.readUpTo)?.id ?? null);
  return (
    <main class="chat" aria-label={`Conversation with ${room?.name ?? peer}`}>
      <header class="chat-head">
        <button type="button" class="back" onClick={() => (active.value = null)} aria-label="Back to conversations">
          ‹
        </button>
        <h2>{room?.name ?? peer}</h2>
        <span class="detail">{inRoom ? peer : describe(presences.value.get(peer))}</span>
        {inRoom && <Invite room={peer} />}
        {inRoom && <RoomMembers room={peer} key={peer} />}
      </header>
      <ol class="messages" ref={list} aria-label="Messages">
        {c?.olderExist && count > 0 && (
          <li class="older">
            <button type="button" onClick={() => void loadHistory(peer, true)}>
              Show older messages
            </button>
          </li>
        )}
        {c?.messages.map((m) => (
          <Item key={m.id} peer={peer} m={m} inRoom={inRoom} read={m.id === lastRead} />
        ))}
      </ol>
      <p class="typing" aria-live="polite">
        {isTyping ? `${peer} is typing…` : ''}
      </p>
      <Composer peer={peer} key={peer} />
    </main>
  );
}
