/**
 * `presentities.notify`: a JSON session's way to ask for the fields items of the things its user is subscribed
 * to, what an XMPP client says with `urn:xmpp:parley:presentity:0+notify` in its capabilities (XEP-0163 §4.3).
 * It sets the session's interests in the engine (Session.interests, protocol-neutral), so the session then gets
 * `entity.item` events: the last item of each thing at once, and each change of their fields after.
 */
import { z } from 'zod';
import { op, type OpDef } from '../../protocols/json-ws/ops.js';
import { FIELDS_NODE } from './pep.js';

/** The operation: `{fields: true}` asks for the fields items, `{fields: false}` stops them. */
export const notifyOp: OpDef = op(z.strictObject({ fields: z.boolean() }), async ({ engine, session }, p) => {
  const nodes = new Set(session.interests ?? []);
  if (p.fields) nodes.add(FIELDS_NODE);
  else nodes.delete(FIELDS_NODE);
  await engine.setInterests(session, nodes);
  return { nodes: [...nodes] };
});
