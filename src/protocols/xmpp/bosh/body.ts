/**
 * The <body/> wrapper of BOSH (XEP-0124 §4): parsing a request body through the same hardened parser as XMPP
 * streams (xml/stream-parser.ts: restricted XML, size, depth and attribute limits), and building responses.
 * The payload elements are handed on serialised, each declaring its own namespace, so the stream they feed
 * parses them exactly as it parses a WebSocket message (RFC 7395 §3.3.3).
 */
import { Buffer } from 'node:buffer';
import type { Element } from '../xml/element.js';
import { escapeAttr, serialize, STREAMS_NS } from '../xml/serialize.js';
import { parseElements } from '../xml/fragment.js';
import { PRE_AUTH_LIMITS } from '../xml/stream-parser.js';

/** XEP-0124 §4: the namespace of <body/>. */
export const HTTPBIND_NS = 'http://jabber.org/protocol/httpbind';
/** XEP-0206 §6: the namespace of the xmpp:version and xmpp:restart attributes. */
export const XBOSH_NS = 'urn:xmpp:xbosh';
const CLIENT_NS = 'jabber:client';

/** The terminal binding conditions of XEP-0124 §17.2 that Parley sends. */
export type BoshCondition =
  | 'bad-request'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'item-not-found'
  | 'other-request'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'remote-stream-error'
  | 'see-other-uri'
  | 'system-shutdown'
  | 'undefined-condition';

/** A request body, its attributes read and its payload serialised. */
export interface BoshBody {
  /** Attributes by local name (xmlns declarations dropped); xbosh ones as `xmpp:version`, `xmpp:restart`. */
  attrs: Record<string, string>;
  /** The payload elements, each serialised on its own with its namespace declared. */
  payload: string[];
}

/** Why a body was refused: the §17 condition and a text for the log. */
export class BodyError extends Error {
  constructor(
    readonly condition: BoshCondition,
    message: string,
  ) {
    super(message);
  }
}

/** Children of a body beyond this are refused (a stanza flood in one request). */
const MAX_PAYLOAD_ELEMENTS = 256;

/**
 * Parses one request body. `maxBytes` bounds the whole body (the payload stanzas meet the stream's own limits
 * again when the stream parses them). Throws BodyError('bad-request') for anything that is not one <body/>.
 */
export function parseBody(text: string, maxBytes: number): BoshBody {
  // An XML declaration may open the document; it would be a processing instruction inside the wrapper below.
  const xml = text.replace(/^\uFEFF?\s*<\?xml[^>]{0,200}\?>/, '');
  // One level deeper than a stream allows: the body wraps the stanzas.
  const { elements: found, failure } = parseElements(xml, {
    ...PRE_AUTH_LIMITS,
    maxStanzaBytes: Math.max(maxBytes, 1024),
    maxDepth: PRE_AUTH_LIMITS.maxDepth + 1,
    maxChildren: Math.max(PRE_AUTH_LIMITS.maxChildren, MAX_PAYLOAD_ELEMENTS),
  });
  if (failure !== null) throw new BodyError('bad-request', `the request is not well-formed XML: ${String(failure)}`);
  if (found.length !== 1) throw new BodyError('bad-request', 'the request must be exactly one <body/> element');
  const body = found[0]!;
  if (body.name !== 'body' || body.xmlns !== HTTPBIND_NS) throw new BodyError('bad-request', `the request root must be <body xmlns='${HTTPBIND_NS}'/>`);
  const payload: string[] = [];
  for (const child of body.children) {
    if (typeof child === 'string') {
      if (child.trim() !== '') throw new BodyError('bad-request', 'text directly in <body/>');
      continue;
    }
    if (payload.length >= MAX_PAYLOAD_ELEMENTS) throw new BodyError('policy-violation', `more than ${MAX_PAYLOAD_ELEMENTS} elements in one request`);
    payload.push(serialize(toClient(child)));
  }
  return { attrs: readAttrs(body.attrs), payload };
}

/** Attributes without namespace declarations; a prefix bound to urn:xmpp:xbosh is spelled `xmpp:`. */
function readAttrs(raw: Record<string, string>): Record<string, string> {
  const xbosh = new Set<string>();
  for (const [k, v] of Object.entries(raw)) if (k.startsWith('xmlns:') && v === XBOSH_NS) xbosh.add(k.slice(6));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
    const i = k.indexOf(':');
    if (i > 0 && xbosh.has(k.slice(0, i))) out[`xmpp:${k.slice(i + 1)}`] = v;
    else out[k] = v;
  }
  return out;
}

/**
 * XEP-0206 §5: payload stanzas are in jabber:client; one that inherits the body's namespace (a client that
 * did not declare it) is read as jabber:client, as the stream's default namespace would be.
 */
function toClient(e: Element): Element {
  if (e.xmlns === HTTPBIND_NS) e.xmlns = CLIENT_NS;
  for (const c of e.children) if (typeof c !== 'string') toClient(c);
  return e;
}

/** A response body: `attrs` on <body/> (values escaped here), then the payload as written by the stream. */
export function responseBody(attrs: Record<string, string | number | undefined>, payload: readonly string[] = []): string {
  let out = `<body xmlns="${HTTPBIND_NS}"`;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}="${escapeAttr(String(v))}"`;
  if (payload.length === 0) return `${out}/>`;
  return `${out}>${payload.join('')}</body>`;
}

/** A terminal binding error (§17.2); a stream error inside it makes it remote-stream-error (XEP-0206 §7). */
export function terminateBody(condition: BoshCondition | null, payload: readonly string[] = []): string {
  const streamNs = condition === 'remote-stream-error' ? `xmlns:stream` : undefined;
  return responseBody({ type: 'terminate', condition: condition ?? undefined, ...(streamNs ? { [streamNs]: STREAMS_NS } : {}) }, payload);
}

/** Byte length of a response, for the backlog. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
