/** The write path of the message log: insert with dedupe, offline queue rows and message state, per record. */
import { ParleyError } from '../../core/errors.js';
import type { LogRecord, NewRecord } from '../../core/types.js';
import type { AppendParticipant } from '../../ports/module-storage.js';
import type { AppendResult } from '../../ports/store.js';
import { uniq, validateRecord } from '../rules.js';
import type { Db } from './db.js';

/** The log's columns under LogRecord's property names, so rows need no mapping (`l` is the log alias). */
export const LOG_COLUMNS = `l.seq, l.id, l.kind, l.type, l.conv, l.from_addr AS "from", l.from_resource AS fromResource,
  l.to_addr AS "to", l.to_resource AS toResource, l.client_id AS clientId, l.body, l.ref, l.receipt, l.ts, l.xml`;

type InsertParams = [string, string, string, string, string, string | null, string, string | null, string | null, string | null, string | null, string | null, number, string | null];

/**
 * Returns a function that writes one caller's batch. It must run inside a write transaction: it relies on
 * earlier rows of the same transaction being visible, which is how a duplicate earlier in the batch (or in
 * another caller's batch of the same group commit) is found. After the batch, each of `participants` (read at
 * every call, so areas may join after the writer is made) gets the batch's new records, still inside the
 * transaction: a throw rolls it back, and group commit then retries each caller alone, so only the caller whose
 * records were refused gets the error.
 */
export function createLogWriter(
  db: Db,
  nextId: () => string,
  participants: readonly AppendParticipant[] = [],
): (records: readonly NewRecord[]) => AppendResult[] {
  // DO NOTHING on a (from, clientId) clash: changes = 0 tells us it is a resend, without a prior lookup.
  const insert = db.prepare<InsertParams>(
    `INSERT INTO log (id, kind, type, conv, from_addr, from_resource, to_addr, to_resource, client_id, body, ref, receipt, ts, xml)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (from_addr, client_id) WHERE client_id IS NOT NULL DO NOTHING`,
  );
  const byClientId = db.prepare<[string, string], LogRecord>(
    `SELECT ${LOG_COLUMNS} FROM log l WHERE l.from_addr = ? AND l.client_id = ?`,
  );
  const accountFloor = db.prepare<[string], number>('SELECT created_seq FROM accounts WHERE address = ?').pluck();
  const queueOffline = db.prepare<[string, number]>('INSERT INTO offline (user, seq) VALUES (?, ?) ON CONFLICT DO NOTHING');
  // Both only touch an existing, not yet retracted message: a retraction is final, and a ref to an unknown id
  // (or to a non-message) changes nothing. The SELECT's WHERE also keeps the upsert grammar unambiguous.
  const edit = db.prepare<{ ref: string; body: string | null; ts: number }>(
    `INSERT INTO message_state (id, body, edited_at, retracted_at)
     SELECT id, :body, :ts, NULL FROM log WHERE id = :ref AND kind = 'message'
     ON CONFLICT (id) DO UPDATE SET body = excluded.body, edited_at = excluded.edited_at WHERE retracted_at IS NULL`,
  );
  const retract = db.prepare<{ ref: string; ts: number }>(
    `INSERT INTO message_state (id, body, edited_at, retracted_at)
     SELECT id, NULL, NULL, :ts FROM log WHERE id = :ref AND kind = 'message'
     ON CONFLICT (id) DO UPDATE SET body = NULL, retracted_at = excluded.retracted_at WHERE retracted_at IS NULL`,
  );

  const writeOne = (r: NewRecord): AppendResult => {
    validateRecord(r);
    const id = nextId();
    const xml = r.xml ?? null;
    const info = insert.run(id, r.kind, r.type, r.conv, r.from, r.fromResource, r.to, r.toResource, r.clientId, r.body, r.ref, r.receipt, r.ts, xml);
    if (info.changes === 0) {
      const first = r.clientId === null ? undefined : byClientId.get(r.from, r.clientId);
      if (!first) throw new ParleyError('internal-server-error', 'a log insert was ignored but no earlier record exists');
      // Only on the resend path: a first record from before the sender's account belongs to a removed
      // predecessor at the same address, so this is not a resend, and it must not be answered with that record.
      if (first.seq <= (accountFloor.get(r.from) ?? 0)) throw new ParleyError('conflict', `clientId ${r.clientId} is taken; use another`);
      return { record: first, duplicate: true };
    }
    const seq = Number(info.lastInsertRowid);
    for (const user of uniq(r.offlineFor)) queueOffline.run(user, seq);
    if (r.ref !== null && r.kind === 'edit') edit.run({ ref: r.ref, body: r.body, ts: r.ts });
    if (r.ref !== null && r.kind === 'retract') retract.run({ ref: r.ref, ts: r.ts });
    const record: LogRecord = {
      seq,
      id,
      kind: r.kind,
      type: r.type,
      conv: r.conv,
      from: r.from,
      fromResource: r.fromResource,
      to: r.to,
      toResource: r.toResource,
      clientId: r.clientId,
      body: r.body,
      ref: r.ref,
      receipt: r.receipt,
      ts: r.ts,
      xml,
    };
    return { record, duplicate: false };
  };

  return (records) => {
    const results = records.map(writeOne);
    if (participants.length === 0) return results;
    // The records themselves, not copies (a copy per record cost the message path measurably): participants
    // take them read-only (AppendParticipant).
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.record);
    if (fresh.length > 0) for (const participant of participants) participant(fresh);
    return results;
  };
}
