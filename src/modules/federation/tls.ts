/**
 * TLS material of server-to-server streams: the certificate each local domain presents (both directions: as
 * the TLS server on incoming streams, as the TLS client on outgoing ones, which SASL EXTERNAL needs, XEP-0178
 * §3), the trust anchors peers' certificates are validated against (RFC 6120 §13.7.2), and what a peer's
 * certificate proves once the handshake is done. Parley's TLS profile (protocols/tls-profile.ts) applies.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { ParleyError } from '../../core/errors.js';
import { tlsProfile } from '../../protocols/tls-profile.js';
import { certificateNames, dnsNamesOf } from './names.js';
import type { FederationOptions } from './options.js';

/** What a peer's certificate says about a domain. */
export interface PeerIdentity {
  /** Chained to a trust anchor and valid now (the TLS layer's verdict). */
  trusted: boolean;
  /** One of its DNS-IDs names the domain (RFC 6125). */
  names: boolean;
  /** Why it does not prove the domain, when it does not. */
  problem: string | null;
  subject: string | null;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint: string | null;
}

/** The certificates presented and the trust anchors used. */
export class FederationTls {
  private readonly byDomain = new Map<string, SecureContext>();
  private readonly shared: SecureContext | null;
  /** The CA bundle given in trust.caFile (undefined: Node's store). */
  readonly ca: string | undefined;

  constructor(opts: Pick<FederationOptions, 'tls' | 'trust'>) {
    this.ca = opts.trust.caFile === undefined ? undefined : read(opts.trust.caFile, 'modules.federation.trust.caFile');
    const ctx = (certFile: string, keyFile: string, at: string): SecureContext => {
      try {
        return createSecureContext({ cert: read(certFile, `${at}.certFile`), key: read(keyFile, `${at}.keyFile`), ca: this.ca, ...tlsProfile() });
      } catch (e) {
        if (e instanceof ParleyError) throw e;
        throw new ParleyError('bad-request', `${at}: the certificate and key do not make a TLS context (${e instanceof Error ? e.message : 'error'})`);
      }
    };
    this.shared = opts.tls.certFile !== undefined && opts.tls.keyFile !== undefined ? ctx(opts.tls.certFile, opts.tls.keyFile, 'modules.federation.tls') : null;
    for (const [d, p] of Object.entries(opts.tls.domains)) this.byDomain.set(d.toLowerCase(), ctx(p.certFile, p.keyFile, `modules.federation.tls.domains.${d}`));
    if (this.shared === null && this.byDomain.size === 0) {
      throw new ParleyError('bad-request', 'modules.federation.tls: give a certificate (certFile and keyFile, or one per domain): server-to-server streams are always encrypted');
    }
  }

  /** The context of a local domain (a room domain uses its parent's), or null when none is configured for it. */
  contextFor(domain: string): SecureContext | null {
    const d = domain.toLowerCase();
    const own = this.byDomain.get(d);
    if (own !== undefined) return own;
    const dot = d.indexOf('.');
    const parent = dot === -1 ? undefined : this.byDomain.get(d.slice(dot + 1));
    return parent ?? this.shared;
  }
}

/** Reads a PEM file, or a clear start-up error naming the option. */
function read(file: string, at: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ParleyError('bad-request', `${at}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** What the peer's certificate on `socket` proves about `domain` (RFC 6120 §13.7.2, RFC 6125 §6). */
export function peerIdentity(socket: TLSSocket, domain: string): PeerIdentity {
  const cert = socket.getPeerCertificate();
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) {
    return { trusted: false, names: false, problem: 'the peer presented no certificate', subject: null, fingerprint: null };
  }
  const names = certificateNames(dnsNamesOf(cert.subjectaltname), domain);
  const verdict = verification(socket);
  const trusted = verdict === null;
  const subject = cert.subject === undefined ? null : Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  let problem: string | null = null;
  if (!trusted) problem = `the certificate is not trusted (${verdict})`;
  else if (!names) problem = `the certificate does not name ${domain} (RFC 6125 DNS-ID)`;
  return { trusted, names, problem, subject, fingerprint: cert.fingerprint256 ?? null };
}

/** The shape of the TLS handle's verification call (OpenSSL's SSL_get_verify_result). */
interface VerifyingHandle {
  verifyError(): (Error & { code?: string }) | null;
}

/**
 * null when the peer's chain validated against the context's trust anchors, else why not. A client socket has
 * `authorized`; a server socket made from an existing one (STARTTLS) is not given it by Node, so the handle's
 * own verdict is read, as Node does for its TLS servers.
 */
export function verification(socket: TLSSocket): string | null {
  if (socket.authorized) return null;
  if (socket.authorizationError) return String(socket.authorizationError);
  const handle = (socket as unknown as { _handle: VerifyingHandle | null })._handle;
  if (handle === null || typeof handle.verifyError !== 'function') return 'not verified';
  const err = handle.verifyError();
  return err === null ? null : (err.code ?? err.message);
}
