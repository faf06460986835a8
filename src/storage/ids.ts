/**
 * Server-assigned record ids: 26 characters, Crockford base32, ULID layout (48-bit millisecond time, then 80
 * random bits). Ids sort by creation time, so they are useful in logs and indexes without a lookup of seq.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const RANDOM_MAX = (1n << 80n) - 1n;

function encode(value: bigint, chars: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < chars; i++) {
    out = ALPHABET.charAt(Number(v & 31n)) + out;
    v >>= 5n;
  }
  return out;
}

function freshRandom(): bigint {
  return BigInt(`0x${randomBytes(10).toString('hex')}`);
}

/**
 * Returns a generator of unique, lexicographically increasing ids. Within one millisecond (or when the clock
 * steps back) the random part is incremented instead of redrawn, so ids stay unique and ordered in-process;
 * across processes the 80 random bits make a collision practically impossible.
 */
export function createIdGenerator(now: () => number = Date.now): () => string {
  let lastTime = -1;
  let lastRandom = 0n;
  return () => {
    let time = Math.max(0, Math.floor(now()));
    if (time <= lastTime) {
      time = lastTime;
      lastRandom += 1n;
      if (lastRandom > RANDOM_MAX) {
        time += 1;
        lastRandom = freshRandom();
      }
    } else {
      lastRandom = freshRandom();
    }
    lastTime = time;
    return encode(BigInt(time), TIME_CHARS) + encode(lastRandom, RANDOM_CHARS);
  };
}
