/**
 * A change (engine/events.ts Change) as an audit entry: who made it, what it concerns and the rest of its
 * payload. Written over the Change union generically, so a change type added to CHANGES is recorded without an
 * edit here: its actor is its `by` (`actor` for a module's change, `owner` for a room's creation) and its subject
 * the first of the fields that name what a change concerns. Secrets never reach the log: fields whose names say
 * they hold one are dropped.
 */
import { createHash } from 'node:crypto';
import type { Change } from '../../engine/events.js';

/** What the log shows of a secret subject: the first 16 hex digits of its SHA-256. */
export const digestOf = (secret: string): string => `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16)}`;

/** An entry before the store numbers it. */
export interface NewAuditEntry {
  at: number;
  /** Who made the change: an address, `cli:<os user>` for the operator CLI, null for the server itself. */
  actor: string | null;
  /** The change's name (`<module>.<kind>` for a module's own). */
  type: string;
  /** The address, room, group or domain it concerns. */
  subject: string | null;
  /** The rest of the change, without secrets. */
  data: Record<string, unknown>;
  /** The cluster node that made it; null for the CLI. */
  node: string | null;
}

/** A stored entry. */
export interface AuditEntry extends NewAuditEntry {
  id: number;
}

/**
 * Fields naming what a change concerns, most specific first: a member's address before the room or group it
 * joined (both are kept, the other in data), a ban's target, an account, a room, a group, a domain, a module's
 * own subject.
 */
const SUBJECT_FIELDS = ['user', 'target', 'address', 'room', 'group', 'domain', 'subject'] as const;

/** Field names that hold secrets (passwords, keys, tokens): never written to the log. */
const SECRET = /pass(word|wd|phrase)?$|secret|token|credential|^(api)?key$|privatekey|hash$/i;
/** Longest string kept in data: a module's change may carry a long text (a notification's body). */
const MAX_STRING = 1000;

/** Who made a change. Exhaustive: a change type that names no actor field fails to compile here. */
function actorOf(c: Change): string | null {
  if ('by' in c) return c.by;
  if ('actor' in c) return c.actor;
  if ('owner' in c) return c.owner;
  const unattributed: never = c;
  return unattributed;
}

/** The type of a change as the log shows it. */
export const typeOf = (c: Change): string => (c.type === 'module.change' ? `${c.module}.${c.kind}` : c.type);

/** The entry of a change made at `at` on `node` (null: the CLI). */
export function entryOf(c: Change, at: number, node: string | null): NewAuditEntry {
  // A subject that is itself a capability (a file's download token) is shown as a digest that finds it again.
  const secret = c.type === 'module.change' && c.secretSubject === true && c.subject !== null;
  const fields: Record<string, unknown> = c.type === 'module.change' ? { subject: secret ? digestOf(c.subject!) : c.subject } : { ...c };
  let subject: string | null = null;
  let subjectField: string | null = null;
  for (const f of SUBJECT_FIELDS) {
    const v = fields[f];
    if (typeof v === 'string') {
      subject = v;
      subjectField = f;
      break;
    }
  }
  // A module's change carries its own data; the core's changes are flat, their data is what is left.
  const data: Record<string, unknown> = c.type === 'module.change' ? { ...c.data } : {};
  if (c.type !== 'module.change') {
    for (const [k, v] of Object.entries(fields)) if (k !== 'type' && k !== 'by' && k !== 'owner' && k !== subjectField) data[k] = v;
  }
  return { at, actor: actorOf(c), type: typeOf(c), subject, data: clean(data) as Record<string, unknown>, node };
}

/** A copy without secret fields and with long strings cut. */
function clean(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v;
  if (v === null || typeof v !== 'object') return v;
  if (depth > 8) return '…';
  if (Array.isArray(v)) return v.slice(0, 100).map((x) => clean(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!SECRET.test(k) && x !== undefined) out[k] = clean(x, depth + 1);
  return out;
}
