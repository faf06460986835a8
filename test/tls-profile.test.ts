/**
 * The TLS profile of every listener, checked with a real `openssl s_client`: HTTPS/WSS, XMPP direct TLS
 * (XEP-0368) and XMPP STARTTLS (RFC 6120 §5) refuse CBC, SHA-1 and non-forward-secret suites under TLS 1.2 and
 * accept the AEAD ones and TLS 1.3 (Mozilla "intermediate", src/protocols/tls-profile.ts); an SNI name this
 * server does not host gets no hosted domain's certificate.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './harness.js';

let t: TestServer;
let dir: string;
type Door = 'https' | 'xmpp-tls' | 'xmpp-starttls';
const doors: Door[] = ['https', 'xmpp-tls', 'xmpp-starttls'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
  const cert = join(dir, 'rsa-cert.pem');
  const key = join(dir, 'rsa-key.pem');
  // An RSA certificate, so that the ECDHE-RSA suites (CBC and AEAD alike) are possible at all: a refusal is the
  // cipher profile's, not the key type's.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  t = await startServer({ server: { tls: { cert, key } }, xmpp: { certificates: { localhost: { cert, key } } } });
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `openssl s_client` against one front door; resolves with everything it printed (never rejects). */
function sClient(door: Door, extra: string[]): Promise<string> {
  const x = t.server.xmpp!.ports;
  const port = door === 'https' ? new URL(t.url).port : door === 'xmpp-tls' ? String(x.directTls) : String(x.starttls);
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(door === 'xmpp-starttls' ? ['-starttls', 'xmpp', '-xmpphost', 'localhost'] : []), ...extra];
  return new Promise((resolve, reject) => {
    // Asynchronous: the server runs in this process and must go on answering meanwhile.
    const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', () => resolve(out));
    p.stdin.end();
  });
}

/** The suite negotiated, or null when the handshake failed. */
function negotiated(out: string): string | null {
  const m = /Cipher is (\S+)/.exec(out);
  return m && m[1] !== '(NONE)' ? m[1]! : null;
}

describe('TLS cipher profile (Mozilla intermediate) on every listener', () => {
  for (const door of doors) {
    it(`${door}: TLS 1.2 refuses CBC/SHA-1 and static-RSA suites, accepts AEAD with forward secrecy; TLS 1.3 works`, async () => {
      for (const cbc of ['ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'AES128-GCM-SHA256', 'AES128-SHA']) {
        const out = await sClient(door, ['-tls1_2', '-cipher', `${cbc}@SECLEVEL=0`, '-servername', 'localhost']);
        expect(negotiated(out), `${door} ${cbc}: ${out.slice(-300)}`).toBeNull();
        expect(out).toMatch(/handshake failure|alert|no shared cipher|no cipher/i);
      }
      for (const aead of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305', 'DHE-RSA-AES128-GCM-SHA256']) {
        const out = await sClient(door, ['-tls1_2', '-cipher', aead, '-servername', 'localhost']);
        expect(negotiated(out), `${door} ${aead}: ${out.slice(-300)}`).toBe(aead);
      }
      expect(negotiated(await sClient(door, ['-tls1_3', '-servername', 'localhost']))).toMatch(/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
    });
  }
});

describe('SNI on the XMPP listeners', () => {
  for (const door of ['xmpp-tls', 'xmpp-starttls'] as const) {
    it(`${door}: an unknown name gets a certificate for "invalid", a hosted or absent name the domain's own`, async () => {
      const subject = (out: string): string | undefined => /^subject=(.*)$/m.exec(out)?.[1]?.trim();
      const unknown = await sClient(door, ['-tls1_3', '-servername', 'not-hosted.example']);
      expect(negotiated(unknown)).not.toBeNull();
      expect(subject(unknown)).toBe('CN = invalid');
      expect(unknown).not.toMatch(/CN ?= ?localhost/);
      expect(subject(await sClient(door, ['-tls1_3', '-servername', 'localhost']))).toBe('CN = localhost');
      expect(subject(await sClient(door, ['-tls1_3', '-noservername']))).toBe('CN = localhost');
    });
  }
});
