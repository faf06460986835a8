import { describe, it, expect } from 'vitest';
import {
  NoteError,
  checkpointBody,
  generateSignerKey,
  isValidKeyName,
  keyId,
  openNote,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKey,
} from './note.js';

// Published test vector of golang.org/x/mod/sumdb/note.
const PN_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PN_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PN_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PN_NOTE =
  PN_TEXT +
  '\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof NoteError ? err.code : `not a NoteError: ${String(err)}`;
  }
  return undefined;
}

describe('keys', () => {
  it('parses the published verifier key and recomputes its ID', () => {
    const v = parseVerifierKey(PN_VKEY);
    expect(v.name).toBe('PeterNeumann');
    expect(v.keyId).toBe(0xc74f20a3);
    expect(verifierKey(v.name, v.publicKey)).toBe(PN_VKEY);
    expect(keyId(v.name, v.publicKey)).toBe(0xc74f20a3);
  });

  it('parses the published signer key and derives the same verifier key', () => {
    expect(parseSignerKey(PN_SKEY).verifierKey).toBe(PN_VKEY);
  });

  it('rejects mangled keys', () => {
    expect(codeOf(() => parseVerifierKey(PN_VKEY.replace('c74f20a3', 'c74f20a4')))).toBe('malformed-key');
    expect(codeOf(() => parseVerifierKey(PN_VKEY.slice(0, -1)))).toBe('malformed-key');
    expect(codeOf(() => parseVerifierKey(`x${PN_VKEY}`))).toBe('malformed-key');
    expect(codeOf(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))).toBe(
      'malformed-key',
    );
    expect(codeOf(() => parseSignerKey(PN_SKEY.replace('c74f20a3', '00000000')))).toBe('malformed-key');
    expect(codeOf(() => parseSignerKey(PN_SKEY.replace('PRIVATE', 'SECRET')))).toBe('malformed-key');
  });

  it('checks key names', () => {
    expect(isValidKeyName('example.com/log')).toBe(true);
    expect(isValidKeyName('')).toBe(false);
    expect(isValidKeyName('a+b')).toBe(false);
    expect(isValidKeyName('a b')).toBe(false);
    expect(isValidKeyName('a\u00a0b')).toBe(false);
    expect(isValidKeyName('a\u2003b')).toBe(false);
    expect(isValidKeyName('a\u0085b')).toBe(false);
  });

  it('round-trips generated keys', () => {
    const { signerKey, verifierKey: vkey } = generateSignerKey('parley.example/archive');
    const signer = parseSignerKey(signerKey);
    expect(signer.verifierKey).toBe(vkey);
    expect(parseVerifierKey(vkey).keyId).toBe(signer.keyId);
  });
});

describe('signed notes', () => {
  it('accepts the published note and reproduces its signature', () => {
    const opened = openNote(PN_NOTE, [parseVerifierKey(PN_VKEY)]);
    expect(opened.text).toBe(PN_TEXT);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unknown).toHaveLength(0);
    // Ed25519 is deterministic, so signing again gives the published bytes.
    expect(signNote(PN_TEXT, [parseSignerKey(PN_SKEY)])).toBe(PN_NOTE);
    expect(openNote(Buffer.from(PN_NOTE, 'utf8'), [parseVerifierKey(PN_VKEY)]).text).toBe(PN_TEXT);
  });

  it('rejects tampered text and signatures', () => {
    const v = [parseVerifierKey(PN_VKEY)];
    expect(codeOf(() => openNote(PN_NOTE.replace('cryptography', 'cryptographY'), v))).toBe('bad-signature');
    const sigStart = PN_NOTE.indexOf('x08go');
    const flipped = PN_NOTE.slice(0, sigStart + 20) + (PN_NOTE[sigStart + 20] === 'A' ? 'B' : 'A') + PN_NOTE.slice(sigStart + 21);
    expect(codeOf(() => openNote(flipped, v))).toBe('bad-signature');
    // Changing the key ID makes it someone else's signature: unknown, so nothing verifies.
    expect(codeOf(() => openNote(PN_NOTE.replace('x08go', 'x08gp'), v))).toBe('unverified-note');
  });

  it('reports unknown signers and requires a known one', () => {
    const a = parseSignerKey(generateSignerKey('alice').signerKey);
    const b = parseSignerKey(generateSignerKey('bob').signerKey);
    const note = signNote('hello\n', [a, b]);
    const opened = openNote(note, [parseVerifierKey(a.verifierKey)]);
    expect(opened.verified.map((s) => s.name)).toEqual(['alice']);
    expect(opened.unknown.map((s) => s.name)).toEqual(['bob']);
    expect(codeOf(() => openNote(note, [parseVerifierKey(PN_VKEY)]))).toBe('unverified-note');
    expect(codeOf(() => openNote(note, []))).toBe('unverified-note');
  });

  it('keeps blank lines inside the text', () => {
    const s = parseSignerKey(generateSignerKey('k').signerKey);
    const text = 'para one\n\npara two\n\n';
    expect(openNote(signNote(text, [s]), [parseVerifierKey(s.verifierKey)]).text).toBe(text);
  });

  it('refuses malformed notes and texts', () => {
    const s = parseSignerKey(PN_SKEY);
    const v = [parseVerifierKey(PN_VKEY)];
    expect(codeOf(() => signNote('no newline', [s]))).toBe('malformed-note');
    expect(codeOf(() => signNote('tab\there\n', [s]))).toBe('malformed-note');
    expect(codeOf(() => signNote('x\n', [s, s]))).toBe('malformed-note');
    expect(codeOf(() => openNote(PN_TEXT, v))).toBe('malformed-note');
    expect(codeOf(() => openNote(PN_NOTE.replace('\u2014 ', '- '), v))).toBe('malformed-note');
    expect(codeOf(() => openNote(PN_NOTE.slice(0, -1), v))).toBe('malformed-note');
    expect(codeOf(() => openNote(PN_NOTE.replace('x08go', 'x08g!'), v))).toBe('malformed-note');
    expect(codeOf(() => openNote(Buffer.from([0x61, 0x0a, 0x0a, 0xff, 0x0a]), v))).toBe('malformed-note');
  });
});

describe('checkpoints', () => {
  const root = Buffer.alloc(32, 7);

  it('formats and parses the body', () => {
    const body = checkpointBody('parley.example/archive', 42, root);
    expect(body).toBe(`parley.example/archive\n42\n${root.toString('base64')}\n`);
    const cp = parseCheckpoint(body);
    expect(cp.origin).toBe('parley.example/archive');
    expect(cp.size).toBe(42n);
    expect(cp.rootHash.equals(root)).toBe(true);
    expect(cp.extensions).toEqual([]);
    expect(parseCheckpoint(checkpointBody('o', 0n, root, ['ext one'])).extensions).toEqual(['ext one']);
    expect(parseCheckpoint(`o\n18446744073709551615\n${root.toString('base64')}\n`).size).toBe(2n ** 64n - 1n);
  });

  it('rejects malformed bodies', () => {
    const b64 = root.toString('base64');
    for (const bad of [
      `o\n042\n${b64}\n`,
      `o\n-1\n${b64}\n`,
      `o\n18446744073709551616\n${b64}\n`,
      `o\n1\n${b64}`,
      `\n1\n${b64}\n`,
      `o\n1\n${Buffer.alloc(31).toString('base64')}\n`,
      `o\n1\n${b64}\n\n`,
      `o\n1\n`,
    ]) {
      expect(codeOf(() => parseCheckpoint(bad)), JSON.stringify(bad)).toBe('malformed-checkpoint');
    }
  });

  it('signs and opens a checkpoint', () => {
    const keys = generateSignerKey('parley.example/archive');
    const note = signNote(checkpointBody('parley.example/archive', 5, root), [parseSignerKey(keys.signerKey)]);
    const cp = parseCheckpoint(openNote(note, [parseVerifierKey(keys.verifierKey)]).text);
    expect(cp.size).toBe(5n);
  });
});
