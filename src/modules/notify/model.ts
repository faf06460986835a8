/**
 * The notification model: targets, escalation policies, rotas, notifications and their history, and the
 * schemas that check what business systems and administrators send. Pure: no I/O (the store's thread imports
 * the types too).
 */
import { z } from 'zod';
import { MAX_STEP_SECONDS } from './options.js';

/** Severity, lowest first (the PagerDuty Events API's four levels). */
export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Notification states: triggered until someone acknowledges; resolved is final. */
export type NotificationState = 'triggered' | 'acknowledged' | 'resolved';

/** What a person can do with a notification. */
export type Action = 'acknowledge' | 'resolve';

const address = z.string().min(3).max(3071);
/** Names of policies and rotas: short identifiers, usable in a URL path as they are. */
export const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1-64 letters, digits, dot, dash or underscore');

/** Who a notification (or a step of its policy) is for. */
export const targetSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('person'), address }),
  z.strictObject({
    type: z.literal('group'),
    group: z.string().min(1).max(64),
    strategy: z.enum(['round-robin', 'fewest-open']).optional(),
  }),
  z.strictObject({
    type: z.literal('role'),
    room: address,
    role: z.enum(['owner', 'admin', 'member']),
    strategy: z.enum(['round-robin', 'fewest-open']).optional(),
  }),
  z.strictObject({ type: z.literal('rota'), rota: nameSchema }),
]);
/** A target: a person, a shared group, the holders of a room role, or a rota. */
export type Target = z.output<typeof targetSchema>;

/** A stable key of a target, for filtering (`person:a@x`, `group:ops`, `role:admin@room@conference.x`, `rota:db`). */
export function targetKey(t: Target): string {
  switch (t.type) {
    case 'person':
      return `person:${t.address}`;
    case 'group':
      return `group:${t.group}`;
    case 'role':
      return `role:${t.role}@${t.room}`;
    case 'rota':
      return `rota:${t.rota}`;
  }
}

/** One step of an escalation policy. */
export const stepSchema = z.strictObject({
  delaySeconds: z.number().min(0.05).max(MAX_STEP_SECONDS),
  /** Whom this step notifies; the notification's own target when absent. */
  target: targetSchema.optional(),
});
export type Step = z.output<typeof stepSchema>;

/** An escalation policy as posted by an administrator. */
export const policySchema = z.strictObject({
  name: nameSchema,
  description: z.string().max(1000).optional(),
  steps: z.array(stepSchema).min(1).max(20),
  repeats: z.number().int().min(0).max(10).default(0),
});
/** The same without the name (PUT /policies/:name). */
export const policyUpdateSchema = policySchema.omit({ name: true });

/** An escalation policy: steps run in order, each after the previous one's delay, then `repeats` more times. */
export interface Policy {
  name: string;
  description: string | null;
  steps: Step[];
  repeats: number;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A rota as posted. */
export const rotaSchema = z.strictObject({
  name: nameSchema,
  members: z.array(address).min(1).max(100),
  current: z.number().int().min(0).default(0),
});
export const rotaUpdateSchema = rotaSchema.omit({ name: true });

/** A rota: an ordered on-call list; `current` is on call now, the others follow in order. */
export interface Rota {
  name: string;
  members: string[];
  current: number;
  updatedAt: number;
}

/** A notification as a business system posts it (limits on lengths come from the options). */
export function notificationSchema(limits: { maxTitleLength: number; maxBodyLength: number }) {
  return z.strictObject({
    title: z.string().trim().min(1).max(limits.maxTitleLength),
    body: z.string().max(limits.maxBodyLength).default(''),
    severity: z.enum(SEVERITIES),
    link: z.url({ protocol: /^https?$/ }).max(2048).optional(),
    dedupKey: z.string().min(1).max(255).optional(),
    target: targetSchema,
    policy: nameSchema.optional(),
  });
}

/** What the store creates. */
export interface NewNotification {
  dedupKey: string | null;
  title: string;
  body: string;
  severity: Severity;
  link: string | null;
  target: Target;
  policy: PolicySnapshot;
  createdBy: string;
}

/** The policy a notification runs, copied when it was posted (later edits do not change running notifications). */
export interface PolicySnapshot {
  name: string;
  steps: Step[];
  repeats: number;
}

/** A notification as stored and shown. */
export interface Notification {
  id: number;
  /** A short id people type in a reply ("ack 1z"): the id in base 36. */
  short: string;
  state: NotificationState;
  title: string;
  body: string;
  severity: Severity;
  link: string | null;
  dedupKey: string | null;
  target: Target;
  policy: PolicySnapshot;
  createdBy: string;
  createdAt: number;
  /** Posts with the same dedup key while this one was open. */
  duplicates: number;
  /** Which run of the policy (0 first; up to policy.repeats). */
  cycle: number;
  /** The step run last (-1 before the first). */
  step: number;
  /** When the next step is due (epoch ms); null when nothing is scheduled. */
  nextAt: number | null;
  /** Who got it last. */
  assignee: string | null;
  /** The policy ran out and the e-mail fallback ran. */
  exhausted: boolean;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
  updatedAt: number;
}

/** One delivery: an IM or an e-mail to one person. */
export interface Delivery {
  id: number;
  notificationId: number;
  address: string;
  channel: 'im' | 'email';
  cycle: number;
  step: number;
  /** The IM's server id, or the e-mail's Message-ID. */
  messageId: string | null;
  at: number;
}

/** One acknowledgement or resolution. */
export interface Acknowledgement {
  id: number;
  notificationId: number;
  address: string;
  action: Action;
  /** http, json (the JSON operation) or im (a reply to the service address). */
  via: 'http' | 'json' | 'im';
  at: number;
}

/** One event of a notification's history. */
export interface NotificationEvent {
  id: number;
  notificationId: number;
  /** posted, deduplicated, delivered, escalated, skipped, repeated, delivery-failed, acknowledged, resolved, email.sent, email.failed, exhausted */
  kind: string;
  actor: string | null;
  data: Record<string, unknown>;
  at: number;
}

/** An event to record (the store adds id, notification and time). */
export interface NewEvent {
  kind: string;
  actor?: string | null;
  data?: Record<string, unknown>;
}

/** The base-36 short id of a notification id. */
export const shortId = (id: number): string => id.toString(36);

/** The notification id a short id or a decimal id names, or null. */
export function parseId(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input > 0 ? input : null;
  const s = input.trim().replace(/^#/, '').toLowerCase();
  if (!/^[0-9a-z]{1,10}$/.test(s)) return null;
  const n = parseInt(s, 36);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
