import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bareOf,
  domainOf,
  formatAddress,
  localOf,
  parseAddress,
  parseBare,
  parseUserAddress,
  utf8Length,
  type Address,
} from './address.js';
import { ParleyError } from './errors.js';

const addr = (local: string | null, domain: string, resource: string | null = null): Address => ({ local, domain, resource });

/** Asserts that parsing fails with jid-malformed and exactly `message`. */
function expectMalformed(input: string, message: string): void {
  let caught: unknown;
  try {
    parseAddress(input);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(input)} to be rejected`).toBeInstanceOf(ParleyError);
  const err = caught as ParleyError;
  expect(err.code).toBe('jid-malformed');
  expect(err.message).toBe(message);
}

describe('parseAddress: splitting (RFC 7622 §3.2)', () => {
  it.each<[string, Address]>([
    ['example.com', addr(null, 'example.com')],
    ['juliet@example.com', addr('juliet', 'example.com')],
    ['juliet@example.com/balcony', addr('juliet', 'example.com', 'balcony')],
    ['example.com/res', addr(null, 'example.com', 'res')],
    // The resource starts at the first '/'; '@' and '/' are allowed inside it.
    ['juliet@example.com/a@b/c', addr('juliet', 'example.com', 'a@b/c')],
    // An '@' after the first '/' belongs to the resource, not the localpart.
    ['example.com/foo@bar', addr(null, 'example.com', 'foo@bar')],
    ['juliet@example.com/ with spaces ', addr('juliet', 'example.com', ' with spaces ')],
  ])('%s', (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
  });
});

describe('parseAddress: normalisation', () => {
  it.each<[string, Address]>([
    // Case folding of localpart and domainpart, never of the resourcepart (OpaqueString has no case mapping).
    ['Juliet@Example.COM/Balcony', addr('juliet', 'example.com', 'Balcony')],
    // Width mapping (RFC 8265 §3.3.2 step 1) in the localpart, RFC 5895 mapping in the domainpart.
    ['ＪＵＬＩＥＴ@ｅｘａｍｐｌｅ．ｃｏｍ', addr('juliet', 'example.com')],
    // Halfwidth katakana plus halfwidth voiced mark: width-mapped, then composed by NFC.
    ['ｶﾞ@example.com', addr('ガ', 'example.com')],
    // NFC: decomposed e + U+0301 becomes é.
    ['re\u0301sume\u0301@example.com', addr('résumé', 'example.com')],
    ['ÄLMHULT@example.com', addr('älmhult', 'example.com')],
    // Unicode toLowerCase, including the final-sigma rule.
    ['ΣΑΣ@example.com', addr('σας', 'example.com')],
    // NFC can turn a forbidden ASCII character into an allowed one: "<" + U+0338 is "≮".
    ['<\u0338@example.com', addr('≮', 'example.com')],
    // Resourcepart: non-ASCII spaces map to U+0020, NFC applies, fullwidth stays (no width mapping).
    ['a@example.com/x\u00A0y\u3000z', addr('a', 'example.com', 'x y z')],
    ['a@example.com/Cafe\u0301', addr('a', 'example.com', 'Café')],
    ['a@example.com/ＡＢ', addr('a', 'example.com', 'ＡＢ')],
    // Symbols and punctuation other than the RFC 7622 §3.3.1 exclusions are fine in a localpart.
    ['first.last+tag_1-x!#$%*=?^`{|}~@example.com', addr('first.last+tag_1-x!#$%*=?^`{|}~', 'example.com')],
  ])('%s', (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
  });

  it('strips one trailing dot from the domainpart (RFC 7622 §3.2)', () => {
    expect(parseAddress('a@example.com.')).toEqual(addr('a', 'example.com'));
    expect(parseAddress('example.com./r')).toEqual(addr(null, 'example.com', 'r'));
    expectMalformed('a@example.com..', 'domainpart label is empty');
  });

  it('treats ideographic full stops as label separators', () => {
    expect(parseAddress('a@例え。テスト').domain).toBe('例え.テスト');
  });

  it('keeps internationalised domains as U-labels and decodes A-labels (RFC 5890 §2.3.2.1, RFC 3492)', () => {
    expect(parseAddress('a@Bücher.example').domain).toBe('bücher.example');
    expect(parseAddress('a@xn--bcher-kva.example').domain).toBe('bücher.example');
    expect(parseAddress('a@XN--BCHER-KVA.example').domain).toBe('bücher.example');
    expect(parseAddress('xn--mnchen-3ya.de').domain).toBe('münchen.de');
    expect(parseAddress('xn--fiqs8s').domain).toBe('中国');
    expect(parseAddress('xn--wgv71a119e.jp').domain).toBe('日本語.jp');
    expect(parseAddress('xn--d1acpjx3f.xn--p1ai').domain).toBe('яндекс.рф');
    expect(parseAddress('sub.xn--bcher-kva.example/r')).toEqual(addr(null, 'sub.bücher.example', 'r'));
  });
});

describe('parseAddress: IP literals (RFC 7622 §3.2.1)', () => {
  it.each<[string, string]>([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['[::1]', '[::1]'],
    ['[::]', '[::]'],
    ['[2001:DB8:0:0:0:0:0:1]', '[2001:db8::1]'],
    ['[2001:db8::0:1]', '[2001:db8::1]'],
    ['[2001:0db8:0000:0000:0001:0000:0000:0001]', '[2001:db8::1:0:0:1]'],
    ['[1:0:1:1:1:1:1:1]', '[1:0:1:1:1:1:1:1]'],
    ['[1:0:0:1:0:0:0:1]', '[1:0:0:1::1]'],
    ['[fe80::1:2:3:4]', '[fe80::1:2:3:4]'],
    ['[::ffff:192.0.2.1]', '[::ffff:192.0.2.1]'],
    ['[::FFFF:c000:0201]', '[::ffff:192.0.2.1]'],
    ['[64:ff9b::192.0.2.33]', '[64:ff9b::c000:221]'],
  ])('%s → %s', (input, domain) => {
    expect(parseAddress(`user@${input}/r`)).toEqual(addr('user', domain, 'r'));
  });

  it.each(['[::1', '[]', '[1:2:3]', '[1:2:3:4:5:6:7:8:9]', '[:::1]', '[1::2::3]', '[g::1]', '[::1]x', '[1:2:3:4:5:6:7::8]', '[12345::]', '[::1.2.3.256]', '[1.2.3.4::]', '[fe80::1%eth0]'])(
    '%s is rejected',
    (input) => expectMalformed(input, 'domainpart is not a valid IPv6 address'),
  );

  it.each(['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.0400'])('%s is not a valid IPv4 address', (input) => {
    expectMalformed(input, 'domainpart is not a valid IPv4 address');
  });

  it('rejects an all-numeric top-level label (RFC 3696 §2)', () => {
    expectMalformed('a@example.123', 'domainpart top-level label is all-numeric');
    expect(parseAddress('a@123.example').domain).toBe('123.example');
  });
});

describe('parseAddress: errors name the part and the problem', () => {
  it.each<[string, string]>([
    // Empty parts.
    ['', 'domainpart is empty'],
    ['@example.com', 'localpart is empty'],
    ['a@', 'domainpart is empty'],
    ['a@/r', 'domainpart is empty'],
    ['example.com/', 'resourcepart is empty'],
    ['a@example.com/', 'resourcepart is empty'],
    ['.', 'domainpart is empty'],
    // RFC 7622 §3.3.1 exclusions (the two others, '/' and '@', cannot reach the localpart).
    ['a"b@example.com', `localpart contains forbidden character '"'`],
    ['a&b@example.com', 'localpart contains forbidden character "&"'],
    ["a'b@example.com", `localpart contains forbidden character "'"`],
    ['a:b@example.com', 'localpart contains forbidden character ":"'],
    ['a<b@example.com', 'localpart contains forbidden character "<"'],
    ['a>b@example.com', 'localpart contains forbidden character ">"'],
    ['a<é@example.com', 'localpart contains forbidden character "<"'],
    // IdentifierClass: no spaces, controls, format, private-use or unassigned code points, no compat chars.
    ['a b@example.com', 'localpart contains forbidden character U+0020'],
    ['a\u00A0b@example.com', 'localpart contains forbidden character U+00A0'],
    ['a\u0007@example.com', 'localpart contains forbidden character U+0007'],
    ['a\u007F@example.com', 'localpart contains forbidden character U+007F'],
    ['a\u200Bb@example.com', 'localpart contains forbidden character U+200B'],
    ['a\u00ADb@example.com', 'localpart contains forbidden character U+00AD'],
    ['a\uE000@example.com', 'localpart contains forbidden character U+E000'],
    ['a\u0378@example.com', 'localpart contains forbidden character U+0378'],
    ['a\u3000b@example.com', 'localpart contains forbidden character U+0020'],
    ['\uFB01x@example.com', 'localpart contains forbidden character "ﬁ"'],
    ['x\u00B2@example.com', 'localpart contains forbidden character "²"'],
    // Domainpart.
    ['a@exa_mple.com', 'domainpart contains forbidden character "_"'],
    ['a@exa mple.com', 'domainpart contains forbidden character U+0020'],
    ['a@b@example.com', 'domainpart contains forbidden character "@"'],
    ['a@exam\u00E9ple!.com', 'domainpart contains forbidden character "!"'],
    ['a@ex\u2603.com', 'domainpart contains forbidden character "☃"'],
    ['a@.example.com', 'domainpart label is empty'],
    ['a@example..com', 'domainpart label is empty'],
    ['a@-example.com', 'domainpart label starts with a hyphen'],
    ['a@example-.com', 'domainpart label ends with a hyphen'],
    ['a@\u0301x.com', 'domainpart label starts with a combining mark'],
    [`a@${'x'.repeat(64)}.com`, 'domainpart label longer than 63 characters'],
    [`a@${'é'.repeat(64)}.com`, 'domainpart label longer than 63 characters'],
    ['a@xn--ls8h.la', 'domainpart label "xn--ls8h" is not a valid A-label'],
    ['a@xn--a.com', 'domainpart label "xn--a" is not a valid A-label'],
    ['a@xn--99999999999.com', 'domainpart label "xn--99999999999" is not a valid A-label'],
    // Resourcepart: OpaqueString allows spaces and symbols but no controls or invisible format characters.
    ['a@example.com/x\u0000', 'resourcepart contains forbidden character U+0000'],
    ['a@example.com/x\ny', 'resourcepart contains forbidden character U+000A'],
    ['a@example.com/x\u2028y', 'resourcepart contains forbidden character U+2028'],
    ['a@example.com/x\u200Dy', 'resourcepart contains forbidden character U+200D'],
    ['a@example.com/x\u0378', 'resourcepart contains forbidden character U+0378'],
    ['a@example.com/\u2764\uFE0F', 'resourcepart contains forbidden character U+FE0F'],
    ['a\u3164@example.com', 'localpart contains forbidden character U+3164'],
  ])('%j → %s', (input, message) => expectMalformed(input, message));

  it('rejects a non-string at run time', () => {
    expect(() => parseAddress(42 as unknown as string)).toThrow('address is not a string');
  });
});

describe('length limits: 1..1023 bytes of UTF-8 after preparation', () => {
  const tooLong = (part: string): string => `${part} is longer than 1023 bytes`;

  it('localpart', () => {
    expect(parseAddress(`${'a'.repeat(1023)}@x.com`).local).toHaveLength(1023);
    expectMalformed(`${'a'.repeat(1024)}@x.com`, tooLong('localpart'));
    // 2-byte characters: 511 × 2 + 1 = 1023 bytes, 512 × 2 = 1024 bytes.
    expect(parseAddress(`${'é'.repeat(511)}a@x.com`).local).toBe('é'.repeat(511) + 'a');
    expectMalformed(`${'é'.repeat(512)}@x.com`, tooLong('localpart'));
    // Decomposed input is measured after NFC: 511 × (e + U+0301) composes to 1022 bytes.
    expect(utf8Length(parseAddress(`${'e\u0301'.repeat(511)}@x.com`).local ?? '')).toBe(1022);
    // 3-byte characters: 341 × 3 = 1023, 342 × 3 = 1026.
    expect(parseAddress(`${'中'.repeat(341)}@x.com`).local).toBe('中'.repeat(341));
    expectMalformed(`${'中'.repeat(342)}@x.com`, tooLong('localpart'));
    // 4-byte characters: 255 × 4 + 3 = 1023, 256 × 4 = 1024.
    expect(parseAddress(`${'𠀀'.repeat(255)}abc@x.com`).local).toBe('𠀀'.repeat(255) + 'abc');
    expectMalformed(`${'𠀀'.repeat(256)}@x.com`, tooLong('localpart'));
    // Fullwidth letters are 3 bytes raw but 1 byte once width-mapped; the limit applies after mapping.
    expect(parseAddress(`${'Ａ'.repeat(1023)}@x.com`).local).toBe('a'.repeat(1023));
    expectMalformed(`${'Ａ'.repeat(1024)}@x.com`, tooLong('localpart'));
    // Huge inputs are refused before any normalisation.
    expectMalformed(`${'é'.repeat(100_000)}@x.com`, tooLong('localpart'));
  });

  it('domainpart', () => {
    const label = 'd'.repeat(63);
    const d1023 = Array.from({ length: 16 }, () => label).join('.'); // 16 × 63 + 15 = 1023
    expect(d1023).toHaveLength(1023);
    expect(parseAddress(`a@${d1023}`).domain).toBe(d1023);
    expect(parseAddress(`a@${d1023}.`).domain).toBe(d1023); // the stripped dot does not count
    const d1024 = d1023.slice(0, -1) + '.d'; // last label 62 chars, then ".d"
    expect(d1024).toHaveLength(1024);
    expectMalformed(`a@${d1024}`, tooLong('domainpart'));
    const u = 'é'.repeat(63); // 126 bytes per label
    const u1023 = [u, u, u, u, u, u, u, u, 'x'.repeat(7)].join('.'); // 8 × 126 + 7 + 8 = 1023
    expect(utf8Length(u1023)).toBe(1023);
    expect(parseAddress(`a@${u1023}`).domain).toBe(u1023);
    expectMalformed(`a@${u1023}x`, tooLong('domainpart'));
  });

  it('resourcepart', () => {
    expect(parseAddress(`a@x.com/${'r'.repeat(1023)}`).resource).toHaveLength(1023);
    expectMalformed(`a@x.com/${'r'.repeat(1024)}`, tooLong('resourcepart'));
    expect(parseAddress(`a@x.com/${'ü'.repeat(511)}r`).resource).toBe('ü'.repeat(511) + 'r');
    expectMalformed(`a@x.com/${'ü'.repeat(512)}`, tooLong('resourcepart'));
  });

  it('utf8Length counts code units as UTF-8 bytes', () => {
    expect(utf8Length('')).toBe(0);
    expect(utf8Length('a')).toBe(1);
    expect(utf8Length('é')).toBe(2);
    expect(utf8Length('中')).toBe(3);
    expect(utf8Length('😀')).toBe(4);
    expect(utf8Length('\uD800')).toBe(3);
  });
});

describe('helpers', () => {
  it('formatAddress', () => {
    expect(formatAddress(addr('a', 'b.c', 'r'))).toBe('a@b.c/r');
    expect(formatAddress(addr(null, 'b.c', 'r'))).toBe('b.c/r');
    expect(formatAddress(addr('a', 'b.c'))).toBe('a@b.c');
    expect(formatAddress(addr(null, 'b.c'))).toBe('b.c');
  });

  it('bareOf drops the resource and accepts strings or addresses', () => {
    expect(bareOf('Juliet@Example.com/Balcony')).toBe('juliet@example.com');
    expect(bareOf(addr('a', 'b.c', 'r'))).toBe('a@b.c');
    expect(bareOf('example.com/r')).toBe('example.com');
    expect(() => bareOf('a b@c')).toThrow(ParleyError);
  });

  it('parseBare normalises and refuses a resource', () => {
    expect(parseBare('Juliet@Example.COM.')).toBe('juliet@example.com');
    expect(parseBare('example.com')).toBe('example.com');
    expect(() => parseBare('juliet@example.com/balcony')).toThrow('bare address must not have a resourcepart');
  });

  it('parseUserAddress requires a localpart', () => {
    expect(parseUserAddress('Juliet@example.com/r')).toEqual(addr('juliet', 'example.com', 'r'));
    expect(() => parseUserAddress('example.com')).toThrow('localpart is missing (a user address is local@domain)');
    try {
      parseUserAddress('example.com/r');
    } catch (e) {
      expect((e as ParleyError).code).toBe('jid-malformed');
    }
  });

  it('domainOf and localOf', () => {
    expect(domainOf('juliet@example.com')).toBe('example.com');
    expect(domainOf('example.com')).toBe('example.com');
    expect(localOf('Juliet@example.com')).toBe('juliet');
    expect(localOf('example.com')).toBeNull();
  });

  it('memoises results as frozen, shared objects', () => {
    const a = parseAddress('memo@example.com/r');
    expect(parseAddress('memo@example.com/r')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    // Errors are not memoised and are thrown every time.
    expect(() => parseAddress('memo@@example.com')).toThrow(ParleyError);
    expect(() => parseAddress('memo@@example.com')).toThrow(ParleyError);
  });

  it('stays correct when the memo overflows', () => {
    for (let i = 0; i < 10_050; i++) expect(parseAddress(`u${i}@example.com`).local).toBe(`u${i}`);
    expect(parseAddress('U0@EXAMPLE.com')).toEqual(addr('u0', 'example.com'));
  });
});

describe('properties', () => {
  const pick = (chars: string): fc.Arbitrary<string> => fc.constantFrom(...Array.from(chars));
  const localChar = fc.oneof(
    pick('abcxyzABCXYZ0189.-_+!~'),
    pick('éÉßøΩωжЖ中文ガ𠀀'),
    pick('ＡｂＣ１'), // fullwidth: width-mapped
    pick('\u0301\u0308'), // combining marks: NFC may compose them
  );
  const localpart = fc.string({ unit: localChar, minLength: 1, maxLength: 20 }).filter((s) => !/^[\u0301\u0308]/.test(s));
  const ldhLabel = fc
    .string({ unit: pick('abcxyzABCXYZ0189-'), minLength: 1, maxLength: 20 })
    .filter((s) => !s.startsWith('-') && !s.endsWith('-') && !/^xn--/i.test(s));
  const uLabel = fc.string({ unit: pick('abcüéжЖ中文ÄΩ'), minLength: 1, maxLength: 10 });
  const domainpart = fc
    .tuple(fc.array(fc.oneof(ldhLabel, uLabel), { minLength: 0, maxLength: 3 }), fc.oneof(pick('abcdefgh'), uLabel), fc.boolean())
    .map(([labels, tld, dot]) => [...labels, tld].join('.') + (dot ? '.' : ''));
  const resourcepart = fc.string({
    unit: fc.oneof(pick('abcXYZ019 @/.-_:<>&"\''), pick('éÉ中😀\u00A0\u3000ＡＢ\u0301')),
    minLength: 1,
    maxLength: 20,
  });
  const validAddress = fc
    .tuple(fc.option(localpart), domainpart, fc.option(resourcepart))
    .map(([l, d, r]) => (l === null ? '' : l + '@') + d + (r === null ? '' : '/' + r));

  it('generated valid addresses parse, and format∘parse is idempotent', () => {
    fc.assert(
      fc.property(validAddress, (input) => {
        const a = parseAddress(input);
        const formatted = formatAddress(a);
        expect(parseAddress(formatted)).toEqual(a);
        expect(formatAddress(parseAddress(formatted))).toBe(formatted);
      }),
      { numRuns: 2000 },
    );
  });

  it('any string either parses idempotently or fails with jid-malformed', () => {
    const anyChar = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: pick('aZ09@/.-[]:\u0301\u0338<>ＡΣß \u00A0\u200B\u3002'), maxLength: 30 }),
    );
    fc.assert(
      fc.property(anyChar, (input) => {
        let a: Address;
        try {
          a = parseAddress(input);
        } catch (e) {
          expect(e).toBeInstanceOf(ParleyError);
          expect((e as ParleyError).code).toBe('jid-malformed');
          return;
        }
        expect(parseAddress(formatAddress(a))).toEqual(a);
      }),
      { numRuns: 5000 },
    );
  });

  it('localpart and domainpart compare case-insensitively; resourcepart does not', () => {
    fc.assert(
      fc.property(validAddress, (input) => {
        const a = parseAddress(input);
        const b = parseAddress(input.toUpperCase());
        expect(b.local).toBe(a.local === null ? null : a.local.toUpperCase().toLowerCase().normalize('NFC'));
        expect(b.domain).toBe(a.domain);
      }),
      { numRuns: 500 },
    );
  });

  it('bareOf(x) equals parseBare(bareOf(x))', () => {
    fc.assert(
      fc.property(validAddress, (input) => {
        const bare = bareOf(input);
        expect(parseBare(bare)).toBe(bare);
      }),
      { numRuns: 500 },
    );
  });
});
