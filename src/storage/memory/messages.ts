/** The message log of the in-memory store: the same semantics as SQLite, kept deliberately plain. */
import { ParleyError } from '../../core/errors.js';
import { pageReader } from '../../core/page.js';
import type { LogRecord, MessageView, NewRecord } from '../../core/types.js';
import type { AppendParticipant } from '../../ports/module-storage.js';
import { recordBytes, type HistoryQuery, type MessageStore, type OfflineSize } from '../../ports/store.js';
import { clampLimit, convParties, roomConv, uniq, validateRecord } from '../rules.js';
import { accountFloor, roomFloor, type MemoryState } from './state.js';

const dedupeKey = (from: string, clientId: string): string => `${from}\n${clientId}`;

function toLogRecord(r: NewRecord, seq: number, id: string): LogRecord {
  const { offlineFor: _ignored, xml, ...rest } = r;
  return { ...rest, xml: xml ?? null, seq, id };
}

function toView(s: MemoryState, r: LogRecord): MessageView {
  const st = s.messageState.get(r.id);
  return {
    seq: r.seq,
    id: r.id,
    type: r.type,
    conv: r.conv,
    from: r.from,
    fromResource: r.fromResource,
    to: r.to,
    clientId: r.clientId,
    body: st ? st.body : r.body,
    // A retraction withdraws the extension elements with the body (the log keeps them).
    xml: st && st.retractedAt !== null ? null : r.xml,
    ts: r.ts,
    editedAt: st ? st.editedAt : null,
    retractedAt: st ? st.retractedAt : null,
  };
}

/** Applies an edit or retraction to the state of the message it refers to (ignored for unknown refs). */
function applyToState(s: MemoryState, r: NewRecord): void {
  if ((r.kind !== 'edit' && r.kind !== 'retract') || r.ref === null) return;
  const target = s.byId.get(r.ref);
  if (!target || target.kind !== 'message') return;
  const st = s.messageState.get(r.ref) ?? { body: target.body, editedAt: null, retractedAt: null };
  // A retraction is final: later edits must not bring the text back.
  if (st.retractedAt !== null) return;
  if (r.kind === 'edit') {
    st.body = r.body;
    st.editedAt = r.ts;
  } else {
    st.body = null;
    st.retractedAt = r.ts;
  }
  s.messageState.set(r.ref, st);
}

/** The first seq a conversation's current parties may see (see MessageStore.history). */
function convFloor(s: MemoryState, conv: string): number {
  const who = convParties(conv);
  if (who === null) return 0;
  if ('room' in who) return roomFloor(s, who.room);
  return Math.max(accountFloor(s, who.users[0]), accountFloor(s, who.users[1]));
}

/** The (from, clientId) record a resend would return; throws when it is a removed predecessor's (see append). */
function firstSent(s: MemoryState, input: NewRecord): LogRecord | undefined {
  if (input.clientId === null) return undefined;
  const first = s.byClientId.get(dedupeKey(input.from, input.clientId));
  if (first && first.seq <= accountFloor(s, input.from)) throw new ParleyError('conflict', `clientId ${input.clientId} is taken; use another`);
  return first;
}

/** Entries and UTF-8 body bytes of the queued records with these seqs. */
function sizeOf(s: MemoryState, seqs: number[]): OfflineSize {
  let bytes = 0;
  for (const seq of seqs) {
    const r = s.log[seq - 1];
    bytes += Buffer.byteLength(r?.body ?? '', 'utf8') + Buffer.byteLength(r?.xml ?? '', 'utf8');
  }
  return { count: seqs.length, bytes };
}

/**
 * The memory MessageStore; every append is applied at once, so there is nothing to group. `participants` (read
 * at every append) get each call's new records before anything is stored: a throw leaves the log as it was.
 */
export function createMemoryMessages(
  s: MemoryState,
  nextId: () => string,
  isClosed: () => boolean,
  participants: readonly AppendParticipant[] = [],
): MessageStore {
  /** Makes a planned record visible: the log, its indexes, the offline queues and the state of what it edits. */
  const store = (input: NewRecord, record: LogRecord): void => {
    s.log.push(record);
    s.byId.set(record.id, record);
    if (record.clientId !== null) s.byClientId.set(dedupeKey(record.from, record.clientId), record);
    for (const user of uniq(input.offlineFor)) {
      const q = s.offline.get(user) ?? [];
      q.push(record.seq);
      s.offline.set(user, q);
    }
    applyToState(s, input);
  };

  return {
    async append(records) {
      if (isClosed()) throw new ParleyError('service-unavailable', 'the store is closed');
      // Validation and a predecessor's clientId are the only ways an append can fail here besides participants,
      // so checking all first, then planning every record, then asking participants, makes each call atomic.
      records.forEach(validateRecord);
      records.forEach((r) => firstSent(s, r));
      const planned = new Map<string, LogRecord>();
      const plan: Array<{ input: NewRecord; record: LogRecord; duplicate: boolean }> = [];
      let seq = s.log.length;
      for (const input of records) {
        const key = input.clientId === null ? null : dedupeKey(input.from, input.clientId);
        // A resend of a record earlier in the same call counts as a duplicate, as in SQLite.
        const first = firstSent(s, input) ?? (key === null ? undefined : planned.get(key));
        if (first) {
          plan.push({ input, record: first, duplicate: true });
          continue;
        }
        const record = toLogRecord(input, ++seq, nextId());
        if (key !== null) planned.set(key, record);
        plan.push({ input, record, duplicate: false });
      }
      const fresh = plan.filter((p) => !p.duplicate).map((p) => ({ ...p.record }));
      if (fresh.length > 0) for (const participant of participants) participant(fresh);
      for (const p of plan) if (!p.duplicate) store(p.input, p.record);
      return plan.map((p) => ({ record: { ...p.record }, duplicate: p.duplicate }));
    },
    async getById(id) {
      const r = s.byId.get(id);
      return r ? { ...r } : null;
    },
    async view(id) {
      const r = s.byId.get(id);
      return r && r.kind === 'message' ? toView(s, r) : null;
    },
    async history(conv, query) {
      const limit = clampLimit(query.limit);
      const before = query.before ?? Number.POSITIVE_INFINITY;
      const after = Math.max(query.after ?? 0, convFloor(s, conv));
      const matches = s.log.filter((r) => r.conv === conv && r.kind === 'message' && r.seq < before && r.seq > after);
      return pageOf(s, matches, limit, query);
    },
    async lastRead(conv, reader) {
      const floor = convFloor(s, conv);
      for (let i = s.log.length - 1; i >= 0; i--) {
        const r = s.log[i]!;
        if (r.seq <= floor) break;
        if (r.conv !== conv || r.from !== reader || r.kind !== 'receipt' || r.receipt !== 'read' || r.ref === null) continue;
        const m = s.byId.get(r.ref);
        if (m) return { id: m.id, seq: m.seq, ts: r.ts };
      }
      return null;
    },
    async userMessages(user, query) {
      const limit = clampLimit(query.limit);
      const before = query.before ?? Number.POSITIVE_INFINITY;
      const after = Math.max(query.after ?? 0, accountFloor(s, user));
      const matches = s.log.filter(
        (r) => r.kind === 'message' && r.type === 'chat' && (r.to === user || r.from === user) && r.seq < before && r.seq > after,
      );
      return pageOf(s, matches, limit, query);
    },
    async seqAtTime(ts) {
      const r = s.log.find((x) => x.ts >= ts);
      return r ? r.seq : s.log.length + 1;
    },
    async since(user, rooms, after, limit) {
      const n = clampLimit(limit);
      // Each branch starts at the current incarnation of its account or room (see the SQLite adapter).
      const mine = Math.max(after, accountFloor(s, user));
      const convs = new Map(rooms.map((room) => [roomConv(room), Math.max(after, roomFloor(s, room))]));
      const out: LogRecord[] = [];
      for (let i = Math.max(0, Math.floor(after)); i < s.log.length && out.length < n; i++) {
        const r = s.log[i]!;
        if (r.seq <= after) continue;
        const roomFrom = convs.get(r.conv);
        if ((r.type === 'chat' && (r.to === user || r.from === user) && r.seq > mine) || (roomFrom !== undefined && r.seq > roomFrom)) out.push({ ...r });
      }
      return out;
    },
    async offline(user, after, limit) {
      const q = s.offline.get(user) ?? [];
      // Entries queued for a removed predecessor stay invisible.
      after = Math.max(after, accountFloor(s, user));
      // The queue is ascending: binary-search the first seq > after, so paging a long queue stays linear.
      let lo = 0;
      let hi = q.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (q[mid]! > after) hi = mid;
        else lo = mid + 1;
      }
      return q.slice(lo, lo + clampLimit(limit)).map((seq) => ({ ...s.log[seq - 1]! }));
    },
    async ackOffline(user, upTo) {
      const q = s.offline.get(user);
      if (!q) return { count: 0, bytes: 0 };
      const dropped = sizeOf(s, q.filter((seq) => seq <= upTo));
      const rest = q.filter((seq) => seq > upTo);
      if (rest.length > 0) s.offline.set(user, rest);
      else s.offline.delete(user);
      return dropped;
    },
    async offlineSize(user) {
      return sizeOf(s, s.offline.get(user) ?? []);
    },
    async lastSeq() {
      return s.log.length;
    },
    async queueOffline(user, seqs) {
      const q = new Set(s.offline.get(user) ?? []);
      for (const seq of seqs) if (Number.isInteger(seq) && seq >= 1 && seq <= s.log.length) q.add(seq);
      if (q.size > 0) s.offline.set(user, [...q].sort((a, b) => a - b));
    },
    async after(seq, limit, maxBytes = Infinity) {
      // log[i] holds seq i + 1, so the first seq above `seq` is at index floor(seq).
      const from = Math.max(0, Math.floor(seq));
      const out: LogRecord[] = [];
      let bytes = 0;
      for (const r of s.log.slice(from, from + clampLimit(limit))) {
        if (bytes >= maxBytes) break;
        out.push({ ...r });
        bytes += recordBytes(r);
      }
      return out;
    },
    async byClientId(from, clientId) {
      const r = s.byClientId.get(dedupeKey(from, clientId));
      return r ? this.view(r.id) : null;
    },
  };
}

/**
 * One page of `matches` (ascending): from the query's end (oldest when `after` is given, unless `from` says),
 * bounded by `limit` and the byte budget as the SQLite adapter bounds it; ascending.
 */
function pageOf(s: MemoryState, matches: LogRecord[], limit: number, query: HistoryQuery): MessageView[] {
  const forward = (query.from ?? (query.after !== undefined ? 'oldest' : 'newest')) === 'oldest';
  const inOrder = (forward ? matches : matches.reverse()).map((r) => toView(s, r));
  const page: MessageView[] = [];
  const goOn = pageReader(limit, query.maxBytes);
  for (const v of inOrder) {
    if (page.length >= limit) break;
    page.push(v);
    if (!goOn(v)) break;
  }
  return forward ? page : page.reverse();
}
