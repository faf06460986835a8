/**
 * RFC 9162 §2.1 Merkle Tree Hash over SHA-256, with inclusion (§2.1.3) and consistency (§2.1.4) proofs.
 *
 * Tree sizes and indices are JavaScript numbers limited to safe integers (2^53 - 1); the bit operations of the
 * RFC's verification algorithms are written with division so they stay exact above 2^32.
 *
 * Proof generation never needs the whole tree in memory: it asks a SubtreeHasher for the MTH of ranges. Every
 * range a proof needs splits into at most O(log n) complete, aligned power-of-two subtrees, so with a
 * SubtreeCache holding those subtrees a proof costs O(log n) lookups and hashes instead of O(n) hashing.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

/** Domain-separation prefix of RFC 9162 §2.1.1 for leaves (interior nodes use 0x01). */
const LEAF_PREFIX = Buffer.from([0x00]);

/**
 * Scratch input for interior nodes, 0x01 || left || right. Hashing is synchronous, so one buffer is safe to
 * reuse, and the one-shot hash avoids a Hash object per node (the frontier hashes about once per append).
 */
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 0x01;

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
const EMPTY_ROOT = createHash('sha256').digest();

/** The root of the empty tree, SHA-256("") (RFC 9162 §2.1.1). */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** The leaf hash of an entry: SHA-256(0x00 || entry) (RFC 9162 §2.1.1). */
export function leafHash(entry: Uint8Array): Buffer {
  return oneShotHash('sha256', Buffer.concat([LEAF_PREFIX, entry]), 'buffer');
}

/**
 * The leaf hash of an entry given already framed as 0x00 || entry (RFC 9162 §2.1.1): sealRecord
 * builds its bytes that way, so hashing copies nothing.
 */
export function framedLeafHash(framed: Uint8Array): Buffer {
  if (framed[0] !== 0x00) throw new RangeError('a framed leaf starts with 0x00');
  return oneShotHash('sha256', framed, 'buffer');
}

/**
 * The leaf hash, as hex, of an entry given as its text, which must have no lone surrogate (so its UTF-8 encoding
 * is exact): SHA-256 of 0x00 and the text's UTF-8 bytes. Neither the bytes nor the digest become a buffer on this
 * side (each would be another allocation for the collector to sweep), for a caller that hands it to SQLite's
 * unhex().
 */
export function textLeafHashHex(text: string): string {
  return oneShotHash('sha256', `\u0000${text}`, 'hex');
}

/** The hash of an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash('sha256').update(NODE_INPUT.subarray(0, 1)).update(left).update(right).digest();
  }
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_SIZE);
  return oneShotHash('sha256', NODE_INPUT, 'buffer');
}

/** The Merkle Tree Hash of a list of leaf hashes (RFC 9162 §2.1.1), computed in O(n) with O(log n) memory. */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Buffer {
  const range = new CompactRange();
  for (const h of leafHashes) range.append(h);
  return range.root();
}

/** Returns the leaf hash at a position of the log; proofs call it only for indices below the tree size. */
export type LeafHashAccessor = (index: number) => Uint8Array;

/**
 * Storage for hashes of complete, aligned subtrees: the subtree at `level` and `index` covers leaves
 * [index * 2^level, (index + 1) * 2^level). Such a hash never changes once the log has grown past it, so a
 * store may persist it forever.
 */
export interface SubtreeCache {
  /** The stored hash, or undefined when it is not known. */
  get(level: number, index: number): Uint8Array | undefined;
  /** Records a hash the hasher has just computed. */
  set(level: number, index: number, hash: Buffer): void;
}

/**
 * An in-memory SubtreeCache. Levels below `minLevel` are not kept: with minLevel L a proof recomputes at most
 * 2^L leaves per level below L, and memory is about n / 2^L hashes.
 */
export class MemorySubtreeCache implements SubtreeCache {
  readonly #hashes = new Map<string, Uint8Array>();
  readonly #minLevel: number;

  /** Creates an empty cache keeping levels >= minLevel (level 0 are the leaves themselves). */
  constructor(minLevel = 1) {
    this.#minLevel = minLevel;
  }

  /** Number of stored subtree hashes. */
  get size(): number {
    return this.#hashes.size;
  }

  /** See SubtreeCache.get. */
  get(level: number, index: number): Uint8Array | undefined {
    return this.#hashes.get(`${level}/${index}`);
  }

  /** See SubtreeCache.set. */
  set(level: number, index: number, hash: Buffer): void {
    if (level >= this.#minLevel) this.#hashes.set(`${level}/${index}`, hash);
  }
}

/**
 * Computes MTH(D[start:end]) from a leaf-hash accessor, consulting and filling an optional cache of complete
 * aligned subtrees (RFC 9162 §2.1.1 splits every range at the largest power of two below its size, so the
 * left parts of all splits are such subtrees).
 */
export class SubtreeHasher {
  readonly #leaf: LeafHashAccessor;
  readonly #cache: SubtreeCache | undefined;

  /** Hashes over the leaves `leaf` returns, using `cache` for complete subtrees when given. */
  constructor(leaf: LeafHashAccessor, cache?: SubtreeCache) {
    this.#leaf = leaf;
    this.#cache = cache;
  }

  /** MTH of the leaves [start, end) (RFC 9162 §2.1.1); the empty range gives SHA-256(""). */
  rangeHash(start: number, end: number): Buffer {
    checkIndex(start, 'start');
    checkIndex(end, 'end');
    if (end < start) throw new RangeError(`range [${start}, ${end}) is reversed`);
    if (end === start) return emptyRoot();
    return this.#range(start, end);
  }

  /** MTH of the complete subtree at `level` and `index`, i.e. of leaves [index * 2^level, (index + 1) * 2^level). */
  perfectHash(level: number, index: number): Buffer {
    if (!Number.isInteger(level) || level < 0 || level > 53) throw new RangeError(`bad level ${level}`);
    checkIndex(index, 'index');
    return this.#perfect(level, index);
  }

  #range(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 1) return Buffer.from(this.#leaf(start));
    if (isPowerOfTwo(n) && start % n === 0) return this.#perfect(log2(n), start / n);
    const k = largestPowerOfTwoBelow(n);
    return nodeHash(this.#range(start, start + k), this.#range(start + k, end));
  }

  #perfect(level: number, index: number): Buffer {
    if (level === 0) return Buffer.from(this.#leaf(index));
    const cached = this.#cache?.get(level, index);
    if (cached !== undefined) return Buffer.from(cached);
    const hash = nodeHash(this.#perfect(level - 1, 2 * index), this.#perfect(level - 1, 2 * index + 1));
    this.#cache?.set(level, index, hash);
    return hash;
  }
}

/** Where proofs get their hashes: a plain leaf accessor (no caching) or a SubtreeHasher. */
export type HashSource = LeafHashAccessor | SubtreeHasher;

function hasherOf(source: HashSource): SubtreeHasher {
  return source instanceof SubtreeHasher ? source : new SubtreeHasher(source);
}

/** The Merkle Tree Hash of the first `size` leaves of `source` (RFC 9162 §2.1.1). */
export function rootAt(size: number, source: HashSource): Buffer {
  return hasherOf(source).rangeHash(0, size);
}

/**
 * The audit path PATH(index, D[size]) of RFC 9162 §2.1.3.1: sibling subtree hashes from the leaf upwards.
 * Costs O(log size) subtree hashes from `source`.
 */
export function inclusionProof(index: number, size: number, source: HashSource): Buffer[] {
  checkIndex(index, 'index');
  checkIndex(size, 'size');
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const hasher = hasherOf(source);
  const proof: Buffer[] = [];
  const walk = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n <= 1) return;
    const k = largestPowerOfTwoBelow(n);
    if (m < k) {
      walk(m, start, start + k);
      proof.push(hasher.rangeHash(start + k, end));
    } else {
      walk(m - k, start + k, end);
      proof.push(hasher.rangeHash(start, start + k));
    }
  };
  walk(index, 0, size);
  return proof;
}

/** Checks an audit path with the algorithm of RFC 9162 §2.1.3.2; false for any malformed input. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isIndex(index) || !isIndex(size) || index >= size) return false;
  if (leaf.length !== HASH_SIZE || root.length !== HASH_SIZE) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (p.length !== HASH_SIZE || sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where this node has no right sibling (the right edge of an unbalanced tree).
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/**
 * The consistency proof PROOF(m, D[n]) of RFC 9162 §2.1.4.1 between the tree of the first m leaves and the
 * tree of n leaves (0 < m <= n; empty when m = n). Costs O(log n) subtree hashes from `source`.
 */
export function consistencyProof(m: number, n: number, source: HashSource): Buffer[] {
  checkIndex(m, 'm');
  checkIndex(n, 'n');
  if (m < 1 || m > n) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  const hasher = hasherOf(source);
  const proof: Buffer[] = [];
  // SUBPROOF(m, D[start:end], b): b records whether the subtree is the old tree's own root, known to verifiers.
  const sub = (mm: number, start: number, end: number, b: boolean): void => {
    const size = end - start;
    if (mm === size) {
      if (!b) proof.push(hasher.rangeHash(start, end));
      return;
    }
    const k = largestPowerOfTwoBelow(size);
    if (mm <= k) {
      sub(mm, start, start + k, b);
      proof.push(hasher.rangeHash(start + k, end));
    } else {
      sub(mm - k, start + k, end, false);
      proof.push(hasher.rangeHash(start, start + k));
    }
  };
  sub(m, 0, n, true);
  return proof;
}

/**
 * Checks a consistency proof with the algorithm of RFC 9162 §2.1.4.2. For m = n the proof must be empty and the
 * roots equal; for m = 0 (outside the RFC) only an empty proof and the empty-tree old root are accepted.
 */
export function verifyConsistency(
  m: number,
  n: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isIndex(m) || !isIndex(n) || m > n) return false;
  if (oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE) return false;
  if (m === 0) return proof.length === 0 && Buffer.from(oldRoot).equals(EMPTY_ROOT);
  if (m === n) return proof.length === 0 && Buffer.from(oldRoot).equals(newRoot);
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_SIZE)) return false;
  // Step 1: when m is a power of two the old root is itself a node of the new tree and is left out of the proof.
  const path: readonly Uint8Array[] = isPowerOfTwo(m) ? [oldRoot, ...proof] : proof;
  let fn = m - 1;
  let sn = n - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}

/** Persistable state of a CompactRange: the size and the perfect-subtree roots, largest (leftmost) first, hex. */
export interface CompactRangeState {
  size: number;
  roots: string[];
}

/** Called when an append completes a subtree: the subtree covers leaves [index * 2^level, (index + 1) * 2^level). */
export type SubtreeListener = (level: number, index: number, hash: Buffer) => void;

/**
 * The right frontier of a growing log: the roots of the complete subtrees that make up the first `size` leaves,
 * one per set bit of `size` (RFC 9162 §2.1.1 splits at the largest power of two, so MTH folds these roots from
 * the right). Appending is amortised O(1) hashes and the root costs O(log n).
 */
export class CompactRange {
  #size = 0;
  #roots: Buffer[] = [];

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash. `onSubtree` sees every complete subtree (level >= 1) the append closes, so a store can
   * fill its SubtreeCache as the log grows.
   */
  append(leaf: Uint8Array, onSubtree?: SubtreeListener): void {
    if (leaf.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('log is full');
    let hash: Buffer = Buffer.from(leaf);
    let carry = this.#size;
    let level = 0;
    let index = this.#size;
    // Like binary addition: each trailing 1 bit of the old size is a subtree of equal height to merge with.
    while (isOdd(carry)) {
      const left = this.#roots.pop() as Buffer;
      hash = nodeHash(left, hash);
      carry = half(carry);
      level += 1;
      index = half(index);
      onSubtree?.(level, index, hash);
    }
    this.#roots.push(hash);
    this.#size += 1;
  }

  /** MTH of the leaves appended so far (RFC 9162 §2.1.1); SHA-256("") when empty. */
  root(): Buffer {
    const last = this.#roots.length - 1;
    if (last < 0) return emptyRoot();
    let hash = this.#roots[last] as Buffer;
    for (let i = last - 1; i >= 0; i--) hash = nodeHash(this.#roots[i] as Buffer, hash);
    return Buffer.from(hash);
  }

  /** Copies of the perfect-subtree roots, leftmost (largest) first. */
  subtreeRoots(): Buffer[] {
    return this.#roots.map((h) => Buffer.from(h));
  }

  /** A state object a store can persist and restore with CompactRange.fromState. */
  toState(): CompactRangeState {
    return { size: this.#size, roots: this.#roots.map((h) => h.toString('hex')) };
  }

  /** An independent copy. */
  clone(): CompactRange {
    return CompactRange.fromState(this.toState());
  }

  /** Restores a range from toState output; throws RangeError if the roots do not fit the size. */
  static fromState(state: CompactRangeState): CompactRange {
    if (!isIndex(state.size)) throw new RangeError('compact range size must be a safe non-negative integer');
    if (!Array.isArray(state.roots) || state.roots.length !== popCount(state.size)) {
      throw new RangeError('compact range needs one root per set bit of its size');
    }
    const roots = state.roots.map((hex) => {
      if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) throw new RangeError('bad compact range root');
      return Buffer.from(hex, 'hex');
    });
    const range = new CompactRange();
    range.#size = state.size;
    range.#roots = roots;
    return range;
  }
}

function isIndex(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

function checkIndex(x: number, what: string): void {
  if (!isIndex(x)) throw new RangeError(`${what} must be a safe non-negative integer, got ${x}`);
}

function isOdd(x: number): boolean {
  return x % 2 === 1;
}

/** x >> 1 without the 32-bit truncation of JavaScript shift operators. */
function half(x: number): number {
  return Math.floor(x / 2);
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function log2(n: number): number {
  let level = 0;
  while (n > 1) {
    n /= 2;
    level += 1;
  }
  return level;
}

/** The k of RFC 9162 §2.1.1: the largest power of two strictly smaller than n (n >= 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function popCount(n: number): number {
  let count = 0;
  while (n > 0) {
    if (isOdd(n)) count += 1;
    n = half(n);
  }
  return count;
}
