/**
 * XEP-0049 private XML storage: a user keeps XML fragments on the server (client settings, XEP-0048 bookmarks),
 * each under its root element's name and namespace, readable and writable by that user alone. Stored in the
 * module's own area, per account incarnation (an address created again starts empty).
 */
import { ParleyError } from '../../core/errors.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { privateOptions } from './options.js';
import { area, type PrivateArea } from './sqlite.js';

/**
 * The private storage as a service to other modules (XEP-0402 §5 keeps legacy bookmarks in step with PEP): read
 * and write one fragment of a user's, and hear the changes made to fragments of one key.
 */
export interface PrivateStorage {
  /** The XML stored under the fragment's root element name and namespace, or null. */
  get(user: string, name: string, xmlns: string): Promise<string | null>;
  /** Stores a fragment (its XML, one root element with its namespace), as a set would; `origin` names the writer. */
  put(user: string, xml: string, origin: string): Promise<void>;
  /**
   * Calls `fn` after each change of the fragment `name`/`xmlns` of any user, with the XML stored and who wrote it
   * (`xmpp` for a client's set, else the `origin` given to put, so a writer can skip its own changes).
   */
  watch(name: string, xmlns: string, fn: (user: string, xml: string, origin: string) => Promise<void>): void;
}

declare module '../api.js' {
  interface ModuleServices {
    private: PrivateStorage;
  }
}

/** The namespace of the protocol (XEP-0049 §2). */
export const NS_PRIVATE = 'jabber:iq:private';

/** Namespaces no fragment may be stored in: the streams' own, and this protocol's (XEP-0049 §2.3 lets a server refuse). */
const RESERVED = new Set(['jabber:client', 'jabber:server', NS_PRIVATE]);

/** The key of a fragment: its root element's name and namespace. */
const keyOf = (e: Element): string => `${e.name} ${e.xmlns ?? ''}`;

/** The child elements of a query, each with a namespace of its own that is not reserved. */
function fragments(query: Element): Element[] {
  const children = query.children.filter((c): c is Element => typeof c !== 'string');
  // §2.3: at least one child element with a proper namespace, else not-acceptable.
  if (children.length === 0) throw new ParleyError('not-acceptable', 'name the fragment: a child element with its own namespace (XEP-0049 §2.3)');
  for (const c of children) {
    if (!c.xmlns || c.xmlns === NS_PRIVATE) throw new ParleyError('not-acceptable', `<${c.name}/> needs a namespace of its own`);
    if (RESERVED.has(c.xmlns)) throw new ParleyError('not-acceptable', `the namespace ${c.xmlns} is reserved`);
  }
  return children;
}

/** The private module: the `jabber:iq:private` query of one's own account. */
export const privateStorage = defineModule({
  name: 'private',
  summary: 'XEP-0049 private XML storage: clients keep settings and legacy bookmarks on the server',
  options: privateOptions,
  storage: sqliteBeside(import.meta.url, area),
  setup(api) {
    const store = api.storage<PrivateArea>();
    const { maxBytes, maxElements } = api.options;
    const incarnation = async (user: string): Promise<string> => {
      const i = await api.engine.admin.incarnation(user);
      if (i === null) throw new ParleyError('not-authorized', 'the account was removed');
      return i;
    };
    const watchers = new Map<string, Array<(user: string, xml: string, origin: string) => Promise<void>>>();
    /** Stores fragments, then tells the watchers of their keys (a failing watcher is logged: the set stands). */
    const put = async (user: string, list: Array<{ key: string; xml: string }>, origin: string): Promise<void> => {
      for (const f of list) {
        if (Buffer.byteLength(f.xml, 'utf8') > maxBytes) {
          throw new ParleyError('not-acceptable', `a fragment holds at most ${maxBytes} bytes (modules.private.maxBytes)`);
        }
      }
      await store.put(user, await incarnation(user), list, maxElements);
      for (const f of list) {
        for (const fn of watchers.get(f.key) ?? []) {
          await fn(user, f.xml, origin).catch((e: unknown) => api.log.error({ err: e, user, key: f.key }, 'a private storage watcher failed'));
        }
      }
    };
    api.provide('private', {
      get: async (user, name, xmlns) => store.get(user, await incarnation(user), `${name} ${xmlns}`),
      put: (user, xml, origin) => {
        const f = parseFragment(xml);
        return put(user, [{ key: keyOf(f), xml: serialize(f) }], origin);
      },
      watch: (name, xmlns, fn) => {
        const key = `${name} ${xmlns}`;
        watchers.set(key, [...(watchers.get(key) ?? []), fn]);
      },
    });
    api.xmppIq(NS_PRIVATE, 'query', {
      targets: ['self', 'account'],
      // §2.3: one namespace per get; what was stored under it, or the element as asked when nothing was.
      async get({ session, payload, target }) {
        if (target.kind !== 'self') throw new ParleyError('forbidden', 'private storage is its owner\'s alone (XEP-0049 §2.3)');
        const [asked, ...more] = fragments(payload);
        if (more.length > 0) throw new ParleyError('not-acceptable', 'ask for one fragment per request (XEP-0049 §2.3)');
        const stored = await store.get(session.user, await incarnation(session.user), keyOf(asked!));
        return el('query', { xmlns: NS_PRIVATE }, stored === null ? el(asked!.name, { xmlns: asked!.xmlns ?? undefined }) : parseFragment(stored));
      },
      // A set may carry several fragments; each replaces what its key held.
      async set({ session, payload, target }) {
        if (target.kind !== 'self') throw new ParleyError('forbidden', 'private storage is its owner\'s alone (XEP-0049 §2.3)');
        await put(session.user, fragments(payload).map((f) => ({ key: keyOf(f), xml: serialize(f) })), 'xmpp');
        return null;
      },
    });
    // What an account leaves behind goes with it (an address created again starts empty either way).
    api.on('account.removed', async (e) => store.drop(e.address));
  },
});
