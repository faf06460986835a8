/**
 * XEP-0191 Blocking Command and the JSON `block.*` operations: a user reads and edits the list of addresses it
 * blocks. Both doors edit the one list of BlockService; enforcing it (messages, presence and subscriptions from
 * a blocked address are dropped, §3.5) is the engine's and stays there, as do the block-list pushes to the
 * user's interested resources (§3.3, §3.4), which the engine sends as it changes the list.
 */
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import { op } from '../../protocols/json-ws/ops.js';
import { el } from '../../protocols/xmpp/xml/element.js';
import { NS } from '../../protocols/xmpp/c2s/ns.js';
import { defineModule } from '../api.js';
import { blockingOptions } from './options.js';

const entry = z.string().min(1).max(3071);

/** The JSON operations (docs/protocol.md, "Blocking"): the same names, parameters and replies as before. */
export const BLOCK_OPS = {
  'block.list': op(z.strictObject({}), async ({ engine, session }) => ({ entries: await engine.blocks.list(session.user) })),
  'block.add': op(z.strictObject({ entries: z.array(entry).min(1).max(1000) }), async ({ engine, session }, p) => ({
    entries: await engine.blocks.block(session.user, p.entries),
  })),
  'block.remove': op(z.strictObject({ entries: z.array(entry).max(1000).optional() }), async ({ engine, session }, p) => {
    await engine.blocks.unblock(session.user, p.entries ?? null);
    return {};
  }),
};

/** The blocking module: the XEP-0191 iqs and feature, and the JSON block.* operations. */
export const blocking = defineModule({
  name: 'blocking',
  summary: 'XEP-0191 Blocking Command and the JSON block.* operations: users manage whom they block',
  options: blockingOptions,
  setup(api) {
    for (const [name, def] of Object.entries(BLOCK_OPS)) api.jsonOp(name, def);

    // §3.2: the block list; asking for it makes this resource one that gets block-list pushes (§3.3).
    api.xmppIq(NS.blocking, 'blocklist', {
      targets: ['self'],
      async get({ conn, session }) {
        conn.blocklistRequested = true;
        const entries = await conn.engine.blocks.list(session.user);
        return el('blocklist', { xmlns: NS.blocking }, ...entries.map((jid) => el('item', { jid })));
      },
    });
    api.xmppIq(NS.blocking, 'block', {
      targets: ['self'],
      async set({ conn, session, payload }) {
        const jids = payload.getChildren('item').map((i) => i.attr('jid') ?? '');
        // §3.3: a block names at least one item.
        if (jids.length === 0 || jids.includes('')) throw new ParleyError('bad-request', 'name each address to block in an <item jid/>');
        await conn.engine.blocks.block(session.user, jids);
        return null;
      },
    });
    api.xmppIq(NS.blocking, 'unblock', {
      targets: ['self'],
      async set({ conn, session, payload }) {
        const jids = payload.getChildren('item').map((i) => i.attr('jid') ?? '');
        if (jids.includes('')) throw new ParleyError('bad-request', 'an <item/> without jid');
        // §3.4: no items means everything.
        await conn.engine.blocks.unblock(session.user, jids.length === 0 ? null : jids);
        return null;
      },
    });
    // §2: the server advertises the protocol in its disco#info.
    api.xmppFeature(NS.blocking, 'server');
  },
});
