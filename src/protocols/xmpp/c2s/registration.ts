/**
 * XEP-0077 in-band registration before authentication (§3.1), where the operator opened a domain for it. The
 * account is created by AuthService (same password rules and throttle as everywhere); one per connection.
 */
import { ParleyError } from '../../../core/errors.js';
import type { Engine } from '../../../engine/engine.js';
import { el, type Element } from '../xml/element.js';
import { conditionOf, errorElement, errorReply } from './errors.js';
import { NS } from './ns.js';
import type { Transport } from './transport.js';
import type { XmppOptions } from './types.js';

/** What registration needs from its stream. */
export interface RegistrationHost {
  readonly transport: Transport;
  readonly engine: Engine;
  readonly opts: XmppOptions;
  /** The served domain of the stream: accounts are created there. */
  readonly domain: string;
  /** Serialises and sends a stanza element. */
  sendElement(stanza: Element): void;
}

/** Registration sends a password like PLAIN does: only inside TLS (or where PLAIN is allowed without it). */
export function registrationOpen(host: Pick<RegistrationHost, 'transport' | 'opts' | 'domain'>): boolean {
  return host.opts.registration(host.domain) && (host.transport.secure() || host.opts.allowPlainWithoutTls);
}

/** In-band registration on one stream. */
export class InBandRegistration {
  /** An account was registered on this stream (one per connection). */
  private registered = false;

  constructor(private readonly host: RegistrationHost) {}

  /** XEP-0077 in-band registration before authentication, where the domain allows it (§3.1). */
  async register(iq: Element): Promise<void> {
    const host = this.host;
    const id = iq.attr('id');
    const query = iq.getChild('query', NS.register)!;
    const reply = (payload: Element | null): void => {
      const r = el('iq', { xmlns: NS.client, type: 'result', id });
      if (payload) r.append(payload);
      host.sendElement(r);
    };
    if (iq.attr('type') === 'get') {
      reply(el('query', { xmlns: NS.register }, el('instructions', null, 'Choose a user name and a password of at least 8 characters.'), el('username', null), el('password', null)));
      return;
    }
    if (iq.attr('type') !== 'set') return;
    try {
      if (this.registered) throw new ParleyError('not-allowed', 'one account per connection');
      if (query.getChild('remove')) throw new ParleyError('not-authorized', 'authenticate to cancel a registration');
      const username = query.getChild('username')?.text() ?? '';
      const password = query.getChild('password')?.text() ?? '';
      if (username === '' || password === '') throw new ParleyError('not-acceptable', 'a user name and a password are required');
      if (username.includes('@') || username.includes('/')) throw new ParleyError('jid-malformed', 'the user name is the part before @');
      await host.engine.auth.register(`${username}@${host.domain}`, password, host.transport.remoteAddress);
      this.registered = true;
      reply(null);
    } catch (e) {
      const { condition, text } = conditionOf(e);
      host.sendElement(errorReply(iq, errorElement(condition, text), undefined, host.domain));
    }
  }
}
