#!/usr/bin/env node
/**
 * Standalone verifier for Parley compliance-archive export bundles.
 *
 *   node tools/verify-bundle.mjs <bundle-dir> <verifier-key>
 *
 * This file deliberately imports nothing but node: built-ins and shares no code with the Parley server: an
 * auditor can read it in one sitting and run it on any Node.js >= 20 without installing or trusting Parley.
 * The few algorithms it needs are written out again here on purpose:
 *   - RFC 8785 JSON Canonicalization Scheme (JCS), to check each exported record is byte-for-byte canonical;
 *   - RFC 9162 §2.1.1 leaf hashing and §2.1.3.2 inclusion proof verification over SHA-256;
 *   - C2SP signed-note (Ed25519 only) and C2SP tlog-checkpoint parsing.
 * The formats are described in docs/archive-format.md.
 *
 * Exit status 0 prints "verified N records against checkpoint size S". Exit status 1 prints
 * "FAIL <code>: <detail>" for the first problem found, where <code> is one of: usage, bad-key,
 * missing-file, malformed-manifest, malformed-checkpoint, bad-signature, key-mismatch, origin-mismatch,
 * record-mismatch, bad-proof.
 */
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A verification failure with a stable code and, for record failures, where the record is. */
export class BundleError extends Error {
  /**
   * @param {string} code stable failure code
   * @param {string} message detail for people
   * @param {{ index?: number, file?: string, line?: number }} [where]
   */
  constructor(code, message, where = {}) {
    super(message);
    this.name = 'BundleError';
    this.code = code;
    this.where = where;
  }
}

// ---------------------------------------------------------------------------------------------------------
// RFC 8785 JCS

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 canonical JSON text of a value from JSON.parse: members sorted by UTF-16 code units (§3.2.3),
 * numbers in ECMAScript shortest form (§3.2.2.3), minimal string escapes (§3.2.2.2), no white space.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalize(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite number');
    return String(value);
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new TypeError('lone surrogate in string');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalize(v)).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${canonicalize(k)}:${canonicalize(value[k])}`).join(',')}}`;
  }
  throw new TypeError(`unsupported ${typeof value}`);
}

// ---------------------------------------------------------------------------------------------------------
// RFC 9162 §2.1 Merkle trees

/** SHA-256 of the concatenated parts. @param {...Uint8Array} parts @returns {Buffer} */
function sha256(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || entry). @param {Uint8Array} entry @returns {Buffer} */
export function leafHash(entry) {
  return sha256(Buffer.from([0x00]), entry);
}

/**
 * RFC 9162 §2.1.3.2: verifies an audit path for leaf `index` in a tree of `size` leaves with root `root`.
 * Uses division instead of bit shifts so sizes above 2^32 stay exact.
 * @param {number} index @param {number} size @param {Buffer} leaf @param {Buffer[]} proof @param {Buffer} root
 * @returns {boolean}
 */
export function verifyInclusion(index, size, leaf, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([0x01]), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = sha256(Buffer.from([0x01]), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// ---------------------------------------------------------------------------------------------------------
// C2SP signed-note (Ed25519) and tlog-checkpoint

/** Standard padded base64, rejecting anything Buffer.from would silently skip. @param {string} s */
function strictBase64(s) {
  if (typeof s !== 'string' || s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  const raw = Buffer.from(s, 'base64');
  return raw.toString('base64') === s ? raw : null;
}

/** Key names: non-empty, no Unicode white space, no '+'. @param {string} name */
function validKeyName(name) {
  return name.length > 0 && !/[\s\u0085+]/u.test(name);
}

/** Key ID: first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). @param {string} name @param {Buffer} key */
function keyIdOf(name, key) {
  return sha256(Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x01]), key).subarray(0, 4).toString('hex');
}

/**
 * Parses `<name>+<8 hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>`.
 * @param {string} vkey
 * @returns {{ name: string, id: string, key: import('node:crypto').KeyObject }}
 */
export function parseVerifierKey(vkey) {
  const a = vkey.indexOf('+');
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
  if (b < 0) throw new BundleError('bad-key', 'verifier key must be <name>+<id>+<key>');
  const name = vkey.slice(0, a);
  const id = vkey.slice(a + 1, b);
  const raw = strictBase64(vkey.slice(b + 1));
  if (!validKeyName(name) || !/^[0-9a-f]{8}$/.test(id) || raw === null || raw.length !== 33 || raw[0] !== 0x01) {
    throw new BundleError('bad-key', 'verifier key is malformed or not Ed25519');
  }
  const pub = raw.subarray(1);
  if (keyIdOf(name, pub) !== id) throw new BundleError('bad-key', 'verifier key ID does not match the key');
  // SubjectPublicKeyInfo DER for a raw Ed25519 key (RFC 8410 §4).
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
  return { name, id, key: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
}

/**
 * Opens a signed note with one trusted key: the text ends at the last blank line, and a signature line
 * "— <name> <base64(key ID || signature)>" by that key must verify over the text bytes.
 * @param {string} note @param {{ name: string, id: string, key: import('node:crypto').KeyObject }} verifier
 * @returns {string} the note text
 */
export function openNote(note, verifier) {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note) || LONE_SURROGATE.test(note)) {
    throw new BundleError('malformed-checkpoint', 'checkpoint note contains invalid characters');
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n') || split + 2 >= note.length) {
    throw new BundleError('malformed-checkpoint', 'checkpoint note has no signature block');
  }
  const text = note.slice(0, split + 1);
  const message = Buffer.from(text, 'utf8');
  let verified = false;
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    const raw = m === null ? null : strictBase64(m[2]);
    if (m === null || raw === null || raw.length < 5 || !validKeyName(m[1])) {
      throw new BundleError('malformed-checkpoint', 'malformed signature line in checkpoint note');
    }
    if (m[1] !== verifier.name || raw.subarray(0, 4).toString('hex') !== verifier.id) continue; // someone else's
    const sig = raw.subarray(4);
    if (sig.length !== 64 || !verifySignature(null, message, verifier.key, sig)) {
      throw new BundleError('bad-signature', `signature by ${verifier.name}+${verifier.id} does not verify`);
    }
    verified = true;
  }
  if (!verified) throw new BundleError('bad-signature', `checkpoint is not signed by ${verifier.name}+${verifier.id}`);
  return text;
}

/**
 * Parses a tlog-checkpoint body: origin line, decimal tree size (no leading zeros), base64 root hash,
 * then optional extension lines.
 * @param {string} text
 * @returns {{ origin: string, size: number, root: Buffer }}
 */
export function parseCheckpoint(text) {
  const lines = text.slice(0, -1).split('\n');
  const root = lines.length >= 3 ? strictBase64(lines[2]) : null;
  if (lines.length < 3 || lines[0].length === 0 || !/^(0|[1-9][0-9]*)$/.test(lines[1]) || root === null || root.length !== 32) {
    throw new BundleError('malformed-checkpoint', 'checkpoint body must be origin, size and base64 root hash lines');
  }
  if (lines.slice(3).some((l) => l.length === 0)) throw new BundleError('malformed-checkpoint', 'empty extension line');
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size)) throw new BundleError('malformed-checkpoint', 'tree size too large for this verifier');
  return { origin: lines[0], size, root };
}

// ---------------------------------------------------------------------------------------------------------
// Bundles

/** Reads a file of the bundle, mapping absence to missing-file. @param {string} path @param {object} [where] */
function readBundleFile(path, where) {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BundleError('missing-file', `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, where);
  }
}

/** Checks the manifest's shape; returns it typed. @param {unknown} m */
function checkManifest(m) {
  const bad = (msg) => new BundleError('malformed-manifest', msg);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad('manifest must be a JSON object');
  for (const field of ['origin', 'checkpoint', 'verifierKey']) {
    if (typeof m[field] !== 'string') throw bad(`manifest.${field} must be a string`);
  }
  if (!Array.isArray(m.records)) throw bad('manifest.records must be an array');
  m.records.forEach((r, i) => {
    const at = `manifest.records[${i}]`;
    if (r === null || typeof r !== 'object') throw bad(`${at} must be an object`);
    if (!Number.isSafeInteger(r.index) || r.index < 0) throw bad(`${at}.index must be a non-negative integer`);
    if (!Number.isSafeInteger(r.line) || r.line < 1) throw bad(`${at}.line must be a positive integer`);
    // Record files must stay inside the bundle directory.
    if (typeof r.file !== 'string' || r.file.length === 0 || isAbsolute(r.file) || normalize(r.file).split(sep).includes('..')) {
      throw bad(`${at}.file must be a relative path inside the bundle`);
    }
    if (typeof r.leafHash !== 'string' || !/^[0-9a-f]{64}$/.test(r.leafHash)) throw bad(`${at}.leafHash must be 64 hex digits`);
    if (!Array.isArray(r.inclusionProof) || r.inclusionProof.some((h) => strictBase64(h)?.length !== 32)) {
      throw bad(`${at}.inclusionProof must be an array of base64 SHA-256 hashes`);
    }
  });
  return m;
}

/**
 * Verifies a bundle directory against the trusted verifier key; throws BundleError on the first failure.
 * @param {string} dir bundle directory
 * @param {string} trustedKey verifier key given by the auditor
 * @returns {{ records: number, size: number, origin: string }}
 */
export function verifyBundle(dir, trustedKey) {
  const verifier = parseVerifierKey(trustedKey);
  let parsed;
  const manifestBytes = readBundleFile(join(dir, 'manifest.json'));
  try {
    parsed = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    throw new BundleError('malformed-manifest', 'manifest.json is not valid JSON');
  }
  const manifest = checkManifest(parsed);

  // The key from the command line decides; the manifest's copy is only checked for agreement.
  const checkpoint = parseCheckpoint(openNote(manifest.checkpoint, verifier));
  if (manifest.verifierKey !== trustedKey) {
    throw new BundleError('key-mismatch', 'manifest.verifierKey differs from the key given on the command line');
  }
  if (checkpoint.origin !== manifest.origin) {
    const found = JSON.stringify(checkpoint.origin);
    throw new BundleError('origin-mismatch', `checkpoint origin ${found} is not ${JSON.stringify(manifest.origin)}`);
  }

  /** @type {Map<string, Buffer[]>} */
  const files = new Map();
  for (const r of manifest.records) {
    const where = { index: r.index, file: r.file, line: r.line };
    let lines = files.get(r.file);
    if (lines === undefined) {
      const bytes = readBundleFile(join(dir, r.file), where);
      lines = [];
      let start = 0;
      for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, start)) {
        lines.push(bytes.subarray(start, i));
        start = i + 1;
      }
      if (start < bytes.length) lines.push(bytes.subarray(start));
      files.set(r.file, lines);
    }
    const bytes = lines[r.line - 1];
    if (bytes === undefined) throw new BundleError('record-mismatch', `${r.file} has no line ${r.line}`, where);
    let canonical;
    try {
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      canonical = Buffer.from(canonicalize(JSON.parse(text)), 'utf8');
    } catch {
      throw new BundleError('record-mismatch', 'record is not valid I-JSON', where);
    }
    if (!canonical.equals(bytes)) throw new BundleError('record-mismatch', 'record is not in RFC 8785 canonical form', where);
    const leaf = leafHash(bytes);
    if (leaf.toString('hex') !== r.leafHash) throw new BundleError('record-mismatch', 'record does not hash to its leafHash', where);
    const proof = r.inclusionProof.map((h) => Buffer.from(h, 'base64'));
    if (!verifyInclusion(r.index, checkpoint.size, leaf, proof, checkpoint.root)) {
      throw new BundleError('bad-proof', `inclusion proof does not lead to the root of size ${checkpoint.size}`, where);
    }
  }
  return { records: manifest.records.length, size: checkpoint.size, origin: checkpoint.origin };
}

/** Command-line entry point; returns the exit status. @param {string[]} args */
export function main(args) {
  if (args.length !== 2) {
    process.stderr.write('FAIL usage: node tools/verify-bundle.mjs <bundle-dir> <verifier-key>\n');
    return 1;
  }
  try {
    const result = verifyBundle(args[0], args[1]);
    process.stdout.write(`verified ${result.records} records against checkpoint size ${result.size}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    const w = err.where;
    const at = w.index === undefined ? '' : ` (record index ${w.index}, file ${w.file}, line ${w.line})`;
    process.stderr.write(`FAIL ${err.code}: ${err.message}${at}\n`);
    return 1;
  }
}

/** True when this file is the script node was asked to run (not imported by a test). */
function isEntryPoint() {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = main(process.argv.slice(2));
}
