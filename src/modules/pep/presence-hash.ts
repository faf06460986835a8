/**
 * XEP-0153 §4.3 and XEP-0398 §3: the server puts the user's current avatar hash into every presence the user's
 * resources publish, as `<x xmlns='vcard-temp:x:update'><photo>SHA-1</photo></x>` (an empty `<photo/>` when the
 * user published that there is none), so clients that know avatars only from vCards learn of a change at once.
 * A client that sends its own `vcard-temp:x:update` keeps it: the server adds nothing then. The hashes of users
 * who logged in are kept in memory (presence extenders run synchronously); a user's first login after a restart
 * sends its presence once more when the stored hash has been read.
 */
import type { ModuleApi } from '../api.js';
import type { AvatarHashes } from './avatar.js';

/** The namespace of XEP-0153's presence element. */
export const NS_VCARD_UPDATE = 'vcard-temp:x:update';

/** The presence element for a hash ('' = no avatar). */
export function updateElement(hash: string): string {
  return hash === '' ? `<x xmlns='${NS_VCARD_UPDATE}'><photo/></x>` : `<x xmlns='${NS_VCARD_UPDATE}'><photo>${hash}</photo></x>`;
}

/** Hooks the avatar hashes into users' presence. */
export function avatarHashInPresence<O>(api: ModuleApi<O>, hashes: AvatarHashes): void {
  /** user → hash ('' none; null: never published); absent until read. */
  const known = new Map<string, string | null>();
  api.presenceExtender((user, p) => {
    const h = known.get(user);
    if (h === undefined || h === null) return null;
    if (p.extensions?.includes(NS_VCARD_UPDATE)) return null;
    return updateElement(h);
  });
  api.on('session.opened', async ({ user }) => {
    if (known.has(user)) return;
    const h = await hashes.hashOf(user);
    known.set(user, h);
    if (h !== null) await api.refreshPresence(user);
  });
  hashes.watch((user, hash) => {
    known.set(user, hash);
    api.refreshPresence(user).catch((e: unknown) => api.log.warn({ err: e, user }, 'could not send the new avatar hash in presence'));
  });
  api.on('account.removed', ({ address }) => void known.delete(address));
}
