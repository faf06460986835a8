/**
 * The message extension elements the client reads and writes (the JSON message's `xml`, docs/protocol.md): XEP-0461
 * replies with their XEP-0428 fallback, and shared files (XEP-0066 out-of-band link, XEP-0446 file metadata). Read
 * with DOMParser as XML, never as HTML: nothing in a message reaches the page as markup.
 */

const NS_REPLY = 'urn:xmpp:reply:0';
const NS_FALLBACK = 'urn:xmpp:fallback:0';
const NS_OOB = 'jabber:x:oob';
const NS_FILE = 'urn:xmpp:file:metadata:0';

/** What a message's extension elements say, as far as the client shows it. */
export interface Extensions {
  /** XEP-0461 §3: the message this one answers (`id` as the replier knew it) and its author. */
  reply: { id: string; to: string | null } | null;
  /** XEP-0428 §3: the part of the body (in code points) that is only there for clients without replies. */
  fallback: { start: number; end: number } | null;
  /** A shared file: its address (XEP-0066) and what XEP-0446 says of it. */
  file: SharedFile | null;
}

/** A file shared in a message. */
export interface SharedFile {
  url: string;
  name: string | null;
  size: number | null;
  type: string | null;
  width: number | null;
  height: number | null;
}

const NONE: Extensions = { reply: null, fallback: null, file: null };
const cache = new Map<string, Extensions>();

function num(el: Element | undefined | null): number | null {
  const n = Number(el?.textContent ?? NaN);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Parses a message's extension elements (memoised: rows are drawn again as the list scrolls). */
export function parseExtensions(xml: string | null): Extensions {
  if (xml === null || xml === '') return NONE;
  const hit = cache.get(xml);
  if (hit) return hit;
  // The server keeps top-level elements side by side; a wrapper makes them one document.
  const doc = new DOMParser().parseFromString(`<x-wrap>${xml}</x-wrap>`, 'application/xml');
  const out: Extensions = { reply: null, fallback: null, file: null };
  if (doc.getElementsByTagName('parsererror').length === 0) {
    const reply = doc.getElementsByTagNameNS(NS_REPLY, 'reply')[0];
    const id = reply?.getAttribute('id');
    if (reply && id) out.reply = { id, to: reply.getAttribute('to') };
    for (const fb of Array.from(doc.getElementsByTagNameNS(NS_FALLBACK, 'fallback'))) {
      if (fb.getAttribute('for') !== NS_REPLY) continue;
      const body = fb.getElementsByTagNameNS(NS_FALLBACK, 'body')[0];
      const start = Number(body?.getAttribute('start') ?? 0);
      const end = Number(body?.getAttribute('end') ?? NaN);
      if (Number.isInteger(start) && Number.isInteger(end) && end > start) out.fallback = { start, end };
    }
    const url = doc.getElementsByTagNameNS(NS_OOB, 'url')[0]?.textContent?.trim();
    if (url) {
      const meta = doc.getElementsByTagNameNS(NS_FILE, 'file')[0];
      const text = (n: string): string | null => meta?.getElementsByTagNameNS(NS_FILE, n)[0]?.textContent ?? null;
      out.file = {
        url,
        name: text('name'),
        size: num(meta?.getElementsByTagNameNS(NS_FILE, 'size')[0]),
        type: text('media-type'),
        width: num(meta?.getElementsByTagNameNS(NS_FILE, 'width')[0]),
        height: num(meta?.getElementsByTagNameNS(NS_FILE, 'height')[0]),
      };
    }
  }
  if (cache.size > 5000) cache.clear();
  cache.set(xml, out);
  return out;
}

/** A body split into the quoted fallback (XEP-0428) and the reply's own text. */
export function splitFallback(body: string, ext: Extensions): { quote: string | null; text: string } {
  if (ext.reply === null || ext.fallback === null) return { quote: null, text: body };
  const cps = Array.from(body); // XEP-0428 §4: positions count code points
  const quoted = cps.slice(ext.fallback.start, ext.fallback.end).join('');
  const text = cps.slice(0, ext.fallback.start).join('') + cps.slice(ext.fallback.end).join('');
  const quote = quoted.split('\n').map((l) => l.replace(/^> ?/, '')).join('\n').trim();
  return { quote: quote === '' ? null : quote, text };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A reply's body and extension elements: the body starts with the original quoted ("> " lines, for clients without
 * XEP-0461), and the fallback element marks that quote so that clients with replies leave it out (XEP-0461 §3,
 * XEP-0428 §3).
 */
export function replyMessage(text: string, original: { id: string; author: string; body: string }): { body: string; xml: string } {
  const quoted = original.body.length > 300 ? `${original.body.slice(0, 300)}…` : original.body;
  const quote = `${quoted
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n')}\n`;
  const end = Array.from(quote).length;
  const xml =
    `<reply xmlns="${NS_REPLY}" to="${esc(original.author)}" id="${esc(original.id)}"/>` +
    `<fallback xmlns="${NS_FALLBACK}" for="${NS_REPLY}"><body start="0" end="${end}"/></fallback>`;
  return { body: quote + text, xml };
}

/** A shared file's extension elements: the XEP-0066 link every client shows, with XEP-0446 metadata. */
export function fileXml(f: SharedFile): string {
  const meta = [
    f.type !== null ? `<media-type>${esc(f.type)}</media-type>` : '',
    f.name !== null ? `<name>${esc(f.name)}</name>` : '',
    f.size !== null ? `<size>${f.size}</size>` : '',
    f.width !== null ? `<width>${f.width}</width>` : '',
    f.height !== null ? `<height>${f.height}</height>` : '',
  ].join('');
  return `<x xmlns="${NS_OOB}"><url>${esc(f.url)}</url></x><file xmlns="${NS_FILE}">${meta}</file>`;
}

/** A size for people: 1.4 MB, 320 KB, 12 bytes. */
export function humanSize(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  if (n >= 1000) return `${Math.round(n / 1000)} KB`;
  return `${n} bytes`;
}
