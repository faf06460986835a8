/**
 * The one registry of Parley error codes. Every error a client can see has a stable code from this table.
 * Names follow RFC 6120 §8.3.3 stanza error conditions where one fits, so the XMPP front door can map them
 * one-to-one; the rest are Parley's own and say which XMPP condition they become.
 */
export const ERRORS = {
  'bad-request': { status: 400, xmpp: 'bad-request', text: 'The request is malformed' },
  'bad-json': { status: 400, xmpp: 'bad-request', text: 'The frame is not valid JSON' },
  'unknown-op': { status: 400, xmpp: 'feature-not-implemented', text: 'Unknown operation' },
  'frame-too-large': { status: 413, xmpp: 'policy-violation', text: 'The frame exceeds the size limit' },
  'message-too-large': { status: 413, xmpp: 'not-acceptable', text: 'The message body exceeds the size limit' },
  'jid-malformed': { status: 400, xmpp: 'jid-malformed', text: 'The address is not valid' },
  'not-authorized': { status: 401, xmpp: 'not-authorized', text: 'Authentication is required or failed' },
  'account-locked': { status: 429, xmpp: 'policy-violation', text: 'Too many failed logins; try again later' },
  // An administrator disabled the account. Stanzas: not-authorized (RFC 6120 §8.3.3.11); SASL says
  // <account-disabled/> (RFC 6120 §6.5.1) and the stream error is policy-violation (§4.9.3.14).
  'account-disabled': { status: 403, xmpp: 'not-authorized', text: 'The account is disabled' },
  forbidden: { status: 403, xmpp: 'forbidden', text: 'This action is not allowed' },
  'item-not-found': { status: 404, xmpp: 'item-not-found', text: 'No such item' },
  conflict: { status: 409, xmpp: 'conflict', text: 'The item already exists' },
  'not-allowed': { status: 405, xmpp: 'not-allowed', text: 'The action is not allowed in this state' },
  'not-acceptable': { status: 406, xmpp: 'not-acceptable', text: 'The request is not acceptable' },
  'policy-violation': { status: 403, xmpp: 'policy-violation', text: 'A policy refused this request' },
  'rate-limited': { status: 429, xmpp: 'resource-constraint', text: 'Too many requests' },
  'recipient-unavailable': { status: 404, xmpp: 'recipient-unavailable', text: 'The recipient is not available' },
  'remote-server-not-found': { status: 404, xmpp: 'remote-server-not-found', text: 'The domain is not served here' },
  // XEP-0363 §4.2: a file over the upload limit is not-acceptable (type modify) with <file-too-large/>.
  'file-too-large': { status: 413, xmpp: 'not-acceptable', text: 'The file exceeds the size limit' },
  // XEP-0363 §4.3: a quota is a resource-constraint (type wait); HTTP 507 (RFC 4918 §11.5) says storage ran out.
  'quota-exceeded': { status: 507, xmpp: 'resource-constraint', text: 'The storage quota is used up' },
  'file-infected': { status: 403, xmpp: 'not-acceptable', text: 'The malware scanner found a threat in the file' },
  'service-unavailable': { status: 503, xmpp: 'service-unavailable', text: 'The service is unavailable' },
  'feature-not-implemented': { status: 501, xmpp: 'feature-not-implemented', text: 'This feature is not implemented' },
  'unexpected-request': { status: 400, xmpp: 'unexpected-request', text: 'The request is not expected now' },
  'internal-server-error': { status: 500, xmpp: 'internal-server-error', text: 'Internal server error' },
  // RFC 6120 §8.3.3.17: a remote server (federation) did not answer in time.
  'remote-server-timeout': { status: 504, xmpp: 'remote-server-timeout', text: 'The remote server did not answer in time' },
  'registration-required': { status: 403, xmpp: 'registration-required', text: 'Membership is required first' },
} as const;

/** A stable Parley error code. */
export type ErrorCode = keyof typeof ERRORS;

/** An error as a value: a stable code and a human-readable message. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].text);
    this.name = 'ParleyError';
    this.code = code;
    this.details = details;
  }
}

/** Throws nothing; returns whether `e` is a ParleyError with `code` (or any code when omitted). */
export function isParleyError(e: unknown, code?: ErrorCode): e is ParleyError {
  return e instanceof ParleyError && (code === undefined || e.code === code);
}

/** Converts any thrown value to a ParleyError; an unexpected throw becomes internal-server-error. */
export function toParleyError(e: unknown): ParleyError {
  if (e instanceof ParleyError) return e;
  return new ParleyError('internal-server-error');
}
