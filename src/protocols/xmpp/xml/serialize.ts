/**
 * XML output for XMPP streams: stanzas (RFC 6120 §8), the stream header (§4.7) and the closing tag (§4.4).
 *
 * Escaping follows XML 1.0: `&` and `<` must be escaped wherever they appear; `>` is escaped too so that `]]>`
 * can never appear in text. Carriage returns in text and tabs, newlines and carriage returns in attribute
 * values are written as character references, because a receiving parser would otherwise normalise them
 * (XML 1.0 §2.11 end-of-line handling, §3.3.3 attribute-value normalisation) and the peer would not see the
 * text we meant. Characters XML 1.0 forbids outright (§2.2: most C0 controls, lone surrogates, U+FFFE/U+FFFF)
 * are replaced by U+FFFD: one of them would make the whole stream not-well-formed (RFC 6120 §4.9.3.13) and
 * cost the peer its connection, which is worse than one replaced character.
 */
import { Element } from './element.js';

/** The streams namespace (RFC 6120 §4.8.1). */
export const STREAMS_NS = 'http://etherx.jabber.org/streams';

/** XML 1.0 §2.2 Char, negated: C0 controls other than TAB/LF/CR, U+FFFE, U+FFFF and unpaired surrogates. */
const INVALID_CHARS = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const TEXT_SPECIAL = /[&<>\r]/;
const TEXT_SPECIAL_G = /[&<>\r]/g;
const ATTR_SPECIAL = /[&<>"\t\n\r]/;
const ATTR_SPECIAL_G = /[&<>"\t\n\r]/g;
/** Quick test for anything INVALID_CHARS could match, so the common case costs one scan. */
const MAYBE_INVALID = /[\0-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/;

const ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
};
const replaceEntity = (ch: string): string => ENTITY[ch] as string;

/** Replaces characters XML 1.0 cannot carry with U+FFFD (see the module comment for why not throw). */
function validChars(s: string): string {
  return MAYBE_INVALID.test(s) ? s.replace(INVALID_CHARS, '\uFFFD') : s;
}

/** Escapes character data: & < > and CR (so it survives end-of-line normalisation). */
export function escapeText(s: string): string {
  s = validChars(s);
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_SPECIAL_G, replaceEntity) : s;
}

/** Escapes an attribute value for double quotes: & < > " and TAB/LF/CR as character references. */
export function escapeAttr(s: string): string {
  s = validChars(s);
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL_G, replaceEntity) : s;
}

/**
 * Serialises an element and its descendants. `parentXmlns` is the namespace in scope where it will be written
 * (for a stanza: the stream's content namespace, RFC 6120 §4.8.2); an xmlns attribute is written only where
 * the element's namespace differs from it. Iterative, so a deep tree cannot overflow the stack.
 */
export function serialize(root: Element, parentXmlns: string | null = null): string {
  let out = '';
  // Explicit stack of [element, namespace in scope for its children, next child index].
  const elements: Element[] = [];
  const scopes: Array<string | null> = [];
  const next: number[] = [];

  const open = (node: Element, scope: string | null): void => {
    out += '<' + node.name;
    let inner = scope;
    if (node.xmlns !== null && node.xmlns !== scope) {
      out += ' xmlns="' + escapeAttr(node.xmlns) + '"';
      inner = node.xmlns;
    }
    const attrs = node.attrs;
    for (const key in attrs) {
      out += ' ' + key + '="' + escapeAttr(attrs[key] as string) + '"';
    }
    if (node.children.length === 0) {
      out += '/>';
      return;
    }
    out += '>';
    elements.push(node);
    scopes.push(inner);
    next.push(0);
  };

  open(root, parentXmlns);
  while (elements.length > 0) {
    const top = elements.length - 1;
    const node = elements[top] as Element;
    const i = next[top] as number;
    if (i === node.children.length) {
      out += '</' + node.name + '>';
      elements.pop();
      scopes.pop();
      next.pop();
      continue;
    }
    next[top] = i + 1;
    const child = node.children[i] as Element | string;
    if (typeof child === 'string') out += escapeText(child);
    else open(child, scopes[top] as string | null);
  }
  return out;
}

/** The attributes of a stream header (RFC 6120 §4.7); absent ones are omitted. */
export interface StreamHeaderOptions {
  /** §4.7.1: the sender's address (omitted by a server before it knows who the client is). */
  from?: string;
  /** §4.7.2: the peer's address. */
  to?: string;
  /** §4.7.3: the stream id; only the receiving entity (the server) sets it. */
  id?: string;
  /** §4.7.5: '1.0' for RFC 6120 streams. */
  version?: string;
  /** §4.7.4: default language of the stream's human-readable text, written as xml:lang. */
  lang?: string;
  /** §4.8.2: the content namespace, written as the default namespace. */
  xmlns: 'jabber:client' | 'jabber:server';
}

/**
 * The XML declaration and the opening stream tag (RFC 6120 §4.7, §4.8). The element is left open: the stream
 * is one long XML document whose stanzas follow over time (§4.2).
 */
export function streamHeader(opts: StreamHeaderOptions): string {
  let out = "<?xml version='1.0'?><stream:stream";
  if (opts.from !== undefined) out += ' from="' + escapeAttr(opts.from) + '"';
  if (opts.to !== undefined) out += ' to="' + escapeAttr(opts.to) + '"';
  if (opts.id !== undefined) out += ' id="' + escapeAttr(opts.id) + '"';
  if (opts.version !== undefined) out += ' version="' + escapeAttr(opts.version) + '"';
  if (opts.lang !== undefined) out += ' xml:lang="' + escapeAttr(opts.lang) + '"';
  out += ' xmlns="' + escapeAttr(opts.xmlns) + '" xmlns:stream="' + STREAMS_NS + '">';
  return out;
}

/** The closing stream tag (RFC 6120 §4.4). */
export function streamFooter(): string {
  return '</stream:stream>';
}
