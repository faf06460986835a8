/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and the C2SP checkpoint body
 * (https://c2sp.org/tlog-checkpoint) that a transparency log signs.
 *
 * A note is UTF-8 text ending in a newline, then a blank line, then one line per signature:
 * "— <key name> <base64(4-byte key ID || signature)>". Key IDs bind a signature to a (name, key) pair so a
 * verifier can skip signatures from keys it does not know.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Signature type byte for Ed25519 keys in key IDs and encoded keys (signed-note spec). */
export const ED25519_TYPE = 0x01;

/** Why a key, note or checkpoint was refused. */
export type NoteErrorCode = 'malformed-key' | 'malformed-note' | 'bad-signature' | 'unverified-note' | 'malformed-checkpoint';

/** An error with a stable code, so callers can tell a forged note from a malformed one. */
export class NoteError extends Error {
  /** The stable reason. */
  readonly code: NoteErrorCode;

  /** Creates an error with `code` and a human-readable message. */
  constructor(code: NoteErrorCode, message: string) {
    super(message);
    this.name = 'NoteError';
    this.code = code;
  }
}

/** A key that can sign notes. */
export interface NoteSigner {
  readonly name: string;
  /** The 32-bit key ID (first 4 bytes of the key hash, big-endian). */
  readonly keyId: number;
  /** Signs the note text bytes. */
  sign(message: Buffer): Buffer;
}

/** A key that can verify note signatures. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  /** Checks a signature over the note text bytes. */
  verify(message: Buffer, signature: Buffer): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes without the 4-byte key ID prefix. */
  readonly signature: Buffer;
}

/** The result of opening a note: its text and which signatures were checked. */
export interface OpenedNote {
  readonly text: string;
  /** Signatures by known verifiers that verified (at least one, or openNote throws). */
  readonly verified: NoteSignature[];
  /** Signatures from keys not among the verifiers; they were not checked. */
  readonly unknown: NoteSignature[];
}

/** DER prefixes that wrap raw Ed25519 keys as PKCS #8 / SubjectPublicKeyInfo (RFC 8410 §7, §4). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The em dash and space that begin every signature line (signed-note spec). */
const SIG_PREFIX = '\u2014 ';

/** Go's implementation stops at 100 signatures; the same bound keeps hostile notes cheap to reject. */
const MAX_SIGNATURES = 100;

/** Key names are non-empty, contain no Unicode white space and no '+' (signed-note spec). */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[\s\u0085+]/u.test(name) && !hasLoneSurrogate(name);
}

/** Key ID: first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), as a big-endian uint32. */
export function keyId(name: string, publicKey: Uint8Array): number {
  const digest = createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_TYPE]))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

/** Encodes a verifier key: `<name>+<8 hex key ID>+<base64(0x01 || public key)>`. */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed-key', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('malformed-key', 'Ed25519 public keys are 32 bytes');
  const encoded = Buffer.concat([Buffer.from([ED25519_TYPE]), publicKey]).toString('base64');
  return `${name}+${hex8(keyId(name, publicKey))}+${encoded}`;
}

/** Parses a verifier key string; throws NoteError('malformed-key') unless every part is valid and consistent. */
export function parseVerifierKey(encoded: string): NoteVerifier {
  // The base64 key may itself contain '+', so only the first two '+' separate fields.
  const parts = splitFields(encoded, 3);
  if (parts === null) throw new NoteError('malformed-key', 'verifier key must be <name>+<id>+<key>');
  const [name, idHex, keyB64] = parts as [string, string, string];
  const key = decodeTypedKey(name, idHex, keyB64);
  const publicKey = Buffer.from(key);
  const keyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
  return {
    name,
    keyId: keyId(name, publicKey),
    publicKey,
    verify: (message, signature) => signature.length === 64 && verify(null, message, keyObject, signature),
  };
}

/** Encodes a signer key in the Go sumdb/note form: `PRIVATE+KEY+<name>+<hex ID>+<base64(0x01 || seed)>`. */
export function signerKey(name: string, seed: Uint8Array): string {
  if (seed.length !== 32) throw new NoteError('malformed-key', 'Ed25519 seeds are 32 bytes');
  const publicKey = publicKeyOf(privateKeyFromSeed(seed));
  verifierKey(name, publicKey); // validates the name
  const encoded = Buffer.concat([Buffer.from([ED25519_TYPE]), seed]).toString('base64');
  return `PRIVATE+KEY+${name}+${hex8(keyId(name, publicKey))}+${encoded}`;
}

/** Parses a signer key string; the key ID must match the public key derived from the seed. */
export function parseSignerKey(encoded: string): NoteSigner & { readonly verifierKey: string } {
  const parts = splitFields(encoded, 5);
  if (parts === null || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') {
    throw new NoteError('malformed-key', 'signer key must be PRIVATE+KEY+<name>+<id>+<key>');
  }
  const [, , name, idHex, keyB64] = parts as [string, string, string, string, string];
  const seed = decodeTypedKey(name, idHex, keyB64, true);
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = publicKeyOf(privateKey);
  const id = keyId(name, publicKey);
  if (hex8(id) !== idHex) throw new NoteError('malformed-key', 'signer key ID does not match its key');
  return {
    name,
    keyId: id,
    verifierKey: verifierKey(name, publicKey),
    sign: (message) => sign(null, message, privateKey),
  };
}

/** Generates a fresh Ed25519 key pair named `name`, returned as encoded signer and verifier keys. */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new NoteError('malformed-key', `invalid key name ${JSON.stringify(name)}`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new Error('Ed25519 JWK export lacks d or x');
  const seed = Buffer.from(jwk.d, 'base64url');
  return { signerKey: signerKey(name, seed), verifierKey: verifierKey(name, Buffer.from(jwk.x, 'base64url')) };
}

/**
 * Signs `text` with every signer: returns text, a blank line and one signature line per signer. The text must
 * be non-empty, end in a newline and hold no control characters other than newline. Signature lines never
 * contain a blank line, so the last blank line of the result always separates text from signatures.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  if (!text.endsWith('\n')) throw new NoteError('malformed-note', 'note text must end with a newline');
  if (signers.length === 0) throw new NoteError('malformed-note', 'a note needs at least one signer');
  const message = Buffer.from(text, 'utf8');
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const signer of signers) {
    if (!isValidKeyName(signer.name)) throw new NoteError('malformed-key', `invalid key name ${JSON.stringify(signer.name)}`);
    const id = `${signer.name}+${hex8(signer.keyId)}`;
    if (seen.has(id)) throw new NoteError('malformed-note', `duplicate signer ${id}`);
    seen.add(id);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(signer.keyId >>> 0, 0);
    const sig = Buffer.concat([prefix, signer.sign(message)]).toString('base64');
    lines.push(`${SIG_PREFIX}${signer.name} ${sig}\n`);
  }
  return `${text}\n${lines.join('')}`;
}

/**
 * Opens a signed note: splits text from signatures at the last blank line, verifies the signatures whose key
 * name and ID match a verifier, and lists the others as unknown. Throws NoteError: 'malformed-note' for syntax,
 * 'bad-signature' when a known key's signature fails, 'unverified-note' when no known key signed.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const msg = typeof note === 'string' ? note : decodeUtf8(note);
  checkText(msg);
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed-note', 'note has no blank line before its signatures');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteError('malformed-note', 'note has no signature lines');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('malformed-note', 'too many signatures');
  const message = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const counted = new Set<string>();
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (verifier === undefined) {
      unknown.push(sig);
      continue;
    }
    if (!verifier.verify(message, sig.signature)) {
      throw new NoteError('bad-signature', `signature by ${sig.name}+${hex8(sig.keyId)} does not verify`);
    }
    const id = `${sig.name}+${hex8(sig.keyId)}`;
    if (!counted.has(id)) {
      counted.add(id);
      verified.push(sig);
    }
  }
  if (verified.length === 0) throw new NoteError('unverified-note', 'no signature by a known key');
  return { text, verified, unknown };
}

/** A parsed checkpoint body (C2SP tlog-checkpoint). */
export interface Checkpoint {
  /** The log's unique origin line. */
  readonly origin: string;
  /** The tree size, as a decimal up to 2^64 - 1. */
  readonly size: bigint;
  /** The RFC 9162 Merkle Tree Hash of the first `size` entries. */
  readonly rootHash: Buffer;
  /** Optional extension lines after the root hash, without their newlines. */
  readonly extensions: string[];
}

/** The checkpoint body `<origin>\n<size>\n<base64 root>\n` (C2SP tlog-checkpoint), ready for signNote. */
export function checkpointBody(
  origin: string,
  size: number | bigint,
  rootHash: Uint8Array,
  extensions: readonly string[] = [],
): string {
  if (origin.length === 0 || origin.includes('\n')) throw new NoteError('malformed-checkpoint', 'bad origin line');
  const n = BigInt(size);
  if (n < 0n || n > 0xffffffffffffffffn) throw new NoteError('malformed-checkpoint', 'tree size out of range');
  if (rootHash.length !== 32) throw new NoteError('malformed-checkpoint', 'root hash must be 32 bytes');
  for (const ext of extensions) {
    if (ext.length === 0 || ext.includes('\n')) throw new NoteError('malformed-checkpoint', 'bad extension line');
  }
  const tail = extensions.map((e) => `${e}\n`).join('');
  const body = `${origin}\n${n.toString(10)}\n${Buffer.from(rootHash).toString('base64')}\n${tail}`;
  checkText(body);
  return body;
}

/** Parses a checkpoint body (the text of an opened note); throws NoteError('malformed-checkpoint'). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new NoteError('malformed-checkpoint', 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError('malformed-checkpoint', 'checkpoint needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteError('malformed-checkpoint', 'empty origin line');
  // ASCII decimal without leading zeros (tlog-checkpoint), within 64 bits.
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeLine)) throw new NoteError('malformed-checkpoint', 'bad tree size line');
  const size = BigInt(sizeLine);
  if (size > 0xffffffffffffffffn) throw new NoteError('malformed-checkpoint', 'tree size exceeds 64 bits');
  const rootHash = Buffer.from(rootLine, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootLine) {
    throw new NoteError('malformed-checkpoint', 'root hash line must be the base64 of 32 bytes');
  }
  if (extensions.some((e) => e.length === 0)) throw new NoteError('malformed-checkpoint', 'empty extension line');
  return { origin, size, rootHash, extensions };
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed-note', 'signature line must start with "— "');
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const b64 = space < 0 ? '' : rest.slice(space + 1);
  if (!isValidKeyName(name)) throw new NoteError('malformed-note', 'bad key name in signature line');
  const raw = decodeStrictBase64(b64);
  if (raw === null || raw.length < 5) throw new NoteError('malformed-note', 'bad signature encoding');
  return { name, keyId: raw.readUInt32BE(0), signature: raw.subarray(4) };
}

/** Decodes `<name>+<id>+<base64(type || key)>` parts and checks the name, type byte, length and (public) key ID. */
function decodeTypedKey(name: string, idHex: string, keyB64: string, isSeed = false): Buffer {
  if (!isValidKeyName(name)) throw new NoteError('malformed-key', 'invalid key name');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('malformed-key', 'key ID must be 8 lowercase hex digits');
  const raw = decodeStrictBase64(keyB64);
  if (raw === null || raw.length !== 33) throw new NoteError('malformed-key', 'key must be base64 of 33 bytes');
  if (raw[0] !== ED25519_TYPE) throw new NoteError('malformed-key', 'only Ed25519 (type 0x01) keys are supported');
  const key = raw.subarray(1);
  if (!isSeed && hex8(keyId(name, key)) !== idHex) throw new NoteError('malformed-key', 'key ID does not match key');
  return key;
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyOf(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('Ed25519 JWK export lacks x');
  return Buffer.from(jwk.x, 'base64url');
}

/** Standard padded base64 only; Buffer.from would silently skip invalid characters. */
function decodeStrictBase64(s: string): Buffer | null {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  const raw = Buffer.from(s, 'base64');
  return raw.toString('base64') === s ? raw : null;
}

/** Notes are valid UTF-8 with no control characters other than newline (signed-note spec). */
function checkText(s: string): void {
  if (hasLoneSurrogate(s)) throw new NoteError('malformed-note', 'note is not valid UTF-8');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) throw new NoteError('malformed-note', 'note contains a control character');
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new NoteError('malformed-note', 'note is not valid UTF-8');
  }
}

/** Splits at the first count - 1 '+' signs; null when there are fewer. */
function splitFields(s: string, count: number): string[] | null {
  const fields: string[] = [];
  let rest = s;
  for (let i = 0; i < count - 1; i++) {
    const plus = rest.indexOf('+');
    if (plus < 0) return null;
    fields.push(rest.slice(0, plus));
    rest = rest.slice(plus + 1);
  }
  fields.push(rest);
  return fields;
}

function hex8(id: number): string {
  return (id >>> 0).toString(16).padStart(8, '0');
}
