/**
 * XMPP addresses (JIDs) per RFC 7622: `[localpart@]domainpart[/resourcepart]`.
 *
 * Every part is prepared and enforced here so the rest of Parley only ever compares normalised strings:
 * - localpart: PRECIS UsernameCaseMapped profile (RFC 7622 §3.3, RFC 8265 §3.3), plus the eight characters
 *   RFC 7622 §3.3.1 forbids;
 * - domainpart: lower case, NFC, one trailing dot stripped, LDH labels or IDNA U-labels (A-labels are
 *   decoded), or an IP literal (RFC 7622 §3.2);
 * - resourcepart: PRECIS OpaqueString profile (RFC 7622 §3.4, RFC 8265 §4.2).
 * The PRECIS string classes (RFC 8264) are approximated with Unicode property escapes: the exact derived
 * property tables would be large, and the approximation errs on the side of rejecting. Not enforced: the
 * bidi rule (RFC 5893) and the A-label length of U-labels (we count U-label code points instead).
 *
 * Pure: no I/O, no node:* imports. Called on every stanza, hence the ASCII fast paths and the memo.
 */
import { ParleyError } from './errors.js';

/** A parsed, prepared address. Objects returned by parseAddress are frozen (they are shared via a memo). */
export interface Address {
  local: string | null;
  domain: string;
  resource: string | null;
}

/** RFC 7622 §3.2, §3.3, §3.4: each part is 1..1023 octets of UTF-8 after preparation. */
const MAX_PART_BYTES = 1023;
/** RFC 1034 §3.1: a DNS label is at most 63 octets. */
const MAX_LABEL_CHARS = 63;
/**
 * Raw (unprepared) parts longer than this many UTF-16 units are rejected before any normalisation, so a
 * huge input costs O(n) and never reaches normalize(). Preparation shrinks a string by at most ~4:1 (NFC
 * composing a base plus three marks), so anything above 8 × 1023 units is certainly over 1023 bytes.
 */
const MAX_RAW_UNITS = 8 * MAX_PART_BYTES;

const MEMO_LIMIT = 10_000;
/** Only short inputs are memoised, so the memo's memory stays bounded (about MEMO_LIMIT × 1 KiB). */
const MEMO_MAX_INPUT = 512;
const memo = new Map<string, Address>();

// ---------------------------------------------------------------------------------------------------------
// Public API

/**
 * Parses and normalises an address (RFC 7622 §3.2 split, then §3.2–§3.4 preparation of each part).
 * Throws ParleyError('jid-malformed') naming the part and the problem. The result is frozen.
 */
export function parseAddress(input: string): Address {
  const hit = memo.get(input);
  if (hit !== undefined) return hit;
  if (typeof input !== 'string') throw malformed('address is not a string');

  // RFC 7622 §3.2: the resourcepart is everything after the first '/', the localpart everything before
  // the first '@' of what remains. So '@' and '/' may occur in a resourcepart but not elsewhere.
  const slash = input.indexOf('/');
  const headEnd = slash === -1 ? input.length : slash;
  const at = input.indexOf('@');
  const hasLocal = at !== -1 && at < headEnd;

  const local = hasLocal ? prepareLocal(input, 0, at) : null;
  const domain = prepareDomain(input.slice(hasLocal ? at + 1 : 0, headEnd));
  const resource = slash === -1 ? null : prepareResource(input, slash + 1, input.length);

  const result: Address = Object.freeze({ local, domain, resource });
  if (input.length <= MEMO_MAX_INPUT) {
    // Cleared wholesale when full: cheaper than LRU bookkeeping, and a hot working set refills quickly.
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(input, result);
  }
  return result;
}

/** Formats a prepared address as `[local@]domain[/resource]` (RFC 7622 §3.1). Does not re-validate. */
export function formatAddress(a: Address): string {
  const bare = a.local === null ? a.domain : a.local + '@' + a.domain;
  return a.resource === null ? bare : bare + '/' + a.resource;
}

/** The bare address `[local@]domain` of an address; a string is parsed first (its resource is dropped). */
export function bareOf(a: Address | string): string {
  const addr = typeof a === 'string' ? parseAddress(a) : a;
  return addr.local === null ? addr.domain : addr.local + '@' + addr.domain;
}

/** Parses a bare address and returns its normalised form; a resourcepart is an error (use bareOf to drop it). */
export function parseBare(input: string): string {
  const a = parseAddress(input);
  if (a.resource !== null) throw malformed('bare address must not have a resourcepart');
  return bareOf(a);
}

/** Parses the address of a user account: like parseAddress, but a localpart is required. */
export function parseUserAddress(input: string): Address {
  const a = parseAddress(input);
  if (a.local === null) throw malformed('localpart is missing (a user address is local@domain)');
  return a;
}

/** The (normalised) domainpart of an address. */
export function domainOf(bare: string): string {
  return parseAddress(bare).domain;
}

/** The (normalised) localpart of an address, or null for a domain-only address. */
export function localOf(bare: string): string | null {
  return parseAddress(bare).local;
}

// ---------------------------------------------------------------------------------------------------------
// Errors and helpers

function malformed(message: string): ParleyError {
  return new ParleyError('jid-malformed', message);
}

/** Visible characters are quoted; anything else (controls, spaces, marks, invisible ones) shown as U+XXXX. */
function describeChar(ch: string): string {
  if (ch === '"') return `'"'`;
  if (/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) && !/\p{Default_Ignorable_Code_Point}/u.test(ch)) return `"${ch}"`;
  const cp = ch.codePointAt(0) ?? 0;
  return 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
}

function forbidden(part: string, ch: string): ParleyError {
  return malformed(`${part} contains forbidden character ${describeChar(ch)}`);
}

function tooLong(part: string): ParleyError {
  return malformed(`${part} is longer than ${MAX_PART_BYTES} bytes`);
}

/** UTF-8 length without allocating (TextEncoder would allocate a buffer). Lone surrogates count 3. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * PRECIS width mapping (RFC 8264 §9.11 via RFC 8265 §3.3.2 step 1; RFC 5895 §2 for domains): fullwidth and
 * halfwidth characters become their <wide>/<narrow> decomposition. All of those live in U+FF01..U+FFEE, plus
 * U+3000 IDEOGRAPHIC SPACE; NFKC of a single such character is exactly its decomposition mapping.
 */
const HAS_WIDTH_CHAR = /[\u3000\uFF01-\uFFEE]/;
const WIDTH_CHARS = /[\u3000\uFF01-\uFFEE]/g;
function widthMap(s: string): string {
  if (!HAS_WIDTH_CHAR.test(s)) return s;
  return s.replace(WIDTH_CHARS, (ch) => ch.normalize('NFKC'));
}

/**
 * RFC 8264 §9.17 HasCompat: characters with a compatibility decomposition are DISALLOWED in the
 * IdentifierClass (and by IDNA2008). `s` is already NFC, so NFKC changes it only if such a character occurs.
 * Returns the first offending character, or null.
 */
function findCompat(s: string): string | null {
  if (s.normalize('NFKC') === s) return null;
  for (const ch of s) if (ch.normalize('NFKC') !== ch) return ch;
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Localpart: RFC 7622 §3.3 — PRECIS UsernameCaseMapped (RFC 8265 §3.3)

/** RFC 7622 §3.3.1: " & ' / : < > @ are disallowed in localparts even though the PRECIS class allows them. */
function isLocalExcludedAscii(c: number): boolean {
  return c === 0x22 || c === 0x26 || c === 0x27 || c === 0x2f || c === 0x3a || c === 0x3c || c === 0x3e || c === 0x40;
}

/**
 * Approximates "not in the IdentifierClass" (RFC 8264 §4.2): anything but letters, marks, numbers,
 * punctuation and symbols (so spaces, Cc, Cf, Cs, Co, Cn), default-ignorable code points (RFC 8264 §9.13),
 * and the RFC 7622 §3.3.1 exclusions.
 */
const LOCAL_FORBIDDEN = /[^\p{L}\p{M}\p{N}\p{P}\p{S}]|\p{Default_Ignorable_Code_Point}|["&'/:<>@]/u;

function prepareLocal(input: string, from: number, to: number): string {
  if (to === from) throw malformed('localpart is empty');
  if (to - from > MAX_RAW_UNITS) throw tooLong('localpart');
  // Fast path: pure ASCII needs no width mapping and is already NFC, so only case folding and the
  // character checks remain. A forbidden ASCII character is not rejected until we know the whole part is
  // ASCII: NFC may compose it with a following mark ("<" + U+0338 is "≮", which is allowed).
  let upper = false;
  let bad = -1;
  for (let i = from; i < to; i++) {
    const c = input.charCodeAt(i);
    if (c >= 0x80) return prepareLocalSlow(input.slice(from, to));
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (bad === -1 && (c <= 0x20 || c === 0x7f || isLocalExcludedAscii(c))) bad = i;
  }
  if (bad !== -1) throw forbidden('localpart', input.charAt(bad));
  if (to - from > MAX_PART_BYTES) throw tooLong('localpart');
  const raw = input.slice(from, to);
  return upper ? raw.toLowerCase() : raw;
}

function prepareLocalSlow(raw: string): string {
  // RFC 8265 §3.3.2 enforcement order: width mapping, (no additional mapping), case mapping with Unicode
  // toLowerCase(), NFC; then the string must consist of IdentifierClass code points (§3.3.3).
  const s = widthMap(raw).toLowerCase().normalize('NFC');
  const m = LOCAL_FORBIDDEN.exec(s);
  if (m !== null) throw forbidden('localpart', m[0]);
  const compat = findCompat(s);
  if (compat !== null) throw forbidden('localpart', compat);
  if (utf8Length(s) > MAX_PART_BYTES) throw tooLong('localpart');
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Resourcepart: RFC 7622 §3.4 — PRECIS OpaqueString (RFC 8265 §4.2, formerly RFC 7613 §4.2)

/** Approximates "not in the FreeformClass" (RFC 8264 §4.3): controls, format, surrogate, private-use and
 * unassigned code points, line/paragraph separators, and default-ignorable code points (RFC 8264 §9.13). */
const RESOURCE_FORBIDDEN = /[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]|\p{Default_Ignorable_Code_Point}/u;
/** RFC 8265 §4.2.2 step 1: non-ASCII space separators map to U+0020. */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;

function prepareResource(input: string, from: number, to: number): string {
  if (to === from) throw malformed('resourcepart is empty');
  if (to - from > MAX_RAW_UNITS) throw tooLong('resourcepart');
  // Fast path: printable ASCII (including space) is already OpaqueString-prepared; no case mapping applies.
  let bad = -1;
  for (let i = from; i < to; i++) {
    const c = input.charCodeAt(i);
    if (c >= 0x80) return prepareResourceSlow(input.slice(from, to));
    if (bad === -1 && (c < 0x20 || c === 0x7f)) bad = i;
  }
  if (bad !== -1) throw forbidden('resourcepart', input.charAt(bad));
  if (to - from > MAX_PART_BYTES) throw tooLong('resourcepart');
  return input.slice(from, to);
}

function prepareResourceSlow(raw: string): string {
  // RFC 8265 §4.2.2: map non-ASCII spaces to U+0020, no case mapping, NFC; then FreeformClass (§4.2.3).
  const s = raw.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  const m = RESOURCE_FORBIDDEN.exec(s);
  if (m !== null) throw forbidden('resourcepart', m[0]);
  if (utf8Length(s) > MAX_PART_BYTES) throw tooLong('resourcepart');
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Domainpart: RFC 7622 §3.2

/** IDNA label separators other than '.' (RFC 3490 §3.1, still honoured by the RFC 5895 §2 mapping). */
const IDEOGRAPHIC_DOTS = /[\u3002\uFF0E\uFF61]/g;
/** A U-label may hold letters, marks and decimal digits (approximating IDNA2008 PVALID, RFC 5892), and '-'. */
const ULABEL_FORBIDDEN = /[^\p{L}\p{M}\p{Nd}-]|\p{Default_Ignorable_Code_Point}/u;

function prepareDomain(raw: string): string {
  if (raw.length === 0) throw malformed('domainpart is empty');
  // RFC 7622 §3.2.1: an IP literal is an IPv4address or a bracketed IPv6 address (RFC 3986 §3.2.2).
  if (raw.charCodeAt(0) === 0x5b) return prepareIPv6(raw);
  if (raw.length > MAX_RAW_UNITS) throw tooLong('domainpart');

  let ascii = true;
  let upper = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  let s = raw;
  if (!ascii) {
    // RFC 7622 §3.2.2 defers to IDNA2008; RFC 5895 §2 mapping: width map, lower case, NFC, and map the
    // ideographic full stops to '.'.
    s = widthMap(raw).replace(IDEOGRAPHIC_DOTS, '.').toLowerCase().normalize('NFC');
  } else if (upper) {
    s = raw.toLowerCase();
  }

  // RFC 7622 §3.2: a final label separator MUST be stripped ("example.com." is "example.com").
  if (s.charCodeAt(s.length - 1) === 0x2e) s = s.slice(0, -1);
  if (s.length === 0) throw malformed('domainpart is empty');

  // Walk the labels by index; only an A-label forces a rebuild of the string.
  let labels: string[] | null = null;
  let start = 0;
  let lastNumeric = false;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== 0x2e) continue;
    const replaced = checkLabel(s, start, i);
    if (replaced !== null || labels !== null) {
      labels ??= start === 0 ? [] : s.slice(0, start - 1).split('.');
      labels.push(replaced ?? s.slice(start, i));
    }
    lastNumeric = isAllDigits(s, start, i);
    start = i + 1;
  }
  if (labels !== null) s = labels.join('.');

  // RFC 3696 §2: a top-level label is never all-numeric, so such a name must be an IPv4 literal.
  if (lastNumeric && !isIPv4(s)) {
    throw malformed(
      /^[0-9.]+$/.test(s) ? 'domainpart is not a valid IPv4 address' : 'domainpart top-level label is all-numeric',
    );
  }
  if (utf8Length(s) > MAX_PART_BYTES) throw tooLong('domainpart');
  return s;
}

function isAllDigits(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return to > from;
}

/** Checks the prepared label s[from, to). Returns the decoded U-label for an A-label, otherwise null. */
function checkLabel(s: string, from: number, to: number): string | null {
  if (to === from) throw malformed('domainpart label is empty');
  let ascii = true;
  let bad = -1;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) ascii = false;
    // RFC 1123 §2.1 / RFC 5890 §2.3.1: LDH labels hold letters, digits and hyphens only.
    else if (bad === -1 && !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) bad = i;
  }
  if (bad !== -1) throw forbidden('domainpart', s.charAt(bad));
  if (s.charCodeAt(from) === 0x2d) throw malformed('domainpart label starts with a hyphen');
  if (s.charCodeAt(to - 1) === 0x2d) throw malformed('domainpart label ends with a hyphen');
  if (ascii) {
    if (to - from > MAX_LABEL_CHARS) throw malformed(`domainpart label longer than ${MAX_LABEL_CHARS} characters`);
    // RFC 5890 §2.3.2.1: "xn--" marks an A-label; compare domains in U-label form so that both spellings
    // of an internationalised domain name are the same address.
    if (to - from > 4 && s.startsWith('xn--', from)) return decodeALabel(s.slice(from, to));
    return null;
  }
  checkULabel(s.slice(from, to));
  return null;
}

function checkULabel(label: string): void {
  let count = 0;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) count++;
  }
  if (count > MAX_LABEL_CHARS) throw malformed(`domainpart label longer than ${MAX_LABEL_CHARS} characters`);
  const m = ULABEL_FORBIDDEN.exec(label);
  if (m !== null) throw forbidden('domainpart', m[0]);
  // RFC 5891 §4.2.3.2: a label must not begin with a combining mark.
  if (/^\p{M}/u.test(label)) throw malformed('domainpart label starts with a combining mark');
  const compat = findCompat(label);
  if (compat !== null) throw forbidden('domainpart', compat);
}

function decodeALabel(label: string): string {
  const fail = (): ParleyError => malformed(`domainpart label "${label}" is not a valid A-label`);
  const decoded = punycodeDecode(label.slice(4));
  // RFC 5890 §2.3.2.1: an A-label decodes to a U-label, which has non-ASCII characters and is itself
  // prepared (lower case, NFC); anything else is a fake A-label.
  if (decoded === null || !/[^\x00-\x7f]/.test(decoded)) throw fail();
  if (decoded.toLowerCase().normalize('NFC') !== decoded) throw fail();
  if (decoded.charCodeAt(0) === 0x2d || decoded.charCodeAt(decoded.length - 1) === 0x2d) throw fail();
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x80 && !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) throw fail();
  }
  try {
    checkULabel(decoded);
  } catch {
    throw fail();
  }
  return decoded;
}

/** Punycode decoder, RFC 3492 §6.2 (parameters from §5). Returns null on any invalid input. */
function punycodeDecode(input: string): string | null {
  const BASE = 36;
  const T_MIN = 1;
  const T_MAX = 26;
  const MAX_INT = 0x7fffffff;
  let n = 128;
  let i = 0;
  let bias = 72;
  const output: number[] = [];
  const delim = input.lastIndexOf('-');
  for (let j = 0; j < Math.max(delim, 0); j++) output.push(input.charCodeAt(j));
  for (let idx = delim >= 0 ? delim + 1 : 0; idx < input.length; ) {
    const oldi = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (idx >= input.length) return null;
      const c = input.charCodeAt(idx++);
      const digit = c >= 0x30 && c <= 0x39 ? c - 22 : c >= 0x61 && c <= 0x7a ? c - 0x61 : BASE;
      if (digit >= BASE || digit > Math.floor((MAX_INT - i) / w)) return null;
      i += digit * w;
      const t = k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
      if (digit < t) break;
      if (w > Math.floor(MAX_INT / (BASE - t))) return null;
      w *= BASE - t;
    }
    const len = output.length + 1;
    bias = adaptBias(i - oldi, len, oldi === 0);
    if (Math.floor(i / len) > MAX_INT - n) return null;
    n += Math.floor(i / len);
    i %= len;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
    output.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...output);
}

/** RFC 3492 §6.1 bias adaptation. */
function adaptBias(delta: number, numPoints: number, firstTime: boolean): number {
  let d = firstTime ? Math.floor(delta / 700) : Math.floor(delta / 2);
  d += Math.floor(d / numPoints);
  let k = 0;
  while (d > ((36 - 1) * 26) >> 1) {
    d = Math.floor(d / (36 - 1));
    k += 36;
  }
  return k + Math.floor(((36 - 1 + 1) * d) / (d + 38));
}

/** RFC 3986 §3.2.2 IPv4address: four dec-octets 0..255 without leading zeros (which would read as octal). */
function isIPv4(s: string): boolean {
  let octets = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== 0x2e) continue;
    const len = i - start;
    if (len < 1 || len > 3 || !isAllDigits(s, start, i)) return false;
    if (len > 1 && s.charCodeAt(start) === 0x30) return false;
    if (Number(s.slice(start, i)) > 255) return false;
    octets++;
    start = i + 1;
  }
  return octets === 4;
}

function prepareIPv6(raw: string): string {
  const groups =
    raw.length >= 4 && raw.length <= 47 && raw.charCodeAt(raw.length - 1) === 0x5d ? parseIPv6(raw.slice(1, -1)) : null;
  if (groups === null) throw malformed('domainpart is not a valid IPv6 address');
  // Canonical text form (RFC 5952 §4) so that equal addresses compare equal as strings.
  return '[' + formatIPv6(groups) + ']';
}

/** RFC 4291 §2.2 text forms, including '::' and a trailing embedded IPv4 address. No zone identifiers. */
function parseIPv6(s: string): number[] | null {
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const headGroups = parseGroups(head, dbl === -1);
  const tailGroups = parseGroups(tail, true);
  if (headGroups === null || tailGroups === null) return null;
  const count = headGroups.length + tailGroups.length;
  if (dbl === -1) return count === 8 ? headGroups : null;
  if (count > 7) return null;
  return [...headGroups, ...new Array<number>(8 - count).fill(0), ...tailGroups];
}

function parseGroups(s: string, v4Last: boolean): number[] | null {
  if (s === '') return [];
  const pieces = s.split(':');
  const out: number[] = [];
  for (let p = 0; p < pieces.length; p++) {
    const piece = pieces[p] ?? '';
    if (v4Last && p === pieces.length - 1 && piece.includes('.')) {
      if (!isIPv4(piece)) return null;
      const o = piece.split('.').map(Number);
      out.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
      out.push(parseInt(piece, 16));
    }
  }
  return out;
}

/** RFC 5952 §4: lower-case hex, no leading zeros, '::' for the first longest run of two or more zero
 * groups; §5: IPv4-mapped addresses keep the dotted quad. */
function formatIPv6(g: number[]): string {
  const at = (k: number): number => g[k] ?? 0;
  if (at(0) === 0 && at(1) === 0 && at(2) === 0 && at(3) === 0 && at(4) === 0 && at(5) === 0xffff) {
    return `::ffff:${at(6) >> 8}.${at(6) & 0xff}.${at(7) >> 8}.${at(7) & 0xff}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (at(k) !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && at(e) === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart === -1) return hex(0, 8);
  return hex(0, bestStart) + '::' + hex(bestStart + bestLen, 8);
}

/** Normalises a domain name (RFC 7622 §3.2) or throws jid-malformed. */
export function normaliseDomain(input: string): string {
  const a = parseAddress(input);
  if (a.local !== null || a.resource !== null) throw new ParleyError('jid-malformed', `"${input}" is not a bare domain`);
  return a.domain;
}

/** Normalises a user address (local@domain, no resource). */
export function normaliseUser(input: string): string {
  const a = parseUserAddress(input);
  if (a.resource !== null) throw new ParleyError('jid-malformed', `"${input}" has a resource; give local@domain`);
  return `${a.local}@${a.domain}`;
}
