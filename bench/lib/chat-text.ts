/**
 * Deterministic chat-like text for the benchmarks that index and search message bodies: a seeded PRNG, and words
 * drawn Zipf-like from a list of common office-chat words with a long tail of invented rare ones (a real
 * vocabulary has many rare words). The same seed and word list give the same text on every run.
 */

/** A deterministic PRNG (mulberry32), so runs are comparable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'qu', 'ba', 'do', 'fe', 'gi', 'ho', 'ju'];

export interface ChatText {
  /** The PRNG every draw below uses (one stream, so the order of calls decides the text). */
  rand: () => number;
  pick: <T>(xs: readonly T[]) => T;
  /** 20,000 invented words, drawn once from `rand` when the generator is made. */
  rare: readonly string[];
  /** A word: mostly common (Zipf-like over `common`), sometimes from the long tail. */
  word: () => string;
  /** A message body of 4 to 23 words. */
  body: () => string;
}

/** A text generator over `common` (most frequent first), seeded with `seed`. */
export function chatText(seed: number, common: readonly string[]): ChatText {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const rare = Array.from({ length: 20_000 }, (_, i) => {
    let w = '';
    for (let n = 2 + (i % 3); n > 0; n--) w += pick(SYLLABLES);
    return `${w}${i % 7 === 0 ? i : ''}`;
  });
  const word = (): string => (rand() < 0.85 ? common[Math.floor(common.length * rand() ** 2.2)]! : pick(rare));
  const body = (): string => Array.from({ length: 4 + Math.floor(rand() * 20) }, word).join(' ');
  return { rand, pick, rare, word, body };
}
