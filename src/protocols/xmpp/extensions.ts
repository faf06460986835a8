/**
 * A message's extension elements: the child elements Parley does not interpret itself (XEP-0066 links, XEP-0461
 * replies, XEP-0444 reactions, XEP-0384 OMEMO payloads, XEP-0447 file shares, ...). They are kept as one
 * canonical XML text, each top-level element carrying its own xmlns, so the engine stores and delivers them as
 * an opaque string and a front door splices them into any stanza unchanged. Both front doors use this file: the
 * XMPP one to pick the elements out of a parsed stanza, the JSON one to check a client's `xml` with the same
 * hardened parser (RFC 6120 §11.1 restricted XML: no DTD, comment or processing instruction) and limits.
 */
import { Buffer } from 'node:buffer';
import { ParleyError } from '../../core/errors.js';
import { NS } from './c2s/ns.js';
import type { Element } from './xml/element.js';
import { parseElements } from './xml/fragment.js';
import { serialize } from './xml/serialize.js';
import { AUTHENTICATED_LIMITS } from './xml/stream-parser.js';

/** The largest extension text accepted: the stanza size limit after authentication (RFC 6120 §13.12). */
export const MAX_EXTENSION_BYTES = AUTHENTICATED_LIMITS.maxStanzaBytes;

/**
 * Namespaces of what Parley interprets, rebuilds from the record, or must not take from a client: the whole
 * namespace is left out of the kept elements.
 */
const INTERPRETED = new Set<string>([
  NS.chatStates, // XEP-0085: sent live as typing notifications, never stored
  NS.carbons, // XEP-0280: <private/> and forged <sent/>/<received/> wrappers
  NS.mam, // XEP-0313: forged archive results
  NS.hints, // XEP-0334: processing hints for this server (see storageHint)
  NS.delay, // XEP-0203: the server stamps delays itself
  NS.correct, // XEP-0308: a correction becomes an edit record
  NS.retract, // XEP-0424: a retraction becomes a retract record
  NS.mucUser, // XEP-0045: invitations and status codes are the room's
  NS.conference, // XEP-0249: direct invitations become the room's invitation
  NS.parleyPresence,
]);

/** Single elements Parley interprets, by `namespace name`. */
const INTERPRETED_ELEMENTS = new Set<string>([
  `${NS.client} body`, // the record's body
  `${NS.client} error`,
  `${NS.sid} stanza-id`, // XEP-0359 §3.1: a stanza-id from a client is never passed on; the server adds its own
  `${NS.sid} origin-id`, // XEP-0359: becomes the record's client id and is written again from it
  `${NS.receipts} received`, // XEP-0184: a receipt record
  `${NS.markers} displayed`, // XEP-0333: a read receipt record
]);

/** Whether a child element of a message is Parley's to interpret (and so not kept as an extension). */
export function isInterpreted(child: Element): boolean {
  return INTERPRETED.has(child.xmlns ?? '') || INTERPRETED_ELEMENTS.has(`${child.xmlns ?? ''} ${child.name}`);
}

/**
 * Namespaces whose elements make a message without a body worth storing (the rule of docs/xmpp.md, after
 * XEP-0313 §7 "messages that contain a payload the server determines to be worth archiving"): encrypted
 * payloads, reactions, links and file shares.
 */
const WORTH_STORING = new Set<string>([
  'urn:xmpp:eme:0', // XEP-0380
  'eu.siacs.conversations.axolotl', // XEP-0384 (legacy OMEMO)
  'urn:xmpp:omemo:2', // XEP-0384
  'urn:xmpp:openpgp:0', // XEP-0373
  'jabber:x:encrypted', // XEP-0027
  'urn:xmpp:reactions:0', // XEP-0444
  'jabber:x:oob', // XEP-0066
  'urn:xmpp:sims:1', // XEP-0385
  'urn:xmpp:sfs:0', // XEP-0447
  'urn:xmpp:reference:0', // XEP-0372
]);

/** Whether one kept element makes a body-less message worth storing. */
export function isWorthStoring(child: Element): boolean {
  return WORTH_STORING.has(child.xmlns ?? '');
}

/**
 * The canonical text of `children`: each serialised on its own (so its xmlns is written out, RFC 6120 §4.8.2),
 * concatenated; null for none.
 */
export function canonicalExtensions(children: readonly Element[]): string | null {
  if (children.length === 0) return null;
  let out = '';
  for (const child of children) out += serialize(child, null);
  return out;
}

/**
 * Whether `root` stands on its own once cut out of its stanza: every prefixed attribute (other than xml:) uses a
 * prefix declared within it. A prefix declared on the stanza or the stream would not travel with the text, and
 * the recipient's parser would refuse the stanza (and with it the stream).
 */
export function isSelfContained(root: Element): boolean {
  const stack: Array<[Element, ReadonlySet<string>]> = [[root, new Set()]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, inherited] = top;
    let own: Set<string> | null = null;
    for (const key in node.attrs) {
      if (key.startsWith('xmlns:')) (own ??= new Set(inherited)).add(key.slice(6));
    }
    const declared: ReadonlySet<string> = own ?? inherited;
    for (const key in node.attrs) {
      const colon = key.indexOf(':');
      if (colon > 0 && !key.startsWith('xmlns:') && !key.startsWith('xml:') && !declared.has(key.slice(0, colon))) return false;
    }
    for (const child of node.children) if (typeof child !== 'string') stack.push([child, declared]);
  }
  return true;
}

/** The elements of a message Parley keeps as extensions, in document order, and their canonical text. */
export function keptExtensions(stanza: Element): { elements: Element[]; xml: string } | null {
  let elements: Element[] | null = null;
  for (const child of stanza.children) {
    // An element that would not stand on its own is dropped rather than passed on broken.
    if (typeof child !== 'string' && !isInterpreted(child) && isSelfContained(child)) (elements ??= []).push(child);
  }
  return elements === null ? null : { elements, xml: canonicalExtensions(elements)! };
}

/**
 * Elements Parley interprets only because they become log records (a correction, a retraction, a receipt, the
 * record's client id). A message that is never stored (a private message between room occupants, XEP-0045
 * §7.5) carries them on as they are: they name the ids its recipient saw.
 */
const RECORD_ONLY = new Set<string>([NS.correct, NS.retract]);
const RECORD_ONLY_ELEMENTS = new Set<string>([`${NS.sid} origin-id`, `${NS.receipts} received`, `${NS.markers} displayed`]);

/**
 * The extension text of a message delivered live and never stored (a private message between occupants): every
 * child element Parley does not interpret, as keptExtensions, plus those it interprets only to make records
 * (RECORD_ONLY). Null: none.
 */
export function liveExtensions(stanza: Element): string | null {
  let elements: Element[] | null = null;
  for (const child of stanza.children) {
    if (typeof child === 'string' || !isSelfContained(child)) continue;
    const recordOnly = RECORD_ONLY.has(child.xmlns ?? '') || RECORD_ONLY_ELEMENTS.has(`${child.xmlns ?? ''} ${child.name}`);
    if (recordOnly || !isInterpreted(child)) (elements ??= []).push(child);
  }
  return elements === null ? null : canonicalExtensions(elements);
}

/**
 * The extension text to store with a message (XEP-0334 §4, XEP-0313 §7; the rule of docs/xmpp.md): with a body,
 * whatever is kept; without one, only when a `<store/>` hint or a payload worth storing (isWorthStoring) asks for
 * it and no `<no-store/>` or `<no-permanent-store/>` forbids it. Null: nothing to store for a body-less message.
 */
export function extensionsToStore(stanza: Element, hasBody: boolean): string | null {
  const kept = keptExtensions(stanza);
  if (kept === null || hasBody) return kept?.xml ?? null;
  const hint = storageHint(stanza);
  if (hint === 'no-store') return null;
  return hint === 'store' || kept.elements.some(isWorthStoring) ? kept.xml : null;
}

/**
 * The extension text of a body-less message that is delivered live only: one whose `<no-store/>` or
 * `<no-permanent-store/>` hint (XEP-0334 §4.2-4.3) keeps it out of storage, with elements Parley does not
 * interpret (a reaction, a marker of another protocol). Null: not such a message.
 */
export function liveOnlyExtensions(stanza: Element): string | null {
  if (storageHint(stanza) !== 'no-store') return null;
  return keptExtensions(stanza)?.xml ?? null;
}

/** XEP-0334 §4 hints a message carries for this server. */
export function storageHint(stanza: Element): 'store' | 'no-store' | null {
  let store = false;
  for (const child of stanza.children) {
    if (typeof child === 'string' || child.xmlns !== NS.hints) continue;
    // §4.2/§4.3: no-store and no-permanent-store win over store (keeping less is the safe reading).
    if (child.name === 'no-store' || child.name === 'no-permanent-store') return 'no-store';
    if (child.name === 'store') store = true;
  }
  return store ? 'store' : null;
}

/**
 * Checks a client's extension text (the JSON API's `xml`): well-formed restricted XML of elements only (white
 * space between them is dropped), within `maxBytes`, none of them one Parley interprets. Returns the canonical
 * text (namespaces written on each element); throws bad-request saying what is wrong, message-too-large past
 * the limit.
 */
export function checkExtensionXml(xml: string, maxBytes: number = MAX_EXTENSION_BYTES): string {
  const bytes = Buffer.byteLength(xml, 'utf8');
  if (bytes > maxBytes) throw new ParleyError('message-too-large', `xml has ${bytes} bytes; the limit is ${maxBytes}`);
  const { elements: found, failure } = parseElements(xml, { ...AUTHENTICATED_LIMITS, maxStanzaBytes: bytes + 64 }, { open: '<message>', close: '</message>' });
  const message = found[0];
  if (failure !== null || found.length !== 1 || message === undefined) {
    throw new ParleyError('bad-request', `xml is not well-formed restricted XML (RFC 6120 §11.1): ${failure ?? 'it must be elements only'}`, { reason: 'bad-xml' });
  }
  const elements: Element[] = [];
  for (const child of message.children) {
    if (typeof child === 'string') {
      if (child.trim() !== '') throw new ParleyError('bad-request', 'xml holds elements only, no text between them', { reason: 'bad-xml' });
      continue;
    }
    if (isInterpreted(child)) {
      throw new ParleyError('bad-request', `<${child.name} xmlns="${child.xmlns ?? ''}"/> is not an extension element: send it as a field of the operation`, { reason: 'bad-xml' });
    }
    if (!isSelfContained(child)) throw new ParleyError('bad-request', `<${child.name}/> uses an attribute prefix it does not declare`, { reason: 'bad-xml' });
    elements.push(child);
  }
  const out = canonicalExtensions(elements);
  if (out === null) throw new ParleyError('bad-request', 'xml holds no element', { reason: 'bad-xml' });
  return out;
}

/**
 * `stanza` (serialised, ending in its closing tag) with the extension text put in before that tag: the stored
 * text goes out as it is, never parsed again (the message path's cost stays one null check without it).
 */
export function withExtensions(stanza: string, xml: string | null | undefined): string {
  if (xml === null || xml === undefined) return stanza;
  const close = stanza.lastIndexOf('</');
  if (close < 0) {
    // A self-closing root: <message .../> becomes <message ...>xml</message>.
    const name = /^<([^\s/>]+)/.exec(stanza)?.[1] ?? 'message';
    return `${stanza.slice(0, -2)}>${xml}</${name}>`;
  }
  return stanza.slice(0, close) + xml + stanza.slice(close);
}
