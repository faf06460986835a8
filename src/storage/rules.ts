/**
 * Rules every adapter shares, so the memory and SQLite stores behave identically: address helpers,
 * input validation and limits.
 */
import { ParleyError } from '../core/errors.js';
import { conversationKey, type NewRecord, type RosterItem } from '../core/types.js';

const KINDS = new Set(['message', 'edit', 'retract', 'receipt']);
const TYPES = new Set(['chat', 'groupchat']);
const RECEIPTS = new Set(['delivered', 'read']);
const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);

/** The domain part of a bare address (after the last '@'); '' when there is none, which no domain matches. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1);
}

/** True when `host` is `domain` itself or one of its subdomains (rooms live on e.g. rooms.example.com). */
export function inDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** The conversation key of a room, as the message path writes it. */
export function roomConv(room: string): string {
  return conversationKey('groupchat', '', room);
}

/**
 * Who a conversation key names (the inverse of conversationKey): the room, or the two users of a 1:1
 * conversation (one user twice for notes to self). Addresses never contain a space, so the split is exact.
 */
export function convParties(conv: string): { room: string } | { users: [string, string] } | null {
  if (conv.startsWith('room:')) return { room: conv.slice(5) };
  if (!conv.startsWith('dm:')) return null;
  const space = conv.indexOf(' ', 3);
  return space < 0 ? null : { users: [conv.slice(3, space), conv.slice(space + 1)] };
}

/** A query limit as a non-negative safe integer; SQLite treats a negative LIMIT as "no limit", so clamp here. */
export function clampLimit(limit: number): number {
  if (Number.isNaN(limit) || limit <= 0) return 0;
  return Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER);
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function isNullableString(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

/** Throws ParleyError bad-request unless `r` is a well-formed record (types are not enforced at runtime). */
export function validateRecord(r: NewRecord): void {
  const bad = (what: string): never => {
    throw new ParleyError('bad-request', `invalid log record: ${what}`);
  };
  if (!KINDS.has(r.kind)) bad(`kind ${String(r.kind)}`);
  if (!TYPES.has(r.type)) bad(`type ${String(r.type)}`);
  if (!isText(r.conv) || !isText(r.from) || !isText(r.to)) bad('conv, from and to must be non-empty strings');
  if (!isNullableString(r.fromResource) || !isNullableString(r.toResource)) bad('resources must be strings or null');
  if (!isNullableString(r.clientId) || !isNullableString(r.body) || !isNullableString(r.ref)) bad('clientId, body, ref');
  if (r.xml !== undefined && !isNullableString(r.xml)) bad('xml must be a string or null');
  if (r.receipt !== null && !RECEIPTS.has(r.receipt)) bad(`receipt ${String(r.receipt)}`);
  if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) bad('ts must be a finite number');
  if (!Array.isArray(r.offlineFor) || !r.offlineFor.every(isText)) bad('offlineFor must be a list of addresses');
}

/** Throws ParleyError bad-request unless `item` is a well-formed roster item. */
export function validateRosterItem(item: RosterItem): void {
  if (!isText(item.owner) || !isText(item.contact)) {
    throw new ParleyError('bad-request', 'a roster item needs an owner and a contact');
  }
  if (!SUBSCRIPTIONS.has(item.subscription)) {
    throw new ParleyError('bad-request', `invalid roster subscription ${String(item.subscription)}`);
  }
  if (!Array.isArray(item.groups) || !item.groups.every((g) => typeof g === 'string')) {
    throw new ParleyError('bad-request', 'roster groups must be a list of strings');
  }
}

/** Unique user addresses in first-seen order (a record may name a user twice in offlineFor). */
export function uniq(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Rejects a consumer position that no adapter could store the same way (a name and a whole seq >= 0). */
export function checkPosition(consumer: string, seq: number): void {
  if (typeof consumer !== 'string' || consumer.length === 0) throw new ParleyError('bad-request', 'a log consumer needs a name');
  if (!Number.isSafeInteger(seq) || seq < 0) throw new ParleyError('bad-request', `position ${seq} is not a log seq`);
}
