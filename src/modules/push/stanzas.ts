/**
 * XEP-0357 payloads: the client's <enable/> and <disable/> (§5, §6) read and checked, and the publish the user's
 * server sends the app server (§7): a pubsub publish (XEP-0060 §7.1) of a <notification/> carrying the
 * `urn:xmpp:push:summary` form, with the client's publish-options (XEP-0060 §7.1.5) sent back as given.
 */
import { Buffer } from 'node:buffer';
import { parseAddress } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseElements } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import { AUTHENTICATED_LIMITS } from '../../protocols/xmpp/xml/stream-parser.js';

/** The protocol's namespace (XEP-0357 §4). */
export const NS_PUSH = 'urn:xmpp:push:0';
/** The summary form's FORM_TYPE (XEP-0357 §7, registered in §11.2). */
export const NS_SUMMARY = 'urn:xmpp:push:summary';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_DATA = 'jabber:x:data';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Longest node name accepted (the app server makes them up; XEP-0357 sets no bound, this keeps rows small). */
export const MAX_NODE = 1024;
/** Largest publish-options form kept, in characters of its XML. */
export const MAX_FORM = 8192;

/** What <enable/> asks (§5). */
export interface EnableRequest {
  jid: string;
  node: string;
  /** The publish-options form as XML text, or null. */
  form: string | null;
}

/** The app server's address, checked and normalised (RFC 7622), or jid-malformed. */
function serviceOf(jid: string | undefined): string {
  if (jid === undefined || jid === '') throw new ParleyError('bad-request', 'name the app server: <enable/> and <disable/> need a jid attribute (XEP-0357 §5)');
  try {
    const a = parseAddress(jid);
    return `${a.local === null ? '' : `${a.local}@`}${a.domain}${a.resource === null ? '' : `/${a.resource}`}`;
  } catch (e) {
    throw new ParleyError('jid-malformed', `the app server address ${jid} is not valid: ${e instanceof Error ? e.message : 'bad address'}`);
  }
}

/** Reads <enable jid node><x/></enable> (§5): the node is required, the form optional and kept opaque. */
export function readEnable(payload: Element): EnableRequest {
  const jid = serviceOf(payload.attr('jid'));
  const node = payload.attr('node') ?? '';
  if (node === '') throw new ParleyError('bad-request', 'name the node: <enable/> needs a node attribute (XEP-0357 §5)');
  if (node.length > MAX_NODE) throw new ParleyError('not-acceptable', `a push node name holds at most ${MAX_NODE} characters`);
  const forms = payload.children.filter((c): c is Element => typeof c !== 'string' && c.name === 'x' && c.xmlns === NS_DATA);
  if (forms.length > 1) throw new ParleyError('bad-request', 'give at most one publish-options form (XEP-0357 §5)');
  const x = forms[0];
  if (x === undefined) return { jid, node, form: null };
  const type = x.attr('type') ?? 'submit';
  if (type !== 'submit') throw new ParleyError('bad-request', `the publish-options form must be of type submit (XEP-0004 §3.1), not ${type}`);
  const form = serialize(x, null);
  if (form.length > MAX_FORM) throw new ParleyError('not-acceptable', `a publish-options form holds at most ${MAX_FORM} characters of XML`);
  return { jid, node, form };
}

/** Reads <disable jid [node]/> (§6): the node absent means every node of that app server. */
export function readDisable(payload: Element): { jid: string; node: string | null } {
  const jid = serviceOf(payload.attr('jid'));
  const node = payload.attr('node');
  return { jid, node: node === undefined || node === '' ? null : node };
}

/** What the summary says (§7): counts since the user was last live, and the last sender (and body when allowed). */
export interface Summary {
  messageCount: number;
  subscriptionCount: number;
  lastSender: string | null;
  /** Only when the operator allows bodies (modules.push.includeBody). */
  lastBody: string | null;
}

/** The <pubsub/> payload of a publish to `node` (§7, XEP-0060 §7.1.1), with the stored publish-options. */
export function publishPayload(node: string, s: Summary, form: string | null): string {
  const field = (name: string, value: string): Element => el('field', { var: name }, el('value', null, value));
  const x = el('x', { xmlns: NS_DATA, type: 'submit' }, field('FORM_TYPE', NS_SUMMARY), field('message-count', String(s.messageCount)));
  if (s.subscriptionCount > 0) x.append(field('pending-subscription-count', String(s.subscriptionCount)));
  if (s.lastSender !== null) x.append(field('last-message-sender', s.lastSender));
  if (s.lastBody !== null) x.append(field('last-message-body', s.lastBody));
  const pubsub = el('pubsub', { xmlns: NS_PUBSUB }, el('publish', { node }, el('item', null, el('notification', { xmlns: NS_PUSH }, x))));
  const text = serialize(pubsub, 'jabber:client');
  // The form is kept as the client sent it (its own xmlns), so it goes back byte for byte.
  return form === null ? text : text.replace(/<\/pubsub>$/, `<publish-options>${form}</publish-options></pubsub>`);
}

/** The defined condition of an iq error's children (RFC 6120 §8.3.3), or undefined-condition. */
export function errorCondition(xml: string | null): string {
  if (xml === null) return 'undefined-condition';
  let error: Element | undefined;
  try {
    // The reply's children are jabber:client XML: parsed inside a client stream, as the app server sent them.
    const { elements } = parseElements(xml, { ...AUTHENTICATED_LIMITS, maxStanzaBytes: Buffer.byteLength(xml, 'utf8') + 1 });
    error = elements.find((e) => e.name === 'error');
  } catch {
    return 'undefined-condition';
  }
  const condition = error?.children.find((c): c is Element => typeof c !== 'string' && c.xmlns === NS_STANZAS && c.name !== 'text');
  return condition?.name ?? 'undefined-condition';
}
