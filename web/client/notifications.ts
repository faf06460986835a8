/**
 * Notifications of the presence platform (the notify module, docs/notifications.md): which messages stand for one
 * (from `notify@<domain>`, client id `notify:<id>:…`), and the operations behind a card: `notify.get`, `notify.ack`,
 * `notify.resolve`.
 */
import { call, me, type Message } from './state.js';

/** A notification of the presence platform as its card shows it (the notify module's `notify.get`). */
export interface NotificationCard {
  id: number;
  short: string;
  state: 'triggered' | 'acknowledged' | 'resolved';
  severity: 'info' | 'warning' | 'error' | 'critical';
  title: string;
  body: string;
  link: string | null;
  acknowledgedBy: string | null;
  resolvedBy: string | null;
  actions: Array<{ action: 'acknowledge' | 'resolve'; op: string; reply: string }>;
}

/** The notification a message of the service address `notify@<domain>` stands for, by its client id, or null. */
export function notificationOf(m: Message): number | null {
  const self = me.value?.address;
  if (self === undefined || m.from !== `notify@${self.slice(self.indexOf('@') + 1)}`) return null;
  const id = /^notify:(\d+):/.exec(m.clientId ?? '');
  return id === null ? null : Number(id[1]);
}

/** A notification's card (notify.get). */
export async function notificationCard(id: number): Promise<NotificationCard> {
  return (await call<{ notification: NotificationCard }>('notify.get', { id })).notification;
}

/** Acknowledges or resolves a notification (notify.ack / notify.resolve); resolves with its card as it is now. */
export async function actOnNotification(id: number, op: string): Promise<NotificationCard> {
  await call(op, { id });
  return notificationCard(id);
}
