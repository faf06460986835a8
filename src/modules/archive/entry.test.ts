import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../core/types.js';
import { recordDraft, sealEntry, sealRecord } from './entry.js';

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
        expect(outcome(() => sealRecord(index, r))).toBe(outcome(() => sealEntry(index, recordDraft(r))));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a lone surrogate and a number that is not finite, as RFC 8785 §3.2.2 requires', () => {
    const r: LogRecord = {
      kind: 'message', type: 'chat', conv: 'dm:a@x b@x', from: 'a@x', fromResource: 'r', to: 'b@x', toResource: null,
      clientId: null, body: 'ok', ref: null, receipt: null, ts: 1, seq: 1, id: 'm1',
    };
    expect(() => sealRecord(0, { ...r, body: 'bad \ud800' })).toThrow(TypeError);
    expect(() => sealRecord(0, { ...r, ts: Number.NaN })).toThrow(TypeError);
    // A literal backslash before "ud" is fine text: it takes the general path and comes out the same.
    expect(sealRecord(0, { ...r, body: 'C:\\udir' }).bytes.toString()).toContain('"body":"C:\\\\udir"');
  });
});
