import { describe, expect, it } from 'vitest';
import type { SessionPresence } from '../../core/types.js';
import type { ModuleApi } from '../api.js';
import type { AvatarHashes } from './avatar.js';
import { avatarHashInPresence, updateElement } from './presence-hash.js';

const presence = (extensions?: string): SessionPresence => ({ availability: 'available', activity: null, status: null, priority: 0, idleSince: null, explicit: false, updatedAt: 1, ...(extensions ? { extensions } : {}) });

/** The parts of the module API the hook uses, recording what it asks for. */
function rig(stored: Record<string, string | null>) {
  let extender: ((user: string, p: SessionPresence) => string | null) | null = null;
  const handlers = new Map<string, (e: { user?: string; address?: string }) => Promise<void> | void>();
  let watcher: ((user: string, hash: string) => void) | null = null;
  const refreshed: string[] = [];
  const api = {
    presenceExtender: (fn: typeof extender) => void (extender = fn),
    on: (ev: string, fn: (e: { user?: string; address?: string }) => Promise<void> | void) => void handlers.set(ev, fn),
    refreshPresence: async (user: string) => void refreshed.push(user),
    log: { warn: () => undefined },
  } as unknown as ModuleApi<unknown>;
  const hashes: AvatarHashes = { hashOf: async (u) => stored[u] ?? null, watch: (fn) => void (watcher = fn) };
  avatarHashInPresence(api, hashes);
  return {
    add: (user: string, p = presence()) => extender!(user, p),
    opened: (user: string) => handlers.get('session.opened')!({ user }),
    changed: (user: string, hash: string) => watcher!(user, hash),
    refreshed,
  };
}

describe('XEP-0153 hashes in presence', () => {
  it('adds the stored hash once it is read at login, and sends the presence again then; nothing for users who never published', async () => {
    const r = rig({ 'a@example.com': 'abc123', 'c@example.com': '' });
    expect(r.add('a@example.com')).toBeNull(); // not read yet
    await r.opened('a@example.com');
    await r.opened('b@example.com');
    await r.opened('c@example.com');
    expect(r.refreshed).toEqual(['a@example.com', 'c@example.com']);
    expect(r.add('a@example.com')).toBe(updateElement('abc123'));
    expect(r.add('a@example.com')).toBe("<x xmlns='vcard-temp:x:update'><photo>abc123</photo></x>");
    expect(r.add('c@example.com')).toBe("<x xmlns='vcard-temp:x:update'><photo/></x>"); // published: no avatar
    expect(r.add('b@example.com')).toBeNull();
  });

  it('follows a change at once, and leaves a client\'s own vcard-temp:x:update alone', async () => {
    const r = rig({});
    r.changed('a@example.com', 'ff00');
    expect(r.refreshed).toEqual(['a@example.com']);
    expect(r.add('a@example.com')).toBe(updateElement('ff00'));
    expect(r.add('a@example.com', presence("<x xmlns='vcard-temp:x:update'><photo>11</photo></x>"))).toBeNull();
  });
});
