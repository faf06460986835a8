/**
 * A test certificate authority made with openssl in a temporary folder (tests only): a CA and, per domain, a
 * certificate whose subjectAltName carries DNS names only (the domain and its conference subdomain, RFC 6125
 * DNS-IDs; xmppAddr names are left out, as some servers reject them), usable as TLS server and client
 * certificate (SASL EXTERNAL presents it as a client, XEP-0178).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A CA in `dir`. */
export interface TestCa {
  dir: string;
  name: string;
  caFile: string;
  /** Issues a certificate for `names` (the first is the file name); returns the PEM paths. */
  issue(names: string[]): { certFile: string; keyFile: string };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** Makes a CA called `name` in `dir`. */
export function makeCa(dir: string, name: string): TestCa {
  const key = join(dir, `${name}-ca.key`);
  const caFile = join(dir, `${name}-ca.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', caFile, '-days', '2', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 1;
  return {
    dir,
    name,
    caFile,
    issue(names) {
      const base = join(dir, `${name}-${names[0]}`);
      const keyFile = `${base}.key`;
      const csr = `${base}.csr`;
      const certFile = `${base}.pem`;
      const ext = `${base}.ext`;
      writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0]}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', key, '-set_serial', String(serial++), '-out', certFile, '-days', '2', '-extfile', ext]);
      return { certFile, keyFile };
    },
  };
}
