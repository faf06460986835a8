/**
 * Opaque session tokens: 32 random bytes in base64url (RFC 4648 §5), handed to the client once. The store keeps
 * only the SHA-256 of a token (hex), so a leaked database cannot be replayed as sessions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import type { TokenStore } from '../ports/store.js';

/** Random bytes per token: 256 bits, far beyond guessing. */
const TOKEN_BYTES = 32;

/** A token as issued: 43 base64url characters without padding (RFC 4648 §5, §3.2). */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** The SHA-256 of a token, lowercase hex: the only form in which tokens are stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Issues a token for `address` valid for `ttlMs` from `now`; stores only its hash. */
export async function issueToken(
  store: TokenStore,
  address: string,
  ttlMs: number,
  now: number,
): Promise<{ token: string; expiresAt: number }> {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new ParleyError('bad-request', 'token lifetime must be positive');
  if (!Number.isFinite(now)) throw new ParleyError('bad-request', 'token issue time must be finite');
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const expiresAt = now + ttlMs;
  await store.put(hashToken(token), { address, createdAt: now, expiresAt });
  return { token, expiresAt };
}

/** The address a token belongs to, or null when it is malformed, unknown or expired at `now`. */
export async function resolveToken(store: TokenStore, token: string, now: number): Promise<string | null> {
  if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return null; // no store round trip for junk
  const record = await store.get(hashToken(token));
  if (record === null || record.expiresAt <= now) return null;
  return record.address;
}

/** Revokes a token; revoking an unknown or malformed token is a no-op. */
export async function revokeToken(store: TokenStore, token: string): Promise<void> {
  if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return;
  await store.revoke(hashToken(token));
}
