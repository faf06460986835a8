/**
 * The employee web client: sign in, the conversation list with presence and unread counts, the conversation
 * with its history, typing and the composer, and the user's own presence. Keyboard: every control is a real
 * button, link or field; Ctrl/Cmd+K focuses the conversation filter.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { SignIn } from '../shared/sign-in.js';
import { currentIdentity, signOut } from './connection.js';
import { Chat } from './chat.js';
import { Sidebar } from './sidebar.js';
import { active, announcement, connect, disconnect, link, me, pageVisible, signedOutReason } from './state.js';

/** Asks once for permission to show desktop notifications (browsers want a click for that). */
function NotificationsButton() {
  const [perm, setPerm] = useState(() => ('Notification' in globalThis ? Notification.permission : 'denied'));
  if (perm !== 'default') return null;
  return (
    <button type="button" onClick={() => void Notification.requestPermission().then(setPerm)}>
      Enable notifications
    </button>
  );
}

function Main() {
  const filter = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const key = (e: KeyboardEvent): void => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        filter.current?.focus();
      }
    };
    const vis = (): void => {
      if (!document.hidden) pageVisible();
    };
    addEventListener('keydown', key);
    document.addEventListener('visibilitychange', vis);
    return () => {
      removeEventListener('keydown', key);
      document.removeEventListener('visibilitychange', vis);
    };
  }, []);
  const out = async (): Promise<void> => {
    const csrf = me.value!.csrf;
    await disconnect();
    await signOut(csrf).catch(() => undefined);
    me.value = null;
  };
  return (
    <div class={`layout ${active.value === null ? 'list-only' : 'chat-open'}`}>
      <header class="topbar">
        <span class="brand">Parley</span>
        <span class={`link ${link.value}`} role="status">
          {link.value === 'online' ? 'Connected' : link.value === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
        <span class="who">{me.value!.address}</span>
        <NotificationsButton />
        <button type="button" onClick={() => void out()}>
          Sign out
        </button>
      </header>
      {me.value!.notices.length > 0 && (
        <div class="notices" role="note" aria-label="Notices">
          {me.value!.notices.map((n) => (
            <p key={n}>{n}</p>
          ))}
        </div>
      )}
      <Sidebar filterRef={filter} />
      <Chat />
      <div class="sr-only" aria-live="polite" aria-atomic="true">
        {announcement.value}
      </div>
    </div>
  );
}

/** The whole client. */
export function App() {
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    currentIdentity()
      .then((id) => {
        me.value = id;
        if (id !== null) void connect();
      })
      .catch(() => undefined)
      .finally(() => setChecked(true));
  }, []);
  if (!checked) return <p class="loading">Loading…</p>;
  return me.value === null ? (
    <SignIn
      title="Sign in to Parley"
      notice={signedOutReason.value}
      onSignedIn={(id) => {
        signedOutReason.value = null;
        me.value = id;
        void connect();
      }}
    />
  ) : (
    <Main />
  );
}
