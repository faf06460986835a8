/**
 * After SASL: resource binding (RFC 6120 §7), which opens the engine session whose Sink the connection is, and
 * the legacy session request (RFC 3921 §3), answered and otherwise ignored.
 */
import { ParleyError } from '../../../core/errors.js';
import { validatePresence } from '../../../core/presence.js';
import type { Engine } from '../../../engine/engine.js';
import type { Session, Sink } from '../../../engine/session.js';
import { el, type Element } from '../xml/element.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { errorElement, errorReply } from './errors.js';
import { NS } from './ns.js';

/** What binding needs from its stream (which becomes the session's Sink). */
export interface BindHost extends Sink {
  readonly engine: Engine;
  /** The authenticated user. */
  readonly user: string;
  readonly isClosing: boolean;
  /** Serialises and sends a stanza element. */
  sendElement(stanza: Element): void;
  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  streamError(condition: StreamErrorCondition, text?: string): void;
}

/**
 * What SASL proved: the user, the fingerprint of its credentials (a password change since refuses the bind) and,
 * for a bot, the API key it used (revoking it ends the session).
 */
export interface Authentication {
  user: string;
  credentials: string | undefined;
  credentialRef?: string | undefined;
}

/**
 * An iq after SASL and before binding. `bound` is called with the new session before the bind result is sent
 * (the connection takes it as its session and stops its negotiation timer).
 */
export async function onPreBindIq(host: BindHost, iq: Element, auth: Authentication, bound: (session: Session) => void): Promise<void> {
  const type = iq.attr('type');
  const bind = iq.getChild('bind', NS.bind);
  if (type === 'set' && bind) return bindResource(host, iq, bind, auth, bound);
  if (type === 'set' && iq.getChild('session', NS.session)) {
    host.sendElement(el('iq', { xmlns: NS.client, type: 'result', id: iq.attr('id') }));
    return;
  }
  host.sendElement(errorReply(iq, errorElement('not-authorized', 'bind a resource first'), undefined, host.user));
}

async function bindResource(host: BindHost, iq: Element, bind: Element, auth: Authentication, bound: (session: Session) => void): Promise<void> {
  const requested = bind.getChild('resource')?.text().trim() || null;
  const user = auth.user;
  try {
    const { session } = await host.engine.openSession(user, requested, host, validatePresence({}, host.engine.ctx.now()), {
      available: false,
      credentials: auth.credentials,
      ...(auth.credentialRef !== undefined ? { credentialRef: auth.credentialRef } : {}),
    });
    if (host.isClosing) {
      await host.engine.closeSession(session);
      return;
    }
    bound(session);
    host.sendElement(el('iq', { xmlns: NS.client, type: 'result', id: iq.attr('id') }, el('bind', { xmlns: NS.bind }, el('jid', null, session.full))));
    host.engine.goLive(session);
  } catch (e) {
    const err = e instanceof ParleyError ? e : null;
    // The password changed (or the account went) after SASL: what this stream proved is void (RFC 6120 §4.9.3.12).
    if (err?.code === 'not-authorized') return host.streamError('not-authorized', err.message);
    // §7.6.2.1 resource-constraint (too many sessions), §7.7.2.1 bad-request (a resource that fails the profile).
    const condition = err?.code === 'policy-violation' ? 'resource-constraint' : err?.code === 'jid-malformed' ? 'bad-request' : 'internal-server-error';
    if (!err) host.engine.ctx.log.error({ err: e }, 'bind failed');
    host.sendElement(errorReply(iq, errorElement(condition, err?.message), undefined, user));
  }
}
