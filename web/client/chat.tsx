/**
 * One conversation: its messages (a virtualised list, older pages as the reader scrolls up), who is typing, and
 * the composer, which can answer one message (XEP-0461 reply; Escape cancels).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { messageOf } from './connection.js';
import { replyMessage, splitFallback, parseExtensions } from './extensions.js';
import { Item } from './message-item.js';
import { MessageList } from './message-list.js';
import { Notification } from './notification-card.js';
import { shareFile, uploadError } from './upload.js';
import { describe, Dot } from './presence.js';
import { notificationOf } from './notifications.js';
import { active, conversations, forgetRoom, invite, isRoom, joinRoom, leaveRoom, me, presences, roomMembers, rooms, send, setTyping, things, typing, type Conversation, type Message } from './state.js';
import { departureText } from './sidebar.js';

/** The id a reply names (XEP-0461 §3): in a room the room's stanza-id (the server id), else the sender's own id. */
function replyId(m: Message, inRoom: boolean): string {
  return inRoom ? m.id : (m.clientId ?? m.id);
}

interface ComposerProps {
  peer: string;
  replying: Message | null;
  cancelReply: () => void;
  /** A file dropped on the conversation, to upload and share. */
  dropped: File | null;
  takeDropped: () => void;
}

function Composer({ peer, replying, cancelReply, dropped, takeDropped }: ComposerProps) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [upload, setUpload] = useState<{ name: string; sent: number; total: number } | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  const share = async (file: File): Promise<void> => {
    if (upload !== null) return;
    setError(null);
    setUpload({ name: file.name, sent: 0, total: file.size });
    try {
      await shareFile(peer, file, (sent) => setUpload({ name: file.name, sent, total: file.size }));
    } catch (err) {
      setError(`${file.name}: ${uploadError(err)}`);
    } finally {
      setUpload(null);
    }
  };
  useEffect(() => {
    if (dropped === null) return;
    takeDropped();
    void share(dropped);
  }, [dropped]);
  const paste = (e: ClipboardEvent): void => {
    const file = e.clipboardData?.files[0];
    if (file === undefined) return;
    e.preventDefault();
    void share(file);
  };
  const composing = useRef(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const body = text.trim();
    if (body === '') return;
    try {
      if (replying !== null && replying.body !== null) {
        const original = splitFallback(replying.body, parseExtensions(replying.xml)).text;
        const r = replyMessage(body, { id: replyId(replying, isRoom(peer)), author: replying.from, body: original });
        await send(peer, r.body, r.xml);
        cancelReply();
      } else await send(peer, body);
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
    else if (e.key === 'Escape' && replying !== null) {
      e.preventDefault();
      cancelReply();
    }
  };
  return (
    <form class="composer" onSubmit={submit}>
      {replying !== null && (
        <div class="replying" role="group" aria-label="Replying to">
          <span>
            Replying to <strong>{replying.from}</strong>: <span class="quote-text">{splitFallback(replying.body ?? '', parseExtensions(replying.xml)).text}</span>
          </span>
          <button type="button" class="link-button" onClick={cancelReply} aria-label="Cancel the reply (Escape)">
            Cancel
          </button>
        </div>
      )}
      <label for="compose" class="sr-only">
        Message to {peer}
      </label>
      <textarea id="compose" rows={2} value={text} onInput={input} onKeyDown={key} onPaste={paste} placeholder={`Message ${peer}`} />
      <input
        ref={picker}
        type="file"
        hidden
        onChange={(e) => {
          const f = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (f !== undefined) void share(f);
        }}
      />
      <button type="button" class="attach" onClick={() => picker.current?.click()} disabled={upload !== null} aria-label="Attach a file (or drop or paste one)">
        Attach
      </button>
      <button type="submit">Send</button>
      {upload !== null && (
        <p class="upload" role="status">
          <label for="upload-progress">Uploading {upload.name}</label>{' '}
          <progress id="upload-progress" max={Math.max(upload.total, 1)} value={upload.sent} /> {upload.total > 0 ? Math.round((100 * upload.sent) / upload.total) : 100}%
        </p>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
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

/**
 * In place of the composer in a room the user left: how it was left, its past readable above; joining again when
 * the room allows it, and taking it off the list.
 */
function LeftRoom({ c }: { c: Conversation }) {
  const [error, setError] = useState<string | null>(null);
  const act = (fn: () => Promise<void>): void => {
    setError(null);
    fn().catch((err: unknown) => setError(messageOf(err)));
  };
  return (
    <section class="left-banner" aria-label="You are not in this room">
      <p>
        <strong>{departureText(c)}.</strong> Its messages up to then stay readable here; nothing new arrives.
      </p>
      <div class="row">
        {c.rejoin && (
          <button type="button" onClick={() => act(() => joinRoom(c.peer))}>
            Rejoin
          </button>
        )}
        <button type="button" onClick={() => act(() => forgetRoom(c.peer))}>
          Remove from list
        </button>
      </div>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** The conversation pane (empty until one is chosen). */
export function Chat() {
  const peer = active.value;
  const c = peer === null ? undefined : conversations.value.get(peer);
  const [replying, setReplying] = useState<Message | null>(null);
  const [jump, setJump] = useState<string | null>(null);
  const [dropped, setDropped] = useState<File | null>(null);
  useEffect(() => setReplying(null), [peer]);
  // Replies name a message by its server id or its sender's own id (XMPP clients use the latter in 1:1 chats).
  const byRef = useMemo(() => {
    const map = new Map<string, Message>();
    for (const m of c?.messages ?? []) {
      map.set(m.id, m);
      if (m.clientId !== null) map.set(m.clientId, m);
    }
    return map;
  }, [c?.messages]);
  if (peer === null) {
    return (
      <main class="chat empty">
        <p>Choose a conversation.</p>
      </main>
    );
  }
  const inRoom = isRoom(peer);
  const room = rooms.value.find((r) => r.address === peer);
  const left = c?.left === true && room?.role == null;
  const title = room?.name ?? c?.name ?? peer;
  const isTyping = typing.value.has(peer);
  // "Read" goes under the user's newest message the other person has read (XEP-0333: all before it are read too).
  const self = me.value!.address;
  const lastRead = c === undefined || c.readUpTo === 0 ? null : (c.messages.findLast((m) => m.from === self && m.seq <= c.readUpTo)?.id ?? null);
  const reply = (m: Message): void => {
    setReplying(m);
    document.getElementById('compose')?.focus();
  };
  return (
    <main
      class="chat"
      aria-label={`Conversation with ${title}`}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        const f = e.dataTransfer?.files[0];
        if (f === undefined) return;
        e.preventDefault();
        setDropped(f);
      }}
    >
      <header class="chat-head">
        <button type="button" class="back" onClick={() => (active.value = null)} aria-label="Back to conversations">
          ‹
        </button>
        <h2>{title}</h2>
        <span class="detail">{inRoom ? peer : describe(presences.value.get(peer), things.value.get(peer))}</span>
        {inRoom && !left && <Invite room={peer} />}
        {inRoom && !left && <RoomMembers room={peer} key={peer} />}
      </header>
      <MessageList
        key={peer}
        peer={peer}
        c={c}
        focusId={jump}
        focused={() => setJump(null)}
        row={(m) => {
          const notification = notificationOf(m);
          if (notification !== null) return <Notification id={notification} text={m.body ?? ''} version={c?.messages.length ?? 0} />;
          const ref = parseExtensions(m.xml).reply;
          const item = <Item peer={peer} m={m} inRoom={inRoom} read={m.id === lastRead} original={ref === null ? undefined : byRef.get(ref.id)} onReply={left ? undefined : reply} onJump={setJump} />;
          // A room message that mentions the user stands out (the server matched it: docs/web.md).
          return c?.mentionIds.has(m.id) === true ? (
            <div class="mentions-me">
              <span class="sr-only">Mentions you: </span>
              {item}
            </div>
          ) : (
            item
          );
        }}
      />
      {left ? (
        <LeftRoom c={c} key={peer} />
      ) : (
        <>
          <p class="typing" aria-live="polite">
            {isTyping ? `${peer} is typing…` : ''}
          </p>
          <Composer peer={peer} key={peer} replying={replying} cancelReply={() => setReplying(null)} dropped={dropped} takeDropped={() => setDropped(null)} />
        </>
      )}
    </main>
  );
}
