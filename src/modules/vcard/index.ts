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

/** The vcard module: the `vcard-temp` vCard iq and its features. */
export const vcard = defineModule({
  name: 'vcard',
  summary: 'XEP-0054 vcard-temp: users publish their vCard and read others\'',
  options: vcardOptions,
  setup(api) {
    api.xmppIq(NS.vcard, 'vCard', {
      targets: ['self', 'account'],
      // §3.1 one's own, §3.3 another user's: an empty vCard when none was set.
      async get({ conn, target }) {
        const stored = await conn.engine.profiles.vcard(target.bare);
        return stored === null ? el('vCard', { xmlns: NS.vcard }) : parseFragment(stored);
      },
      // §3.2: a user updates its own vCard only.
      async set({ conn, session, payload, target }) {
        if (target.kind !== 'self') throw new ParleyError('forbidden', 'you can only set your own vCard');
        await conn.engine.profiles.setVcard(session.user, serialize(payload));
        return null;
      },
    });
    // §2 (XEP-0030): the server and the accounts it answers for say they support vcard-temp.
    api.xmppFeature(NS.vcard, 'server');
    api.xmppFeature(NS.vcard, 'account');
  },
});
