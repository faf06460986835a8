import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParleyError, isParleyError } from '../core/errors.js';
import type { ScramCredential } from '../ports/store.js';
import {
  type ChannelBindingSupport,
  type ScramMechanism,
  type ScramMechanismName,
  ScramServer,
  createScramServer,
  decodeSaslname,
  deriveCredentials,
  deriveScramCredential,
  encodeSaslname,
  normalizePassword,
  verifyPassword,
} from './scram.js';

/** Independent reference computation of RFC 5802 §3, written out directly with node:crypto (sync is fine in tests). */
const ALGO = { 'SCRAM-SHA-1': ['sha1', 20], 'SCRAM-SHA-256': ['sha256', 32] } as const;

function refKeys(mech: ScramMechanism, password: string, saltB64: string, i: number) {
  const [algo, len] = ALGO[mech];
  const salted = pbkdf2Sync(password, Buffer.from(saltB64, 'base64'), i, len, algo);
  const clientKey = createHmac(algo, salted).update('Client Key').digest();
  const storedKey = createHash(algo).update(clientKey).digest();
  const serverKey = createHmac(algo, salted).update('Server Key').digest();
  return { clientKey, storedKey, serverKey };
}

function refCredential(mech: ScramMechanism, password: string, saltB64: string, i: number): ScramCredential {
  const k = refKeys(mech, password, saltB64, i);
  return { salt: saltB64, iterations: i, storedKey: k.storedKey.toString('base64'), serverKey: k.serverKey.toString('base64') };
}

/** A minimal SCRAM client: builds client-final-message from the server-first-message (RFC 5802 §3, §7). */
function clientFinal(
  mech: ScramMechanism,
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  opts: { gs2Header?: string; cbData?: Buffer; nonce?: string } = {},
): { message: string; serverSignature: string } {
  const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const));
  const salt = attrs.get('s') ?? '';
  const i = Number(attrs.get('i'));
  const nonce = opts.nonce ?? attrs.get('r') ?? '';
  const cb = Buffer.concat([Buffer.from(opts.gs2Header ?? 'n,,'), opts.cbData ?? Buffer.alloc(0)]).toString('base64');
  const withoutProof = `c=${cb},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const [algo] = ALGO[mech];
  const k = refKeys(mech, password, salt, i);
  const sig = createHmac(algo, k.storedKey).update(authMessage).digest();
  const proof = Buffer.from(k.clientKey.map((b, idx) => b ^ (sig[idx] ?? 0)));
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    serverSignature: `v=${createHmac(algo, k.serverKey).update(authMessage).digest('base64')}`,
  };
}

function lookupOf(users: Record<string, ScramCredential>) {
  const seen: string[] = [];
  const lookup = async (username: string): Promise<ScramCredential | null> => {
    seen.push(username);
    return Object.hasOwn(users, username) ? (users[username] ?? null) : null;
  };
  return { lookup, seen };
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ParleyError['code']): Promise<ParleyError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ParleyError);
  expect((err as ParleyError).code).toBe(code);
  return err as ParleyError;
}

describe('RFC test vectors', () => {
  it('RFC 5802 §5 SCRAM-SHA-1 example', async () => {
    const salt = 'QSXCR+Q6sek8bf92';
    const cred = await deriveScramCredential('pencil', 'SCRAM-SHA-1', 4096, Buffer.from(salt, 'base64'));
    expect(cred).toEqual(refCredential('SCRAM-SHA-1', 'pencil', salt, 4096));

    const { lookup, seen } = lookupOf({ user: cred });
    const server = new ScramServer('SCRAM-SHA-1', lookup, { serverNonce: '3rfcNHYJY1ZVvWVs7j' });
    const serverFirst = await server.start('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    expect(seen).toEqual(['user']);
    expect(serverFirst).toBe('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');

    const published = 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=';
    const ours = clientFinal('SCRAM-SHA-1', 'pencil', 'n=user,r=fyko+d2lbbFgONRv9qkxdawL', serverFirst);
    expect(ours.message).toBe(published);
    expect(ours.serverSignature).toBe('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');

    expect(server.finish(published)).toBe('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
    expect(server.result).toEqual({ username: 'user', authzid: null });
  });

  it('RFC 7677 §3 SCRAM-SHA-256 example', async () => {
    const salt = 'W22ZaJ0SNY7soEsUEjb6gQ==';
    const cred = await deriveScramCredential('pencil', 'SCRAM-SHA-256', 4096, Buffer.from(salt, 'base64'));
    expect(cred).toEqual(refCredential('SCRAM-SHA-256', 'pencil', salt, 4096));

    const server = createScramServer('SCRAM-SHA-256', lookupOf({ user: cred }).lookup, {
      serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    });
    const serverFirst = await server.start('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(serverFirst).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');

    const published =
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
    const ours = clientFinal('SCRAM-SHA-256', 'pencil', 'n=user,r=rOprNGfwEbeRWgbNEkqO', serverFirst);
    expect(ours.message).toBe(published);
    expect(ours.serverSignature).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');

    expect(server.finish(published)).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    expect(server.result).toEqual({ username: 'user', authzid: null });
  });
});

describe('deriveCredentials / verifyPassword', () => {
  it('round-trips for both mechanisms with distinct random 16-byte salts', async () => {
    const creds = await deriveCredentials('correct horse battery staple', 4096);
    const s1 = creds['SCRAM-SHA-1'];
    const s256 = creds['SCRAM-SHA-256'];
    expect(Buffer.from(s1.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(s256.salt, 'base64')).toHaveLength(16);
    expect(s1.salt).not.toBe(s256.salt);
    expect(Buffer.from(s1.storedKey, 'base64')).toHaveLength(20);
    expect(Buffer.from(s256.storedKey, 'base64')).toHaveLength(32);
    expect(s1).toEqual(refCredential('SCRAM-SHA-1', 'correct horse battery staple', s1.salt, 4096));
    expect(s256).toEqual(refCredential('SCRAM-SHA-256', 'correct horse battery staple', s256.salt, 4096));

    for (const mech of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
      expect(await verifyPassword('correct horse battery staple', creds[mech], mech)).toBe(true);
      expect(await verifyPassword('correct horse battery stapl', creds[mech], mech)).toBe(false);
      expect(await verifyPassword('', creds[mech], mech)).toBe(false);
    }
    // Each derivation salts afresh.
    const again = await deriveCredentials('correct horse battery staple', 4096);
    expect(again['SCRAM-SHA-256'].salt).not.toBe(s256.salt);
  });

  it('normalizes passwords (PRECIS OpaqueString approximation, RFC 8265 §4.2)', async () => {
    expect(normalizePassword('a\u00a0b\u3000c')).toBe('a b c');
    expect(normalizePassword('e\u0301')).toBe('\u00e9');
    const creds = await deriveCredentials('caf\u0065\u0301\u2003x', 4096);
    expect(await verifyPassword('caf\u00e9 x', creds['SCRAM-SHA-256'], 'SCRAM-SHA-256')).toBe(true);
  });

  it('rejects empty passwords, control characters and bad iteration counts', async () => {
    const empty = await expectCode(deriveCredentials('', 4096), 'bad-request');
    expect(empty.message).toMatch(/^password/);
    const ctl = await expectCode(deriveCredentials('abc\ndef', 4096), 'bad-request');
    expect(ctl.message).toMatch(/^password .*control/);
    await expectCode(deriveCredentials('tab\there', 4096), 'bad-request');
    await expectCode(deriveCredentials('del\u007f', 4096), 'bad-request');
    await expectCode(deriveCredentials('x'.repeat(2000), 4096), 'bad-request');
    await expectCode(deriveCredentials('good', 100), 'bad-request');
    await expectCode(deriveCredentials('good', 4096.5), 'bad-request');
  });
});

describe('ScramServer', () => {
  async function account(password: string) {
    return deriveCredentials(password, 4096);
  }

  for (const mech of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
    it(`${mech}: full exchange with derived credentials`, async () => {
      const creds = await account('s3cret pass');
      const server = new ScramServer(mech, lookupOf({ 'alice@example.com': creds[mech] }).lookup);
      const bare = 'n=alice@example.com,r=abcdefghijklmnop';
      const serverFirst = await server.start(`n,,${bare}`);
      expect(serverFirst).toMatch(/^r=abcdefghijklmnop[A-Za-z0-9+/=]{24},s=[A-Za-z0-9+/=]{24},i=4096$/);
      const c = clientFinal(mech, 's3cret pass', bare, serverFirst);
      expect(server.finish(c.message)).toBe(c.serverSignature);
      expect(server.result).toEqual({ username: 'alice@example.com', authzid: null });
    });

    it(`${mech}: wrong password is not-authorized`, async () => {
      const creds = await account('s3cret pass');
      const server = new ScramServer(mech, lookupOf({ alice: creds[mech] }).lookup);
      const serverFirst = await server.start('n,,n=alice,r=nonce1');
      const c = clientFinal(mech, 'wrong pass', 'n=alice,r=nonce1', serverFirst);
      const err = await expectCode(() => server.finish(c.message), 'not-authorized');
      expect(err.details).toEqual({ scramError: 'invalid-proof' });
      expect(server.result).toBeNull();
    });
  }

  it('rejects a tampered nonce', async () => {
    const creds = await account('pw');
    const { lookup } = lookupOf({ alice: creds['SCRAM-SHA-256'] });
    const server = new ScramServer('SCRAM-SHA-256', lookup, { serverNonce: 'SERVERNONCE' });
    const serverFirst = await server.start('n,,n=alice,r=client');
    // Correct proof over a different nonce, and a nonce that keeps the client prefix but drops our part.
    const forged = clientFinal('SCRAM-SHA-256', 'pw', 'n=alice,r=client', serverFirst, { nonce: 'clientSERVERNONCX' });
    await expectCode(() => server.finish(forged.message), 'not-authorized');

    const server2 = new ScramServer('SCRAM-SHA-256', lookup, { serverNonce: 'SERVERNONCE' });
    const sf2 = await server2.start('n,,n=alice,r=client');
    const prefixOnly = clientFinal('SCRAM-SHA-256', 'pw', 'n=alice,r=client', sf2, { nonce: 'client' });
    await expectCode(() => server2.finish(prefixOnly.message), 'not-authorized');
  });

  it('unknown users look like known ones and fail like a wrong password', async () => {
    const creds = await account('pw');
    const secret = Buffer.alloc(32, 7);
    const { lookup } = lookupOf({ alice: creds['SCRAM-SHA-256'] });
    const mk = () => new ScramServer('SCRAM-SHA-256', lookup, { secret, fakeIterations: 4096 });

    const real = await mk().start('n,,n=alice,r=abc');
    const fake1 = await mk().start('n,,n=mallory,r=abc');
    const fake2 = await mk().start('n,,n=mallory,r=abc');
    const fake3 = await mk().start('n,,n=trudy,r=abc');
    const shape = /^r=abc[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096$/;
    for (const sf of [real, fake1, fake2, fake3]) expect(sf).toMatch(shape);
    const saltOf = (sf: string) => sf.split(',')[1];
    expect(saltOf(fake1)).toBe(saltOf(fake2)); // deterministic per username and secret
    expect(saltOf(fake1)).not.toBe(saltOf(fake3));
    const otherSecret = await new ScramServer('SCRAM-SHA-256', lookup, { secret: Buffer.alloc(32, 8) }).start(
      'n,,n=mallory,r=abc',
    );
    expect(saltOf(otherSecret)).not.toBe(saltOf(fake1));

    const wrongPw = mk();
    const sfA = await wrongPw.start('n,,n=alice,r=abc');
    const errA = await expectCode(
      () => wrongPw.finish(clientFinal('SCRAM-SHA-256', 'guess', 'n=alice,r=abc', sfA).message),
      'not-authorized',
    );
    const unknown = mk();
    const sfU = await unknown.start('n,,n=mallory,r=abc');
    const errU = await expectCode(
      () => unknown.finish(clientFinal('SCRAM-SHA-256', 'guess', 'n=mallory,r=abc', sfU).message),
      'not-authorized',
    );
    expect(errU.message).toBe(errA.message);
    expect(errU.details).toEqual(errA.details);
  });

  it('an unknown user\'s salt comes from the secret alone: stable across servers, one per account, shaped like a real one', async () => {
    const { lookup } = lookupOf({});
    const canonicalUser = (u: string): string => `${u.toLowerCase()}@example.com`;
    const salt = async (user: string, secret: Buffer, mech: 'SCRAM-SHA-256' | 'SCRAM-SHA-1' = 'SCRAM-SHA-256'): Promise<string> =>
      (await new ScramServer(mech, lookup, { secret, canonicalUser, fakeIterations: 10_000 }).start(`n,,n=${user},r=abc`)).split(',')[1]!.slice(2);
    const persisted = Buffer.alloc(32, 9);
    // Two server processes reading the same secret from their database announce the same salt.
    expect(await salt('mallory', Buffer.from(persisted))).toBe(await salt('mallory', Buffer.from(persisted)));
    // Spellings of one account share a salt, as a real account's would.
    expect(await salt('Mallory', persisted)).toBe(await salt('mallory', persisted));
    // Each mechanism has its own, like the two independently salted credentials of a real account.
    expect(await salt('mallory', persisted, 'SCRAM-SHA-1')).not.toBe(await salt('mallory', persisted));
    // As long as a real salt, in the same canonical base64.
    const real = (await account('pw'))['SCRAM-SHA-256'].salt;
    const fake = await salt('mallory', persisted);
    expect(Buffer.from(fake, 'base64')).toHaveLength(Buffer.from(real, 'base64').length);
    expect(Buffer.from(fake, 'base64').toString('base64')).toBe(fake);
    expect(fake.length).toBe(real.length);
  });

  it('decodes saslname escapes =2C and =3D (RFC 5802 §5.1) and the authzid', async () => {
    expect(decodeSaslname('a=2Cb=3Dc')).toBe('a,b=c');
    expect(decodeSaslname('a=2cb=3dc')).toBe('a,b=c');
    expect(encodeSaslname('a,b=c')).toBe('a=2Cb=3Dc');
    for (const bad of ['', 'a=', 'a=2', 'a=2X', 'a==3D', 'x\0y']) {
      expect(() => decodeSaslname(bad)).toThrow(ParleyError);
    }

    const creds = await account('pw');
    const { lookup, seen } = lookupOf({ 'odd,name=x': creds['SCRAM-SHA-1'] });
    const server = new ScramServer('SCRAM-SHA-1', lookup);
    const bare = 'n=odd=2Cname=3Dx,r=rnd';
    const sf = await server.start(`n,a=admin=2Cx,${bare}`);
    expect(seen).toEqual(['odd,name=x']);
    const c = clientFinal('SCRAM-SHA-1', 'pw', bare, sf, { gs2Header: 'n,a=admin=2Cx,' });
    expect(server.finish(c.message)).toBe(c.serverSignature);
    expect(server.result).toEqual({ username: 'odd,name=x', authzid: 'admin,x' });
  });

  it('rejects malformed client-first messages with bad-request', async () => {
    const { lookup } = lookupOf({});
    const bad = [
      '',
      'n',
      'n,',
      'x,,n=user,r=abc',
      'p,,n=user,r=abc',
      'p=,,n=user,r=abc',
      'n,b=foo,n=user,r=abc',
      'n,,r=abc',
      'n,,n=user',
      'n,,n=,r=abc',
      'n,,n=us=er,r=abc',
      'n,,n=user,r=',
      'n,,n=user,r=abc,1bad',
      'n,,m=ext,n=user,r=abc',
      'n,,n=user,r=ab\u00e9',
      `n,,n=user,r=${'a'.repeat(5000)}`,
    ];
    for (const msg of bad) await expectCode(new ScramServer('SCRAM-SHA-256', lookup).start(msg), 'bad-request');
    const ext = await expectCode(new ScramServer('SCRAM-SHA-256', lookup).start('n,,m=ext,n=user,r=abc'), 'bad-request');
    expect(ext.details).toEqual({ scramError: 'extensions-not-supported' });
    // Optional extensions after the nonce are allowed and ignored.
    await expect(new ScramServer('SCRAM-SHA-256', lookup).start('n,,n=user,r=abc,x=whatever')).resolves.toMatch(/^r=abc/);
  });

  it('rejects malformed client-final messages with bad-request', async () => {
    const { lookup } = lookupOf({});
    const bad = [
      '',
      'c=biws,r=abcN',
      'c=biws,r=abcN,p=',
      'c=biws,r=abcN,p=***',
      'c=biws,r=abcN,p=AAA',
      'r=abcN,p=AAAA',
      'c=b!ws,r=abcN,p=AAAA',
      'c=biws,p=AAAA',
      'c=biws,r=abcN,p=AAAA,x=1',
      'c=biws,r=abcN,9=x,p=AAAA',
    ];
    for (const msg of bad) {
      const server = new ScramServer('SCRAM-SHA-256', lookup, { serverNonce: 'N' });
      await server.start('n,,n=user,r=abc');
      await expectCode(() => server.finish(msg), 'bad-request');
    }
  });

  it('never throws anything but ParleyError on arbitrary input', async () => {
    const creds = await account('pw');
    const { lookup } = lookupOf({ user: creds['SCRAM-SHA-1'] });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80 }), fc.string({ maxLength: 120 }), async (first, final) => {
        const server = new ScramServer('SCRAM-SHA-1', lookup, { fakeIterations: 4096 });
        let started = false;
        try {
          await server.start(first);
          started = true;
          server.finish(final);
        } catch (e) {
          if (!isParleyError(e) || !['bad-request', 'not-authorized'].includes(e.code)) throw e;
        }
        if (!started) expect(server.result).toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it('enforces the exchange order', async () => {
    const { lookup } = lookupOf({});
    const server = new ScramServer('SCRAM-SHA-256', lookup);
    await expectCode(() => server.finish('c=biws,r=x,p=AAAA'), 'unexpected-request');
    const sf = await server.start('n,,n=user,r=abc');
    await expectCode(server.start('n,,n=user,r=abc'), 'unexpected-request');
    await expectCode(() => server.finish(`c=biws,r=${sf.split(',')[0]?.slice(2)},p=AAAA`), 'not-authorized');
    await expectCode(() => server.finish('c=biws,r=x,p=AAAA'), 'unexpected-request');
    expect(() => new ScramServer('SCRAM-MD5' as ScramMechanismName, lookup)).toThrow(ParleyError);
  });

  describe('channel binding (RFC 5802 §6)', () => {
    const cbData = Buffer.from('exporter-keying-material-32bytes');
    const support = (advertised: boolean): ChannelBindingSupport => ({
      advertised,
      data: (name) => (name === 'tls-exporter' ? cbData : null),
    });

    it('refuses p= without injected channel binding support', async () => {
      const { lookup } = lookupOf({});
      const err = await expectCode(
        new ScramServer('SCRAM-SHA-256', lookup).start('p=tls-exporter,,n=user,r=abc'),
        'not-authorized',
      );
      expect(err.details).toEqual({ scramError: 'channel-binding-not-supported' });
      await expectCode(
        new ScramServer('SCRAM-SHA-256-PLUS', lookup).start('p=tls-exporter,,n=user,r=abc'),
        'not-authorized',
      );
    });

    it('accepts p= with matching binding data and rejects mismatched data', async () => {
      const creds = await account('pw');
      const { lookup } = lookupOf({ alice: creds['SCRAM-SHA-256'] });
      const gs2Header = 'p=tls-exporter,,';
      const bare = 'n=alice,r=abc';

      const ok = new ScramServer('SCRAM-SHA-256-PLUS', lookup, { channelBinding: support(true) });
      const sf = await ok.start(gs2Header + bare);
      const c = clientFinal('SCRAM-SHA-256', 'pw', bare, sf, { gs2Header, cbData });
      expect(ok.finish(c.message)).toBe(c.serverSignature);

      const mitm = new ScramServer('SCRAM-SHA-256-PLUS', lookup, { channelBinding: support(true) });
      const sf2 = await mitm.start(gs2Header + bare);
      const c2 = clientFinal('SCRAM-SHA-256', 'pw', bare, sf2, { gs2Header, cbData: Buffer.from('other channel') });
      const err = await expectCode(() => mitm.finish(c2.message), 'not-authorized');
      expect(err.details).toEqual({ scramError: 'channel-bindings-dont-match' });

      const unsupported = await expectCode(
        new ScramServer('SCRAM-SHA-256-PLUS', lookup, { channelBinding: support(true) }).start(
          'p=tls-unique,,n=alice,r=abc',
        ),
        'not-authorized',
      );
      expect(unsupported.details).toEqual({ scramError: 'unsupported-channel-binding-type' });
      // A -PLUS mechanism requires the "p" flag.
      await expectCode(
        new ScramServer('SCRAM-SHA-256-PLUS', lookup, { channelBinding: support(true) }).start('n,,n=alice,r=abc'),
        'not-authorized',
      );
    });

    it('treats "y" as a downgrade only when -PLUS was advertised', async () => {
      const creds = await account('pw');
      const { lookup } = lookupOf({ alice: creds['SCRAM-SHA-1'] });
      const err = await expectCode(
        new ScramServer('SCRAM-SHA-1', lookup, { channelBinding: support(true) }).start('y,,n=alice,r=abc'),
        'not-authorized',
      );
      expect(err.details).toEqual({ scramError: 'server-does-support-channel-binding' });

      const server = new ScramServer('SCRAM-SHA-1', lookup, { channelBinding: support(false) });
      const sf = await server.start('y,,n=alice,r=abc');
      const c = clientFinal('SCRAM-SHA-1', 'pw', 'n=alice,r=abc', sf, { gs2Header: 'y,,' });
      expect(server.finish(c.message)).toBe(c.serverSignature);
    });

    it('rejects a client-final whose c= does not echo the gs2 header', async () => {
      const creds = await account('pw');
      const { lookup } = lookupOf({ alice: creds['SCRAM-SHA-1'] });
      const server = new ScramServer('SCRAM-SHA-1', lookup);
      const sf = await server.start('y,,n=alice,r=abc');
      const c = clientFinal('SCRAM-SHA-1', 'pw', 'n=alice,r=abc', sf, { gs2Header: 'n,,' });
      await expectCode(() => server.finish(c.message), 'not-authorized');
    });
  });
});
