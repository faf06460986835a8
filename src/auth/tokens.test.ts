import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../core/errors.js';
import type { TokenRecord, TokenStore } from '../ports/store.js';
import { hashToken, issueToken, resolveToken, revokeToken } from './tokens.js';

/** A tiny Map-backed TokenStore, enough for the token functions. */
class MapTokenStore implements TokenStore {
  readonly rows = new Map<string, TokenRecord>();
  async put(hash: string, record: TokenRecord): Promise<void> {
    this.rows.set(hash, { ...record });
  }
  async get(hash: string): Promise<TokenRecord | null> {
    return this.rows.get(hash) ?? null;
  }
  async revoke(hash: string): Promise<void> {
    this.rows.delete(hash);
  }
  async revokeAll(address: string): Promise<void> {
    for (const [h, r] of this.rows) if (r.address === address) this.rows.delete(h);
  }
  async purgeExpired(now: number): Promise<number> {
    let n = 0;
    for (const [h, r] of this.rows) if (r.expiresAt <= now && this.rows.delete(h)) n++;
    return n;
  }
}

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

describe('session tokens', () => {
  it('issues 32 random bytes as base64url and stores only the SHA-256 hex', async () => {
    const store = new MapTokenStore();
    const { token, expiresAt } = await issueToken(store, 'alice@example.com', HOUR, T0);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(expiresAt).toBe(T0 + HOUR);
    expect([...store.rows.keys()]).toEqual([hashToken(token)]);
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(store.rows.get(hashToken(token))).toEqual({ address: 'alice@example.com', createdAt: T0, expiresAt });
    expect(JSON.stringify([...store.rows])).not.toContain(token);

    const other = await issueToken(store, 'alice@example.com', HOUR, T0);
    expect(other.token).not.toBe(token);
  });

  it('resolves until expiry, then null', async () => {
    const store = new MapTokenStore();
    const { token } = await issueToken(store, 'alice@example.com', HOUR, T0);
    expect(await resolveToken(store, token, T0)).toBe('alice@example.com');
    expect(await resolveToken(store, token, T0 + HOUR - 1)).toBe('alice@example.com');
    expect(await resolveToken(store, token, T0 + HOUR)).toBeNull();
  });

  it('returns null for unknown and malformed tokens', async () => {
    const store = new MapTokenStore();
    await issueToken(store, 'alice@example.com', HOUR, T0);
    expect(await resolveToken(store, 'A'.repeat(43), T0)).toBeNull();
    expect(await resolveToken(store, '', T0)).toBeNull();
    expect(await resolveToken(store, 'not a token', T0)).toBeNull();
    // The stored hash itself is not a token.
    expect(await resolveToken(store, [...store.rows.keys()][0] ?? '', T0)).toBeNull();
  });

  it('revokes one token without touching others', async () => {
    const store = new MapTokenStore();
    const a = await issueToken(store, 'alice@example.com', HOUR, T0);
    const b = await issueToken(store, 'alice@example.com', HOUR, T0);
    await revokeToken(store, a.token);
    expect(await resolveToken(store, a.token, T0)).toBeNull();
    expect(await resolveToken(store, b.token, T0)).toBe('alice@example.com');
    await revokeToken(store, a.token); // idempotent
    await revokeToken(store, 'junk');
    expect(store.rows.size).toBe(1);
  });

  it('rejects a non-positive lifetime', async () => {
    const store = new MapTokenStore();
    await expect(issueToken(store, 'alice@example.com', 0, T0)).rejects.toBeInstanceOf(ParleyError);
    await expect(issueToken(store, 'alice@example.com', Number.NaN, T0)).rejects.toBeInstanceOf(ParleyError);
    expect(store.rows.size).toBe(0);
  });
});
