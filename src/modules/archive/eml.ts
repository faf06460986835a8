/**
 * Conversation transcripts as Internet messages (RFC 5322), one per conversation per day, for reviewers who
 * read exports in a mail client. Days of one conversation are chained with In-Reply-To and References
 * (RFC 5322 §3.6.4) and share one Subject, so clients thread them; the body is UTF-8 plain text in
 * quoted-printable (RFC 2045 §6.7) and non-ASCII header text uses RFC 2047 encoded words.
 */
import { createHash } from 'node:crypto';

const CRLF = '\r\n';
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** RFC 5322 §3.3 date-time in UTC: `Thu, 04 Dec 2026 22:09:34 +0000`. */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Quoted-printable (RFC 2045 §6.7) of UTF-8 text whose lines end in CRLF: octets outside printable ASCII and
 * "=" are =XX (rule 1), spaces and tabs before a line break are encoded (rule 3), and encoded lines are cut
 * with soft line breaks so none exceeds 76 characters (rule 5), never inside an =XX triplet.
 */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split(/\r\n|\n/)) {
    const bytes = Buffer.from(line, 'utf8');
    let cur = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
      const piece = literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
      // 75 characters plus the "=" of a soft break.
      if (cur.length + piece.length > 75) {
        out.push(`${cur}=`);
        cur = '';
      }
      cur += piece;
    }
    out.push(cur);
  }
  return out.join(CRLF);
}

/**
 * Header text as RFC 2047 encoded words when it is not plain ASCII (§4.1, "B" encoding of UTF-8), each word
 * at most 75 characters (§2) and cut between characters, never inside one; folded onto continuation lines.
 */
export function encodeHeaderText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  // "=?utf-8?B?" + "?=" is 12 characters; 45 bytes of UTF-8 give 60 base64 characters.
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk.length > 0) words.push(chunk);
  return words.map((w) => `=?utf-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(`${CRLF} `);
}

/**
 * An addr-spec (RFC 5322 §3.4.1) for a bare address: the local part stays a dot-atom when it is one and
 * becomes a quoted-string otherwise (XMPP local parts allow characters that atoms do not).
 */
export function addrSpec(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return `"${address.replace(/["\\]/g, (c) => `\\${c}`)}"@invalid`;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const dotAtom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local);
  return `${dotAtom ? local : `"${local.replace(/["\\]/g, (c) => `\\${c}`)}"`}@${domain}`;
}

/** Folds a header field (RFC 5322 §2.2.3) at spaces so its lines stay within 78 characters where possible. */
function fold(name: string, value: string): string {
  const words = value.split(' ');
  const lines: string[] = [];
  let cur = `${name}:`;
  for (const w of words) {
    if (cur.length + 1 + w.length > 78 && cur.length > name.length + 1) {
      lines.push(cur);
      cur = ` ${w}`;
    } else {
      cur += ` ${w}`;
    }
  }
  lines.push(cur);
  return lines.join(CRLF);
}

/** One line of a transcript. */
export interface TranscriptItem {
  index: number;
  type: string;
  ts: number;
  from: string | null;
  /** The message id (for edits and retractions: the id of the one they change, `ref`). */
  id: string | null;
  ref: string | null;
  /** Null once retention expired it. */
  body: string | null;
  expired: boolean;
  /** What its extension elements say (links shared, reactions, encrypted payloads), one line each. */
  notes?: string[];
}

/** One conversation-day to render. */
export interface ConversationDay {
  conv: string;
  day: string;
  items: TranscriptItem[];
}

/** Readable name of a conversation key (`dm:<a> <b>`, `room:<room>`, core/types.ts conversationKey). */
function convSubject(conv: string): { subject: string; to: string[] } {
  if (conv.startsWith('room:')) return { subject: `Room ${conv.slice(5)}`, to: [conv.slice(5)] };
  if (conv.startsWith('dm:')) {
    const [a = '', b = ''] = conv.slice(3).split(' ');
    return { subject: `Chat between ${a} and ${b}`, to: [a, b] };
  }
  return { subject: `Conversation ${conv}`, to: [] };
}

/** The Message-ID of a conversation-day: stable, so a re-export threads with an earlier one. */
export function messageId(conv: string, day: string, host: string): string {
  const h = createHash('sha256').update(`${conv}\n${day}`).digest('hex').slice(0, 32);
  return `<${day}.${h}@${host}>`;
}

/** A Message-ID right-hand side for an origin (`example.com/archive` → `example.com`). */
export function idHost(origin: string): string {
  const host = origin.split('/')[0] ?? '';
  return /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(host) ? host : 'archive.invalid';
}

const hhmmss = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

/** The plain-text transcript of one conversation-day. */
function transcript(d: ConversationDay): string {
  const lines = [`Conversation: ${d.conv}`, `Day: ${d.day} (times in UTC)`, ''];
  for (const it of d.items) {
    const who = it.from ?? '(system)';
    const head = `[${hhmmss(it.ts)}] #${it.index} ${who}`;
    const body = it.expired ? '[content expired by retention]' : (it.body ?? '');
    // Continuation lines indented so a multi-line message stays visibly one item.
    const text = body.split(/\r\n|\n|\r/).join('\n    ');
    if (it.type === 'message') lines.push(`${head}: ${text}`);
    else if (it.type === 'edit') lines.push(`${head} edited message ${it.ref ?? '?'}: ${text}`);
    else if (it.type === 'retract') lines.push(`${head} retracted message ${it.ref ?? '?'}`);
    else lines.push(`${head} ${it.type}${it.ref !== null ? ` of ${it.ref}` : ''}${body ? `: ${text}` : ''}`);
    if (!it.expired) for (const n of it.notes ?? []) lines.push(`    [${n.replace(/[\r\n]+/g, ' ')}]`);
  }
  return `${lines.join(CRLF)}${CRLF}`;
}

/**
 * Renders the days of one conversation, one call per day in day order, as RFC 5322 messages with MIME headers
 * (RFC 2045): From is the day's first speaker, To the conversation's other parties (or the room), and each day
 * replies to the one before it, References keeping the first and the latest 20 ids (RFC 5322 §3.6.4 lets a
 * long chain be shortened; the first id anchors the thread). It keeps only the ids, so an export renders a
 * long conversation a day at a time.
 */
export class ConversationThread {
  private readonly ids: string[] = [];

  constructor(private readonly host: string) {}

  /** The message of day `d` (days given in order), replying to the one before. */
  render(d: ConversationDay): string {
    const { subject, to } = convSubject(d.conv);
    const first = d.items[0];
    const from = first?.from ?? to[0] ?? 'archive@invalid';
    const recipients = to.filter((a) => a !== from);
    const id = messageId(d.conv, d.day, this.host);
    const headers = [
      fold('From', addrSpec(from)),
      fold('To', (recipients.length > 0 ? recipients : [from]).map(addrSpec).join(', ')),
      `Date: ${rfc5322Date(first?.ts ?? Date.parse(`${d.day}T00:00:00Z`))}`,
      `Subject: ${encodeHeaderText(subject)}`,
      `Message-ID: ${id}`,
    ];
    const ids = this.ids;
    if (ids.length > 0) {
      headers.push(`In-Reply-To: ${ids[ids.length - 1]}`);
      const refs = ids.length > 21 ? [ids[0]!, ...ids.slice(-20)] : ids;
      headers.push(fold('References', refs.join(' ')));
    }
    headers.push(
      `X-Parley-Conversation: ${encodeHeaderText(d.conv)}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
    );
    // Only the first and the latest 20 are ever referred to.
    ids.push(id);
    if (ids.length > 22) ids.splice(1, 1);
    return `${headers.join(CRLF)}${CRLF}${CRLF}${quotedPrintable(transcript(d))}`;
  }
}

