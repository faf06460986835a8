/**
 * Dialback keys (XEP-0220 §2.1.2): key = HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' +
 * stream id), hex-encoded, where the HMAC key is the hex text of SHA256(secret) as the XEP's worked example uses
 * it. Only the server that knows the secret (the authoritative server, §2.1) can make or check a key; the
 * stream id binds it to one stream, the two names to one domain pair.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The dialback key for a stream `streamId` from `originating` to `receiving` (XEP-0220 §2.1.2). */
export function dialbackKey(secret: string, receiving: string, originating: string, streamId: string): string {
  const k = createHash('sha256').update(secret, 'utf8').digest('hex');
  return createHmac('sha256', k).update(`${receiving} ${originating} ${streamId}`, 'utf8').digest('hex');
}

/** Whether `key` is the right one (XEP-0220 §2.3), compared in constant time. */
export function verifyDialbackKey(secret: string, receiving: string, originating: string, streamId: string, key: string): boolean {
  const want = Buffer.from(dialbackKey(secret, receiving, originating, streamId), 'utf8');
  const got = Buffer.from(key.trim().toLowerCase(), 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}
