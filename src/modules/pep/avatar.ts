/**
 * User avatars: XEP-0084 (the image in `urn:xmpp:avatar:data`, item id = its SHA-1; what it is in
 * `urn:xmpp:avatar:metadata`) and XEP-0398 vCard conversion (`urn:xmpp:pep-vcard-conversion:0`): publishing the
 * metadata of an avatar whose data is on the data node sets the vCard's PHOTO (XEP-0054/XEP-0153), and a vCard
 * set with a PHOTO publishes it as the PEP avatar; through the vcard module's service (VcardStore). The current
 * avatar's hash is offered as a service (AvatarHashes) for the XEP-0153 `vcard-temp:x:update` of presence.
 */
import { createHash } from 'node:crypto';
import { isParleyError, ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import type { VcardStore } from '../vcard/index.js';
import type { PepNodes } from './nodes.js';

/** XEP-0084 §4: the nodes (and payload namespaces) of an avatar's data and metadata. */
export const AVATAR_DATA = 'urn:xmpp:avatar:data';
export const AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
/** XEP-0398 §3: the account feature. */
export const VCARD_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
const FROM_VCARD = 'vcard';
const FROM_PEP = 'pep';

/** The users' current avatar hashes (XEP-0153 §4.1 `<photo/>` of `vcard-temp:x:update`), for presence. */
export interface AvatarHashes {
  /** The SHA-1 (hex) of the user's avatar, '' when it published that it has none, null when it published nothing. */
  hashOf(user: string): Promise<string | null>;
  /** Calls `fn` after a user's avatar changed, with the new hash ('' for none). */
  watch(fn: (user: string, hash: string) => void): void;
}

declare module '../api.js' {
  interface ModuleServices {
    avatars: AvatarHashes;
  }
}

const sha1 = (bytes: Buffer): string => createHash('sha1').update(bytes).digest('hex');
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** XEP-0084 §4.1: a data item is base64 of the image, and its id is the image's SHA-1. */
function checkData(id: string | undefined, xml: string): void {
  const data = parseFragment(xml);
  const invalid = (why: string): ParleyError => new ParleyError('bad-request', why, { pubsub: 'invalid-payload' });
  if (data.name !== 'data' || data.xmlns !== AVATAR_DATA) throw invalid(`an avatar data item is a <data xmlns='${AVATAR_DATA}'/>`);
  if (!BASE64.test(data.text())) throw invalid('the avatar data is base64');
  if (id !== undefined && sha1(Buffer.from(data.text(), 'base64')) !== id) throw invalid('the item id of avatar data is the SHA-1 of the image (XEP-0084 §4.1)');
}

/** The first `<info/>` of a metadata payload: the avatar now, or null when the user has none (§4.2 empty). */
function infoOf(xml: string): { id: string; type: string } | null {
  const info = parseFragment(xml).getChild('info');
  const id = info?.attr('id');
  return info && id ? { id, type: info.attr('type') ?? 'image/png' } : null;
}

/** The vCard with its PHOTO replaced (or removed, with null). */
function withPhoto(vcard: string | null, photo: Element | null): string {
  const v = vcard === null ? el('vCard', { xmlns: 'vcard-temp' }) : parseFragment(vcard);
  v.children = v.children.filter((c) => typeof c === 'string' || c.name !== 'PHOTO');
  if (photo) v.append(photo);
  return serialize(v);
}

/** Wires XEP-0084 checks, XEP-0398 conversion (when the vcard module runs) and the hash service. */
export function avatars(nodes: PepNodes, vcards: VcardStore | undefined, log: Logger): AvatarHashes {
  const listeners: Array<(user: string, hash: string) => void> = [];
  const lastMeta = async (user: string): Promise<string | null> => {
    try {
      return (await nodes.items(user, user, AVATAR_METADATA, null, 1))[0]?.xml ?? null;
    } catch (e) {
      if (isParleyError(e, 'item-not-found')) return null;
      throw e;
    }
  };
  const hashOf = async (user: string): Promise<string | null> => {
    const meta = await lastMeta(user);
    return meta === null ? null : (infoOf(meta)?.id ?? '');
  };

  nodes.validate(AVATAR_DATA, checkData);
  nodes.watch(AVATAR_METADATA, async (change) => {
    const info = change.xml === null ? null : infoOf(change.xml);
    for (const fn of listeners) fn(change.owner, info?.id ?? '');
    if (!vcards || change.origin === FROM_VCARD) return;
    // XEP-0398 §4: the metadata names the avatar; its data item becomes the PHOTO (none: the PHOTO goes).
    try {
      let photo: Element | null = null;
      if (info !== null) {
        const [data] = await nodes.items(change.owner, change.owner, AVATAR_DATA, [info.id], null).catch(() => []);
        if (data === undefined) return; // an avatar hosted elsewhere (§4.2 url): the vCard cannot hold it
        photo = el('PHOTO', {}, el('TYPE', {}, info.type), el('BINVAL', {}, parseFragment(data.xml).text().replace(/\s/g, '')));
      }
      await vcards.set(change.owner, withPhoto(await vcards.get(change.owner), photo), FROM_PEP);
    } catch (e) {
      log.error({ err: e, user: change.owner }, 'copying the avatar to the vCard failed');
    }
  });

  // XEP-0398 §5: a vCard's PHOTO is published as the avatar (data, then metadata), unless it is the one there.
  vcards?.watch(async (user, xml, origin) => {
    if (origin === FROM_PEP) return;
    const photo = parseFragment(xml).getChild('PHOTO');
    const b64 = photo?.getChild('BINVAL')?.text().replace(/\s/g, '') ?? '';
    const now = await hashOf(user);
    if (b64 === '') {
      if (now) await nodes.publish(user, AVATAR_METADATA, undefined, serialize(el('metadata', { xmlns: AVATAR_METADATA })), { origin: FROM_VCARD });
      return;
    }
    const bytes = Buffer.from(b64, 'base64');
    const id = sha1(bytes);
    if (id === now) return;
    const type = photo?.getChild('TYPE')?.text() || 'image/png';
    await nodes.publish(user, AVATAR_DATA, id, serialize(el('data', { xmlns: AVATAR_DATA }, b64)), { origin: FROM_VCARD });
    const meta = el('metadata', { xmlns: AVATAR_METADATA }, el('info', { id, bytes: String(bytes.length), type }));
    await nodes.publish(user, AVATAR_METADATA, id, serialize(meta), { origin: FROM_VCARD });
  });

  return {
    hashOf,
    watch: (fn) => {
      listeners.push(fn);
    },
  };
}
