import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Element, el, type Node } from './element.js';
import { serialize, streamFooter, streamHeader, STREAMS_NS } from './serialize.js';
import { AUTHENTICATED_LIMITS, StreamParser, type StreamErrorCondition, type StreamLimits } from './stream-parser.js';

type Event =
  | { type: 'start'; attrs: Record<string, string> }
  | { type: 'stanza'; el: Element }
  | { type: 'end' }
  | { type: 'error'; condition: StreamErrorCondition; text: string };

/** A parser that records what it reports. */
function recorder(limits: Partial<StreamLimits> = {}): { parser: StreamParser; events: Event[]; stanzas: () => Element[]; error: () => Event | undefined } {
  const events: Event[] = [];
  const parser = new StreamParser(
    {
      streamStart: (attrs) => events.push({ type: 'start', attrs: { ...attrs } }),
      stanza: (e) => events.push({ type: 'stanza', el: e }),
      streamEnd: () => events.push({ type: 'end' }),
      error: (condition, text) => events.push({ type: 'error', condition, text }),
    },
    limits,
  );
  return {
    parser,
    events,
    stanzas: () => events.flatMap((e) => (e.type === 'stanza' ? [e.el] : [])),
    error: () => events.find((e) => e.type === 'error'),
  };
}

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS_NS}' to='example.com' version='1.0' xml:lang='en'>`;

/** Feeds one stream (header + body) and returns the recorder. */
function parse(body: string, limits: Partial<StreamLimits> = {}): ReturnType<typeof recorder> {
  const r = recorder(limits);
  r.parser.write(HEADER + body);
  return r;
}

function expectError(r: ReturnType<typeof recorder>, condition: StreamErrorCondition, text?: RegExp): void {
  const errors = r.events.filter((e) => e.type === 'error');
  expect(errors).toHaveLength(1);
  const err = errors[0] as Extract<Event, { type: 'error' }>;
  expect(err.condition).toBe(condition);
  if (text) expect(err.text).toMatch(text);
}

/** A <message/> of exactly `bytes` bytes. */
function stanzaOfSize(bytes: number): string {
  const shell = '<message><body></body></message>';
  return `<message><body>${'x'.repeat(bytes - shell.length)}</body></message>`;
}

/** Merges adjacent text and drops empty strings: the shape the parser produces. */
function normalise(e: Element): Element {
  const children: Node[] = [];
  for (const c of e.children) {
    if (typeof c === 'string') {
      if (c === '') continue;
      const last = children.length - 1;
      if (last >= 0 && typeof children[last] === 'string') children[last] += c;
      else children.push(c);
    } else children.push(normalise(c));
  }
  return new Element(e.name, e.xmlns, { ...e.attrs }, children);
}

/** Plain-object view for comparisons (the parser's attribute records have no prototype). */
function plain(e: Element): unknown {
  return { name: e.name, xmlns: e.xmlns, attrs: { ...e.attrs }, children: e.children.map((c) => (typeof c === 'string' ? c : plain(c))) };
}

describe('StreamParser: streams and stanzas', () => {
  it('reports the stream open, each stanza and the close', () => {
    const r = parse(`<message to='juliet@example.com' type='chat'><body>hi &amp; &lt;bye&gt; &#x263A;</body></message>\n <presence/></stream:stream>`);
    expect(r.events.map((e) => e.type)).toEqual(['start', 'stanza', 'stanza', 'end']);
    expect(r.events[0]).toEqual({
      type: 'start',
      attrs: { xmlns: 'jabber:client', 'xmlns:stream': STREAMS_NS, to: 'example.com', version: '1.0', 'xml:lang': 'en' },
    });
    const [message, presence] = r.stanzas() as [Element, Element];
    expect(message.name).toBe('message');
    expect(message.xmlns).toBe('jabber:client');
    expect({ ...message.attrs }).toEqual({ to: 'juliet@example.com', type: 'chat' });
    expect(message.getChild('body')?.text()).toBe('hi & <bye> ☺');
    expect(presence.name).toBe('presence');
    expect(presence.children).toEqual([]);
  });

  it('resolves default namespaces and prefixes', () => {
    const r = parse(
      `<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>` +
        `<c:message xmlns:c='jabber:client' xmlns:x='urn:x'><x:thing x:attr='1'/><plain xmlns=''/></c:message>` +
        `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`,
    );
    expect(r.error()).toBeUndefined();
    const [iq, message, features] = r.stanzas() as [Element, Element, Element];
    expect(iq.xmlns).toBe('jabber:client');
    expect(iq.getChild('query', 'jabber:iq:roster')?.getChild('item')?.xmlns).toBe('jabber:iq:roster');
    expect(message.name).toBe('message');
    expect(message.xmlns).toBe('jabber:client');
    const thing = message.getChild('thing', 'urn:x') as Element;
    expect(thing.attr('x:attr')).toBe('1');
    expect(message.getChild('plain')?.xmlns).toBe('');
    expect(features.name).toBe('features');
    expect(features.xmlns).toBe(STREAMS_NS);
    expect(features.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')).toBeDefined();
  });

  it('merges text and CDATA into one text child', () => {
    const [body] = parse(`<body>a<![CDATA[<b>&amp;]]>c</body>`).stanzas() as [Element];
    expect(body.children).toEqual(['a<b>&amp;c']);
  });

  it('accepts whitespace keepalives between stanzas (RFC 6120 §4.6, §11.7), refuses other text there', () => {
    const r = parse(' \n <presence/>\t\r\n ');
    expect(r.stanzas()).toHaveLength(1);
    expect(r.error()).toBeUndefined();
    expectError(parse('hello<presence/>'), 'bad-format');
  });

  it('refuses a root that is not <stream:stream> in the streams namespace', () => {
    const r = recorder();
    r.parser.write(`<stream:stream xmlns:stream='urn:wrong'>`);
    expectError(r, 'invalid-namespace');
    const r2 = recorder();
    r2.parser.write(`<stream:streem xmlns:stream='${STREAMS_NS}'>`);
    expectError(r2, 'bad-format');
  });

  it('reports malformed XML as not-well-formed, once, and then refuses input', () => {
    const r = parse(`<message><body></message>`);
    expectError(r, 'not-well-formed');
    expect(r.parser.hasFailed).toBe(true);
    r.parser.write('<presence/>');
    expect(r.events.filter((e) => e.type !== 'start').map((e) => e.type)).toEqual(['error']);
    expectError(parse(`<a x='1' x='2'/>`), 'not-well-formed');
    // saxes reports a close tag before checking it matches: the stanza must not be delivered.
    const mismatched = parse(`<presence/><message><body>x</body></mess>`);
    expect(mismatched.events.map((e) => e.type)).toEqual(['start', 'stanza', 'error']);
    expect(mismatched.stanzas()[0]?.name).toBe('presence');
    expect(parse(`<message></message></stream:streem>`).events.map((e) => e.type)).toEqual(['start', 'stanza', 'error']);
    expectError(parse(`<a:b/>`), 'not-well-formed');
    expectError(parse(`<a>\u0001</a>`), 'not-well-formed');
  });

  it('refuses invalid UTF-8 and other encodings as unsupported-encoding (RFC 6120 §11.6)', () => {
    const r = recorder();
    r.parser.write(Buffer.from(HEADER));
    r.parser.write(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c]));
    expectError(r, 'unsupported-encoding');
    const r2 = recorder();
    r2.parser.write(`<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns:stream='${STREAMS_NS}'>`);
    expectError(r2, 'unsupported-encoding');
  });

  it('reset() starts a new stream (RFC 6120 §4.3.3) and, from a handler, drops the rest of the input', () => {
    // STARTTLS: everything after <starttls/> in the same read was sent in the clear and must not be parsed.
    const seen: string[] = [];
    const p = new StreamParser({
      streamStart: () => seen.push('start'),
      stanza: (e) => {
        seen.push(e.name);
        if (e.name === 'starttls') p.reset();
      },
      streamEnd: () => seen.push('end'),
      error: (c) => seen.push(c),
    });
    p.write(HEADER + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message><body>injected</body></message>`);
    expect(seen).toEqual(['start', 'starttls']);
    p.write(HEADER + '<presence/>');
    expect(seen).toEqual(['start', 'starttls', 'start', 'presence']);
    // A reset after an error gives a working parser again.
    const r = parse('<a></b>');
    expectError(r, 'not-well-formed');
    r.parser.reset();
    r.parser.write(HEADER + '<presence/>');
    expect(r.stanzas()).toHaveLength(1);
  });
});

describe('StreamParser: restricted XML (RFC 6120 §11.1)', () => {
  const BILLION_LAUGHS =
    `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
    `]><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS_NS}'><message><body>&lol9;</body></message>`;

  it('refuses billion laughs at the DOCTYPE, before any expansion', () => {
    const r = recorder();
    r.parser.write(BILLION_LAUGHS);
    expectError(r, 'restricted-xml', /DTD/);
    expect(r.events).toHaveLength(1);
  });

  it('refuses an external entity (SYSTEM) at the DOCTYPE', () => {
    const r = recorder();
    r.parser.write(
      `<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><stream:stream xmlns:stream='${STREAMS_NS}'>&xxe;`,
    );
    expectError(r, 'restricted-xml', /DTD/);
  });

  it('refuses a DOCTYPE split byte by byte, and one inside the stream', () => {
    const r = recorder();
    for (const b of Buffer.from(BILLION_LAUGHS)) r.parser.write(Buffer.from([b]));
    expectError(r, 'restricted-xml');
    expectError(parse('<!DOCTYPE x>'), 'restricted-xml');
  });

  it('refuses undefined entity references, in text and attributes', () => {
    expectError(parse('<message><body>&nbsp;</body></message>'), 'restricted-xml', /&nbsp;/);
    expectError(parse(`<message to='&foo;'/>`), 'restricted-xml');
    const r = parse(`<message to='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;'/>`);
    expect(r.error()).toBeUndefined();
    expect(r.stanzas()[0]?.attr('to')).toBe(`<>&"'AB`);
  });

  it('refuses comments and processing instructions, allowing only the XML declaration at the start', () => {
    expectError(parse('<!-- hi -->'), 'restricted-xml', /comment/);
    expectError(parse('<message><!-- hi --></message>'), 'restricted-xml', /comment/);
    expectError(parse(`<?php echo 1; ?>`), 'restricted-xml', /processing instruction/);
    const r = recorder();
    r.parser.write(`<!-- before --><stream:stream xmlns:stream='${STREAMS_NS}'>`);
    expectError(r, 'restricted-xml');
    const r2 = recorder();
    r2.parser.write(` <?xml version='1.0'?><stream:stream xmlns:stream='${STREAMS_NS}'>`);
    expectError(r2, 'restricted-xml');
    const r3 = recorder();
    r3.parser.write(`<stream:stream xmlns:stream='${STREAMS_NS}'><?xml version='1.0'?>`);
    expectError(r3, 'restricted-xml');
  });

  it('does not mistake the content of a CDATA section for markup', () => {
    const r = parse(`<body><![CDATA[<!-- <?pi?> <!DOCTYPE &foo; ]] ]>]]></body>`);
    expect(r.error()).toBeUndefined();
    expect(r.stanzas()[0]?.text()).toBe('<!-- <?pi?> <!DOCTYPE &foo; ]] ]>');
  });
});

describe('StreamParser: limits (RFC 6120 §13.12)', () => {

  it('refuses 100,000-deep nesting at maxDepth, without recursion', () => {
    const r = parse('<a>'.repeat(100_000), { maxStanzaBytes: 1_000_000 });
    expectError(r, 'policy-violation', /maxDepth \(32\)/);
    // The limit is exact: a stanza 32 deep passes, 33 deep does not.
    const nest = (n: number): string => '<a>'.repeat(n) + '</a>'.repeat(n);
    expect(parse(nest(32)).stanzas()).toHaveLength(1);
    expectError(parse(nest(33)), 'policy-violation', /maxDepth/);
    expect(parse(nest(5), { maxDepth: 5 }).error()).toBeUndefined();
    expectError(parse(nest(6), { maxDepth: 5 }), 'policy-violation', /maxDepth \(5\)/);
  });

  it('counts stanza bytes exactly, before and after setLimits', () => {
    expect(stanzaOfSize(10_000)).toHaveLength(10_000);
    expect(parse(stanzaOfSize(10_000)).stanzas()).toHaveLength(1);
    expectError(parse(stanzaOfSize(10_001)), 'policy-violation', /maxStanzaBytes \(10000 bytes\)/);
    // Multi-byte characters count as their UTF-8 bytes: 3,334 x 3 bytes > 10,000.
    expectError(parse(`<message><body>${'€'.repeat(3_334)}</body></message>`), 'policy-violation', /maxStanzaBytes/);

    const r = recorder();
    r.parser.write(HEADER + stanzaOfSize(9_000));
    r.parser.setLimits(AUTHENTICATED_LIMITS);
    expect(r.parser.getLimits().maxStanzaBytes).toBe(262_144);
    r.parser.write(stanzaOfSize(262_144));
    expect(r.stanzas()).toHaveLength(2);
    r.parser.write(stanzaOfSize(262_145));
    expectError(r, 'policy-violation', /maxStanzaBytes \(262144 bytes\)/);
  });

  it('refuses a 100 MB stanza as soon as the limit is passed, fed in socket-sized chunks', () => {
    const r = recorder();
    r.parser.write(HEADER + '<message><body>');
    const chunk = Buffer.alloc(65_536, 'x');
    let written = 0;
    while (!r.parser.hasFailed && written < 100 * 1024 * 1024) {
      r.parser.write(chunk);
      written += chunk.length;
    }
    expectError(r, 'policy-violation', /maxStanzaBytes/);
    expect(written).toBe(65_536);
  });

  it('refuses one 100 MB write without decoding all of it', () => {
    const r = recorder({ maxStanzaBytes: 262_144 });
    const big = Buffer.alloc(100 * 1024 * 1024, 'x');
    big.write(HEADER + '<message><body>');
    r.parser.write(big);
    expectError(r, 'policy-violation', /maxStanzaBytes \(262144 bytes\)/);
  });

  it('bounds the stream header and the whitespace between stanzas', () => {
    const r = recorder();
    r.parser.write(`<stream:stream xmlns:stream='${STREAMS_NS}' to='${'x'.repeat(20_000)}'>`);
    expectError(r, 'policy-violation', /stream header/);
    expectError(parse(' '.repeat(20_000)), 'policy-violation', /between stanzas/);
  });

  it('refuses too many attributes', () => {
    const attrs = (n: number): string => Array.from({ length: n }, (_, i) => ` a${i}='1'`).join('');
    expect(parse(`<message${attrs(64)}/>`).stanzas()).toHaveLength(1);
    expectError(parse(`<message${attrs(65)}/>`), 'policy-violation', /maxAttributes \(64\)/);
    expectError(parse(`<message><x${attrs(3)}/></message>`, { maxAttributes: 2 }), 'policy-violation', /maxAttributes \(2\)/);
  });

  it('refuses too many children', () => {
    const kids = (n: number): string => '<x/>'.repeat(n);
    expect(parse(`<message>${kids(1024)}</message>`).stanzas()[0]?.children).toHaveLength(1024);
    expectError(parse(`<message>${kids(1025)}</message>`), 'policy-violation', /maxChildren \(1024\)/);
    expectError(parse(`<message><a>${kids(3)}</a></message>`, { maxChildren: 2 }), 'policy-violation', /maxChildren \(2\)/);
  });

  it('refuses too much character data in one stanza', () => {
    expect(parse(`<message><body>${'y'.repeat(100)}</body></message>`, { maxTextBytes: 100 }).error()).toBeUndefined();
    expectError(parse(`<message><body>${'y'.repeat(60)}</body><b>${'y'.repeat(41)}</b></message>`, { maxTextBytes: 100 }), 'policy-violation', /maxTextBytes \(100 bytes\)/);
  });
});

describe('StreamParser: resting between stanzas', () => {
  const ROOT = `<s:stream xmlns='jabber:client' xmlns:s='${STREAMS_NS}' xmlns:x='urn:x' version='1.0'>`;

  it('rests only at a stanza boundary with nothing but whitespace after it', () => {
    const r = recorder();
    expect(r.parser.resting).toBe(false);
    r.parser.write(ROOT);
    expect(r.parser.resting).toBe(true); // the header alone is a boundary too
    r.parser.write(`<message><body>half`);
    expect(r.parser.resting).toBe(false);
    r.parser.write(`</body></message>  \n`);
    expect(r.parser.resting).toBe(true);
    r.parser.write(`<presence/><pres`);
    expect(r.parser.resting).toBe(false);
    r.parser.write(`ence/><`);
    expect(r.parser.resting).toBe(false);
    r.parser.write(`iq type='get' id='1'/>`);
    expect(r.parser.resting).toBe(true);
    // A byte chunk that ends inside a UTF-8 character keeps the decoder (and so the parser).
    const euro = Buffer.from('<message><body>€</body></message>€', 'utf8');
    r.parser.write(euro.subarray(0, euro.length - 1));
    expect(r.parser.resting).toBe(false);
    expect(r.stanzas()).toHaveLength(5);
    expect(r.error()).toBeUndefined();
  });

  it('replays the root into the new parser: prefixes resolve, no second stream start', () => {
    const r = recorder();
    r.parser.write(ROOT + `<message/>`);
    expect(r.parser.resting).toBe(true);
    r.parser.write(`<x:thing x:a='1'/><s:features/>`);
    r.parser.write(`<message xmlns:y='urn:y'><y:z/></message>`);
    expect(r.error()).toBeUndefined();
    expect(r.events.filter((e) => e.type === 'start')).toHaveLength(1);
    const [, thing, features, message] = r.stanzas() as [Element, Element, Element, Element];
    expect(thing.xmlns).toBe('urn:x');
    expect(thing.attr('x:a')).toBe('1');
    expect(features.xmlns).toBe(STREAMS_NS);
    expect(message.xmlns).toBe('jabber:client');
    expect(message.getChild('z', 'urn:y')).toBeDefined();
    r.parser.write(`</s:stream>`);
    expect(r.events.at(-1)).toEqual({ type: 'end' });
  });

  it('enforces every limit after waking exactly as before', () => {
    const r = recorder();
    r.parser.write(ROOT + stanzaOfSize(100));
    expect(r.parser.resting).toBe(true);
    r.parser.write(stanzaOfSize(10_000));
    expect(r.stanzas()).toHaveLength(2);
    r.parser.write(stanzaOfSize(10_001));
    expectError(r, 'policy-violation', /maxStanzaBytes \(10000 bytes\)/);

    const w = recorder();
    w.parser.write(ROOT + '<presence/>');
    w.parser.write(' '.repeat(20_000));
    expectError(w, 'policy-violation', /between stanzas/);
  });

  it('still refuses restricted XML after waking, the XML declaration included', () => {
    for (const bad of [`<?xml version='1.0'?>`, `<!DOCTYPE lol [<!ENTITY a 'b'>]>`, `<!-- hi -->`, `<message>&lol;</message>`]) {
      const r = recorder();
      r.parser.write(ROOT + '<presence/>');
      expect(r.parser.resting).toBe(true);
      r.parser.write(bad);
      expect(r.error()?.type).toBe('error');
      expect((r.error() as Extract<Event, { type: 'error' }>).condition).toBe('restricted-xml');
    }
  });

  it('starts afresh after reset(), with the new stream\'s root', () => {
    const r = recorder();
    r.parser.write(ROOT + '<presence/>');
    r.parser.reset();
    expect(r.parser.resting).toBe(false);
    r.parser.write(`<stream:stream xmlns='jabber:server' xmlns:stream='${STREAMS_NS}'><message/>`);
    r.parser.write('<iq/>');
    const [, message, iq] = r.stanzas() as [Element, Element, Element];
    expect(message.xmlns).toBe('jabber:server');
    expect(iq.xmlns).toBe('jabber:server');
    expect(r.events.filter((e) => e.type === 'start')).toHaveLength(2);
  });
});

describe('StreamParser: properties', () => {
  const STREAM =
    HEADER +
    `<message to='ロミオ@example.com' xml:lang='ja'><body>こんにちは 😀 &amp; &#x1F600; é</body><x xmlns='urn:x' a='\u00e9\ud83d\ude00'/></message>` +
    `\n<presence><status><![CDATA[ü <ok> ]]>ß</status></presence>` +
    `<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='ξ@example.com' name='Ωmega'/></query></iq>` +
    streamFooter();

  /** The events of a stream, as plain data. */
  const run = (chunks: Uint8Array[]): unknown[] => {
    const r = recorder();
    for (const c of chunks) r.parser.write(c);
    return r.events.map((e) => (e.type === 'stanza' ? { type: 'stanza', el: plain(e.el) } : e));
  };

  it('gives identical results however the bytes are split, even inside UTF-8 characters', () => {
    const bytes = Buffer.from(STREAM);
    const whole = run([bytes]);
    expect(whole.map((e) => (e as { type: string }).type)).toEqual(['start', 'stanza', 'stanza', 'stanza', 'end']);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        expect(run(chunks)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
    // Every single split point, and byte at a time.
    for (let i = 1; i < bytes.length; i++) expect(run([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
    expect(run([...bytes].map((b) => Uint8Array.of(b)))).toEqual(whole);
  });

  // XML 1.0 characters, weighted towards the ones that need escaping or normalisation.
  const xmlChar = fc.oneof(
    fc.constantFrom('&', '<', '>', '"', "'", '\t', '\n', '\r', ']', ' ', ';', '#', 'é', '€', '😀', '\uFFFD', '\u0085', '\u2028'),
    fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  );
  const xmlString = fc.array(xmlChar, { maxLength: 12 }).map((a) => a.join(''));
  const name = fc.constantFrom('a', 'body', 'x-y', 'n.1', 'thread', 'é', '_z');
  const ns = fc.constantFrom('jabber:client', 'urn:x', 'urn:y:z', '');
  const attrs = fc.dictionary(fc.constantFrom('to', 'from', 'id', 'type', 'v', 'xml:lang'), xmlString, { maxKeys: 4 });
  const { tree } = fc.letrec<{ tree: Element }>((tie) => ({
    tree: fc
      .tuple(name, ns, attrs, fc.array(fc.oneof({ weight: 2, arbitrary: xmlString }, { weight: 1, arbitrary: tie('tree') }), { maxLength: 4 }))
      .map(([n, x, a, c]) => new Element(n, x, a, c as Node[])),
  }));

  it('round-trips: parse(serialize(el)) equals el', () => {
    fc.assert(
      fc.property(tree, (element) => {
        const r = recorder({ maxStanzaBytes: 1_000_000 });
        r.parser.write(streamHeader({ xmlns: 'jabber:client', to: 'example.com' }) + serialize(element, 'jabber:client'));
        expect(r.error()).toBeUndefined();
        const got = r.stanzas();
        expect(got).toHaveLength(1);
        expect(plain(got[0] as Element)).toEqual(plain(normalise(element)));
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips built elements, which inherit their namespace', () => {
    const built = el('message', { to: 'a@b\t"c"' }, el('body', {}, 'x\r\ny'));
    const r = recorder();
    r.parser.write(HEADER + serialize(built, 'jabber:client'));
    const [got] = r.stanzas() as [Element];
    expect(plain(got)).toEqual(plain(new Element('message', 'jabber:client', { to: 'a@b\t"c"' }, [new Element('body', 'jabber:client', {}, ['x\r\ny'])])));
  });
});
