/**
 * Who a room message mentions (pure): a member is mentioned when the body names their room nick as a word, with
 * or without a leading `@` (Parley's XEP-0045 nick is the account's localpart, so "bob", "@bob" and "Bob," all
 * name bob@example.com, while "bobby" does not), or when the message carries an XEP-0372 reference of type
 * `mention` to their address (§3: `uri` is an `xmpp:` URI, RFC 5122).
 */

/** Characters that end a word: anything but letters, digits and the localpart punctuation `.`, `_`, `-`. */
const SEPARATORS = /[^\p{L}\p{N}._-]+/u;
/** Punctuation a sentence puts at a word's ends ("bob." "bob-"), not part of the nick. */
const EDGES = /^[._-]+|[._-]+$/g;

/** The words of a body, lower-cased, with sentence punctuation at their ends removed. */
export function wordsOf(body: string): Set<string> {
  const out = new Set<string>();
  for (const raw of body.toLowerCase().split(SEPARATORS)) {
    if (raw === '') continue;
    out.add(raw);
    const trimmed = raw.replace(EDGES, '');
    if (trimmed !== '') out.add(trimmed);
  }
  return out;
}

/**
 * The addresses an XEP-0372 `mention` reference names in a message's extension elements (canonical XML as the
 * log keeps it). Only `xmpp:` URIs count; a query part (`?message`) is not part of the address.
 */
export function referencedAddresses(xml: string | null): Set<string> {
  const out = new Set<string>();
  if (xml === null || !xml.includes('urn:xmpp:reference:0')) return out;
  for (const tag of xml.match(/<reference\b[^>]*>/g) ?? []) {
    const attrs = new Map<string, string>();
    for (const m of tag.matchAll(/([\w:-]+)=(?:"([^"]*)"|'([^']*)')/g)) attrs.set(m[1]!, m[2] ?? m[3] ?? '');
    if (attrs.get('xmlns') !== 'urn:xmpp:reference:0' || attrs.get('type') !== 'mention') continue;
    const uri = decodeXml(attrs.get('uri') ?? '');
    if (!uri.startsWith('xmpp:')) continue;
    const address = uri.slice(5).split('?')[0]!.split('/')[0]!.toLowerCase();
    if (address !== '') out.add(safeDecode(address));
  }
  return out;
}

/** The five predefined entities of XML 1.0 §4.6 (the serializer writes no others). */
function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!);
}

/** RFC 5122 §2.8 percent-encoding, undone; a malformed escape leaves the text as it was. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The members a room message mentions, among `members` (bare addresses), never its sender: by nick in the body
 * or by an XEP-0372 reference.
 */
export function mentioned(body: string | null, xml: string | null, sender: string, members: readonly string[]): string[] {
  const refs = referencedAddresses(xml);
  if ((body === null || body === '') && refs.size === 0) return [];
  const words = body === null ? new Set<string>() : wordsOf(body);
  const out: string[] = [];
  for (const m of members) {
    if (m === sender) continue;
    const nick = m.slice(0, m.indexOf('@')).toLowerCase();
    if (refs.has(m) || (nick !== '' && words.has(nick))) out.push(m);
  }
  return out;
}
