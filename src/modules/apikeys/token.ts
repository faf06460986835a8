/**
 * API key tokens: `pk_<id>_<secret>`, where the id (16 hex digits) names the key and the secret is 256 random
 * bits (base64url). Only SHA-256 of the secret is stored. A slow password hash (scrypt, PBKDF2) makes guessing
 * low-entropy passwords expensive; a 256-bit random secret cannot be guessed whatever the hash costs, and a
 * leaked table of SHA-256 digests gives no way back to the secrets. So one fast hash, and verifying costs no
 * CPU worth throttling. The digests are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every scope a key may carry. Modules that check a new scope add it here, with a line in docs/presence.md. */
export const SCOPES = ['presence:read', 'presence:write:things', 'notify', 'bot', 'webhooks'] as const;

/** The scope that lets a key log a bot account in (JSON hello `apiKey`, HTTP bearer; docs/bots.md). */
export const BOT_SCOPE = 'bot' satisfies Scope;
/** One scope. */
export type Scope = (typeof SCOPES)[number];

const TOKEN = /^pk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A new key: its id, the token shown once, and the digest stored. */
export function newToken(): { id: string; token: string; hash: Buffer } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `pk_${id}_${secret}`, hash: digest(secret) };
}

/** True when `token` has the shape of an API key (rather than a user's session token). */
export function looksLikeKey(token: string): boolean {
  return token.startsWith('pk_');
}

/** The id and secret of a token, or null when it is not one. */
export function parseToken(token: string): { id: string; secret: string } | null {
  const m = TOKEN.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

/** SHA-256 of a secret. */
export function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Whether `secret` is the one whose digest is `stored`, in time independent of where they differ. */
export function secretMatches(secret: string, stored: Uint8Array): boolean {
  const given = digest(secret);
  return stored.length === given.length && timingSafeEqual(given, stored);
}
