/**
 * The one TLS profile of every listener Parley serves: XMPP STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368),
 * and HTTPS/WSS. It is Mozilla's "intermediate" server configuration (https://ssl-config.mozilla.org/, guidelines
 * 5.7): TLS 1.2 and 1.3 only (RFC 8996 retired 1.0 and 1.1); under TLS 1.2 only AEAD cipher suites with forward
 * secrecy (ECDHE or DHE key exchange; AES-GCM or ChaCha20-Poly1305), so no CBC, no SHA-1 MAC, no static RSA key
 * exchange (RFC 9325 §4.2). TLS 1.3 suites stay Node's defaults: every TLS 1.3 suite is AEAD and forward
 * secret (RFC 8446 §9.1, Appendix B.4). The client picks among these suites, as the profile says: all are strong.
 */
import type { SecureContextOptions } from 'node:tls';

/** TLS 1.2 cipher suites of the Mozilla intermediate profile, in its order (OpenSSL names). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
] as const;

/** Lowest and highest protocol version offered. */
export const TLS_MIN_VERSION = 'TLSv1.2';
export const TLS_MAX_VERSION = 'TLSv1.3';

/**
 * Options for tls.createServer, tls.createSecureContext, new tls.TLSSocket and https servers. `ciphers` names
 * only TLS 1.2 suites, which leaves Node's TLS 1.3 defaults in place; `dhparam: 'auto'` gives the DHE suites
 * well-known ffdhe parameters (RFC 7919), as the profile asks, instead of silently dropping them.
 */
export function tlsProfile(): Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'dhparam'> {
  return { minVersion: TLS_MIN_VERSION, maxVersion: TLS_MAX_VERSION, ciphers: TLS12_CIPHERS.join(':'), dhparam: 'auto' };
}
