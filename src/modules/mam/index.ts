/**
 * XEP-0313 Message Archive Management over Parley's message log (mam.ts): the query iq of a user's own archive
 * and of a room's, and the archive feature of accounts. The archive is the log itself, which the engine keeps
 * whether or not this module runs, so the module has no storage of its own and the JSON `history` operation
 * (the same pages) is the core's.
 */
import { NS } from '../../protocols/xmpp/c2s/ns.js';
import { defineModule } from '../api.js';
import { mamForm, mamQuery } from './mam.js';
import { mamOptions } from './options.js';

/** The mam module: the `urn:xmpp:mam:2` query iq and the account feature. */
export const mam = defineModule({
  name: 'mam',
  summary: 'XEP-0313 Message Archive Management: XMPP clients page through the message log',
  options: mamOptions,
  setup(api) {
    // XEP-0431: with the search module on (set up before this one), the form offers full-text search.
    const search = api.tryUse('search');
    const form = mamForm(search !== undefined);
    // §4: a query to the user's own bare address (its archive) or to a room (the room's archive, §6); get
    // returns the query form (§5.1), set runs the query.
    api.xmppIq(NS.mam, 'query', {
      targets: ['self', 'room'],
      get: async () => form,
      set: (c) => mamQuery(c, search),
    });
    // §7: the server answers disco#info for an account and lists the archive among its features. Rooms list it
    // in their own disco#info (muc.ts) when this handler answers for rooms.
    api.xmppFeature(NS.mam, 'account');
    api.xmppFeature(NS.mam, 'room');
    // Some clients look for the feature on the server's own address before asking for history, and turn history
    // off when it is missing there (XEP-0313 §7 puts it on the account; listing it on the server too harms none).
    api.xmppFeature(NS.mam, 'server');
  },
});
