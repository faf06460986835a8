/**
 * A throwaway certificate authority for the federation interop tests, made with the openssl command line.
 *
 * Each test domain gets a certificate from the test CA (for SASL EXTERNAL, RFC 6120 §6.4 with the RFC 6125
 * DNS-ID rules) and a self-signed one (for XEP-0220 dialback, where certificates cannot be validated). Names are
 * DNS subjectAltNames only: ejabberd 23.01's inbound s2s crashes on a peer certificate carrying an xmppAddr
 * (RFC 6120 §13.7.1.4) name, so none of these certificates has one. Each covers the domain and its
 * `conference.` subdomain, because each of those opens its own s2s stream and authenticates separately.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its private key, as PEM files. */
export interface CertPair {
  certFile: string;
  keyFile: string;
}

/** The files of a test CA and the certificates it issued. */
export interface TestPki {
  /** The CA's certificate (the trust anchor a peer is given as its cafile). */
  caFile: string;
  /** Per domain: the certificate the CA issued (DNS SANs: the domain and conference.<domain>). */
  issued: Record<string, CertPair>;
  /** Per domain: a self-signed certificate with the same names, which no peer can validate. */
  selfSigned: Record<string, CertPair>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/** The extensions of a server certificate: DNS names only, usable for both ends of an s2s connection. */
function extFile(dir: string, domain: string): string {
  const path = join(dir, `${domain}.ext`);
  writeFileSync(
    path,
    [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      // An s2s certificate is presented as a server (listener) and as a client (outgoing stream).
      'extendedKeyUsage = serverAuth, clientAuth',
      `subjectAltName = DNS:${domain}, DNS:conference.${domain}`,
      '',
    ].join('\n'),
  );
  return path;
}

/**
 * Makes a CA in `dir` and, for each domain, a CA-issued and a self-signed certificate (EC P-256 keys: quick to
 * make, and every peer here accepts them). Key files are world-readable so peers that drop root can read them.
 */
export function makeTestPki(dir: string, domains: string[]): TestPki {
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey], dir);
  openssl(
    ['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '2', '-subj', '/CN=Parley federation test CA', '-out', caFile,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const issued: Record<string, CertPair> = {};
  const selfSigned: Record<string, CertPair> = {};
  for (const domain of domains) {
    const ext = extFile(dir, domain);
    const keyFile = join(dir, `${domain}.key`);
    const csr = join(dir, `${domain}.csr`);
    const certFile = join(dir, `${domain}.crt`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
    openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${domain}`, '-out', csr], dir);
    openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', certFile], dir);
    issued[domain] = { certFile, keyFile };
    const ssKey = join(dir, `${domain}.self.key`);
    const ssCert = join(dir, `${domain}.self.crt`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ssKey], dir);
    openssl(['req', '-x509', '-new', '-key', ssKey, '-sha256', '-days', '2', '-subj', `/CN=${domain}`, '-out', ssCert,
      '-addext', `subjectAltName=DNS:${domain},DNS:conference.${domain}`, '-addext', 'extendedKeyUsage=serverAuth,clientAuth'], dir);
    selfSigned[domain] = { certFile: ssCert, keyFile: ssKey };
  }
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return { caFile, issued, selfSigned };
}
