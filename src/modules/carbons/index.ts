/**
 * XEP-0280 Message Carbons, the protocol part: a client turns carbons on or off for its session (§4, §5) and
 * the server announces `urn:xmpp:carbons:2` (§3). Which sessions get a copy of a message is delivery, and only
 * the router delivers, so that rule stays in the engine (MessageService and Router read `session.carbons`).
 */
import { NS } from '../../protocols/xmpp/c2s/ns.js';
import type { IqHandler } from '../../protocols/xmpp/c2s/types.js';
import { defineModule } from '../api.js';
import { carbonsOptions } from './options.js';

/**
 * §4 enable / §5 disable: an empty result, addressed to the user's own bare address or (as clients send it)
 * to nobody, i.e. the server. The flag lives on the session, which the engine routes by and the stream reads.
 */
const toggle = (on: boolean): IqHandler => ({
  targets: ['self', 'server'],
  async set({ session }) {
    session.carbons = on;
    return null;
  },
});

/** The carbons module: the XEP-0280 enable/disable iqs and the server feature. */
export const carbons = defineModule({
  name: 'carbons',
  summary: 'XEP-0280 Message Carbons: clients turn on copies of their other sessions\' messages',
  options: carbonsOptions,
  setup(api) {
    api.xmppIq(NS.carbons, 'enable', toggle(true));
    api.xmppIq(NS.carbons, 'disable', toggle(false));
    // §3: the server advertises support in its own disco#info (and so in its caps, XEP-0115).
    api.xmppFeature(NS.carbons, 'server');
  },
});
