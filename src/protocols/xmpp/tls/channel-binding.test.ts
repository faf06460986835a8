import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as asn1js from 'asn1js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from './certs.js';
import { channelBindingData, channelBindingTypes } from './channel-binding.js';

const LABEL = 'EXPORTER-Channel-Binding';

let tmp: string;
let store: CertificateStore;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'parley-cb-'));
  store = await CertificateStore.load({ domains: ['localhost', 'example.com'], configured: {}, dir: tmp });
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

interface Pair {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
}

/**
 * A TLS server on 127.0.0.1 handing out the server side of each connection; `upgrade` makes it accept plain TCP
 * and wrap it in `new tls.TLSSocket(..., { isServer: true })` as a STARTTLS listener does.
 */
async function startServer(
  upgrade = false,
): Promise<{ connect: (opts?: tls.ConnectionOptions) => Promise<Pair>; close: () => Promise<void> }> {
  const waiting: Array<(s: tls.TLSSocket) => void> = [];
  const accepted = (s: tls.TLSSocket) => {
    s.on('error', () => {});
    waiting.shift()?.(s);
  };
  let server: net.Server;
  if (upgrade) {
    server = net.createServer((raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, ...store.serverOptions() });
      s.on('secure', () => accepted(s));
      s.on('error', () => {});
    });
  } else {
    server = tls.createServer(store.serverOptions(), accepted);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sockets: tls.TLSSocket[] = [];
  return {
    connect: async (opts = {}) => {
      const serverSide = new Promise<tls.TLSSocket>((resolve) => waiting.push(resolve));
      const client = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect(
          { host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', ...opts },
          () => resolve(c),
        );
        c.once('error', reject);
      });
      const pair = { client, server: await serverSide };
      sockets.push(pair.client, pair.server);
      return pair;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('channel binding over real TLS connections', () => {
  it('offers tls-exporter on TLS 1.3 with data equal on both sides (RFC 9266)', async () => {
    const srv = await startServer();
    try {
      const { client, server } = await srv.connect({ maxVersion: 'TLSv1.3' });
      expect(server.getProtocol()).toBe('TLSv1.3');
      expect(channelBindingTypes(server)).toEqual(['tls-exporter', 'tls-server-end-point']);
      const data = channelBindingData(server, 'tls-exporter');
      expect(data).toBeInstanceOf(Buffer);
      expect(data).toHaveLength(32);
      expect(data).toEqual(client.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)));
      // TLS 1.3: no context gives the same output as an empty one (RFC 8446 §7.5). Node accepts an omitted context,
      // though @types/node 20 declares it required.
      const noContext = client.exportKeyingMaterial as (length: number, label: string) => Buffer;
      expect(data).toEqual(noContext.call(client, 32, LABEL));
      // Another connection has other keying material.
      const other = await srv.connect({ maxVersion: 'TLSv1.3' });
      expect(channelBindingData(other.server, 'tls-exporter')).not.toEqual(data);
    } finally {
      await srv.close();
    }
  });

  it('offers only tls-server-end-point when the connection is TLS 1.2', async () => {
    const srv = await startServer();
    try {
      const { client, server } = await srv.connect({ maxVersion: 'TLSv1.2' });
      expect(server.getProtocol()).toBe('TLSv1.2');
      expect(channelBindingTypes(server)).toEqual(['tls-server-end-point']);
      expect(channelBindingData(server, 'tls-exporter')).toBeNull();
      const expected = createHash('sha256').update(client.getPeerCertificate().raw).digest();
      expect(channelBindingData(server, 'tls-server-end-point')).toEqual(expected);
    } finally {
      await srv.close();
    }
  });

  it('tls-server-end-point is SHA-256 of the DER certificate the client saw, per SNI (RFC 5929 §4.1)', async () => {
    const srv = await startServer();
    try {
      for (const servername of ['localhost', 'example.com']) {
        const { client, server } = await srv.connect({ servername });
        const raw = client.getPeerCertificate().raw;
        expect(createHash('sha256').update(raw).digest('hex').toUpperCase().match(/../g)!.join(':')).toBe(
          store.get(servername)!.fingerprintSha256,
        );
        const data = channelBindingData(server, 'tls-server-end-point');
        expect(data).toEqual(createHash('sha256').update(raw).digest());
      }
    } finally {
      await srv.close();
    }
  });

  it('works on a STARTTLS-upgraded socket', async () => {
    const srv = await startServer(true);
    try {
      const { client, server } = await srv.connect({ servername: 'example.com' });
      expect(channelBindingTypes(server)).toEqual(['tls-exporter', 'tls-server-end-point']);
      expect(channelBindingData(server, 'tls-exporter')).toEqual(
        client.exportKeyingMaterial(32, LABEL, Buffer.alloc(0)),
      );
      expect(channelBindingData(server, 'tls-server-end-point')).toEqual(
        createHash('sha256').update(client.getPeerCertificate().raw).digest(),
      );
    } finally {
      await srv.close();
    }
  });

  it('answers null instead of throwing once the socket is gone', async () => {
    const srv = await startServer();
    try {
      const { client, server } = await srv.connect();
      const closed = new Promise((resolve) => server.once('close', resolve));
      client.destroy();
      server.destroy();
      await closed;
      expect(() => channelBindingData(server, 'tls-exporter')).not.toThrow();
      expect(channelBindingData(server, 'tls-exporter')).toBeNull();
    } finally {
      await srv.close();
    }
  });
});

describe('tls-server-end-point hash choice (RFC 5929 §4.1)', () => {
  /** A stand-in for a server TLSSocket that presented `raw` as its certificate. */
  function fakeSocket(raw: Buffer | null, protocol: string | null = 'TLSv1.3'): tls.TLSSocket {
    return {
      getProtocol: () => protocol,
      getCertificate: () => (raw === null ? {} : { raw }),
      exportKeyingMaterial: () => {
        throw new Error('not connected');
      },
    } as unknown as tls.TLSSocket;
  }

  const algId = (oid: string, params?: asn1js.BaseBlock) =>
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), ...(params ? [params] : [])] });

  /** A structurally minimal Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
  const certWith = (alg: asn1js.Sequence) =>
    Buffer.from(
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }),
          alg,
          new asn1js.BitString({ valueHex: new Uint8Array([1, 2, 3]) }),
        ],
      }).toBER(),
    );

  const pss = (hashOid?: string) =>
    algId(
      '1.2.840.113549.1.1.10',
      new asn1js.Sequence({
        value: hashOid
          ? [
              new asn1js.Constructed({
                idBlock: { tagClass: 3, tagNumber: 0 },
                value: [algId(hashOid, new asn1js.Null())],
              }),
            ]
          : [],
      }),
    );

  const cases: Array<[string, Buffer, string]> = [
    ['md5WithRSAEncryption', certWith(algId('1.2.840.113549.1.1.4', new asn1js.Null())), 'sha256'],
    ['sha1WithRSAEncryption', certWith(algId('1.2.840.113549.1.1.5', new asn1js.Null())), 'sha256'],
    ['ecdsa-with-SHA1', certWith(algId('1.2.840.10045.4.1')), 'sha256'],
    ['sha256WithRSAEncryption', certWith(algId('1.2.840.113549.1.1.11', new asn1js.Null())), 'sha256'],
    ['sha384WithRSAEncryption', certWith(algId('1.2.840.113549.1.1.12', new asn1js.Null())), 'sha384'],
    ['sha512WithRSAEncryption', certWith(algId('1.2.840.113549.1.1.13', new asn1js.Null())), 'sha512'],
    ['ecdsa-with-SHA256', certWith(algId('1.2.840.10045.4.3.2')), 'sha256'],
    ['ecdsa-with-SHA384', certWith(algId('1.2.840.10045.4.3.3')), 'sha384'],
    ['ecdsa-with-SHA512', certWith(algId('1.2.840.10045.4.3.4')), 'sha512'],
    ['RSASSA-PSS SHA-384', certWith(pss('2.16.840.1.101.3.4.2.2')), 'sha384'],
    ['RSASSA-PSS SHA-512', certWith(pss('2.16.840.1.101.3.4.2.3')), 'sha512'],
    ['RSASSA-PSS default (SHA-1)', certWith(pss()), 'sha256'],
    ['Ed25519 (no separate hash)', certWith(algId('1.3.101.112')), 'sha256'],
    ['not DER at all', Buffer.from('garbage'), 'sha256'],
  ];

  for (const [name, der, hash] of cases) {
    it(`${name} -> ${hash}`, () => {
      expect(channelBindingData(fakeSocket(der), 'tls-server-end-point')).toEqual(
        createHash(hash).update(der).digest(),
      );
    });
  }

  it('uses the hash of the real generated certificate (ecdsa-with-SHA256)', () => {
    const pem = store.get('localhost')!.certPem;
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(channelBindingData(fakeSocket(der), 'tls-server-end-point')).toEqual(
      createHash('sha256').update(der).digest(),
    );
  });

  it('offers nothing without a certificate or before the handshake', () => {
    const none = fakeSocket(null, null);
    expect(channelBindingTypes(none)).toEqual([]);
    expect(channelBindingData(none, 'tls-server-end-point')).toBeNull();
    expect(channelBindingData(none, 'tls-exporter')).toBeNull();
    const nullCert = { getProtocol: () => 'TLSv1.2', getCertificate: () => null } as unknown as tls.TLSSocket;
    expect(channelBindingTypes(nullCert)).toEqual([]);
    // TLS 1.3 but exporting fails (socket torn down): null, not an exception.
    expect(channelBindingData(fakeSocket(null), 'tls-exporter')).toBeNull();
  });
});
