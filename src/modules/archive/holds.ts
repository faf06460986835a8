/**
 * Legal holds: what a hold covers, checked when retention runs. A hold names a person, a room or a saved search;
 * while it is active (not released) no entry it covers is expired, whatever the retention policy says. Pure code:
 * it runs on the store's thread inside a retention step, and in the CLI and HTTP handlers to validate input.
 */
import { z } from 'zod';
import { normaliseDomain, normaliseUser, parseBare } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';

export { normaliseDomain, normaliseUser };

/**
 * The filters of a saved search. Every filter given must match (AND); `keywords` matches when the body contains
 * any of them, case-insensitively. `from` and `to` bound the entry's time (ms since the epoch or an ISO date).
 */
export const searchFilters = z
  .strictObject({
    participant: z.string().min(1).optional(),
    room: z.string().min(1).optional(),
    domain: z.string().min(1).optional(),
    from: z.union([z.number().int(), z.iso.datetime({ offset: true }), z.iso.date()]).optional(),
    to: z.union([z.number().int(), z.iso.datetime({ offset: true }), z.iso.date()]).optional(),
    keywords: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  })
  .refine((f) => Object.keys(f).length > 0, 'a saved search needs at least one filter');

/** A saved search as given (before normalisation). */
export type SearchFiltersInput = z.input<typeof searchFilters>;

/** A saved search as stored: addresses normalised, times in ms, keywords lower-cased. */
export interface SavedSearch {
  participant?: string;
  room?: string;
  domain?: string;
  from?: number;
  to?: number;
  keywords?: string[];
}

/** What a hold covers. */
export type HoldScope = { kind: 'person'; address: string } | { kind: 'room'; room: string } | { kind: 'search'; search: SavedSearch };

/** A legal hold. */
export interface Hold {
  id: number;
  reason: string;
  scope: HoldScope;
  createdBy: string;
  createdAt: number;
  releasedAt: number | null;
  releasedBy: string | null;
}

/** The facts of a journal entry a hold is checked against. */
export interface HeldEntry {
  conv: string | null;
  actor: string | null;
  subject: string | null;
  ts: number;
  /** The entry's message body, read only when a hold needs it. */
  body(): string | null;
}

const time = (v: number | string): number => (typeof v === 'number' ? v : Date.parse(v));

/** Validates and normalises a hold's scope; bad-request (jid-malformed for addresses) names the problem. */
export function normaliseHoldScope(input: { person?: string; room?: string; search?: unknown }): HoldScope {
  const given = [input.person, input.room, input.search].filter((v) => v !== undefined).length;
  if (given !== 1) throw new ParleyError('bad-request', 'a hold has exactly one scope: a person, a room or a saved search');
  if (input.person !== undefined) return { kind: 'person', address: normaliseUser(input.person) };
  if (input.room !== undefined) return { kind: 'room', room: parseBare(input.room) };
  const r = searchFilters.safeParse(input.search);
  if (!r.success) throw new ParleyError('bad-request', `saved search: ${r.error.issues.map((i) => `${i.path.join('.') || 'filters'}: ${i.message}`).join('; ')}`);
  const f = r.data;
  const s: SavedSearch = {};
  if (f.participant !== undefined) s.participant = normaliseUser(f.participant);
  if (f.room !== undefined) s.room = parseBare(f.room);
  if (f.domain !== undefined) s.domain = normaliseDomain(f.domain);
  if (f.from !== undefined) s.from = time(f.from);
  if (f.to !== undefined) s.to = time(f.to);
  if (s.from !== undefined && s.to !== undefined && s.from > s.to) throw new ParleyError('bad-request', 'saved search: from is after to');
  if (f.keywords !== undefined) s.keywords = f.keywords.map((k) => k.toLowerCase());
  return { kind: 'search', search: s };
}

/** The two addresses of a 1:1 conversation key (`dm:a b`), or none. */
export function dmPair(conv: string | null): string[] {
  return conv !== null && conv.startsWith('dm:') ? conv.slice(3).split(' ') : [];
}

/** The room of a conversation key (`room:r`), or null. */
export function roomOf(conv: string | null): string | null {
  return conv !== null && conv.startsWith('room:') ? conv.slice(5) : null;
}

const domainPart = (address: string): string => address.slice(address.lastIndexOf('@') + 1);

/** Whether `person` took part in the entry: sent it, received it, or is one side of its 1:1 conversation. */
function involves(e: HeldEntry, person: string): boolean {
  return e.actor === person || e.subject === person || dmPair(e.conv).includes(person);
}

/** Whether the entry belongs to `room` (a room message, or an event about the room). */
function inRoom(e: HeldEntry, room: string): boolean {
  return roomOf(e.conv) === room || e.conv === room || e.subject === room;
}

/** Whether the saved search selects the entry (evaluated when retention runs, against the entry as stored). */
function searched(e: HeldEntry, s: SavedSearch): boolean {
  if (s.participant !== undefined && !involves(e, s.participant)) return false;
  if (s.room !== undefined && !inRoom(e, s.room)) return false;
  if (s.domain !== undefined) {
    const parties = [e.actor, e.subject, ...dmPair(e.conv), roomOf(e.conv)].filter((a): a is string => a !== null);
    if (!parties.some((a) => domainPart(a) === s.domain)) return false;
  }
  if (s.from !== undefined && e.ts < s.from) return false;
  if (s.to !== undefined && e.ts > s.to) return false;
  if (s.keywords !== undefined) {
    const body = e.body()?.toLowerCase();
    if (body === undefined || !s.keywords.some((k) => body.includes(k))) return false;
  }
  return true;
}

/** Whether an active hold covers the entry. */
export function holdCovers(scope: HoldScope, e: HeldEntry): boolean {
  switch (scope.kind) {
    case 'person':
      return involves(e, scope.address);
    case 'room':
      return inRoom(e, scope.room);
    case 'search':
      return searched(e, scope.search);
  }
}
