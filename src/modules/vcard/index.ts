/**
 * XEP-0054 vcard-temp: a user publishes its own vCard and anyone reads a user's. The vCard is kept as the XML
 * the user set, by the engine's ProfileService (engine.profiles), so this module only translates the iq.
 */
import { ParleyError } from '../../core/errors.js';
import { NS } from '../../protocols/xmpp/c2s/ns.js';
import { el } from '../../protocols/xmpp/xml/element.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';
import { defineModule } from '../api.js';
import { vcardOptions } from './options.js';

/**
 * The vCards as a service to other modules (XEP-0398 converts a vCard's PHOTO to and from the PEP avatar): read
 * and write a user's vCard, and hear each change.
 */
export interface VcardStore {
  /** The user's vCard (its XML), or null when none was set. */
  get(user: string): Promise<string | null>;
  /** Replaces the user's vCard (`xml`: a `<vCard xmlns='vcard-temp'/>`); `origin` names the writer. */
  set(user: string, xml: string, origin: string): Promise<void>;
  /** Calls `fn` after each change of a vCard, with who made it (`xmpp` for a client's set, else set's origin). */
  watch(fn: (user: string, xml: string, origin: string) => Promise<void>): void;
}

declare module '../api.js' {
  interface ModuleServices {
    vcard: VcardStore;
  }
}

/** The vcard module: the `vcard-temp` vCard iq and its features. */
export const vcard = defineModule({
  name: 'vcard',
  summary: 'XEP-0054 vcard-temp: users publish their vCard and read others\'',
  options: vcardOptions,
  setup(api) {
    const { profiles } = api.engine;
    const watchers: Array<(user: string, xml: string, origin: string) => Promise<void>> = [];
    /** Stores the vCard, then tells the watchers (a failing watcher is logged: the vCard stands). */
    const set = async (user: string, xml: string, origin: string, names?: string[]): Promise<void> => {
      await profiles.setVcard(user, xml, names);
      for (const fn of watchers) await fn(user, xml, origin).catch((e: unknown) => api.log.error({ err: e, user }, 'a vCard watcher failed'));
    };
    api.provide('vcard', {
      get: (user) => profiles.vcard(user),
      set,
      watch: (fn) => {
        watchers.push(fn);
      },
    });
    api.xmppIq(NS.vcard, 'vCard', {
      targets: ['self', 'account'],
      // §3.1 one's own, §3.3 another user's: an empty vCard when none was set.
      async get({ conn, target }) {
        const stored = await conn.engine.profiles.vcard(target.bare);
        return stored === null ? el('vCard', { xmlns: NS.vcard }) : parseFragment(stored);
      },
      // §3.2: a user updates its own vCard only.
      async set({ session, payload, target }) {
        if (target.kind !== 'self') throw new ParleyError('forbidden', 'you can only set your own vCard');
        // The names the person shows others (vcard-temp's FN and NICKNAME) pass the profile.check gate first.
        const names = ['FN', 'NICKNAME'].flatMap((n) => payload.getChildren(n).map((c) => c.text()));
        await set(session.user, serialize(payload), 'xmpp', names);
        return null;
      },
    });
    // §2 (XEP-0030): the server and the accounts it answers for say they support vcard-temp.
    api.xmppFeature(NS.vcard, 'server');
    api.xmppFeature(NS.vcard, 'account');
  },
});
