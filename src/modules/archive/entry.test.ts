import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../core/types.js';
import { LOG_COLUMNS } from '../../storage/sqlite/log-writer.js';
import { migrate } from '../../storage/sqlite/migrate.js';
import { recordBytes, recordDraft, recordLeafHex, sealEntry, sealRecord } from './entry.js';

/** Strings that reach JSON's escapes and JCS's refusals: controls, quotes, backslashes, astral characters, lone surrogates. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '"', '\\', '\\ud800', '\u2028', '\u007f', '\ud83d\ude00', '\ud800', 'a\udc00b', '</script>'),
);
const orNull = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a, { nil: null });

const record: fc.Arbitrary<LogRecord> = fc.record({
  kind: fc.constantFrom('message', 'edit', 'retract', 'receipt'),
  type: fc.constantFrom('chat', 'groupchat', 'normal'),
  conv: nasty,
  from: nasty,
  fromResource: orNull(nasty),
  to: nasty,
  toResource: orNull(nasty),
  clientId: orNull(nasty),
  body: orNull(nasty),
  ref: orNull(nasty),
  receipt: orNull(fc.constantFrom('delivered', 'read')),
  ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double()),
  seq: fc.oneof(fc.nat(), fc.double()),
  id: nasty,
  xml: orNull(nasty),
}) as fc.Arbitrary<LogRecord>;

/** The result of sealing, or the kind of error thrown. */
function outcome(seal: () => { bytes: Buffer; leaf: Buffer }): string {
  try {
    const { bytes, leaf } = seal();
    return `${bytes.toString('hex')}/${leaf.toString('hex')}`;
  } catch (e) {
    return `throws ${(e as Error).constructor.name}`;
  }
}

describe('sealRecord', () => {
  it('writes the same canonical bytes and leaf as the general path, or refuses what it refuses', () => {
    fc.assert(
      fc.property(record, fc.nat(), (r, index) => {
        const general = outcome(() => sealEntry(index, recordDraft(r)));
        expect(outcome(() => sealRecord(index, r))).toBe(general);
        // What the journal computes when it journals a record, and what a reader re-creates from the log row.
        expect(outcome(() => ({ bytes: recordBytes(index, r), leaf: Buffer.from(recordLeafHex(index, r), 'hex') }))).toBe(general);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a lone surrogate and a number that is not finite, as RFC 8785 §3.2.2 requires', () => {
    const r: LogRecord = {
      kind: 'message', type: 'chat', conv: 'dm:a@x b@x', from: 'a@x', fromResource: 'r', to: 'b@x', toResource: null,
      clientId: null, body: 'ok', ref: null, receipt: null, ts: 1, seq: 1, id: 'm1', xml: null,
    };
    expect(() => sealRecord(0, { ...r, body: 'bad \ud800' })).toThrow(TypeError);
    expect(() => sealRecord(0, { ...r, ts: Number.NaN })).toThrow(TypeError);
    // A literal backslash before "ud" is fine text: it takes the general path and comes out the same.
    expect(sealRecord(0, { ...r, body: 'C:\\udir' }).bytes.toString()).toContain('"body":"C:\\\\udir"');
  });
});

describe('extension elements in the journal', () => {
  const r: LogRecord = {
    kind: 'message', type: 'chat', conv: 'dm:a@x b@x', from: 'a@x', fromResource: 'r', to: 'b@x', toResource: null,
    clientId: 'c1', body: 'see', ref: null, receipt: null, ts: 1, seq: 7, id: 'm1', xml: null,
  };

  it('leaves a record without them byte for byte as entries were before (old leaves still verify)', () => {
    const before =
      '{"actor":"a@x","body":"see","clientId":"c1","conv":"dm:a@x b@x","fromResource":"r","id":"m1","index":3,"messageType":"chat",' +
      '"receipt":null,"ref":null,"seq":7,"subject":"b@x","toResource":null,"ts":1,"type":"message","v":1}';
    expect(sealRecord(3, r).bytes.toString()).toBe(before);
    expect(sealEntry(3, recordDraft(r)).bytes.toString()).toBe(before);
    expect(recordDraft(r).data).not.toHaveProperty('xml');
  });

  it('journals them as the member xml, last in canonical order', () => {
    const xml = '<x xmlns="jabber:x:oob"><url>https://f.x/a.jpg</url></x>';
    const bytes = sealRecord(3, { ...r, xml }).bytes.toString();
    expect(bytes.endsWith(`"v":1,"xml":${JSON.stringify(xml)}}`)).toBe(true);
    expect(sealEntry(3, recordDraft({ ...r, xml })).bytes.toString()).toBe(bytes);
  });

});

describe('recordBytes', () => {
  it("re-creates a log record's entry byte for byte from the log row it was sealed from (the journal keeps only the leaf)", () => {
    const db = new Database(':memory:');
    migrate(db, () => 0);
    const insert = db.prepare(
      `INSERT INTO log (seq, id, kind, type, conv, from_addr, from_resource, to_addr, to_resource, client_id, body, ref, receipt, ts, xml)
       VALUES (@seq, @id, @kind, @type, @conv, @from, @fromResource, @to, @toResource, @clientId, @body, @ref, @receipt, @ts, @xml)`,
    );
    const read = db.prepare<[number], LogRecord>(`SELECT ${LOG_COLUMNS} FROM log l WHERE l.seq = ?`);
    let seq = 0;
    let compared = 0;
    fc.assert(
      fc.property(record, fc.nat(), (generated, index) => {
        // Ids and (sender, clientId) pairs are unique in the log.
        seq++;
        const r = { ...generated, seq, id: `${generated.id}#${seq}`, clientId: generated.clientId === null ? null : `${generated.clientId}#${seq}` };
        let sealed: Buffer;
        try {
          sealed = sealRecord(index, r).bytes;
        } catch {
          return; // refused: never journaled, never stored
        }
        try {
          insert.run(r);
        } catch (e) {
          // What the log's own checks refuse (a message type it does not know) is never stored, so never journaled.
          if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_CHECK') return;
          throw e;
        }
        expect(recordBytes(index, read.get(r.seq)!).equals(sealed)).toBe(true);
        compared++;
      }),
      { numRuns: 2000 },
    );
    db.close();
    expect(compared).toBeGreaterThan(500);
  });
});
