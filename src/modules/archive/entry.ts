/**
 * What the compliance journal holds: one entry per message, edit, retraction and receipt (from the log, in the
 * log's own transaction) and per change around them (room membership and roles, accounts, domains, retention,
 * holds, officers' actions). An entry's bytes are the RFC 8785 canonical JSON of the entry object, and its leaf
 * index is part of it, so an entry moved to another position no longer matches where it is (docs/archive-format.md).
 */
import type { LogRecord } from '../../core/types.js';
import { canonicalBytes } from './jcs.js';
import { framedLeafHash, leafHash, textLeafHashHex } from './merkle.js';

/** Version of the entry format. */
export const ENTRY_VERSION = 1;

/** A journal entry before it has its index. */
export interface EntryDraft {
  /** `message`, `edit`, `retract`, `receipt`, or an event name (`room.membership`, `archive.hold`, ...). */
  type: string;
  ts: number;
  /** The log position of a log record; null for other entries. */
  seq: number | null;
  /** Conversation key of a log record (the 1:1 pair or the room), else the room or account concerned. */
  conv: string | null;
  /** Who acted: the sender, the administrator, the officer (null: the system). */
  actor: string | null;
  /** Whom or what it concerns: the recipient, the room, the account. */
  subject: string | null;
  /** Searchable text (a message body). */
  text: string | null;
  /** Everything else, as it becomes part of the entry. */
  data: Record<string, unknown>;
}

/**
 * A log record as a journal entry draft. The message's extension elements (LogRecord.xml: a link, a reaction, an
 * encrypted payload) are the member `xml`, present only when there are some: an entry without them has the
 * bytes it always had, so entries journaled before they were kept still verify.
 */
export function recordDraft(r: Readonly<LogRecord>): EntryDraft {
  const draft: EntryDraft = {
    type: r.kind,
    ts: r.ts,
    seq: r.seq,
    conv: r.conv,
    actor: r.from,
    subject: r.to,
    text: r.kind === 'message' || r.kind === 'edit' ? r.body : null,
    data: {
      id: r.id,
      messageType: r.type,
      fromResource: r.fromResource,
      toResource: r.toResource,
      clientId: r.clientId,
      body: r.body,
      ref: r.ref,
      receipt: r.receipt,
    },
  };
  if (r.xml !== null && r.xml !== undefined) draft.data.xml = r.xml;
  return draft;
}

/** An event (not a log record) as a journal entry draft. */
export function eventDraft(type: string, ts: number, p: { actor?: string | null; subject?: string | null; conv?: string | null; data?: Record<string, unknown> }): EntryDraft {
  return { type, ts, seq: null, conv: p.conv ?? null, actor: p.actor ?? null, subject: p.subject ?? null, text: null, data: p.data ?? {} };
}

/** The entry object at `index` (0-based leaf index): what is canonicalised and hashed. */
export function entryObject(index: number, d: EntryDraft): Record<string, unknown> {
  // Copied member by member: an object spread followed by the fixed members took V8's slow path, about 45 µs
  // per entry on the store's thread (bench/archive-append.ts); this takes well under 1 µs.
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(d.data)) {
    // As a spread would: an own member named __proto__, not a new prototype.
    if (k === '__proto__') Object.defineProperty(o, k, { value: d.data[k], enumerable: true, writable: true, configurable: true });
    else o[k] = d.data[k];
  }
  // The fixed fields last, so no data key can stand in for them.
  o.v = ENTRY_VERSION;
  o.index = index;
  o.type = d.type;
  o.ts = d.ts;
  o.seq = d.seq;
  o.conv = d.conv;
  o.actor = d.actor;
  o.subject = d.subject;
  return o;
}

/** The canonical bytes and leaf hash (RFC 9162 §2.1.1) of the entry at `index`. */
export function sealEntry(index: number, d: EntryDraft): { bytes: Buffer; leaf: Buffer } {
  const bytes = canonicalBytes(entryObject(index, d));
  return { bytes, leaf: leafHash(bytes) };
}

/** Matches what JSON.stringify writes for a lone surrogate (and, harmlessly, a literal backslash before "ud"). */
const ESCAPED_SURROGATE = '\\ud';

/**
 * A string member's value as JSON.stringify and RFC 8785 §3.2.2.2 both write it when it needs no escape (no quote,
 * backslash, control character or surrogate): quoted as it is. A regular expression tells that with fewer
 * instructions than JSON.stringify spends scanning a string character by character, and most strings of a
 * message (addresses, ids, most bodies) need no escape (docs/PERFORMANCE.md, "The journal without an index on
 * entry times, nor who and where in a record's row").
 */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/u;

/** `v` as JSON.stringify writes it: a string, or null; undefined when it is neither (the caller then gives up). */
function jsonString(v: string | null | undefined): string | undefined {
  if (v === null) return 'null';
  if (typeof v !== 'string') return undefined;
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

/**
 * The canonical JSON text of a log record's entry at `index`, written without the general canonicaliser: a log
 * record's entry has a fixed set of members, so it is written with them already in RFC 8785 §3.2.3 order (UTF-16
 * code units), each value in exactly JCS's string and number forms (RFC 8785 §3.2.2: JSON.stringify's, or a plain
 * string quoted as it is). Null where that would differ from JCS, so the caller takes the general path, which
 * either writes the same bytes or refuses the value: a lone surrogate (escaped by JSON.stringify, refused by JCS),
 * a number that is not finite, and a member that is neither a string nor null. The text returned has no lone
 * surrogate, so its UTF-8 encoding is exact. entry.test.ts checks that both paths write the same bytes for
 * arbitrary records.
 */
function recordJson(index: number, r: Readonly<LogRecord>): string | null {
  if (!Number.isFinite(r.ts) || !Number.isFinite(r.seq) || !Number.isSafeInteger(index)) return null;
  const parts = [r.from, r.body, r.clientId, r.conv, r.fromResource, r.id, r.type, r.receipt, r.ref, r.to, r.toResource, r.kind].map(jsonString);
  if (parts.includes(undefined)) return null;
  const [actor, body, clientId, conv, fromResource, id, messageType, receipt, ref, subject, toResource, type] = parts as string[];
  // Numbers as ES Number::toString writes them (RFC 8785 §3.2.2.3), which is what a template literal does.
  let json =
    `{"actor":${actor},"body":${body},"clientId":${clientId},"conv":${conv},"fromResource":${fromResource},"id":${id},` +
    `"index":${index},"messageType":${messageType},"receipt":${receipt},"ref":${ref},"seq":${r.seq},"subject":${subject},` +
    `"toResource":${toResource},"ts":${r.ts},"type":${type},"v":${ENTRY_VERSION}`;
  // Last in code-unit order ("v" < "xml"), and only when present (see recordDraft).
  if (r.xml !== null && r.xml !== undefined) {
    const xml = jsonString(r.xml);
    if (xml === undefined) return null;
    json += `,"xml":${xml}`;
  }
  json += '}';
  return json.includes(ESCAPED_SURROGATE) ? null : json;
}

/**
 * The leaf hash of a log record's entry at `index`, as hex: how the journal seals a log record's leaf off the
 * delivery path (journal.ts, leafSealer), and how verify checks it. The text is hashed as it is, and neither its bytes nor the digest
 * become a buffer here (bench/archive-append.ts times it beside sealRecord).
 */
export function recordLeafHex(index: number, r: Readonly<LogRecord>): string {
  const json = recordJson(index, r);
  return json === null ? sealEntry(index, recordDraft(r)).leaf.toString('hex') : textLeafHashHex(json);
}

/** The canonical bytes of a log record's entry at `index`: how a reader re-creates an entry from its log row. */
export function recordBytes(index: number, r: Readonly<LogRecord>): Buffer {
  const json = recordJson(index, r);
  return json === null ? canonicalBytes(entryObject(index, recordDraft(r))) : Buffer.from(json, 'utf8');
}

/**
 * `sealEntry(index, recordDraft(r))` by the fast path: the entry framed as 0x00 || entry in one buffer is hashed
 * as it is, and its bytes are the same buffer without the first byte (no copy either way).
 */
export function sealRecord(index: number, r: Readonly<LogRecord>): { bytes: Buffer; leaf: Buffer } {
  const json = recordJson(index, r);
  if (json === null) return sealEntry(index, recordDraft(r));
  const framed = Buffer.from(`\u0000${json}`, 'utf8');
  return { bytes: framed.subarray(1), leaf: framedLeafHash(framed) };
}
