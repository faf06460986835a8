/**
 * Stanza errors (RFC 6120 §8.3) and stream errors (§4.9) as elements. Engine errors carry a stable Parley code
 * whose XMPP condition the error registry names (src/core/errors.ts), so both front doors report the same
 * failure the same way.
 */
import { ERRORS, ParleyError, toParleyError } from '../../../core/errors.js';
import { el, type Element } from '../xml/element.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { NS } from './ns.js';

/** RFC 6120 §8.3.2 error types. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** §8.3.3: the usual type of each defined condition. */
const TYPE_OF: Record<string, StanzaErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/**
 * A Parley error with an application-specific condition element for XMPP (RFC 6120 §8.3.2: at most one, in its
 * own namespace), such as XEP-0363's `<file-too-large/>`. Thrown by an XMPP handler that wraps the engine's error;
 * the other front doors never see the element.
 */
export class XmppAppError extends ParleyError {
  constructor(
    err: ParleyError,
    readonly app: Element,
  ) {
    super(err.code, err.message, err.details);
  }
}

/** An <error/> child for a condition, with optional human-readable text (§8.3.2) and application condition. */
export function errorElement(condition: string, text?: string, by?: string, blocked = false, app?: Element): Element {
  const e = el('error', { type: TYPE_OF[condition] ?? 'cancel', by }, el(condition, { xmlns: NS.stanzaErrors }));
  if (text) e.append(el('text', { xmlns: NS.stanzaErrors, 'xml:lang': 'en' }, text));
  // XEP-0191 §3.5: the application condition telling a user it wrote to someone it blocks.
  if (blocked) e.append(el('blocked', { xmlns: 'urn:xmpp:blocking:errors' }));
  else if (app) e.append(app);
  return e;
}

/** The condition and text for anything a handler threw (unknown errors become internal-server-error). */
export function conditionOf(e: unknown): { condition: string; text: string; code: string; blocked: boolean; app: Element | undefined } {
  const err = toParleyError(e);
  const app = e instanceof XmppAppError ? e.app : undefined;
  return { condition: ERRORS[err.code].xmpp, text: err.message, code: err.code, blocked: err.details?.blocked === true, app };
}

/**
 * The error reply to a stanza (§8.3.1): same name, id and type="error", addresses swapped, the original
 * payload left out (allowed by §8.3.1 point 4, and it keeps a large bad stanza from being echoed back).
 */
export function errorReply(stanza: Element, error: Element, from: string | undefined, to: string): Element {
  return el(stanza.name, { xmlns: NS.client, type: 'error', id: stanza.attr('id'), from, to }, error);
}

/** A stream error (§4.9): <stream:error> with the condition and text. */
export function streamError(condition: StreamErrorCondition, text?: string): Element {
  const e = el('error', { xmlns: NS.streams }, el(condition, { xmlns: NS.streamErrors }));
  if (text) e.append(el('text', { xmlns: NS.streamErrors, 'xml:lang': 'en' }, text));
  return e;
}

/** Thrown by a handler to end the stream with a stream error (e.g. a forged `from`, RFC 6120 §8.1.2.1). */
export class StreamFailure extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    message: string,
  ) {
    super(message);
  }
}
