import { X509Certificate, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as asn1js from 'asn1js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CertificateOptions, CertificateStore, UNKNOWN_SNI_NAME } from './certs.js';

const DAY = 24 * 60 * 60 * 1000;

interface LogLine {
  level: 'info' | 'warn';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recorder(): { lines: LogLine[]; log: NonNullable<CertificateOptions['log']> } {
  const lines: LogLine[] = [];
  return {
    lines,
    log: {
      info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

/** Extensions of a DER certificate by OID: criticality and the DER inside extnValue (RFC 5280 §4.1). */
function extensionsOf(der: Buffer): Map<string, { critical: boolean; value: Buffer }> {
  const cert = asn1js.fromBER(der).result as asn1js.Sequence;
  const tbs = cert.valueBlock.value[0] as asn1js.Sequence;
  const tagged = tbs.valueBlock.value.find(
    (b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 3,
  ) as asn1js.Constructed;
  const list = tagged.valueBlock.value[0] as asn1js.Sequence;
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  for (const ext of list.valueBlock.value as asn1js.Sequence[]) {
    const parts = ext.valueBlock.value;
    const oid = (parts[0] as asn1js.ObjectIdentifier).getValue();
    const critical = parts.length === 3 && (parts[1] as asn1js.Boolean).getValue();
    const value = Buffer.from((parts[parts.length - 1] as asn1js.OctetString).valueBlock.valueHexView);
    out.set(oid, { critical, value });
  }
  return out;
}

async function listen(options: tls.TlsOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    socket.end();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Connects and resolves with the certificate the server presented, or rejects with the handshake error. */
function peerCertificate(port: number, options: tls.ConnectionOptions = {}): Promise<tls.DetailedPeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const cert = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'parley-tls-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('CertificateStore: generated certificates', () => {
  it('generates a self-signed ECDSA P-256 certificate per domain, with the expected profile and modes', async () => {
    const dir = path.join(tmp, 'certs');
    const now = Math.floor(Date.now() / 1000) * 1000;
    const rec = recorder();
    const store = await CertificateStore.load({
      domains: ['localhost', 'example.com'],
      configured: {},
      dir,
      log: rec.log,
      now: () => now,
    });

    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.readdir(dir)).sort()).toEqual([
      'example.com.crt',
      'example.com.key',
      'localhost.crt',
      'localhost.key',
    ]);
    expect(store.list().map((c) => [c.domain, c.source])).toEqual([
      ['localhost', 'generated'],
      ['example.com', 'generated'],
    ]);

    for (const domain of ['localhost', 'example.com']) {
      const info = store.get(domain)!;
      const keyFile = path.join(dir, `${domain}.key`);
      const certFile = path.join(dir, `${domain}.crt`);
      expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
      const certPem = await fs.readFile(certFile, 'utf8');
      expect(certPem).toBe(info.certPem);
      const x509 = new X509Certificate(certPem);
      const key = createPrivateKey(await fs.readFile(keyFile));

      expect(x509.checkPrivateKey(key)).toBe(true);
      expect(x509.verify(x509.publicKey)).toBe(true); // self-signed
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(x509.subject).toBe(`CN=${domain}`);
      expect(x509.issuer).toBe(`CN=${domain}`);
      expect(x509.subjectAltName).toBe(`DNS:${domain}, DNS:*.${domain}`);
      expect(x509.ca).toBe(false);
      expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // Node reports extendedKeyUsage here
      expect(x509.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/); // 16 bytes, positive
      expect(x509.fingerprint256).toBe(info.fingerprintSha256);
      expect(info.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      // What a client's trust dialog may show instead, and the file to import (README).
      expect(info.fingerprintSha1).toBe(x509.fingerprint);
      expect(info.fingerprintSha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      expect(info.file).toBe(certFile);

      const notBefore = Date.parse(x509.validFrom);
      const notAfter = Date.parse(x509.validTo);
      expect(notBefore).toBe(now - 60 * 60 * 1000);
      expect(notAfter - notBefore).toBe(825 * DAY);
      expect(info.notAfter.getTime()).toBe(notAfter);

      const ext = extensionsOf(x509.raw);
      expect(ext.get('2.5.29.19')).toEqual({ critical: true, value: Buffer.from('3000', 'hex') }); // CA:FALSE
      // keyUsage: digitalSignature only
      expect(ext.get('2.5.29.15')).toEqual({ critical: true, value: Buffer.from('03020780', 'hex') });
      expect(ext.get('2.5.29.37')?.critical).toBe(false);
      expect(ext.get('2.5.29.17')?.critical).toBe(false);
    }

    const generated = rec.lines.filter((l) => l.msg?.startsWith('generated'));
    expect(generated).toEqual([
      {
        level: 'info',
        obj: { domain: 'localhost', fingerprint: store.get('localhost')!.fingerprintSha256 },
        msg: 'generated a self-signed certificate for localhost; clients will be asked to trust this fingerprint',
      },
      {
        level: 'info',
        obj: { domain: 'example.com', fingerprint: store.get('example.com')!.fingerprintSha256 },
        msg: 'generated a self-signed certificate for example.com; clients will be asked to trust this fingerprint',
      },
    ]);
  });

  it('is trusted by a client that pins it, for the domain and one-label subdomains', async () => {
    const store = await CertificateStore.load({ domains: ['example.com'], configured: {}, dir: tmp });
    const server = await listen(store.serverOptions());
    try {
      const ca = store.get('example.com')!.certPem;
      for (const servername of ['example.com', 'conference.example.com']) {
        const cert = await peerCertificate(server.port, { servername, ca, rejectUnauthorized: true });
        expect(cert.fingerprint256).toBe(store.get('example.com')!.fingerprintSha256);
      }
      // Two labels down is not covered: that name is unknown here and gets the "invalid" certificate, which the
      // pinned CA did not issue.
      await expect(
        peerCertificate(server.port, { servername: 'a.b.example.com', ca, rejectUnauthorized: true }),
      ).rejects.toThrow(/self-signed certificate/);
    } finally {
      await server.close();
    }
  });

  it('reuses stored certificates on the next load', async () => {
    const first = await CertificateStore.load({ domains: ['localhost', 'example.com'], configured: {}, dir: tmp });
    const rec = recorder();
    const second = await CertificateStore.load({
      domains: ['localhost', 'example.com'],
      configured: {},
      dir: tmp,
      log: rec.log,
    });
    expect(second.list().map((c) => c.source)).toEqual(['reused', 'reused']);
    expect(second.list().map((c) => c.fingerprintSha256)).toEqual(first.list().map((c) => c.fingerprintSha256));
    expect(rec.lines.filter((l) => l.level === 'warn' || l.msg?.startsWith('generated'))).toEqual([]);
  });

  it('regenerates expired, soon-expiring and not-yet-valid certificates', async () => {
    const realNow = Date.now();
    const cases: Array<[string, number, string]> = [
      ['expired.test', realNow - 900 * DAY, 'expires within 30 days'],
      ['expiring.test', realNow - 810 * DAY, 'expires within 30 days'], // 15 days left
      ['future.test', realNow + 10 * DAY, 'not valid yet'],
    ];
    for (const [domain, then, reason] of cases) {
      const old = await CertificateStore.load({ domains: [domain], configured: {}, dir: tmp, now: () => then });
      const rec = recorder();
      const fresh = await CertificateStore.load({ domains: [domain], configured: {}, dir: tmp, log: rec.log });
      const info = fresh.get(domain)!;
      expect(info.source).toBe('generated');
      expect(info.fingerprintSha256).not.toBe(old.get(domain)!.fingerprintSha256);
      expect(info.notAfter.getTime()).toBeGreaterThan(realNow + 800 * DAY);
      expect(rec.lines.find((l) => l.level === 'warn')?.msg).toContain(reason);
      // The files now hold the new certificate.
      expect(new X509Certificate(await fs.readFile(path.join(tmp, `${domain}.crt`))).fingerprint256).toBe(
        info.fingerprintSha256,
      );
    }
    // 31 days left is still fine.
    const ok = 'ok.test';
    await CertificateStore.load({ domains: [ok], configured: {}, dir: tmp, now: () => realNow - 794 * DAY });
    const again = await CertificateStore.load({ domains: [ok], configured: {}, dir: tmp });
    expect(again.get(ok)!.source).toBe('reused');
  });

  it('regenerates when the stored key does not match, a file is missing or garbled', async () => {
    const first = await CertificateStore.load({ domains: ['a.test', 'b.test'], configured: {}, dir: tmp });
    const fp = (d: string) => first.get(d)!.fingerprintSha256;

    // a.test's key replaced by b.test's: mismatch.
    await fs.copyFile(path.join(tmp, 'b.test.key'), path.join(tmp, 'a.test.key'));
    let rec = recorder();
    let store = await CertificateStore.load({ domains: ['a.test', 'b.test'], configured: {}, dir: tmp, log: rec.log });
    expect(store.get('a.test')!.source).toBe('generated');
    expect(store.get('a.test')!.fingerprintSha256).not.toBe(fp('a.test'));
    expect(store.get('b.test')!.source).toBe('reused');
    expect(rec.lines.some((l) => l.level === 'warn' && l.msg?.includes('does not match'))).toBe(true);
    const key = createPrivateKey(await fs.readFile(path.join(tmp, 'a.test.key')));
    expect(new X509Certificate(await fs.readFile(path.join(tmp, 'a.test.crt'))).checkPrivateKey(key)).toBe(true);

    // Only the key left (as after a crash between the two renames).
    await fs.rm(path.join(tmp, 'b.test.crt'));
    rec = recorder();
    store = await CertificateStore.load({ domains: ['b.test'], configured: {}, dir: tmp, log: rec.log });
    expect(store.get('b.test')!.source).toBe('generated');
    expect(rec.lines.some((l) => l.level === 'warn' && l.msg?.includes('is missing'))).toBe(true);

    // Garbage in the certificate file.
    await fs.writeFile(path.join(tmp, 'b.test.crt'), 'not a certificate');
    store = await CertificateStore.load({ domains: ['b.test'], configured: {}, dir: tmp });
    expect(store.get('b.test')!.source).toBe('generated');

    // No temporary files are left behind.
    expect((await fs.readdir(tmp)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('tightens an existing certificate directory to 0700', async () => {
    const dir = path.join(tmp, 'loose');
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    await CertificateStore.load({ domains: ['localhost'], configured: {}, dir });
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
  });
});

describe('CertificateStore: configured certificates', () => {
  /** Makes a PEM pair in its own directory by way of the generator; returns the file paths. */
  async function pemPair(domain: string): Promise<{ cert: string; key: string; fingerprint: string }> {
    const dir = path.join(tmp, `src-${domain}`);
    const store = await CertificateStore.load({ domains: [domain], configured: {}, dir });
    return {
      cert: path.join(dir, `${domain}.crt`),
      key: path.join(dir, `${domain}.key`),
      fingerprint: store.get(domain)!.fingerprintSha256,
    };
  }

  it('serves the configured pair and generates only for the other domains', async () => {
    const pair = await pemPair('example.com');
    const dir = path.join(tmp, 'certs');
    const store = await CertificateStore.load({
      domains: ['localhost', 'example.com'],
      configured: { 'example.com': { cert: pair.cert, key: pair.key } },
      dir,
    });
    expect(store.get('example.com')).toMatchObject({ source: 'configured', fingerprintSha256: pair.fingerprint });
    expect(store.get('localhost')!.source).toBe('generated');
    expect((await fs.readdir(dir)).sort()).toEqual(['localhost.crt', 'localhost.key']);
  });

  it('loads a configured domain that is not in the domain list, and serves it by SNI', async () => {
    const pair = await pemPair('muc.example.org');
    const store = await CertificateStore.load({
      domains: ['example.org'],
      configured: { 'muc.example.org': pair },
      dir: path.join(tmp, 'certs'),
    });
    expect(store.list().map((c) => [c.domain, c.source])).toEqual([
      ['example.org', 'generated'],
      ['muc.example.org', 'configured'],
    ]);
    expect(store.get('muc.example.org')!.fingerprintSha256).toBe(pair.fingerprint);
  });

  it('fails with a message naming the domain and files when key and certificate do not match', async () => {
    const a = await pemPair('example.com');
    const b = await pemPair('other.example');
    const err = await CertificateStore.load({
      domains: ['example.com'],
      configured: { 'example.com': { cert: a.cert, key: b.key } },
      dir: path.join(tmp, 'certs'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `TLS certificate for example.com: ${b.key} does not match the certificate ${a.cert}`,
    );
  });

  it('fails with a message naming the domain and file when a file is unreadable or not PEM', async () => {
    const a = await pemPair('example.com');
    const missing = path.join(tmp, 'nope.crt');
    const load = (pair: { cert: string; key: string }) =>
      CertificateStore.load({
        domains: ['example.com'],
        configured: { 'example.com': pair },
        dir: path.join(tmp, 'certs'),
      });
    await expect(load({ cert: missing, key: a.key })).rejects.toThrow(
      `TLS certificate for example.com: ${missing} cannot be read`,
    );
    const junk = path.join(tmp, 'junk.pem');
    await fs.writeFile(junk, 'junk');
    await expect(load({ cert: junk, key: a.key })).rejects.toThrow(
      `TLS certificate for example.com: ${junk} is not a PEM X.509 certificate`,
    );
    await expect(load({ cert: a.cert, key: junk })).rejects.toThrow(
      `TLS certificate for example.com: ${junk} is not an unencrypted PEM private key`,
    );
  });

  it('warns about a configured certificate that does not name its domain', async () => {
    const a = await pemPair('example.com');
    const rec = recorder();
    const store = await CertificateStore.load({
      domains: ['example.net'],
      configured: { 'example.net': a },
      dir: path.join(tmp, 'certs'),
      log: rec.log,
    });
    expect(store.get('example.net')!.source).toBe('configured');
    expect(rec.lines.some((l) => l.level === 'warn' && l.msg?.includes('does not name'))).toBe(true);
  });
});

describe('CertificateStore: domains, lookup and runtime additions', () => {
  it('rejects domain names unsafe as file names', async () => {
    for (const bad of [
      '',
      '../etc',
      'a/b',
      'a..b',
      '.hidden',
      'a\\b',
      'exa mple.com',
      'a\u0000b',
      'caf\u00e9.example',
      'example.\u212Aom', // KELVIN SIGN, which lower-cases to an ASCII k
      `${'a'.repeat(64)}.com`,
      'a_b.com',
    ]) {
      await expect(CertificateStore.load({ domains: [bad], configured: {}, dir: tmp }), bad).rejects.toThrow(
        /invalid XMPP domain/,
      );
    }
    const store = await CertificateStore.load({ domains: ['localhost'], configured: {}, dir: tmp });
    await expect(store.add('../../x')).rejects.toThrow(/invalid XMPP domain/);
    await expect(
      CertificateStore.load({ domains: ['localhost'], configured: { 'x/y': { cert: 'a', key: 'b' } }, dir: tmp }),
    ).rejects.toThrow(/invalid XMPP domain/);
    expect((await fs.readdir(tmp)).sort()).toEqual(['localhost.crt', 'localhost.key']);
  });

  it('lower-cases domain names', async () => {
    const store = await CertificateStore.load({ domains: ['LocalHost'], configured: {}, dir: tmp });
    expect(store.list().map((c) => c.domain)).toEqual(['localhost']);
    expect(store.get('LOCALHOST.')?.domain).toBe('localhost');
    expect((await store.add('Example.COM.')).domain).toBe('example.com');
  });

  it('finds a certificate by exact name or by the parent domain whose wildcard covers the name', async () => {
    const store = await CertificateStore.load({
      domains: ['example.com', 'chat.example.com'],
      configured: {},
      dir: tmp,
    });
    expect(store.get('example.com')?.domain).toBe('example.com');
    expect(store.get('chat.example.com')?.domain).toBe('chat.example.com');
    expect(store.get('conference.example.com')?.domain).toBe('example.com');
    expect(store.get('rooms.chat.example.com')?.domain).toBe('chat.example.com');
    expect(store.get('a.b.example.com')).toBeUndefined(); // *.example.com covers one label only
    expect(store.get('example.org')).toBeUndefined();
    expect(store.get('com')).toBeUndefined();
  });

  it('adds a domain at runtime, once even when asked concurrently', async () => {
    const rec = recorder();
    const store = await CertificateStore.load({ domains: ['localhost'], configured: {}, dir: tmp, log: rec.log });
    const [a, b] = await Promise.all([store.add('new.example'), store.add('new.example')]);
    expect(a).toBe(b);
    expect(a.source).toBe('generated');
    expect(store.get('new.example')).toBe(a);
    expect(await store.add('new.example')).toBe(a);
    expect(store.list().map((c) => c.domain)).toEqual(['localhost', 'new.example']);
    expect(
      rec.lines.filter((l) => l.msg?.startsWith('generated a self-signed certificate for new.example')),
    ).toHaveLength(1);
  });

  it('refuses serverOptions() without any certificate', async () => {
    const store = await CertificateStore.load({ domains: [], configured: {}, dir: tmp });
    expect(() => store.serverOptions()).toThrow(/no TLS certificate/);
  });
});

describe('CertificateStore.serverOptions', () => {
  it('chooses the certificate by SNI; no SNI gets the first domain, an unknown name a certificate for "invalid"', async () => {
    const store = await CertificateStore.load({ domains: ['localhost', 'example.com'], configured: {}, dir: tmp });
    const opts = store.serverOptions();
    expect(opts.minVersion).toBe('TLSv1.2');
    expect(opts.maxVersion).toBe('TLSv1.3');
    expect(opts.ciphers).not.toMatch(/CBC|-SHA(:|$)/);
    const server = await listen(opts);
    try {
      const expectCert = async (servername: string | undefined, domain: string) => {
        const cert = await peerCertificate(server.port, servername === undefined ? {} : { servername });
        expect(cert.subject.CN, String(servername)).toBe(domain);
        expect(cert.fingerprint256, String(servername)).toBe(store.get(domain)!.fingerprintSha256);
      };
      await expectCert('localhost', 'localhost');
      await expectCert('example.com', 'example.com');
      await expectCert('conference.example.com', 'example.com');
      await expectCert(undefined, 'localhost'); // no SNI at all
      // A name not hosted here gets none of the hosted domains' certificates (nor their names).
      const hosted = store.list().map((c) => c.fingerprintSha256);
      for (const servername of ['unknown.example', 'a.b.example.com']) {
        const cert = await peerCertificate(server.port, { servername });
        expect(cert.subject.CN, servername).toBe(UNKNOWN_SNI_NAME);
        expect(cert.subjectaltname, servername).toBe(`DNS:${UNKNOWN_SNI_NAME}, DNS:*.${UNKNOWN_SNI_NAME}`);
        expect(hosted, servername).not.toContain(cert.fingerprint256);
      }
      // The same one each time, and never written to the certificate directory.
      const [x, y] = [await peerCertificate(server.port, { servername: 'x.example' }), await peerCertificate(server.port, { servername: 'y.example' })];
      expect(x.fingerprint256).toBe(y.fingerprint256);
      expect((await fs.readdir(tmp)).join(' ')).not.toContain(UNKNOWN_SNI_NAME);
      // A domain added after the server started is served too.
      await store.add('late.example');
      await expectCert('late.example', 'late.example');
    } finally {
      await server.close();
    }
  });

  it('works for a STARTTLS upgrade of an accepted socket (new tls.TLSSocket with isServer)', async () => {
    const store = await CertificateStore.load({ domains: ['localhost', 'example.com'], configured: {}, dir: tmp });
    const net = await import('node:net');
    const server = net.createServer((raw) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, ...store.serverOptions() });
      secure.on('error', () => {});
      secure.on('secure', () => secure.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      expect((await peerCertificate(port, { servername: 'example.com' })).subject.CN).toBe('example.com');
      expect((await peerCertificate(port, {})).subject.CN).toBe('localhost');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses TLS 1.0 and 1.1 and accepts 1.2 and 1.3', async () => {
    const store = await CertificateStore.load({ domains: ['localhost', 'example.com'], configured: {}, dir: tmp });
    const server = await listen(store.serverOptions());
    try {
      // SECLEVEL=0 lets this client offer the old versions at all, so the refusal is the server's.
      const old = { ciphers: 'DEFAULT@SECLEVEL=0', minVersion: 'TLSv1' as const };
      for (const maxVersion of ['TLSv1', 'TLSv1.1'] as const) {
        for (const servername of [undefined, 'example.com']) {
          const err = await peerCertificate(server.port, {
            ...old,
            maxVersion,
            ...(servername ? { servername } : {}),
          }).catch((e: unknown) => e);
          expect(err, `${maxVersion} ${servername}`).toBeInstanceOf(Error);
          expect((err as NodeJS.ErrnoException).code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
        }
      }
      // TLS 1.2 with the generated ECDSA certificate: CBC with a SHA-1 MAC is refused, AEAD accepted.
      const cbc = await peerCertificate(server.port, { servername: 'example.com', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }).catch((e: unknown) => e);
      expect((cbc as NodeJS.ErrnoException).code).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
      const gcm = await peerCertificate(server.port, { servername: 'example.com', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
      expect(gcm.subject.CN).toBe('example.com');
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect(
            {
              host: '127.0.0.1',
              port: server.port,
              servername: 'example.com',
              rejectUnauthorized: false,
              minVersion: version,
              maxVersion: version,
            },
            () => resolve(s),
          );
          s.once('error', reject);
        });
        expect(socket.getProtocol()).toBe(version);
        socket.destroy();
      }
    } finally {
      await server.close();
    }
  });
});
