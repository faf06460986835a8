/** One conversation: its messages (older pages on demand), who is typing, and the composer. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describe } from './presence.js';
import { active, conversations, loadHistory, me, presences, send, setTyping, typing } from './state.js';

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
      setError(err instanceof Error ? err.message.replace(/^[a-z-]+: /, '') : String(err));
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
  const self = me.value!.address;
  const isTyping = typing.value.has(peer);
  return (
    <main class="chat" aria-label={`Conversation with ${peer}`}>
      <header class="chat-head">
        <button type="button" class="back" onClick={() => (active.value = null)} aria-label="Back to conversations">
          ‹
        </button>
        <h2>{peer}</h2>
        <span class="detail">{describe(presences.value.get(peer))}</span>
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
          <li key={m.id} class={m.from === self ? 'mine' : 'theirs'}>
            <span class="body">{m.body ?? <em>This message was retracted.</em>}</span>
            <span class="meta">
              {time.format(m.ts)}
              {m.edited ? ' · edited' : ''}
            </span>
          </li>
        ))}
      </ol>
      <p class="typing" aria-live="polite">
        {isTyping ? `${peer} is typing…` : ''}
      </p>
      <Composer peer={peer} key={peer} />
    </main>
  );
}
