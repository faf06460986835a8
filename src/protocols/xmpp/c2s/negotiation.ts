/**
 * A client stream before binding (RFC 6120 §4.3): STARTTLS (§5), SASL (§6, sasl.ts), in-band registration
 * (XEP-0077, registration.ts), then resource binding (§7, bind.ts) or the resumption of a hibernated session
 * (XEP-0198), all within the negotiation time limit. What the stream restarts mean for the parser and the
 * stream header is the connection's (NegotiationHost.restart()).
 */
import type { Authenticated } from '../../../engine/auth-service.js';
import type { Session } from '../../../engine/session.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { onPreBindIq, type BindHost } from './bind.js';
import { NS } from './ns.js';
import { InBandRegistration, registrationOpen, type RegistrationHost } from './registration.js';
import { SaslNegotiation, type SaslHost } from './sasl.js';

/** What negotiation needs from its stream (the connection). */
export interface NegotiationHost extends SaslHost, RegistrationHost, BindHost {
  /** The bound session: set here when binding opens it. */
  session: Session | null;
  /** XEP-0198: a <resume/> takes over a hibernated session (which then sets the session). */
  readonly sm: { resume(element: Element): Promise<void> };
  /** Ends the stream with the closing tag (§4.4). */
  closeStream(): void;
  /**
   * The stream restarts (§5.4.3.3 after TLS, §6.4.6 after SASL): the parser drops what it read and a new header
   * is due; once authenticated, the larger stanza limit applies.
   */
  restart(authenticated: boolean): void;
}

/** The negotiation state of one stream: who authenticated, the SASL and registration exchanges, the time limit. */
export class Negotiation {
  /** The user SASL authenticated (or whose session was resumed); null before. */
  user: string | null = null;
  /**
   * Fingerprint of the credentials SASL proved (AuthService), so a password change in between refuses the bind,
   * and the bot's API key it proved (its revocation ends the session).
   */
  private credentials: string | undefined;
  private credentialRef: string | undefined;
  /** SASL state (sasl.ts), made when the client starts authenticating. */
  private sasl: SaslNegotiation | null = null;
  /** XEP-0077 registration state (registration.ts), made on the first registration request. */
  private registration: InBandRegistration | null = null;
  private timer: NodeJS.Timeout | null;

  constructor(private readonly host: NegotiationHost) {
    this.timer = setTimeout(() => {
      if (!host.session) host.streamError('connection-timeout', 'stream negotiation took too long');
    }, host.opts.negotiationTimeoutMs);
    this.timer.unref?.();
  }

  /** A depth-1 element before binding. */
  async onElement(element: Element): Promise<void> {
    const { host } = this;
    const ns = element.xmlns;
    if (ns === NS.tls && element.name === 'starttls') return this.startTls();
    if (ns === NS.sasl && this.user === null) {
      this.sasl ??= new SaslNegotiation(host, (auth, additional) => this.authenticated(auth, additional));
      return this.sasl.onElement(element);
    }
    if (this.user === null && !host.transport.secure() && host.opts.requireTls && host.transport.canStartTls()) {
      host.streamError('policy-violation', 'STARTTLS is required before anything else');
      return;
    }
    if (ns === NS.client && element.name === 'iq') {
      if (this.user === null) {
        if (element.getChild('query', NS.register) && registrationOpen(host)) {
          return (this.registration ??= new InBandRegistration(host)).register(element);
        }
        host.streamError('not-authorized', 'authenticate first');
        return;
      }
      return onPreBindIq(host, element, { user: this.user, credentials: this.credentials, credentialRef: this.credentialRef }, (session) => this.bound(session));
    }
    if (ns === NS.sm && element.name === 'resume' && this.user !== null) {
      await host.sm.resume(element);
      return;
    }
    if (ns === NS.sm && element.name === 'enable') {
      host.writeNonza(serialize(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors }))));
      return;
    }
    host.streamError('not-authorized', this.user === null ? 'authenticate first' : 'bind a resource first');
  }

  /** A hibernated session of `user` was resumed on this stream (XEP-0198): negotiation is over. */
  resumed(user: string): void {
    this.user = user;
    this.stopTimer();
  }

  /** The transport closed: the time limit and a SASL exchange in progress are abandoned. */
  abort(): void {
    this.stopTimer();
    this.sasl?.abort();
  }

  private async startTls(): Promise<void> {
    const { host } = this;
    if (!host.transport.canStartTls() || this.user !== null) {
      host.writeNonza(serialize(el('failure', { xmlns: NS.tls })));
      host.closeStream();
      return;
    }
    host.writeNonza(serialize(el('proceed', { xmlns: NS.tls })));
    // §5.4.3.3: nothing sent before the handshake belongs to the new stream (the parser drops it).
    host.restart(false);
    try {
      await host.transport.startTls();
    } catch {
      host.transport.destroy();
    }
  }

  /** SASL succeeded (sasl.ts checked the account's domain): the stream is authenticated and restarts (§6.4.6). */
  private authenticated(auth: Authenticated, additional: Buffer | null): void {
    this.user = auth.user;
    this.credentials = auth.credentials;
    this.credentialRef = auth.credentialRef;
    // Both serve only unauthenticated streams: not kept for the life of this one.
    this.sasl = null;
    this.registration = null;
    this.host.writeNonza(serialize(el('success', { xmlns: NS.sasl }, additional ? additional.toString('base64') : '')));
    this.host.restart(true);
  }

  /** Resource binding (bind.ts) opened `session`: it is this stream's now, and negotiation is over. */
  private bound(session: Session): void {
    this.host.session = session;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
