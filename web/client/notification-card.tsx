/**
 * A notification of the presence platform (the notify module, docs/notifications.md) as a card: the message from
 * `notify@<domain>` names its notification by its client id (`notify:<id>:…`), and the card shows what `notify.get`
 * says of it now: severity, title, text, link, state and who acknowledged or resolved it, with the actions still
 * open as buttons (`notify.ack`, `notify.resolve`: the same as replying "ack" or "resolve", but for exactly this
 * notification when several are open). The state is read again when another message of the service arrives, and
 * every 30 seconds while the card is shown, so a colleague's acknowledgement shows too.
 */
import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { messageOf } from './connection.js';
import { actOnNotification, notificationCard, type NotificationCard } from './notifications.js';
import { announcement } from './state.js';

const cards = signal<ReadonlyMap<number, NotificationCard>>(new Map());
const REFRESH_MS = 30_000;

function put(c: NotificationCard): void {
  const next = new Map(cards.value);
  next.set(c.id, c);
  cards.value = next;
}

const STATE: Record<NotificationCard['state'], string> = { triggered: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved' };
const ACTION: Record<NotificationCard['actions'][number]['action'], string> = { acknowledge: 'Acknowledge', resolve: 'Resolve' };

/** Props: the notification's id, the message's text (shown until the card is loaded, or if it cannot be), and a
 * number that changes when the service sends another message (the card is read again then). */
export interface NotificationProps {
  id: number;
  text: string;
  version: number;
}

/** One notification card. */
export function Notification({ id, text, version }: NotificationProps) {
  const c = cards.value.get(id);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const load = (): void => void notificationCard(id).then(put, (err: unknown) => setError(messageOf(err)));
    load();
    const t = setInterval(load, REFRESH_MS);
    return () => clearInterval(t);
  }, [id, version]);
  const act = async (op: string, label: string): Promise<void> => {
    setBusy(true);
    try {
      const now = await actOnNotification(id, op);
      put(now);
      announcement.value = `${label}: ${now.title} is now ${STATE[now.state].toLowerCase()}.`;
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  if (c === undefined) {
    return (
      <div class="bubble notification">
        <span class="body">{text}</span>
        {error !== null && <span class="error">{error}</span>}
      </div>
    );
  }
  const who = c.state === 'resolved' ? c.resolvedBy : c.state === 'acknowledged' ? c.acknowledgedBy : null;
  return (
    <article class={`bubble notification severity-${c.severity} ${c.state}`} aria-labelledby={`notification-${c.id}`}>
      <header class="notification-head">
        <span class="severity">{c.severity.toUpperCase()}</span>
        <strong id={`notification-${c.id}`}>{c.title}</strong>
        <span class="notification-state">
          {STATE[c.state]}
          {who !== null ? ` by ${who}` : ''}
        </span>
      </header>
      {c.body !== '' && <p class="body">{c.body}</p>}
      {c.link !== null && (
        <a href={c.link} target="_blank" rel="noopener noreferrer">
          {c.link}
        </a>
      )}
      {c.actions.length > 0 && (
        <div class="notification-actions">
          {c.actions.map((a) => (
            <button type="button" key={a.action} disabled={busy} onClick={() => void act(a.op, ACTION[a.action])} aria-label={`${ACTION[a.action]}: ${c.title}`}>
              {ACTION[a.action]}
            </button>
          ))}
        </div>
      )}
      {error !== null && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </article>
  );
}
