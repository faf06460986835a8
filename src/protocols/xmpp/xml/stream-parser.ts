/**
 * The incoming side of an XMPP stream (RFC 6120 §4): one XML document that arrives over time, whose root is
 * <stream:stream> and whose depth-1 children are stanzas and stream-level elements (§4.1). Tokenising and
 * namespace resolution are saxes' job; this file adds what XMPP needs on top:
 *
 * - §11.1 restricted XML: comments, processing instructions (other than the XML declaration at the very
 *   start), DTDs and entity references other than the five predefined ones are refused with restricted-xml.
 *   A small guard scanner sees every character before saxes does, so a DOCTYPE is refused at `<!D`, before
 *   any declaration in it is even read, let alone expanded (billion laughs, external entities).
 * - §11.6 UTF-8 only: invalid UTF-8 and any other declared encoding are unsupported-encoding.
 * - §13.12 (resource exhaustion): limits on stanza size, nesting depth, children, attributes and character
 *   data, checked while the bytes arrive. Input is fed to saxes in slices of at most SLICE units, so a
 *   100 MB stanza costs at most one slice past the limit, and a 100,000-deep nesting stops at maxDepth
 *   (nothing here recurses, so depth costs no stack).
 * - §4.3.3 stream restarts after STARTTLS and SASL: reset(). Called from inside a handler it also discards
 *   the rest of the input being written, so bytes that came in before a TLS upgrade can never be read as
 *   part of the new stream (§5.4, the STARTTLS command-injection class of attack).
 *
 * The first error is reported once through `error(condition, text)`; the parser then refuses all input
 * until reset(). The caller sends the stream error and closes the connection (§4.9.1.1).
 *
 * Resting: most connections of an IM server are idle most of the time, and a saxes parser with its decoder
 * and guard is the largest part of an idle connection's heap (saxes keeps its fields in dictionary mode).
 * When a write ends between two stanzas, with nothing but whitespace after the last one, the parser drops all
 * three; the next write makes new ones and replays the stream's root element (its name and namespace
 * declarations, nothing else) into them first, so stanzas resolve prefixes exactly as before. Measured with
 * `npm run bench:xmpp-idle`: 13.1 → 6.2 KiB per idle XMPP connection.
 */
import { Buffer } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesAttributeNS, type SaxesStartTagNS, type SaxesTagNS, type XMLDecl } from 'saxes';
import { Element } from './element.js';
import { RestrictedXmlGuard } from './restricted-xml.js';
import { escapeAttr, STREAMS_NS } from './serialize.js';

/** The defined stream error conditions, RFC 6120 §4.9.3.1–§4.9.3.25. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** Resource limits (RFC 6120 §13.12). Exceeding any of them is policy-violation, naming the limit. */
export interface StreamLimits {
  /** Bytes (UTF-8, as received) of one depth-1 element with its descendants; also caps the stream header and the whitespace between two stanzas. */
  maxStanzaBytes: number;
  /** Element nesting within a stanza, the stanza itself being depth 1. */
  maxDepth: number;
  /** Child elements of any one element (text runs are bounded by the byte limits instead). */
  maxChildren: number;
  /** Attributes of any one element, namespace declarations included. */
  maxAttributes: number;
  /** Bytes of character data (after unescaping) within one stanza; effectively min(maxTextBytes, maxStanzaBytes). */
  maxTextBytes: number;
}

/** Limits for a stream that has not authenticated yet: small, since anyone can connect. */
export const PRE_AUTH_LIMITS: Readonly<StreamLimits> = Object.freeze({
  maxStanzaBytes: 10_000,
  maxDepth: 32,
  maxChildren: 1024,
  maxAttributes: 64,
  maxTextBytes: Number.POSITIVE_INFINITY,
});

/** Limits the caller switches to after authentication (setLimits), raising only the stanza size. */
export const AUTHENTICATED_LIMITS: Readonly<StreamLimits> = Object.freeze({ ...PRE_AUTH_LIMITS, maxStanzaBytes: 262_144 });

/** What the parser reports. Handlers may call reset() (stream restart) or setLimits(); write() is not reentrant. */
export interface StreamParserHandlers {
  /** The <stream:stream> open tag arrived (RFC 6120 §4.7); attributes by qualified name, xmlns declarations included. */
  streamStart(attrs: Record<string, string>): void;
  /** A complete depth-1 element (a stanza or a stream-level element such as <starttls/>), namespace-resolved. */
  stanza(el: Element): void;
  /** </stream:stream> arrived (RFC 6120 §4.4). */
  streamEnd(): void;
  /** The first (and only) error; the parser refuses input from now until reset(). */
  error(condition: StreamErrorCondition, text: string): void;
}

/** Characters (UTF-16 units) handed to saxes at once; also the most the parser reads past a limit. */
const SLICE = 16_384;

/** Thrown through saxes to stop it mid-chunk: after an error, or when a handler reset the parser. */
class Abort {}
const ABORT = new Abort();

type SaxOptions = { xmlns: true; position: true; forceXMLVersion: true; defaultXMLVersion: '1.0' };

/** Incremental parser for one direction of an XMPP stream. */
export class StreamParser {
  private limits: StreamLimits;
  private readonly handlers: StreamParserHandlers;

  /** The saxes parser, the §11.1 guard and the UTF-8 decoder; null while the parser rests (see above). */
  private live: { sax: SaxesParser<SaxOptions>; guard: RestrictedXmlGuard; decoder: TextDecoder } | null = null;
  /** The stream's root open tag as replayed on waking: its qualified name and namespace declarations. */
  private rootTag = '';
  /** True while the root is being replayed into a new parser (no streamStart then). */
  private waking = false;
  /** Bumped by reset(); a write that sees it change stops (the rest of its input belongs to the old stream). */
  private generation = 0;
  private writeGeneration = 0;
  private writing = false;
  private failed = false;
  private started = false;
  private ended = false;

  /** Open elements, the stream root included (root = 1, stanza = 2). */
  private depth = 0;
  /** Open elements of the stanza being built, outermost first, and their child-element counts. */
  private stack: Element[] = [];
  private childCounts: number[] = [];
  private attrCount = 0;
  private inStanza = false;
  private stanzaStartBytes = 0;
  private textBytes = 0;
  /** Byte offset where the last stanza (or the stream header) ended: whitespace after it is bounded too. */
  private lastBoundary = 0;
  /**
   * A stanza (or the stream end) whose close tag saxes has read, not yet reported: saxes calls the close-tag
   * handler before it checks that the close tag matches, so `<message></x>` must not deliver the message.
   * It is reported when saxes moves on (next event or end of chunk) and dropped if saxes fails first.
   */
  private pending: Element | 'end' | null = null;

  // Byte accounting. saxes reports positions in UTF-16 units over everything written to it; these map such a
  // position within the current slice to a byte offset, with a cursor that only moves forward, so each
  // character is measured once.
  private fedChars = 0;
  private fedBytes = 0;
  private chunk = '';
  private chunkStart = 0;
  private chunkStartBytes = 0;
  private cursorIdx = 0;
  private cursorBytes = 0;

  /** `limits` defaults to PRE_AUTH_LIMITS, field by field. */
  constructor(handlers: StreamParserHandlers, limits: Partial<StreamLimits> = {}) {
    this.handlers = handlers;
    this.limits = { ...PRE_AUTH_LIMITS, ...limits };
    this.init();
  }

  /** Changes limits from now on, e.g. to AUTHENTICATED_LIMITS once the stream is authenticated. */
  setLimits(limits: Partial<StreamLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  /** The limits in force. */
  getLimits(): Readonly<StreamLimits> {
    return this.limits;
  }

  /** True once an error was reported (until reset()). */
  get hasFailed(): boolean {
    return this.failed;
  }

  /**
   * Starts a fresh stream (RFC 6120 §4.3.3, after STARTTLS and SASL success); limits are kept. From inside a
   * handler, the rest of the input of the current write() is discarded.
   */
  reset(): void {
    this.generation++;
    this.init();
  }

  /** True while the parser rests between stanzas (it holds no saxes parser then). */
  get resting(): boolean {
    return this.live === null;
  }

  /** Feeds bytes (UTF-8) or text. Byte chunks may split characters anywhere. Ignored after an error. */
  write(input: Uint8Array | string): void {
    if (this.writing) throw new Error('StreamParser.write() is not reentrant');
    if (this.failed) return;
    this.writing = true;
    this.writeGeneration = this.generation;
    try {
      const live = this.live ?? this.wake();
      if (typeof input === 'string') {
        this.feed(input);
      } else {
        // Decode slice by slice so an oversized chunk is refused without decoding all of it.
        for (let off = 0; off < input.length; off += SLICE) {
          let text: string;
          try {
            text = live.decoder.decode(input.subarray(off, off + SLICE), { stream: true });
          } catch {
            this.fail('unsupported-encoding', 'invalid UTF-8 (RFC 6120 §11.6)');
          }
          this.feed(text);
        }
      }
      // A byte chunk that ends in ASCII leaves nothing half-decoded in the decoder.
      if (typeof input === 'string' || input.length === 0 || (input[input.length - 1] as number) < 0x80) this.restIfQuiet();
    } catch (err) {
      if (err !== ABORT) {
        // A handler threw: the parser is mid-element and cannot go on. Refuse input; the caller closes.
        this.failed = true;
        throw err;
      }
    } finally {
      this.writing = false;
    }
  }

  /** Drops saxes, guard and decoder when the stream sits between stanzas with only whitespace read since. */
  private restIfQuiet(): void {
    if (this.failed || !this.started || this.ended || this.depth !== 1 || this.inStanza || this.pending !== null) return;
    if (this.generation !== this.writeGeneration) return; // a handler restarted the stream
    const gap = this.fedBytes - this.lastBoundary;
    // Whitespace is ASCII, one byte per character; anything else (or a gap wider than this chunk) stays.
    if (gap > this.chunk.length || !WHITESPACE.test(this.chunk.slice(this.chunk.length - gap))) return;
    this.live = null;
    this.chunk = '';
  }

  /** New saxes, guard and decoder, with the stream's root replayed into them (see Resting above). */
  private wake(): NonNullable<StreamParser['live']> {
    const live = this.createLive();
    this.live = live;
    const root = this.rootTag;
    live.guard.scan(root); // past the start, where only the XML declaration may come
    this.depth = 0;
    this.chunk = root;
    this.chunkStart = 0;
    this.chunkStartBytes = 0;
    this.cursorIdx = 0;
    this.cursorBytes = 0;
    this.waking = true;
    try {
      live.sax.write(root);
    } finally {
      this.waking = false;
    }
    this.fedChars = root.length;
    this.fedBytes = this.bytesAt(root.length);
    this.lastBoundary = this.fedBytes;
    return live;
  }

  private createLive(): NonNullable<StreamParser['live']> {
    return { sax: this.createSax(), guard: new RestrictedXmlGuard(), decoder: new TextDecoder('utf-8', { fatal: true }) };
  }

  private get sax(): SaxesParser<SaxOptions> {
    return (this.live as NonNullable<StreamParser['live']>).sax;
  }

  private init(): void {
    this.live = this.createLive();
    this.rootTag = '';
    this.failed = false;
    this.started = false;
    this.ended = false;
    this.depth = 0;
    this.stack = [];
    this.childCounts = [];
    this.attrCount = 0;
    this.inStanza = false;
    this.stanzaStartBytes = 0;
    this.textBytes = 0;
    this.lastBoundary = 0;
    this.pending = null;
    this.fedChars = 0;
    this.fedBytes = 0;
    this.chunk = '';
    this.chunkStart = 0;
    this.chunkStartBytes = 0;
    this.cursorIdx = 0;
    this.cursorBytes = 0;
  }

  private feed(s: string): void {
    for (let off = 0; off < s.length; ) {
      const end = Math.min(s.length, off + SLICE);
      const piece = off === 0 && end === s.length ? s : s.slice(off, end);
      off = end;
      const guard = (this.live as NonNullable<StreamParser['live']>).guard;
      const bad = guard.scan(piece);
      const chunk = bad < 0 ? piece : piece.slice(0, bad);
      if (chunk.length > 0) {
        this.chunk = chunk;
        this.chunkStart = this.fedChars;
        this.chunkStartBytes = this.fedBytes;
        this.cursorIdx = 0;
        this.cursorBytes = 0;
        this.sax.write(chunk);
        this.flush();
        this.fedBytes = this.bytesAt(this.fedChars + chunk.length);
        this.fedChars += chunk.length;
      }
      if (bad >= 0) this.fail('restricted-xml', guard.reason);
      this.checkRunningLimits();
    }
  }

  /** Size checks on what has been fed so far, for elements still open: refuse before the whole thing arrives. */
  private checkRunningLimits(): void {
    const max = this.limits.maxStanzaBytes;
    if (!this.started) {
      if (this.fedBytes > max) this.fail('policy-violation', `stream header exceeds maxStanzaBytes (${max} bytes)`);
    } else if (this.inStanza) {
      if (this.fedBytes - this.stanzaStartBytes > max) this.fail('policy-violation', `stanza exceeds maxStanzaBytes (${max} bytes)`);
    } else if (!this.ended) {
      if (this.fedBytes - this.lastBoundary > max) {
        this.fail('policy-violation', `data between stanzas exceeds maxStanzaBytes (${max} bytes)`);
      }
    }
  }

  /** Byte offset of saxes position `pos` (UTF-16 units since the stream started); pos lies in the current chunk. */
  private bytesAt(pos: number): number {
    const s = this.chunk;
    let target = pos - this.chunkStart;
    if (target > s.length) target = s.length;
    let i = this.cursorIdx;
    let b = this.cursorBytes;
    if (target < i) {
      i = 0;
      b = 0;
    }
    while (i < target) {
      const c = s.charCodeAt(i++);
      // UTF-8 length: a surrogate pair is 4 bytes, 2 per half.
      b += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
    }
    this.cursorIdx = i;
    this.cursorBytes = b;
    return this.chunkStartBytes + b;
  }

  /** Reports the error once and stops the current write. */
  private fail(condition: StreamErrorCondition, text: string): never {
    this.pending = null;
    if (!this.failed) {
      this.failed = true;
      this.handlers.error(condition, text);
    }
    throw ABORT;
  }

  /** Reports the stanza or stream end that saxes has got past (see `pending`). */
  private flush(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    if (pending === 'end') this.handlers.streamEnd();
    else this.handlers.stanza(pending);
    this.checkGeneration();
  }

  /** After a handler ran: if it reset the parser, the rest of this write belongs to the old stream. */
  private checkGeneration(): void {
    if (this.generation !== this.writeGeneration) throw ABORT;
  }

  private createSax(): SaxesParser<SaxOptions> {
    const sax = new SaxesParser<SaxOptions>({ xmlns: true, position: true, forceXMLVersion: true, defaultXMLVersion: '1.0' });
    sax.on('error', (err: Error) => this.fail('not-well-formed', err.message));
    sax.on('xmldecl', (decl: XMLDecl) => this.onXmlDecl(decl));
    sax.on('opentagstart', (tag: SaxesStartTagNS) => this.onOpenTagStart(tag));
    sax.on('attribute', () => {
      this.flush();
      if (++this.attrCount > this.limits.maxAttributes) {
        this.fail('policy-violation', `element has more than maxAttributes (${this.limits.maxAttributes}) attributes`);
      }
    });
    sax.on('opentag', (tag: SaxesTagNS) => this.onOpenTag(tag));
    sax.on('closetag', () => this.onCloseTag());
    sax.on('text', (text: string) => this.onText(text));
    sax.on('cdata', (text: string) => this.onText(text));
    // The guard refuses these first; kept so that a gap in it still cannot let one through.
    sax.on('doctype', () => this.fail('restricted-xml', 'DTD (RFC 6120 §11.1)'));
    sax.on('comment', () => this.fail('restricted-xml', 'comment (RFC 6120 §11.1)'));
    sax.on('processinginstruction', () => this.fail('restricted-xml', 'processing instruction (RFC 6120 §11.1)'));
    return sax;
  }

  private onXmlDecl(decl: XMLDecl): void {
    this.flush();
    // RFC 6120 §11.6: UTF-8 is the only encoding.
    if (decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8') {
      this.fail('unsupported-encoding', `encoding ${decl.encoding} (only UTF-8, RFC 6120 §11.6)`);
    }
  }

  private onOpenTagStart(tag: SaxesStartTagNS): void {
    this.flush();
    const depth = ++this.depth;
    this.attrCount = 0;
    if (depth === 1) return;
    if (depth === 2) {
      // saxes has read '<', the name and one terminating character (space, '/' or '>'), all but the name 1 byte.
      this.stanzaStartBytes = this.bytesAt(this.sax.position) - Buffer.byteLength(tag.name) - 2;
      this.inStanza = true;
      this.textBytes = 0;
    } else {
      const top = this.childCounts.length - 1;
      const count = (this.childCounts[top] as number) + 1;
      this.childCounts[top] = count;
      if (count > this.limits.maxChildren) {
        this.fail('policy-violation', `element has more than maxChildren (${this.limits.maxChildren}) child elements`);
      }
    }
    if (depth - 1 > this.limits.maxDepth) {
      this.fail('policy-violation', `element nesting exceeds maxDepth (${this.limits.maxDepth})`);
    }
  }

  private onOpenTag(tag: SaxesTagNS): void {
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    const source = tag.attributes;
    if (this.depth === 1) {
      if (this.waking) return; // the replayed root of a resting parser (see Resting above)
      let root = `<${tag.name}`;
      for (const key in source) {
        const value = (source[key] as SaxesAttributeNS).value;
        attrs[key] = value;
        if (key === 'xmlns' || key.startsWith('xmlns:')) root += ` ${key}="${escapeAttr(value)}"`;
      }
      // RFC 6120 §4.8.1: the root must be <stream> in the streams namespace.
      if (tag.uri !== STREAMS_NS) this.fail('invalid-namespace', `stream namespace must be ${STREAMS_NS}`);
      if (tag.local !== 'stream') this.fail('bad-format', `root element must be <stream:stream>, not <${tag.name}>`);
      this.rootTag = `${root}>`;
      this.started = true;
      this.lastBoundary = this.bytesAt(this.sax.position);
      this.handlers.streamStart(attrs);
      this.checkGeneration();
      return;
    }
    for (const key in source) {
      if (key !== 'xmlns') attrs[key] = (source[key] as SaxesAttributeNS).value;
    }
    const node = new Element(tag.local, tag.uri, attrs, []);
    const stack = this.stack;
    if (stack.length > 0) (stack[stack.length - 1] as Element).children.push(node);
    stack.push(node);
    this.childCounts.push(0);
  }

  private onCloseTag(): void {
    this.flush();
    const depth = this.depth--;
    if (depth === 1) {
      this.ended = true;
      this.pending = 'end';
      return;
    }
    const node = this.stack.pop() as Element;
    this.childCounts.pop();
    if (depth !== 2) return;
    const end = this.bytesAt(this.sax.position);
    const max = this.limits.maxStanzaBytes;
    if (end - this.stanzaStartBytes > max) this.fail('policy-violation', `stanza exceeds maxStanzaBytes (${max} bytes)`);
    this.inStanza = false;
    this.lastBoundary = end;
    this.pending = node;
  }

  private onText(text: string): void {
    this.flush();
    if (this.depth < 2) {
      // Between stanzas only whitespace (keepalives, RFC 6120 §4.6, §11.7) belongs; outside the root saxes judges.
      if (this.depth === 1 && !WHITESPACE.test(text)) this.fail('bad-format', 'character data between stanzas');
      return;
    }
    if (text.length === 0) return;
    this.textBytes += Buffer.byteLength(text);
    const { maxTextBytes, maxStanzaBytes } = this.limits;
    // Text longer than the stanza limit means the stanza is too big: name that limit, the one the peer hit.
    if (this.textBytes > maxStanzaBytes) this.fail('policy-violation', `stanza exceeds maxStanzaBytes (${maxStanzaBytes} bytes)`);
    if (this.textBytes > maxTextBytes) this.fail('policy-violation', `character data exceeds maxTextBytes (${maxTextBytes} bytes)`);
    const children = (this.stack[this.stack.length - 1] as Element).children;
    const last = children.length - 1;
    // Merge adjacent runs (text, CDATA, text) into one string child.
    if (last >= 0 && typeof children[last] === 'string') children[last] += text;
    else children.push(text);
  }
}

const WHITESPACE = /^[ \t\r\n]*$/;
