/**
 * TLS certificates for the XMPP listeners: STARTTLS on 5222 (RFC 6120 §5) and direct TLS on 5223 (XEP-0368).
 *
 * Every served domain gets one certificate, chosen in this order:
 *  1. the PEM pair the operator configured for it (read and checked; a bad pair is a startup error);
 *  2. a certificate this server generated earlier and kept in `dir`, while it is sound and not close to expiry;
 *  3. a newly generated self-signed certificate, written to `dir`.
 *
 * Generated certificates let a fresh install speak TLS at once, without the openssl command line: the key pair
 * comes from node:crypto and the certificate is DER-encoded here (RFC 5280 §4.1) and signed with node:crypto.
 *
 * Why asn1js for the encoding: it is the one dependency that does what is needed and nothing else. The higher
 * level libraries were tried on Node 20 and set aside: @peculiar/x509 2.x will not load without `reflect-metadata`
 * (its DI container, tsyringe, demands a global Reflect polyfill), a second dependency, and pulls ~20 packages; its
 * 1.x line loads that polyfill into the process-wide `Reflect` itself; `selfsigned` 5.x is a wrapper over
 * @peculiar/x509 1.x plus pkijs (23 packages, ~9 MB) that generates the key pair itself; pkijs needs asn1js as a
 * peer dependency anyway. asn1js (PeculiarVentures, ESM with types, 2 packages, no side effects) gives exact DER
 * and also lets channel-binding.ts read a certificate's signature algorithm.
 */
import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import type * as Asn1js from 'asn1js';
import { tlsProfile } from '../../tls-profile.js';

type Asn1 = typeof Asn1js;

const generateKeyPairAsync = promisify(generateKeyPair);

/** An operator-configured certificate: paths to a PEM certificate (chain, leaf first) and its PEM private key. */
export interface CertPair {
  cert: string;
  key: string;
}

/** What {@link CertificateStore.load} needs. */
export interface CertificateOptions {
  /** Served XMPP domains, e.g. ['localhost', 'example.com']; the first one's certificate is the default. */
  domains: string[];
  /** Operator-configured PEM files per domain (may be empty). */
  configured: Record<string, CertPair>;
  /** Where generated certificates are kept; created with mode 0700 if missing. */
  dir: string;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Clock in epoch milliseconds (tests); defaults to Date.now. */
  now?: () => number;
}

/** One domain's certificate, ready to serve. */
export interface DomainCertificate {
  domain: string;
  source: 'configured' | 'generated' | 'reused';
  /** SHA-256 of the DER certificate as colon-separated upper-case hex, like `openssl x509 -fingerprint -sha256`. */
  fingerprintSha256: string;
  /** SHA-1 of the same, as older clients (and some trust dialogs) show it. */
  fingerprintSha1: string;
  /** The certificate's file: the configured one, or the one generated under `xmpp.certDir`; null when in memory. */
  file: string | null;
  notAfter: Date;
  context: tls.SecureContext;
  /** The PEM text served for this domain (for a configured pair, the whole chain file). */
  certPem: string;
}

/**
 * The name of the certificate served for an SNI name that is not hosted here: `invalid`, the special-use TLD
 * that never resolves (RFC 6761 §6.4), so the certificate names nothing anyone hosts.
 */
export const UNKNOWN_SNI_NAME = 'invalid';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A generated or reused certificate closer than this to its end of validity is replaced. */
const RENEW_BEFORE_MS = 30 * DAY_MS;
/** Validity of generated certificates: 825 days, the longest that Apple platforms accept for a server certificate. */
const VALIDITY_MS = 825 * DAY_MS;
/** Generated certificates start one hour in the past, so clients with a slightly slow clock accept them. */
const BACKDATE_MS = 60 * 60 * 1000;
/** ub-common-name (RFC 5280 Appendix A.1): a longer domain cannot be a CN, so the subject is left empty. */
const MAX_COMMON_NAME = 64;

/** Object identifiers used in generated certificates. */
const OID = {
  commonName: '2.5.4.3', // RFC 5280 Appendix A.1
  ecdsaWithSha256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  basicConstraints: '2.5.29.19', // RFC 5280 §4.2.1.9
  keyUsage: '2.5.29.15', // RFC 5280 §4.2.1.3
  extKeyUsage: '2.5.29.37', // RFC 5280 §4.2.1.12
  subjectAltName: '2.5.29.17', // RFC 5280 §4.2.1.6
  serverAuth: '1.3.6.1.5.5.7.3.1', // RFC 5280 §4.2.1.12
  clientAuth: '1.3.6.1.5.5.7.3.2', // RFC 5280 §4.2.1.12
} as const;

/** One LDH label (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1): letters, digits, inner hyphens, 1..63 characters. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Internal record: the public view plus what serving and matching need. */
interface Entry {
  info: DomainCertificate;
  keyPem: string;
  /** dNSName entries of the certificate's subjectAltName, lower-cased. */
  dnsNames: string[];
  x509: X509Certificate;
}

/** The TLS certificates of all served domains, with SNI selection for the listeners. */
export class CertificateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<DomainCertificate>>();
  private readonly configured = new Map<string, CertPair>();
  private readonly now: () => number;
  private defaultDomain: string | undefined;
  private dirReady: Promise<void> | undefined;
  /** The context for unknown SNI names, generated (in memory only) on first need. */
  private unknownName: Promise<tls.SecureContext> | undefined;

  private constructor(private readonly opts: CertificateOptions) {
    this.now = opts.now ?? Date.now;
    for (const [domain, pair] of Object.entries(opts.configured)) this.configured.set(normalizeDomain(domain), pair);
  }

  /**
   * Loads (or generates) the certificate of every domain in `opts.domains`, then of every configured domain not
   * listed there (a configured certificate for, say, a MUC component's own domain). Throws on an invalid domain
   * name and on a configured pair that cannot be read or whose key does not match.
   */
  static async load(opts: CertificateOptions): Promise<CertificateStore> {
    const store = new CertificateStore(opts);
    const order = opts.domains.map(normalizeDomain);
    store.defaultDomain = order[0];
    for (const domain of store.configured.keys()) if (!order.includes(domain)) order.push(domain);
    // One at a time: generation is quick (P-256) and sequential work keeps log lines and errors in config order.
    for (const domain of order) await store.add(domain);
    return store;
  }

  /**
   * The certificate for `domain`: its own, or else that of the nearest parent domain whose certificate names it
   * (RFC 6125 §6.4.3: a `*.example.com` dNSName covers exactly one more label, so conference.example.com is
   * covered by example.com's generated certificate, a.b.example.com is not). Case and a trailing dot are ignored.
   */
  get(domain: string): DomainCertificate | undefined {
    const name = domain.toLowerCase().replace(/\.$/, '');
    const exact = this.entries.get(name);
    if (exact) return exact.info;
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const parent = this.entries.get(name.slice(dot + 1));
      if (parent && covers(parent, name)) return parent.info;
    }
    return undefined;
  }

  /** All loaded certificates, in load order (the default domain first). */
  list(): DomainCertificate[] {
    return [...this.entries.values()].map((e) => e.info);
  }

  /**
   * Options for tls.createServer (direct TLS, XEP-0368) or `new tls.TLSSocket(socket, { isServer: true, ... })`
   * (STARTTLS, RFC 6120 §5.4.3.3): the default certificate (first domain) as `cert`/`key` for the server and as
   * `secureContext` for a bare TLSSocket, the shared TLS profile (src/protocols/tls-profile.ts), and an
   * SNICallback choosing by server name (RFC 6066 §3). The callback reads the live store, so domains add()ed
   * later are served.
   *
   * A client that sends no server name gets the default certificate. A name this server does not host gets a
   * certificate for `invalid` (UNKNOWN_SNI_NAME), never another hosted domain's: that would tell a scanner which
   * domains live here, and would fail verification anyway. RFC 6066 §3 lets a server either continue the
   * handshake like this or abort it with an unrecognized_name alert; Node's SNI callback cannot send that alert
   * (an error there only drops the connection), and a certificate that names nothing at least gives the client
   * a clear name-mismatch error.
   */
  serverOptions(): tls.TlsOptions {
    const first = this.defaultEntry();
    return {
      cert: first.info.certPem,
      key: first.keyPem,
      secureContext: first.info.context,
      ...tlsProfile(),
      SNICallback: (servername, cb) => {
        const known = this.get(servername);
        if (known) {
          cb(null, known.context);
          return;
        }
        this.unknownNameContext().then(
          (context) => cb(null, context),
          (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
        );
      },
    };
  }

  /** The context served for SNI names not hosted here: a self-signed certificate for `invalid`, made once. */
  private unknownNameContext(): Promise<tls.SecureContext> {
    this.unknownName ??= generateSelfSigned(UNKNOWN_SNI_NAME, this.now()).then(
      ({ certPem, keyPem }) => makeEntry(UNKNOWN_SNI_NAME, 'generated', null, certPem, keyPem, new X509Certificate(certPem)).info.context,
    );
    this.unknownName.catch(() => {
      this.unknownName = undefined; // let a later handshake try again
    });
    return this.unknownName;
  }

  /**
   * Adds a domain at runtime, exactly as load() does for each domain: the configured pair if there is one, else a
   * stored generated certificate if still sound, else a new one. Returns the existing entry for a known domain;
   * concurrent calls for the same domain share one generation.
   */
  async add(domain: string): Promise<DomainCertificate> {
    const name = normalizeDomain(domain);
    const existing = this.entries.get(name);
    if (existing) return existing.info;
    const inFlight = this.pending.get(name);
    if (inFlight) return inFlight;
    const job = (async () => {
      const pair = this.configured.get(name);
      const entry = pair ? await this.loadConfigured(name, pair) : await this.loadOrGenerate(name);
      this.entries.set(name, entry);
      this.defaultDomain ??= name;
      return entry.info;
    })().finally(() => this.pending.delete(name));
    this.pending.set(name, job);
    return job;
  }

  private defaultEntry(): Entry {
    const entry = this.defaultDomain === undefined ? undefined : this.entries.get(this.defaultDomain);
    const fallback = entry ?? this.entries.values().next().value;
    if (!fallback) throw new Error('no TLS certificate is loaded: configure at least one domain');
    return fallback;
  }

  /** Reads and checks an operator-configured pair; any problem is an Error naming the domain and the file. */
  private async loadConfigured(domain: string, pair: CertPair): Promise<Entry> {
    const fail = (file: string, what: string, cause?: unknown): Error =>
      new Error(
        `TLS certificate for ${domain}: ${file} ${what}${cause instanceof Error ? ` (${cause.message})` : ''}`,
        cause === undefined ? undefined : { cause },
      );
    const read = async (file: string): Promise<string> => {
      try {
        return await fs.readFile(file, 'utf8');
      } catch (err) {
        throw fail(file, 'cannot be read', err);
      }
    };
    const [certPem, keyPem] = [await read(pair.cert), await read(pair.key)];
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(certPem);
    } catch (err) {
      throw fail(pair.cert, 'is not a PEM X.509 certificate', err);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw fail(pair.key, 'is not an unencrypted PEM private key', err);
    }
    if (!x509.checkPrivateKey(key)) throw fail(pair.key, `does not match the certificate ${pair.cert}`);

    let entry: Entry;
    try {
      entry = makeEntry(domain, 'configured', pair.cert, certPem, keyPem, x509);
    } catch (err) {
      throw fail(pair.cert, 'cannot be used for TLS', err);
    }
    const left = entry.info.notAfter.getTime() - this.now();
    if (left <= 0) {
      this.opts.log?.warn(
        { domain, file: pair.cert, notAfter: entry.info.notAfter },
        `the configured TLS certificate for ${domain} has expired`,
      );
    } else if (left < RENEW_BEFORE_MS) {
      this.opts.log?.warn(
        { domain, file: pair.cert, notAfter: entry.info.notAfter },
        `the configured TLS certificate for ${domain} expires within 30 days`,
      );
    }
    if (!covers(entry, domain)) {
      this.opts.log?.warn(
        { domain, file: pair.cert, subjectAltName: x509.subjectAltName },
        `the configured TLS certificate for ${domain} does not name that domain`,
      );
    }
    this.opts.log?.info(
      { domain, fingerprint: entry.info.fingerprintSha256 },
      `using the configured TLS certificate for ${domain}`,
    );
    return entry;
  }

  /** Reuses `<dir>/<domain>.crt` + `.key` if sound, else generates, stores and returns a new self-signed pair. */
  private async loadOrGenerate(domain: string): Promise<Entry> {
    await this.ensureDir();
    const certFile = path.join(this.opts.dir, `${domain}.crt`);
    const keyFile = path.join(this.opts.dir, `${domain}.key`);
    const reused = await this.tryReuse(domain, certFile, keyFile);
    if (reused) return reused;

    const { certPem, keyPem } = await generateSelfSigned(domain, this.now());
    // Key first: a crash between the two renames leaves a new key beside the old certificate, a mismatch that the
    // next start notices and repairs. Each file is complete or absent, never half written.
    await writeFileAtomic(keyFile, keyPem, 0o600);
    await writeFileAtomic(certFile, certPem, 0o644);
    const entry = makeEntry(domain, 'generated', certFile, certPem, keyPem, new X509Certificate(certPem));
    this.opts.log?.info(
      { domain, fingerprint: entry.info.fingerprintSha256 },
      `generated a self-signed certificate for ${domain}; clients will be asked to trust this fingerprint`,
    );
    return entry;
  }

  /**
   * The stored pair for `domain` if both files parse, match, name the domain, are already valid and stay valid
   * for 30 more days; otherwise null (with a warning saying why, unless both files are simply absent).
   */
  private async tryReuse(domain: string, certFile: string, keyFile: string): Promise<Entry | null> {
    const [cert, key] = await Promise.all([readOptional(certFile), readOptional(keyFile)]);
    if (cert === null && key === null) return null;
    const replace = (reason: string): null => {
      this.opts.log?.warn(
        { domain, file: certFile, reason },
        `replacing the stored certificate for ${domain}: ${reason}`,
      );
      return null;
    };
    if (cert === null || key === null) return replace(`${cert === null ? certFile : keyFile} is missing`);
    if (cert instanceof Error || key instanceof Error)
      return replace(`cannot read it (${(cert instanceof Error ? cert : (key as Error)).message})`);
    let x509: X509Certificate;
    let privateKey: KeyObject;
    try {
      x509 = new X509Certificate(cert);
      privateKey = createPrivateKey(key);
    } catch (err) {
      return replace(`cannot parse it (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!x509.checkPrivateKey(privateKey)) return replace('the key does not match the certificate');
    const now = this.now();
    if (Date.parse(x509.validFrom) > now) return replace('it is not valid yet');
    if (Date.parse(x509.validTo) - now < RENEW_BEFORE_MS) return replace('it expires within 30 days');
    let entry: Entry;
    try {
      entry = makeEntry(domain, 'reused', certFile, cert, key, x509);
    } catch (err) {
      return replace(`TLS refuses it (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!covers(entry, domain)) return replace('it does not name the domain');
    this.opts.log?.info(
      { domain, fingerprint: entry.info.fingerprintSha256 },
      `reusing the stored self-signed certificate for ${domain}`,
    );
    return entry;
  }

  /** Creates the certificate directory once, owner-only (0700); tightens an existing one that others can read. */
  private ensureDir(): Promise<void> {
    this.dirReady ??= (async () => {
      const dir = this.opts.dir;
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const st = await fs.stat(dir);
      if ((st.mode & 0o077) !== 0) {
        try {
          await fs.chmod(dir, 0o700);
        } catch (err) {
          this.opts.log?.warn({ dir, err }, `cannot restrict the certificate directory ${dir} to its owner`);
        }
      }
    })().catch((err: unknown) => {
      this.dirReady = undefined; // let a later add() try again
      throw err;
    });
    return this.dirReady;
  }
}

/**
 * Lower-cases a domain name and checks that it is a plain DNS name (A-labels for IDNs, RFC 5890 §2.3.2.1): LDH
 * labels separated by single dots, at most 253 characters. That rules out '/', '..', '\\', spaces, NUL and every
 * other character unsafe in the file names built from it.
 */
function normalizeDomain(domain: string): string {
  const name = domain.replace(/\.$/, ''); // a trailing dot (absolute name) changes nothing
  // Checked before lower-casing, which maps some non-ASCII letters (U+212A KELVIN SIGN) to ASCII ones.
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    throw new Error(
      `invalid XMPP domain for a TLS certificate: ${JSON.stringify(domain)} (expected a lower-case ASCII DNS name)`,
    );
  }
  return name.toLowerCase();
}

/**
 * Whether the certificate names `host`: a dNSName equal to it, or `*.<parent>` when `host` is one label more than
 * `<parent>` (RFC 6125 §6.4.3). Without any dNSName, the subject CN decides (RFC 6125 §6.4.4), via OpenSSL.
 */
function covers(entry: Entry, host: string): boolean {
  if (entry.dnsNames.length === 0) return entry.x509.checkHost(host) !== undefined;
  if (entry.dnsNames.includes(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && entry.dnsNames.includes(`*${host.slice(dot)}`);
}

/** Builds the internal record, including the TLS context (which also proves OpenSSL accepts the pair). */
function makeEntry(
  domain: string,
  source: DomainCertificate['source'],
  file: string | null,
  certPem: string,
  keyPem: string,
  x509: X509Certificate,
): Entry {
  // The profile here too: after SNI the handshake goes on with this context.
  const context = tls.createSecureContext({ cert: certPem, key: keyPem, ...tlsProfile() });
  const dnsNames = (x509.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4).toLowerCase());
  return {
    info: {
      domain,
      source,
      fingerprintSha256: x509.fingerprint256,
      fingerprintSha1: x509.fingerprint,
      file,
      notAfter: new Date(Date.parse(x509.validTo)),
      context,
      certPem,
    },
    keyPem,
    dnsNames,
    x509,
  };
}

/** File contents, null when absent, or the read error. */
async function readOptional(file: string): Promise<string | null | Error> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Writes `data` to a fresh temporary file beside `file` with `mode`, flushes it, then renames it over `file`. */
async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'wx', mode);
  try {
    try {
      await handle.chmod(mode); // the umask may have narrowed or (unusually) the mode may need setting explicitly
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * A new self-signed server certificate for `domain` (RFC 5280 profile):
 * ECDSA P-256 key from node:crypto, ecdsa-with-SHA256 signature, subject CN=<domain>, subjectAltName
 * DNS:<domain> and DNS:*.<domain> (RFC 6120 §13.7.1.2 identifies an XMPP server by its dNSName), validity 825 days
 * from one hour ago, a random positive 128-bit serial (RFC 5280 §4.1.2.2), basicConstraints CA:FALSE,
 * keyUsage digitalSignature (all an ECDHE-ECDSA handshake needs) and extendedKeyUsage serverAuth + clientAuth
 * (clientAuth so the same certificate can authenticate this server on outgoing server-to-server links).
 */
async function generateSelfSigned(domain: string, now: number): Promise<{ certPem: string; keyPem: string }> {
  // Loaded only when a certificate is generated, not by every server at start.
  const asn1js: Asn1 = await import('asn1js');
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  // RFC 5280 §4.1.2.5: times are whole seconds; no fractional part is allowed.
  const notBefore = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_MS);

  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f || 0x01; // positive, and no leading zero byte, so the DER INTEGER is exactly 16 bytes

  const name = new asn1js.Sequence({
    value:
      domain.length <= MAX_COMMON_NAME
        ? [
            new asn1js.Set({
              value: [
                new asn1js.Sequence({
                  value: [
                    new asn1js.ObjectIdentifier({ value: OID.commonName }),
                    new asn1js.Utf8String({ value: domain }),
                  ],
                }),
              ],
            }),
          ]
        : [],
  });
  const signatureAlgorithm = (): Asn1js.Sequence =>
    // RFC 5758 §3.2: the parameters field of ecdsa-with-SHA256 MUST be absent.
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.ecdsaWithSha256 })] });

  const spki = asn1js.fromBER(publicKey.export({ type: 'spki', format: 'der' }));
  if (spki.offset === -1) throw new Error(`cannot encode the public key: ${spki.result.error}`);

  const dnsName = (value: string): Asn1js.Primitive =>
    // GeneralName dNSName is [2] IMPLICIT IA5String (RFC 5280 §4.2.1.6).
    new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 }, valueHex: Buffer.from(value, 'ascii') });

  const extensions = [
    // BasicConstraints with cA FALSE: the DEFAULT is omitted in DER, leaving an empty SEQUENCE (RFC 5280 §4.2.1.9).
    extension(asn1js, OID.basicConstraints, true, new asn1js.Sequence({ value: [] })),
    // KeyUsage with only bit 0, digitalSignature, set (RFC 5280 §4.2.1.3).
    extension(asn1js, OID.keyUsage, true, new asn1js.BitString({ unusedBits: 7, valueHex: new Uint8Array([0x80]) })),
    extension(
      asn1js,
      OID.extKeyUsage,
      false,
      new asn1js.Sequence({
        value: [
          new asn1js.ObjectIdentifier({ value: OID.serverAuth }),
          new asn1js.ObjectIdentifier({ value: OID.clientAuth }),
        ],
      }),
    ),
    // RFC 5280 §4.2.1.6: with an empty subject the subjectAltName extension MUST be critical.
    extension(
      asn1js,
      OID.subjectAltName,
      domain.length > MAX_COMMON_NAME,
      new asn1js.Sequence({ value: [dnsName(domain), dnsName(`*.${domain}`)] }),
    ),
  ];

  // TBSCertificate, RFC 5280 §4.1.2.
  const tbs = new asn1js.Sequence({
    value: [
      // [0] EXPLICIT version: 2 means v3, needed for extensions.
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Integer({ value: 2 })] }),
      new asn1js.Integer({ valueHex: serial }),
      signatureAlgorithm(),
      name, // issuer = subject: self-signed
      new asn1js.Sequence({ value: [encodeTime(asn1js, notBefore), encodeTime(asn1js, notAfter)] }),
      name,
      spki.result,
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 3 },
        value: [new asn1js.Sequence({ value: extensions })],
      }), // [3] extensions
    ],
  });
  const tbsDer = Buffer.from(tbs.toBER());
  // node:crypto's ECDSA output is the DER Ecdsa-Sig-Value that RFC 5758 §3.2 puts in the BIT STRING.
  const signature = sign('sha256', tbsDer, privateKey);
  const certificate = new asn1js.Sequence({
    value: [tbs, signatureAlgorithm(), new asn1js.BitString({ valueHex: signature })],
  });
  const der = Buffer.from(certificate.toBER());

  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  const certPem = `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem, keyPem };
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1). */
function extension(asn1js: Asn1, oid: string, critical: boolean, value: Asn1js.BaseBlock): Asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: oid }),
      ...(critical ? [new asn1js.Boolean({ value: true })] : []), // DER omits a DEFAULT value
      new asn1js.OctetString({ valueHex: value.toBER() }),
    ],
  });
}

/** RFC 5280 §4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from 2050 on. */
function encodeTime(asn1js: Asn1, date: Date): Asn1js.UTCTime {
  return date.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: date })
    : new asn1js.GeneralizedTime({ valueDate: date });
}
