/**
 * The little XML the engine reads and writes for routed stanzas (RoutedStanza.xml, domain-routes.ts): the child
 * elements of a stanza as text whose default namespace is jabber:client (RFC 6120 §4.8.3). Route owners produce
 * that text with the XMPP layer's serializer (well-formed, `<`, `>` and `&` escaped in text and attribute values),
 * so reading it needs no parser: the top-level children are found by counting tags. Pure, no I/O.
 */

/** One top-level child element: its name, its xmlns attribute (null: jabber:client's), inner text and raw text. */
export interface XmlChild {
  name: string;
  xmlns: string | null;
  /** Its character data with entities decoded, when it has no child elements; else ''. */
  text: string;
  /** The element exactly as it was in the input. */
  raw: string;
  /** Its attributes (values decoded). */
  attrs: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references (XML 1.0 §4.6, §4.1). */
export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

/** Escapes character data (`&`, `<`, `>`). */
export function escapeXmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value written in double quotes. */
export function escapeXmlAttr(s: string): string {
  return escapeXmlText(s).replace(/"/g, '&quot;');
}

/** The end of the tag that starts at `i` (the index of its `>`), skipping quoted attribute values; -1: none. */
function tagEnd(xml: string, i: number): number {
  let quote: string | null = null;
  for (let j = i + 1; j < xml.length; j++) {
    const c = xml[j]!;
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return j;
  }
  return -1;
}

/** The name and attributes of a start tag's text (`<name a="v" ...` without the closing `>`). */
function startTag(tag: string): { name: string; attrs: Record<string, string> } {
  const m = /^<([^\s/>]+)/.exec(tag);
  const name = m?.[1] ?? '';
  const attrs: Record<string, string> = {};
  const re = /([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let a: RegExpExecArray | null;
  const rest = tag.slice(name.length + 1);
  while ((a = re.exec(rest)) !== null) attrs[a[1]!] = unescapeXml(a[2] ?? a[3] ?? '');
  return { name, attrs };
}

/**
 * The top-level child elements of `xml` (null or '' : none). Text between them is ignored (whitespace, by RFC
 * 6120 §11.7); comments and processing instructions never occur in stanzas (§11.1). Malformed input yields what
 * could be read before the fault.
 */
export function childrenOf(xml: string | null): XmlChild[] {
  const out: XmlChild[] = [];
  if (xml === null || xml === '') return out;
  let i = xml.indexOf('<');
  while (i !== -1 && i < xml.length) {
    const end = tagEnd(xml, i);
    if (end === -1 || xml[i + 1] === '/') break;
    const { name, attrs } = startTag(xml.slice(i, xml[end - 1] === '/' ? end - 1 : end));
    const xmlns = attrs.xmlns ?? null;
    if (xml[end - 1] === '/') {
      out.push({ name, xmlns, text: '', raw: xml.slice(i, end + 1), attrs });
      i = xml.indexOf('<', end + 1);
      continue;
    }
    // Count nested start and end tags until this element closes.
    let depth = 1;
    let j = end + 1;
    let nested = false;
    let close = -1;
    while (depth > 0) {
      const k = xml.indexOf('<', j);
      if (k === -1) break;
      const e = tagEnd(xml, k);
      if (e === -1) break;
      if (xml[k + 1] === '/') {
        depth--;
        if (depth === 0) close = k;
      } else {
        nested = true;
        if (xml[e - 1] !== '/') depth++;
      }
      j = e + 1;
    }
    if (close === -1) break;
    out.push({ name, xmlns, text: nested ? '' : unescapeXml(xml.slice(end + 1, close)), raw: xml.slice(i, j), attrs });
    i = xml.indexOf('<', j);
  }
  return out;
}
