/**
 * Channel binding data for SCRAM-*-PLUS (RFC 5802 §6) on the server side of an XMPP TLS connection, as offered
 * through XEP-0440: `tls-exporter` (RFC 9266) and `tls-server-end-point` (RFC 5929 §4). `tls-unique` is not
 * offered: it is undefined for TLS 1.3 and unsafe for TLS 1.2 without extended master secret (RFC 9266 §1).
 *
 * The functions take the server's TLSSocket once its handshake is complete; they answer "unavailable" (an empty
 * list, null) rather than throw when the socket cannot provide a type.
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import * as asn1js from 'asn1js';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';

/** RFC 9266 §2: exporter label; the context is empty and the length 32 bytes. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_LENGTH = 32;

/**
 * The channel binding types usable on this server-side socket, in preference order: `tls-exporter` only when TLS
 * 1.3 was negotiated (RFC 9266 §3: on TLS 1.2 it is safe only with extended master secret, which Node cannot
 * report), and `tls-server-end-point` whenever the server presented a certificate (RFC 5929 §4).
 */
export function channelBindingTypes(socket: TLSSocket): ChannelBindingType[] {
  const types: ChannelBindingType[] = [];
  if (socket.getProtocol() === 'TLSv1.3') types.push('tls-exporter');
  if (serverCertificateDer(socket) !== null) types.push('tls-server-end-point');
  return types;
}

/**
 * The channel binding data of `type` for this server-side socket, or null if that type is unavailable on it.
 *
 * - `tls-exporter` (RFC 9266 §2): `socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', <empty context>)`.
 *   In TLS 1.3 an empty context and no context give the same output (RFC 8446 §7.5).
 * - `tls-server-end-point` (RFC 5929 §4.1): the hash of the server's own DER certificate, using the hash function
 *   of the certificate's signatureAlgorithm, with MD5 and SHA-1 replaced by SHA-256.
 */
export function channelBindingData(socket: TLSSocket, type: ChannelBindingType): Buffer | null {
  switch (type) {
    case 'tls-exporter': {
      if (socket.getProtocol() !== 'TLSv1.3') return null;
      try {
        return socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0));
      } catch {
        return null; // socket closed or handshake not finished
      }
    }
    case 'tls-server-end-point': {
      const der = serverCertificateDer(socket);
      return der === null ? null : createHash(endPointHash(der)).update(der).digest();
    }
    default:
      return null;
  }
}

/** The DER certificate this socket presented as the server (`getCertificate().raw`), or null if none. */
function serverCertificateDer(socket: TLSSocket): Buffer | null {
  const cert = socket.getCertificate() as { raw?: unknown } | null;
  const raw = cert?.raw;
  return Buffer.isBuffer(raw) && raw.length > 0 ? raw : null;
}

/**
 * Hash of a signature algorithm OID, as the Node hash name, for RFC 5929 §4.1. MD5 and SHA-1 based algorithms map
 * to SHA-256 as that section requires; SHA-224/256/384/512 map to themselves.
 */
const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  // RSA PKCS #1 v1.5 (RFC 8017 Appendix A.2.4)
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  // ECDSA (RFC 3279 §2.2.3, RFC 5758 §3.2)
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  // DSA (RFC 3279 §2.2.2, RFC 5758 §3.1)
  '1.2.840.10040.4.3': 'sha256', // id-dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224',
  '2.16.840.1.101.3.4.3.2': 'sha256',
};

/** The hashAlgorithm OIDs inside RSASSA-PSS parameters (RFC 8017 Appendix A.2.3, RFC 4055 §2.1). */
const DIGEST_HASH: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha256', // id-sha1, replaced as RFC 5929 §4.1 requires
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * The hash for tls-server-end-point over this DER certificate (RFC 5929 §4.1), read from its outer
 * signatureAlgorithm (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue },
 * RFC 5280 §4.1.1.2). RSASSA-PSS names its hash in the parameters (absent: SHA-1, so SHA-256). Anything else,
 * including algorithms without a separate hash such as Ed25519, for which RFC 5929 leaves the binding undefined,
 * falls back to SHA-256, the choice common implementations make.
 */
function endPointHash(der: Buffer): string {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return 'sha256';
  const algorithm = parsed.result.valueBlock.value[1];
  if (!(algorithm instanceof asn1js.Sequence)) return 'sha256';
  const [oidBlock, params] = algorithm.valueBlock.value;
  if (!(oidBlock instanceof asn1js.ObjectIdentifier)) return 'sha256';
  const oid = oidBlock.getValue();
  if (oid === RSASSA_PSS) return pssHash(params);
  return SIGNATURE_HASH[oid] ?? 'sha256';
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... } (RFC 8017 A.2.3). */
function pssHash(params: asn1js.AsnType | undefined): string {
  if (!(params instanceof asn1js.Sequence)) return 'sha256';
  const tagged = params.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
  if (!(tagged instanceof asn1js.Constructed)) return 'sha256';
  const hashAlg = tagged.valueBlock.value[0];
  if (!(hashAlg instanceof asn1js.Sequence)) return 'sha256';
  const oid = hashAlg.valueBlock.value[0];
  return oid instanceof asn1js.ObjectIdentifier ? (DIGEST_HASH[oid.getValue()] ?? 'sha256') : 'sha256';
}
