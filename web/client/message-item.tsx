/**
 * One message of a conversation: its text, the message it replies to (XEP-0461, shown the same whether a web page
 * or an XMPP client sent the reply), a shared file (an image previewed inline, any other file as a download link),
 * its time, edited and read marks, and its actions: reply to any message; edit or retract one's own (the compliance
 * archive keeps every version).
 */
import { useState } from 'preact/hooks';
import { messageOf } from './connection.js';
import { humanSize, parseExtensions, splitFallback, type SharedFile } from './extensions.js';
import { edit, me, retract, type Message } from './state.js';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** A shared file: an image of this server inline, in a box of its own size reserved before it loads; else a link. */
function FileView({ f }: { f: SharedFile }) {
  const name = f.name ?? decodeURIComponent(f.url.split('/').pop() ?? 'file');
  const sameOrigin = new URL(f.url, location.href).origin === location.origin;
  if (sameOrigin && f.type?.startsWith('image/') && f.width !== null && f.height !== null && f.width > 0 && f.height > 0) {
    // Drawn at most 320 px on its longer side: its box is reserved before it loads, so the row keeps its height.
    const scale = Math.min(1, 320 / Math.max(f.width, f.height));
    return (
      <a class="file image" href={f.url} target="_blank" rel="noopener noreferrer">
        <img src={f.url} width={Math.round(f.width * scale)} height={Math.round(f.height * scale)} alt={name} decoding="async" />
      </a>
    );
  }
  return (
    <a class="file" href={f.url} download={name} rel="noopener noreferrer">
      {name}
      {f.size !== null ? ` (${humanSize(f.size)})` : ''}
    </a>
  );
}

/** Props of one message. */
export interface ItemProps {
  peer: string;
  m: Message;
  inRoom: boolean;
  read: boolean;
  /** The message this one replies to, when it is loaded. */
  original: Message | undefined;
  /** Answering the message; absent where nothing can be sent (a room the user left: no edit or retraction either). */
  onReply?: ((m: Message) => void) | undefined;
  /** Brings a message into view (a reply's quote was clicked). */
  onJump: (id: string) => void;
}

/** One message with its actions. */
export function Item({ peer, m, inRoom, read, original, onReply, onJump }: ItemProps) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mine = m.from === me.value!.address;
  const ext = parseExtensions(m.xml);
  const { quote, text } = m.body === null ? { quote: null, text: '' } : splitFallback(m.body, ext);
  // The fallback quote stays in front of an edited reply, for clients without XEP-0461.
  const prefix = m.body === null ? '' : m.body.slice(0, m.body.length - text.length);
  const shown = ext.file !== null && text.trim() === ext.file.url ? '' : text;
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const body = String(new FormData(e.currentTarget as HTMLFormElement).get('body')).trim();
    try {
      if (body !== '' && body !== text) await edit(peer, m.id, prefix + body);
      setEditing(false);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const replyQuote = original?.body != null ? splitFallback(original.body, parseExtensions(original.xml)).text : quote;
  const label = (shown || ext.file?.name || '').slice(0, 80);
  return (
    <div class="bubble">
      {inRoom && !mine && <span class="sender">{m.from}</span>}
      {ext.reply !== null && m.body !== null && (
        original !== undefined ? (
          <button type="button" class="quote" onClick={() => onJump(original.id)} title="Show the original message">
            <span class="sr-only">In reply to </span>
            <span class="quote-author">{original.from}</span>
            <span class="sr-only">: </span>
            <span class="quote-text">{replyQuote}</span>
          </button>
        ) : (
          <blockquote class="quote" aria-label="In reply to an earlier message">
            {ext.reply.to !== null && <span class="quote-author">{ext.reply.to.split('/')[0]}</span>}
            <span class="quote-text">{replyQuote ?? 'An earlier message'}</span>
          </blockquote>
        )
      )}
      {editing ? (
        <form class="edit" onSubmit={save}>
          <label for={`edit-${m.id}`} class="sr-only">
            Edit message
          </label>
          <textarea id={`edit-${m.id}`} name="body" rows={2} defaultValue={text} />
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : m.body === null ? (
        <span class="body">
          <em>This message was retracted.</em>
        </span>
      ) : (
        shown !== '' && <span class="body">{shown}</span>
      )}
      {ext.file !== null && m.body !== null && <FileView f={ext.file} />}
      <span class="meta">
        {time.format(m.ts)}
        {m.edited ? ' · edited' : ''}
        {read ? ' · Read' : ''}
        {m.body !== null && !editing && onReply !== undefined && (
          <>
            {' · '}
            <button type="button" class="link-button" onClick={() => onReply(m)} aria-label={`Reply to: ${label}`}>
              Reply
            </button>
          </>
        )}
        {mine && m.body !== null && !editing && ext.file === null && onReply !== undefined && (
          <>
            {' · '}
            <button type="button" class="link-button" onClick={() => setEditing(true)} aria-label={`Edit message: ${label}`}>
              Edit
            </button>
            {' · '}
            <button type="button" class="link-button" onClick={() => void retract(peer, m.id).catch((err: unknown) => setError(messageOf(err)))} aria-label={`Retract message: ${label}`}>
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
    </div>
  );
}
