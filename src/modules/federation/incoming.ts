/**
 * An incoming server-to-server stream (RFC 6120: Parley is the receiving entity). The peer opens a stream to a
 * local domain; Parley answers with a stream id and requires STARTTLS before anything else (§5.3.1: an
 * unencrypted stream carries no stanza, plaintext is never an option). After TLS the peer authenticates each
 * domain pair it wants to send for:
 *
 * - SASL EXTERNAL (§6, XEP-0178): offered when the peer's certificate validates against the trust anchors; on
 *   `<auth>` its DNS-IDs must name the claimed domain (RFC 6125), else a SASL `<failure>` (not a stream error),
 *   so the peer can still fall back to dialback.
 * - Dialback (XEP-0220 §2.1.2-2.1.4): `<db:result>` asks Parley to verify the key with the originating domain's
 *   authoritative server over a separate connection (outgoing.ts, purpose "verify"); several pairs may be
 *   piggybacked on one stream (§2.5). Where the certificate validates and names the domain, the key is not
 *   needed (XEP-0344 §2.4).
 * - `<db:verify>` (§2.3): Parley is the authoritative server of the `to` domain, checks a key it issued.
 *
 * Stanzas then: `from` on a domain authenticated on this stream for the `to` domain (§8.1.2.1, §13.7), else the
 * stream error invalid-from and the stream is closed; a stanza for a domain not hosted here is refused.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Element } from '../../protocols/xmpp/xml/element.js';
import type { Decision } from './policy.js';
import { verifyDialbackKey } from './dialback.js';
import { dbElement, DIALBACK_FEATURE_NS, DIALBACK_NS, S2sStream, s2sHeader, SASL_NS, SERVER_NS, STANZA_ERRORS_NS, TLS_NS, type StreamBase } from './stream.js';
import { peerIdentity, type FederationTls, type PeerIdentity } from './tls.js';
import type { StreamErrorCondition } from '../../protocols/xmpp/xml/stream-parser.js';

/** Dialback verifications one incoming stream may have in flight (each opens a connection to another server). */
const MAX_VERIFYING = 4;

/** How a domain pair was authenticated. */
export type AuthMethod = 'sasl-external' | 'dialback' | 'dialback-certificate';

/** What an incoming stream needs from the module. */
export interface IncomingDeps extends StreamBase {
  readonly tls: FederationTls;
  /** Hosted and room domains. */
  isLocal(domain: string): boolean;
  readonly dialback: { enabled: boolean; secret: string; allowUntrusted: boolean };
  readonly negotiationMs: number;
  /** Whether the policy lets `remote` connect to `local` at all. */
  admits(local: string, remote: string): Decision;
  /** Asks the authoritative server of `originating` whether `key` is good (XEP-0220 §2.1.3). */
  verify(receiving: string, originating: string, streamId: string, key: string): Promise<boolean>;
  /** Charges one stanza of `remote` to its rate; milliseconds of debt (0: within the rate). */
  charge(remote: string): number;
  /** An authenticated stanza, `from` and `to` checked. */
  stanza(stream: IncomingStream, e: Element, remote: string, local: string): void;
  /** A pair authenticated (audit, links). */
  authenticated(stream: IncomingStream, local: string, remote: string, method: AuthMethod, peer: PeerIdentity | null): void;
  /** An attempt refused (audit). */
  refused(stream: IncomingStream, local: string | null, remote: string | null, reason: string): void;
  closed(stream: IncomingStream): void;
}

/** One incoming s2s stream. */
export class IncomingStream extends S2sStream {
  /** The stream id of the current stream (a new one after each restart, RFC 6120 §4.7.3). */
  streamId = '';
  /** The local domain the peer opened the stream to. */
  local = '';
  /** The `from` of the peer's latest stream header (its domain, RFC 6120 §4.7.1). */
  private headerFrom = '';
  /** Dialback verifications this stream is waiting for. */
  private verifying = 0;
  /** Authenticated pairs, `remote|local`. */
  private readonly pairs = new Set<string>();
  private sentHeader = false;
  private saslDone = false;
  private timer: NodeJS.Timeout | null;
  /** Why reading is paused: over the remote server's rate, or too many stanzas still being handled. */
  private readonly paused = { rate: false, backlog: false };
  /** Stanzas received and counted for the links listing. */
  stanzasIn = 0;
  readonly since = Date.now();

  constructor(socket: Socket, private readonly deps: IncomingDeps, directTls: boolean) {
    super(socket, deps);
    if (directTls) this.tls = socket as TLSSocket;
    this.timer = setTimeout(() => this.fail('connection-timeout', 'the stream was not authenticated in time'), deps.negotiationMs);
    this.timer.unref();
  }

  /** The remote domains authenticated on this stream. */
  remotes(): string[] {
    return [...new Set([...this.pairs].map((p) => p.slice(0, p.indexOf('|'))))];
  }

  protected headerSent(): boolean {
    return this.sentHeader;
  }

  protected sendErrorHeader(): void {
    this.sentHeader = true;
    this.send(s2sHeader({ id: randomBytes(12).toString('hex') }));
  }

  protected override read(chunk: Buffer): void {
    super.read(chunk);
  }

  protected onHeader(attrs: Record<string, string>): void {
    this.streamId = randomBytes(12).toString('hex');
    const to = (attrs.to ?? '').toLowerCase();
    this.headerFrom = (attrs.from ?? '').toLowerCase();
    this.sentHeader = true;
    this.send(s2sHeader({ from: to === '' ? undefined : to, to: attrs.from, id: this.streamId }));
    if (attrs.xmlns !== SERVER_NS) return this.fail('invalid-namespace', `a server-to-server stream is in ${SERVER_NS} (RFC 6120 §4.8.2)`);
    if (to === '' || !this.deps.isLocal(to)) {
      this.deps.refused(this, to || null, attrs.from ?? null, `no such domain here: ${to || '(none)'}`);
      return this.fail('host-unknown', `${to || 'the stream'} is not served here`);
    }
    if (this.local !== '' && to !== this.local) return this.fail('host-unknown', 'a restarted stream names the same domain');
    this.local = to;
    const features: string[] = [];
    if (this.tls === null) features.push(`<starttls xmlns="${TLS_NS}"><required/></starttls>`);
    else {
      const peerDomain = (attrs.from ?? '').toLowerCase();
      const id = peerDomain === '' ? null : peerIdentity(this.tls, peerDomain);
      // XEP-0178 §3: offer EXTERNAL only when the certificate validates (the name is checked at <auth>).
      if (!this.saslDone && id !== null && id.trusted) features.push(`<mechanisms xmlns="${SASL_NS}"><mechanism>EXTERNAL</mechanism></mechanisms>`);
      if (this.deps.dialback.enabled) features.push(`<dialback xmlns="${DIALBACK_FEATURE_NS}"><errors/></dialback>`);
    }
    this.send(`<stream:features>${features.join('')}</stream:features>`);
  }

  protected onElement(e: Element): void {
    if (this.tls === null) {
      if (e.name === 'starttls' && e.xmlns === TLS_NS) return this.startTls();
      return this.fail('policy-violation', 'STARTTLS is required before anything else on this server (RFC 6120 §5.3.1)');
    }
    if (e.xmlns === SASL_NS && e.name === 'auth') return this.external(e);
    if (e.xmlns === DIALBACK_NS && e.name === 'result') return void this.dbResult(e);
    if (e.xmlns === DIALBACK_NS && e.name === 'verify') return this.dbVerify(e);
    if (e.xmlns !== SERVER_NS || (e.name !== 'message' && e.name !== 'presence' && e.name !== 'iq')) {
      return this.fail('unsupported-stanza-type', `<${e.name}/> is not expected on this stream`);
    }
    this.stanza(e);
  }

  private startTls(): void {
    const ctx = this.deps.tls.contextFor(this.local);
    if (ctx === null) return this.fail('internal-server-error', `no certificate for ${this.local}`);
    this.send(`<proceed xmlns="${TLS_NS}"/>`);
    this.upgrade({ server: ctx, sni: (n) => this.deps.tls.contextFor(n) }).catch((err: unknown) => {
      this.deps.refused(this, this.local, null, `TLS handshake failed: ${err instanceof Error ? err.message : 'error'}`);
      this.socket.destroy();
    });
  }

  /** SASL EXTERNAL (RFC 6120 §6.4, XEP-0178 §3): the authzid (or the stream's `from`) must be named by the certificate. */
  private external(e: Element): void {
    const failure = (condition: string, text: string, remote: string | null): void => {
      this.deps.refused(this, this.local, remote, `SASL EXTERNAL: ${text}`);
      this.send(`<failure xmlns="${SASL_NS}"><${condition}/><text xml:lang="en">${text.replace(/[<&>]/g, ' ')}</text></failure>`);
    };
    if (this.saslDone) return failure('not-authorized', 'already authenticated', null);
    if (e.attr('mechanism') !== 'EXTERNAL') return failure('invalid-mechanism', 'only EXTERNAL is offered', null);
    // XEP-0178 §3: the authorization identity is the domain; none ("=") means the stream header's from.
    const text = e.text().trim();
    const remote = text !== '' && text !== '=' ? Buffer.from(text, 'base64').toString('utf8').toLowerCase() : this.headerFrom;
    if (remote === '') return failure('invalid-authzid', 'name the domain as the authorization identity, or in the stream header (XEP-0178 §3)', null);
    const id = peerIdentity(this.tls!, remote);
    if (!id.trusted || !id.names) return failure('not-authorized', id.problem ?? 'the certificate does not prove the domain', remote);
    const admitted = this.deps.admits(this.local, remote);
    if (!admitted.allowed) {
      this.deps.refused(this, this.local, remote, `policy: ${admitted.reason}`);
      this.send(`<failure xmlns="${SASL_NS}"><not-authorized/><text xml:lang="en">policy-violation: ${admitted.reason}</text></failure>`);
      return;
    }
    this.saslDone = true;
    this.authenticate(remote, this.local, 'sasl-external', id);
    this.send(`<success xmlns="${SASL_NS}"/>`);
    // RFC 6120 §6.4.6: the stream restarts after success.
    this.parser.reset();
  }

  /** `<db:result>` from the originating server (XEP-0220 §2.1.2): verify, answer valid or invalid. */
  private async dbResult(e: Element): Promise<void> {
    const remote = (e.attr('from') ?? '').toLowerCase();
    const local = (e.attr('to') ?? '').toLowerCase();
    const answer = (type: string, error = ''): void => {
      this.send(dbElement('result', { from: local, to: remote, type }, '', error));
    };
    const errorOf = (condition: string, text: string): string =>
      `<error type="cancel"><${condition} xmlns="${STANZA_ERRORS_NS}"/><text xmlns="${STANZA_ERRORS_NS}" xml:lang="en">${text.replace(/[<&>]/g, ' ')}</text></error>`;
    if (!this.deps.dialback.enabled) return answer('error', errorOf('feature-not-implemented', 'dialback is off here'));
    if (remote === '' || local === '') return this.fail('improper-addressing', 'db:result needs from and to (XEP-0220 §2.1.2)');
    if (!this.deps.isLocal(local)) {
      this.deps.refused(this, local, remote, 'dialback for a domain not served here');
      return answer('error', errorOf('item-not-found', `${local} is not served here`));
    }
    const admitted = this.deps.admits(local, remote);
    if (!admitted.allowed) {
      this.deps.refused(this, local, remote, `policy: ${admitted.reason}`);
      return answer('error', errorOf('policy-violation', admitted.reason));
    }
    const id = peerIdentity(this.tls!, remote);
    if (id.trusted && id.names) {
      // XEP-0344 §2.4: a certificate that validates and names the domain proves it; no callback needed.
      this.authenticate(remote, local, 'dialback-certificate', id);
      return answer('valid');
    }
    if (!this.deps.dialback.allowUntrusted) {
      this.deps.refused(this, local, remote, `dialback without a valid certificate is not allowed: ${id.problem ?? ''}`);
      return answer('error', errorOf('not-authorized', 'this server requires a valid certificate'));
    }
    // Each db:result makes Parley open a connection: a stream gets a few at a time, not an amplifier.
    if (this.verifying >= MAX_VERIFYING) {
      this.deps.refused(this, local, remote, 'dialback: too many verifications in flight on one stream');
      return answer('error', errorOf('resource-constraint', 'too many dialback requests at once'));
    }
    let ok = false;
    this.verifying++;
    try {
      ok = await this.deps.verify(local, remote, this.streamId, e.text());
    } catch (err) {
      this.deps.refused(this, local, remote, `dialback: the authoritative server could not be asked (${err instanceof Error ? err.message : 'error'})`);
      return answer('error', errorOf('remote-connection-failed', `could not reach ${remote} to verify the key`));
    } finally {
      this.verifying--;
    }
    if (this.closedState) return;
    if (!ok) {
      this.deps.refused(this, local, remote, 'dialback: the authoritative server says the key is invalid');
      return answer('invalid');
    }
    this.authenticate(remote, local, 'dialback', id);
    answer('valid');
  }

  /** `<db:verify>` (XEP-0220 §2.3): Parley is the authoritative server of `to`, checking a key it made. */
  private dbVerify(e: Element): void {
    const receiving = (e.attr('from') ?? '').toLowerCase();
    const originating = (e.attr('to') ?? '').toLowerCase();
    const id = e.attr('id') ?? '';
    if (!this.deps.isLocal(originating)) {
      this.send(dbElement('verify', { from: originating, to: receiving, id, type: 'invalid' }));
      return;
    }
    const ok = verifyDialbackKey(this.deps.dialback.secret, receiving, originating, id, e.text());
    this.send(dbElement('verify', { from: originating, to: receiving, id, type: ok ? 'valid' : 'invalid' }));
  }

  private authenticate(remote: string, local: string, method: AuthMethod, peer: PeerIdentity | null): void {
    this.pairs.add(`${remote}|${local}`);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.parser.setLimits({ maxStanzaBytes: this.deps.maxStanzaBytes });
    this.deps.authenticated(this, local, remote, method, peer);
  }

  private stanza(e: Element): void {
    const from = (e.attr('from') ?? '').toLowerCase();
    const to = (e.attr('to') ?? '').toLowerCase();
    const remote = bareDomain(from);
    const local = bareDomain(to);
    // RFC 6120 §4.9.3.6: a to on a domain not served here.
    if (local !== '' && !this.deps.isLocal(local)) {
      this.deps.refused(this, local, remote || null, `stanza to ${to}, a domain not served here`);
      return this.fail('host-unknown', `${local} is not served here`);
    }
    // RFC 6120 §8.1.2.1, §13.7: the from must be on a domain authenticated on this stream for that to.
    if (remote === '' || local === '' || !this.pairs.has(`${remote}|${local}`)) {
      this.deps.refused(this, local || null, remote || null, `stanza from ${from || '(none)'} to ${to || '(none)'} is not authenticated on this stream`);
      return this.fail('invalid-from', `${remote || 'an empty from'} is not authenticated on this stream for ${local || 'that to'}`);
    }
    this.stanzasIn++;
    const wait = this.deps.charge(remote);
    if (wait > 0 && !this.paused.rate) {
      // RFC 6120 §13.12: over the remote server's rate, stop reading this stream until the debt is paid.
      this.paused.rate = true;
      this.pauseReading(true);
      setTimeout(() => {
        this.paused.rate = false;
        if (!this.paused.backlog) this.pauseReading(false);
      }, wait).unref();
    }
    this.deps.stanza(this, e, remote, local);
  }

  /** Stops (true) or resumes reading while the stanzas already read are being handled (back-pressure). */
  hold(on: boolean): void {
    if (this.paused.backlog === on) return;
    this.paused.backlog = on;
    if (on) this.pauseReading(true);
    else if (!this.paused.rate) this.pauseReading(false);
  }

  protected override failed(condition: StreamErrorCondition, text: string): void {
    if (condition === 'invalid-from' || condition === 'policy-violation' || condition === 'not-authorized') return;
    if (condition === 'system-shutdown' || condition === 'connection-timeout' || condition === 'host-unknown') return;
    this.deps.refused(this, this.local || null, this.remotes()[0] ?? null, `${condition}: ${text}`);
  }

  protected onTeardown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deps.closed(this);
  }
}

/** The domainpart of an address (RFC 7622 §3.2), lowercase. */
export function bareDomain(address: string): string {
  const slash = address.indexOf('/');
  const bare = slash === -1 ? address : address.slice(0, slash);
  return bare.slice(bare.indexOf('@') + 1).toLowerCase();
}
