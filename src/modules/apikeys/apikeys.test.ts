/** API keys: storage on both adapters, verification (secret, revocation, scope) and the per-key rate limit. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../ports/store.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { createSqliteStore } from '../../storage/sqlite/index.js';
import { apikeys } from './index.js';
import { area, type ApiKeysArea } from './sqlite.js';
import { digest, newToken, parseToken, secretMatches } from './token.js';
import { createVerifier } from './verifier.js';
import { moduleFixture } from '../testing.js';

const stores: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(kind: 'sqlite' | 'memory'): ApiKeysArea {
  let store: Store;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'parley-apikeys-'));
    dirs.push(dir);
    store = createSqliteStore({ path: join(dir, 'parley.db'), modules: [{ name: 'apikeys', area }] });
  } else {
    store = createMemoryStore({ modules: [{ name: 'apikeys', memory: apikeys.storage!.memory }] });
  }
  stores.push(store);
  return store.area<ApiKeysArea>('apikeys');
}

const key = (owner: string, scopes: string[], now = 1) => {
  const t = newToken();
  return { t, row: { id: t.id, owner, name: 'k', scopes, hash: t.hash, createdAt: now, createdBy: owner, revokedAt: null, revokedBy: null } };
};

describe('api keys', () => {
  for (const kind of ['sqlite', 'memory'] as const) {
    it(`are stored as digests, listed, capped per owner and revoked (${kind})`, async () => {
      const a = open(kind);
      const k1 = key('o@example.com', ['presence:read'], 1);
      const k2 = key('o@example.com', ['notify'], 2);
      await a.create(k1.row, 2);
      await a.create(k2.row, 2);
      await expect(a.create(key('o@example.com', ['notify']).row, 2)).rejects.toMatchObject({ code: 'policy-violation' });
      expect((await a.list('o@example.com')).map((k) => k.id)).toEqual([k2.t.id, k1.t.id]);
      const stored = (await a.get(k1.t.id))!;
      expect(Buffer.from(stored.hash).equals(k1.t.hash)).toBe(true);
      expect(JSON.stringify(await a.list(null))).not.toContain(k1.t.token.slice(20));
      const r = await a.revoke(k1.t.id, 'admin@example.com', 5);
      expect(r).toMatchObject({ revokedAt: 5, revokedBy: 'admin@example.com' });
      expect(await a.revoke('0000000000000000', 'x', 6)).toBeNull();
      // A revoked key frees its place.
      await a.create(key('o@example.com', ['notify']).row, 2);
    });
  }

  it('tokens: a secret matches only its digest', () => {
    const t = newToken();
    const p = parseToken(t.token)!;
    expect(p.id).toBe(t.id);
    expect(secretMatches(p.secret, t.hash)).toBe(true);
    expect(secretMatches(`${p.secret.slice(0, -1)}A`, t.hash) && !p.secret.endsWith('A')).toBe(false);
    expect(parseToken('pk_short_x')).toBeNull();
    expect(digest('x')).toHaveLength(32);
  });

  it('the verifier checks secret, revocation and scope, and limits each key on its own', async () => {
    const a = open('memory');
    let now = 1000;
    const v = createVerifier(a, { requestsPerSecond: 3, cacheSeconds: 0 }, () => now);
    const k = key('o@example.com', ['presence:read']);
    const other = key('o@example.com', ['presence:read']);
    await a.create(k.row, 10);
    await a.create(other.row, 10);
    await expect(v.verifyKey(k.t.token.slice(0, -2) + 'zz', 'presence:read')).rejects.toMatchObject({ code: 'not-authorized' });
    await expect(v.verifyKey(k.t.token, 'presence:write:things')).rejects.toMatchObject({ code: 'forbidden' });
    expect(await v.verifyKey(k.t.token, 'presence:read')).toMatchObject({ owner: 'o@example.com', keyId: k.t.id });
    await v.verifyKey(k.t.token, 'presence:read');
    await v.verifyKey(k.t.token, 'presence:read');
    await expect(v.verifyKey(k.t.token, 'presence:read')).rejects.toMatchObject({ code: 'rate-limited' });
    // Another key is not affected; time refills the first.
    await v.verifyKey(other.t.token, 'presence:read');
    now += 1000;
    await v.verifyKey(k.t.token, 'presence:read');
    await a.revoke(k.t.id, 'o@example.com', now);
    await expect(v.verifyKey(k.t.token, 'presence:read')).rejects.toMatchObject({ code: 'not-authorized' });
  });

  it('ending all of a user\'s sessions revokes its session tokens but not its API keys', async () => {
    const f = await moduleFixture([apikeys], { options: { apikeys: { enabled: true } } });
    const owner = 'a@example.com';
    const area = f.store.area<ApiKeysArea>('apikeys');
    const k = key(owner, ['presence:read']);
    await area.create(k.row, 10);
    const { token } = await f.engine.auth.login(owner, 'secret-pw', '127.0.0.1');
    expect(await f.engine.auth.resolve(token)).toBe(owner);
    await f.engine.admin.endUserSessions(owner);
    await expect(f.engine.auth.resolve(token)).rejects.toMatchObject({ code: 'not-authorized', message: expect.stringMatching(/revoked/) });
    const v = createVerifier(area, { requestsPerSecond: 10, cacheSeconds: 0 }, () => 2000);
    expect(await v.verifyKey(k.t.token, 'presence:read')).toMatchObject({ owner, keyId: k.t.id });
  });
});
