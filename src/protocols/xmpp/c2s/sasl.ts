/**
 * SASL negotiation of an XMPP stream (RFC 6120 §6): SCRAM-SHA-1/256 with or without channel binding (RFC 5802,
 * RFC 7677, RFC 9266; the exchange itself is AuthService's) and PLAIN (RFC 4616) where the stream is encrypted
 * or the operator allowed it. Failures answer with the §6.5 conditions; after MAX_SASL_FAILURES the stream is
 * closed. On success the connection restarts the stream (§6.4.6).
 */
import { ParleyError } from '../../../core/errors.js';
import { parseAddress, type Address } from '../../../core/address.js';
import type { Engine } from '../../../engine/engine.js';
import type { Authenticated as EngineAuthenticated, SaslExchange } from '../../../engine/auth-service.js';
import type { ChannelBindingSupport, ScramMechanismName } from '../../../auth/scram.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { channelBindingData, channelBindingTypes, type ChannelBindingType } from '../tls/channel-binding.js';
import { NS } from './ns.js';
import type { Transport } from './transport.js';
import type { XmppOptions } from './types.js';

/** SASL failure conditions, RFC 6120 §6.5. */
type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'not-authorized'
  | 'temporary-auth-failure';

/** After this many failed authentications the stream is closed (§6.4.5 asks for at least 2, at most 5 retries). */
const MAX_SASL_FAILURES = 3;

/** What SASL needs from its stream. */
export interface SaslHost {
  readonly transport: Transport;
  readonly engine: Engine;
  readonly opts: XmppOptions;
  /** The served domain of the stream (an account of another domain is refused). */
  readonly domain: string;
  readonly isClosing: boolean;
  /** Writes a stream-level element (never counted by stream management). */
  writeNonza(text: string): void;
  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  streamError(condition: StreamErrorCondition, text?: string): void;
}

/**
 * Called once SASL succeeded (for a user in the stream's domain): the connection writes <success/> with the
 * `additional` data and restarts the stream. `auth.credentials` fingerprints what was proved (AuthService);
 * `auth.credentialRef` names a bot's API key, whose revocation ends the session.
 */
export type Authenticated = (auth: EngineAuthenticated, additional: Buffer | null) => void;

/** The SASL state of one stream before authentication. */
export class SaslNegotiation {
  private sasl: { mech: string; exchange: SaslExchange | null; awaiting: 'first' | 'final' } | null = null;
  private saslFailures = 0;
  /** A -PLUS mechanism was tried on this stream (see channelBinding()). */
  private plusTried = false;

  constructor(
    private readonly host: SaslHost,
    private readonly authenticated: Authenticated,
  ) {}

  /** The stream is gone: an exchange in progress is abandoned. */
  abort(): void {
    this.sasl?.exchange?.abort();
    this.sasl = null;
  }

  /** A SASL element (<auth/>, <response/>, <abort/>) before authentication. */
  async onElement(element: Element): Promise<void> {
    switch (element.name) {
      case 'auth':
        return this.saslAuth(element);
      case 'response':
        return this.saslResponse(element);
      case 'abort':
        this.sasl?.exchange?.abort();
        this.sasl = null;
        return this.saslFailure('aborted', 'authentication aborted', false);
      default:
        this.host.streamError('unsupported-stanza-type', `<${element.name}/> is not a SASL element`);
    }
  }

  private async saslAuth(element: Element): Promise<void> {
    if (this.sasl) {
      this.sasl.exchange?.abort();
      this.sasl = null;
    }
    const mech = element.attr('mechanism') ?? '';
    if (!this.host.transport.secure() && this.host.opts.requireTls) {
      return this.saslFailure('encryption-required', 'negotiate TLS first');
    }
    if (!mechanisms(this.host.transport, this.host.opts).includes(mech)) return this.saslFailure('invalid-mechanism', `mechanism ${mech || '(none)'} is not offered`);
    const initial = decodeSasl(element.text());
    if (initial === undefined) return this.saslFailure('incorrect-encoding', 'the initial response is not valid base64');
    if (mech === 'PLAIN') {
      if (initial === null) {
        this.sasl = { mech, exchange: null, awaiting: 'first' };
        this.host.writeNonza(serialize(el('challenge', { xmlns: NS.sasl })));
        return;
      }
      return this.plain(initial);
    }
    const channelBinding = this.channelBinding();
    const exchange = this.host.engine.auth.scram(mech as ScramMechanismName, this.host.domain, this.host.transport.remoteAddress, {
      ...(channelBinding ? { channelBinding } : {}),
      // The client sent its first message and went quiet: the exchange has failed (RFC 6120 §6.4.5 lets the
      // client retry); a temporary failure, since no password was judged.
      onTimeout: () => {
        if (this.sasl?.exchange !== exchange || this.host.isClosing) return;
        this.sasl = null;
        this.saslFailure('temporary-auth-failure', 'the authentication exchange took too long; start again');
      },
    });
    if (mech.endsWith('-PLUS')) this.plusTried = true;
    this.sasl = { mech, exchange, awaiting: 'first' };
    if (initial === null) {
      // §6.4.2: a mechanism needing a client-first message without an initial response gets an empty challenge.
      this.host.writeNonza(serialize(el('challenge', { xmlns: NS.sasl })));
      return;
    }
    await this.scramFirst(initial);
  }

  private async saslResponse(element: Element): Promise<void> {
    const s = this.sasl;
    if (!s) return this.saslFailure('malformed-request', 'no authentication in progress', false);
    const data = decodeSasl(element.text());
    if (data === undefined) {
      s.exchange?.abort();
      this.sasl = null;
      return this.saslFailure('incorrect-encoding', 'the response is not valid base64');
    }
    if (s.mech === 'PLAIN') {
      this.sasl = null;
      return this.plain(data ?? Buffer.alloc(0));
    }
    if (s.awaiting === 'first') return this.scramFirst(data ?? Buffer.alloc(0));
    this.sasl = null;
    try {
      const { user, credentials, serverFinal } = s.exchange!.finish((data ?? Buffer.alloc(0)).toString('utf8'));
      this.saslSuccess({ user, credentials }, Buffer.from(serverFinal, 'utf8'));
    } catch (e) {
      this.saslError(e);
    }
  }

  private async scramFirst(data: Buffer): Promise<void> {
    const s = this.sasl!;
    try {
      const serverFirst = await s.exchange!.start(data.toString('utf8'));
      // Gone, timed out or replaced while the server-first-message was prepared: nothing to answer.
      if (this.host.isClosing || this.sasl !== s) return s.exchange!.abort();
      s.awaiting = 'final';
      this.host.writeNonza(serialize(el('challenge', { xmlns: NS.sasl }, Buffer.from(serverFirst, 'utf8').toString('base64'))));
    } catch (e) {
      this.sasl = null;
      this.saslError(e);
    }
  }

  /** RFC 4616: [authzid] NUL authcid NUL passwd. */
  private async plain(data: Buffer): Promise<void> {
    const parts = data.toString('utf8').split('\u0000');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') return this.saslFailure('malformed-request', 'PLAIN wants authzid NUL authcid NUL password');
    const [authzid, authcid, password] = parts as [string, string, string];
    try {
      const address = authcid.includes('@') ? authcid : `${authcid}@${this.host.domain}`;
      // The password may also be a bot's API key (docs/bots.md): bots have no SCRAM credentials.
      const auth = await this.host.engine.auth.authenticateSecret(address, password, this.host.transport.remoteAddress);
      if (authzid !== '' && !sameBare(authzid, auth.user)) return this.saslFailure('invalid-authzid', 'you may only act as yourself');
      this.saslSuccess(auth, null);
    } catch (e) {
      this.saslError(e);
    }
  }

  private channelBinding(): ChannelBindingSupport | undefined {
    const tls = this.host.transport.tlsSocket();
    if (!tls || !this.host.transport.secure()) return undefined;
    const types = channelBindingTypes(tls);
    // RFC 5802 §6: a client flag "y" (it could bind but thinks we cannot) fails when we offered -PLUS: someone
    // may have stripped those mechanisms. A client that already tried -PLUS on this stream saw them, so its
    // "y" after that attempt failed (say, it knows only tls-unique, which TLS 1.3 lacks) is no downgrade.
    return {
      advertised: types.length > 0 && !this.plusTried,
      data: (name) => (types.includes(name as ChannelBindingType) ? channelBindingData(tls, name as ChannelBindingType) : null),
    };
  }

  private saslSuccess(auth: EngineAuthenticated, additional: Buffer | null): void {
    if (this.host.isClosing) return;
    const domainOfUser = auth.user.slice(auth.user.indexOf('@') + 1);
    if (domainOfUser !== this.host.domain) {
      this.saslFailure('not-authorized', `the account is not in ${this.host.domain}`);
      return;
    }
    this.authenticated(auth, additional);
  }

  private saslError(e: unknown): void {
    if (e instanceof ParleyError) {
      // RFC 6120 §6.5.1: the account is disabled (only said once the password was proved).
      if (e.code === 'account-disabled') return this.saslFailure('account-disabled', e.message, false);
      if (e.code === 'account-locked' || e.code === 'rate-limited') return this.saslFailure('temporary-auth-failure', e.message);
      if (e.code === 'bad-request') return this.saslFailure('malformed-request', e.message);
      if (e.code === 'not-authorized') {
        const scram = e.details?.scramError;
        // Channel-binding refusals say why; a wrong password never says more than that.
        const text = typeof scram === 'string' && scram !== 'invalid-proof' && scram !== 'other-error' ? `${e.message} (${scram})` : 'wrong address or password';
        // A -PLUS attempt with a binding type this connection lacks checked no password: it does not count
        // towards the stream's failed attempts (clients try such mechanisms before falling back).
        const guess = scram !== 'unsupported-channel-binding-type' && scram !== 'channel-binding-not-supported';
        return this.saslFailure('not-authorized', text, guess);
      }
      if (e.code === 'unexpected-request') return this.saslFailure('malformed-request', e.message);
      // A key that may not log in (a person's key, or one without the bot scope): RFC 6120 §6.5.10 with why.
      if (e.code === 'forbidden') return this.saslFailure('not-authorized', e.message);
    }
    this.host.engine.ctx.log.error({ err: e }, 'sasl failed');
    this.saslFailure('temporary-auth-failure', 'authentication failed on the server; try again');
  }

  private saslFailure(condition: SaslCondition, text: string, counts = true): void {
    this.host.writeNonza(serialize(el('failure', { xmlns: NS.sasl }, el(condition, null), el('text', { 'xml:lang': 'en' }, text))));
    if (counts && ++this.saslFailures >= MAX_SASL_FAILURES) this.host.streamError('policy-violation', 'too many failed authentication attempts');
  }
}

/** SASL mechanisms offered now (RFC 6120 §6.3.3), strongest first. */
export function mechanisms(transport: Transport, opts: XmppOptions): string[] {
  const secure = transport.secure();
  const out: string[] = [];
  if (channelBindingTypesOf(transport).length > 0) out.push('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS');
  out.push('SCRAM-SHA-256', 'SCRAM-SHA-1');
  // PLAIN sends the password itself: only inside TLS (RFC 6120 §13.8), unless a benchmark switched that off.
  if (secure || opts.allowPlainWithoutTls) out.push('PLAIN');
  return out;
}

/** The channel-binding types this stream's TLS connection offers (none without TLS). */
export function channelBindingTypesOf(transport: Transport): ChannelBindingType[] {
  const tls = transport.tlsSocket();
  return tls && transport.secure() ? channelBindingTypes(tls) : [];
}

/** SASL payload: absent → null, "=" → empty (RFC 6120 §6.4.2), else strict base64; undefined when invalid. */
function decodeSasl(text: string): Buffer | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}

function sameBare(a: string, user: string): boolean {
  try {
    const x: Address = parseAddress(a);
    return x.resource === null && `${x.local}@${x.domain}` === user;
  } catch {
    return false;
  }
}
