/**
 * XEP-0402 PEP native bookmarks and their compatibility with XEP-0048 (§5 "#compat"): the node
 * `urn:xmpp:bookmarks:1` holds one item per room (item id = the room's address), and the legacy bookmarks a
 * client keeps in XEP-0049 private storage (`<storage xmlns='storage:bookmarks'/>`) are kept in step with it both
 * ways, through the private module's service (PrivateStorage): a legacy set publishes and retracts items, a
 * publication or retraction rewrites the legacy list (keeping its `<url/>` entries, which XEP-0402 has no place
 * for). With "#compat-pep" (§5), the XEP-0048 PEP node `storage:bookmarks` (one item, `current`, holding the
 * whole `<storage/>` list, as XEP-0048 §3 and XEP-0223 keep it) is kept in step with the XEP-0402 node too, so a
 * client still on XEP-0048-in-PEP and one on XEP-0402 see the same rooms.
 */
import { isParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import type { PrivateStorage } from '../private/index.js';
import { defaultConfig, type NodeConfig } from './config.js';
import type { PepNodes } from './nodes.js';

/** The node and payload namespace (XEP-0402 §3). */
export const BOOKMARKS = 'urn:xmpp:bookmarks:1';
/** The account feature saying legacy bookmarks are kept in step (XEP-0402 §5). */
export const BOOKMARKS_COMPAT = `${BOOKMARKS}#compat`;
/** The account feature saying the XEP-0048 PEP node is kept in step (XEP-0402 §5 "#compat-pep"). */
export const BOOKMARKS_COMPAT_PEP = `${BOOKMARKS}#compat-pep`;
const LEGACY = 'storage:bookmarks';
/** Who changed the XEP-0402 node while converting the XEP-0048 PEP node, or the other way round. */
const FROM_LEGACY_PEP = 'legacy-pep';
/** Who changed a node or fragment while converting the other (so the other side skips its echo). */
const FROM_PEP = 'pep';
const FROM_PRIVATE = 'private';

/** One bookmark, whichever form it came in. */
interface Bookmark {
  jid: string;
  name: string | null;
  autojoin: boolean;
  nick: string | null;
  password: string | null;
}

/** The configuration XEP-0402 §4 asks for (what its publish-options say), for a node the conversion creates. */
export function bookmarksConfig(ceiling: number): NodeConfig {
  return { ...defaultConfig(), access_model: 'whitelist', persist_items: true, max_items: ceiling, send_last_published_item: 'never' };
}

const childText = (e: Element, name: string): string | null => e.getChild(name)?.text() ?? null;

/** A legacy `<conference jid name autojoin><nick/><password/></conference>` (XEP-0048 §3.2). */
function fromLegacy(c: Element): Bookmark | null {
  const jid = c.attr('jid');
  if (!jid) return null;
  const autojoin = c.attr('autojoin');
  return { jid, name: c.attr('name') ?? null, autojoin: autojoin === 'true' || autojoin === '1', nick: childText(c, 'nick'), password: childText(c, 'password') };
}

/** An XEP-0402 item's payload (§3.1). */
function fromItem(id: string, xml: string): Bookmark {
  const c = parseFragment(xml);
  const autojoin = c.attr('autojoin');
  return { jid: id, name: c.attr('name') ?? null, autojoin: autojoin === 'true' || autojoin === '1', nick: childText(c, 'nick'), password: childText(c, 'password') };
}

/** The XEP-0402 payload of a bookmark, with the extensions of the item it replaces. */
function itemXml(b: Bookmark, extensions: Element | undefined): string {
  const c = el('conference', { xmlns: BOOKMARKS, name: b.name ?? undefined, autojoin: b.autojoin ? 'true' : 'false' });
  if (b.nick !== null) c.append(el('nick', {}, b.nick));
  if (b.password !== null) c.append(el('password', {}, b.password));
  if (extensions) c.append(extensions);
  return serialize(c);
}

/** The legacy element of a bookmark. */
function legacyElement(b: Bookmark): Element {
  const c = el('conference', { jid: b.jid, name: b.name ?? undefined, autojoin: b.autojoin ? 'true' : 'false' });
  if (b.nick !== null) c.append(el('nick', {}, b.nick));
  if (b.password !== null) c.append(el('password', {}, b.password));
  return c;
}

const same = (a: Bookmark, b: Bookmark): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The items of one of the owner's nodes; none when it has no such node. */
async function itemsOf(nodes: PepNodes, owner: string, node: string): Promise<Array<{ id: string; xml: string }>> {
  try {
    return await nodes.items(owner, owner, node, null, null);
  } catch (e) {
    if (isParleyError(e, 'item-not-found')) return [];
    throw e;
  }
}

/** Publishes and retracts XEP-0402 items so the node lists exactly `wanted` (keeping each item's extensions). */
async function applyBookmarks(nodes: PepNodes, user: string, wanted: Map<string, Bookmark>, ceiling: number, origin: string): Promise<void> {
  const have = new Map((await itemsOf(nodes, user, BOOKMARKS)).map((i) => [i.id, i.xml]));
  for (const [jid, b] of wanted) {
    const old = have.get(jid);
    if (old !== undefined && same(fromItem(jid, old), b)) continue;
    const extensions = old === undefined ? undefined : parseFragment(old).getChild('extensions');
    await nodes.publish(user, BOOKMARKS, jid, itemXml(b, extensions), { create: bookmarksConfig(ceiling), origin });
  }
  for (const id of have.keys()) if (!wanted.has(id)) await nodes.retract(user, BOOKMARKS, id, true, origin);
}

/** The conferences of a legacy `<storage/>` list, by room address. */
function legacyConferences(storage: Element): Map<string, Bookmark> {
  const wanted = new Map<string, Bookmark>();
  for (const c of storage.getChildren('conference')) {
    const b = fromLegacy(c);
    if (b) wanted.set(b.jid, b);
  }
  return wanted;
}

/**
 * XEP-0402 §5 "#compat-pep": keeps the XEP-0402 node and the XEP-0048 PEP node `storage:bookmarks` in step. A
 * publication to the legacy node publishes and retracts XEP-0402 items; a change of the XEP-0402 node rewrites
 * the legacy item (keeping its `<url/>` entries), creating the node as XEP-0048 §3 / XEP-0223 configure it.
 */
export function syncLegacyPep(nodes: PepNodes, ceiling: number, log: Logger): void {
  nodes.watch(LEGACY, async (change) => {
    if (change.origin === FROM_LEGACY_PEP || change.xml === null) return;
    const storage = parseFragment(change.xml);
    if (storage.name !== 'storage' || storage.xmlns !== LEGACY) return;
    await applyBookmarks(nodes, change.owner, legacyConferences(storage), ceiling, FROM_LEGACY_PEP);
  });
  nodes.watch(BOOKMARKS, async (change) => {
    if (change.origin === FROM_LEGACY_PEP) return;
    try {
      const [old] = await itemsOf(nodes, change.owner, LEGACY);
      const others = old === undefined ? [] : parseFragment(old.xml).children.filter((c): c is Element => typeof c !== 'string' && c.name !== 'conference');
      const conferences = (await itemsOf(nodes, change.owner, BOOKMARKS)).map((i) => legacyElement(fromItem(i.id, i.xml)));
      const xml = serialize(el('storage', { xmlns: LEGACY }, ...conferences, ...others));
      if (old?.xml === xml) return;
      await nodes.publish(change.owner, LEGACY, 'current', xml, { create: { ...defaultConfig(), access_model: 'whitelist', persist_items: true }, origin: FROM_LEGACY_PEP });
    } catch (e) {
      log.error({ err: e, user: change.owner }, 'keeping the XEP-0048 PEP bookmarks in step failed');
    }
  });
}

/** Keeps the XEP-0402 node and the legacy private bookmarks of every account in step. */
export function syncBookmarks(nodes: PepNodes, priv: PrivateStorage, ceiling: number, log: Logger): void {
  const current = (owner: string): Promise<Array<{ id: string; xml: string }>> => itemsOf(nodes, owner, BOOKMARKS);

  // PEP → private: the legacy list is rewritten from the node's items.
  nodes.watch(BOOKMARKS, async (change) => {
    if (change.origin === FROM_PRIVATE) return;
    try {
      const stored = await priv.get(change.owner, 'storage', LEGACY);
      const others = stored === null ? [] : parseFragment(stored).children.filter((c): c is Element => typeof c !== 'string' && c.name !== 'conference');
      const conferences = (await current(change.owner)).map((i) => legacyElement(fromItem(i.id, i.xml)));
      await priv.put(change.owner, serialize(el('storage', { xmlns: LEGACY }, ...conferences, ...others)), FROM_PEP);
    } catch (e) {
      log.error({ err: e, user: change.owner }, 'keeping the legacy bookmarks in step failed');
    }
  });

  // private → PEP: each legacy conference is an item; items no longer listed are retracted (and notified).
  priv.watch('storage', LEGACY, async (user, xml, origin) => {
    if (origin === FROM_PEP) return;
    await applyBookmarks(nodes, user, legacyConferences(parseFragment(xml)), ceiling, FROM_PRIVATE);
  });
}
