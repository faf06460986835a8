/**
 * The e-mail fallback: one message per notification to the people it went to (or, when it reached nobody, to
 * everyone its target names), submitted to the configured relay with nodemailer over SMTP (RFC 5321, with
 * STARTTLS per RFC 3207 or implicit TLS per RFC 8314). The message is RFC 5322 with a plain-text body; it says
 * it was generated automatically (RFC 3834 Auto-Submitted) so auto-responders stay quiet.
 */
import nodemailer from 'nodemailer';
import type { Notification } from './model.js';
import type { NotifyOptions } from './options.js';

/** What a mail transport does (nodemailer's, or a test double). */
export interface MailSender {
  /** Sends one message; resolves with its Message-ID. */
  send(mail: { from: string; to: string[]; subject: string; text: string; headers: Record<string, string> }): Promise<string>;
  close(): void;
}

/** A nodemailer SMTP transport from the module's options, or null when no relay is configured. */
export function smtpSender(o: NotifyOptions['smtp']): MailSender | null {
  if (o.host === null) return null;
  const transport = nodemailer.createTransport({
    host: o.host,
    port: o.port,
    secure: o.security === 'tls',
    requireTLS: o.security === 'starttls',
    ignoreTLS: o.security === 'none',
    tls: { rejectUnauthorized: o.rejectUnauthorized },
    connectionTimeout: o.timeoutSeconds * 1000,
    greetingTimeout: o.timeoutSeconds * 1000,
    socketTimeout: o.timeoutSeconds * 1000,
    ...(o.user !== null ? { auth: { user: o.user, pass: o.password ?? '' } } : {}),
  });
  return {
    async send(mail) {
      const info = (await transport.sendMail(mail)) as { messageId: string };
      return info.messageId;
    },
    close() {
      transport.close();
    },
  };
}

/** Upper-case label of a severity, for subjects and IMs. */
export const label = (n: Pick<Notification, 'severity'>): string => n.severity.toUpperCase();

/** The subject line: severity, title and short id (RFC 5322 §3.6.5; nodemailer folds and encodes it). */
export function mailSubject(n: Notification): string {
  return `[${label(n)}] ${n.title} (#${n.short})`;
}

/** The plain-text body of the fallback e-mail. */
export function mailText(n: Notification, why: 'nobody-available' | 'not-acknowledged', notified: string[]): string {
  const lines = [`${label(n)}: ${n.title}`, ''];
  if (n.body.length > 0) lines.push(n.body, '');
  if (n.link !== null) lines.push(`Link: ${n.link}`, '');
  lines.push(
    why === 'nobody-available'
      ? 'Nobody who could take this notification was available in Parley.'
      : `Nobody acknowledged it in Parley (sent to ${notified.join(', ')}).`,
  );
  lines.push(`Notification ${n.short} (id ${n.id}), posted by ${n.createdBy} at ${new Date(n.createdAt).toISOString()}.`);
  lines.push('Acknowledge it in Parley: reply "ack" to the notification message, or use the API.');
  return `${lines.join('\n')}\n`;
}

/** Headers of the fallback e-mail. */
export function mailHeaders(n: Notification): Record<string, string> {
  const h: Record<string, string> = {
    'Auto-Submitted': 'auto-generated',
    'X-Parley-Notification': String(n.id),
    'X-Parley-Severity': n.severity,
  };
  if (n.severity === 'critical') h.Importance = 'high';
  return h;
}
