/**
 * Iq gets that another server (or a component) sends to a local account's bare address, answered by this server
 * on the account's behalf (RFC 6120 §10.5.4, RFC 6121 §8.5.1), whether the account is online or not, and those
 * to the server's own addresses (a hosted domain, its room service; §10.5.3.1): the same
 * payload handlers a local client's iq to another account's bare address gets (iq-handlers.ts and the modules'
 * xmppIq handlers: disco#info and disco#items with the account's identities, features and PEP nodes, XEP-0030
 * §3.1 and XEP-0163 §5; vcard-temp, XEP-0054 §3.3; PEP items, XEP-0163 §3). The engine asks through
 * Engine.answerAccountIqs after checking the addresses, the account and the block list (remote-service.ts).
 *
 * The remote asker has no session and no stream here. A handler sees it as the asking account (`session.user`
 * is the asker's bare address, as for a local asker) and the target kind `account`; only handlers that serve
 * that kind are tried, and only for `get` (nothing on an account changes at another server's request). A handler
 * that reached for stream state a remote asker cannot have gets service-unavailable, never a crash.
 */
import { parseAddress } from '../../../core/address.js';
import { ParleyError } from '../../../core/errors.js';
import type { SessionPresence } from '../../../core/types.js';
import type { Engine } from '../../../engine/engine.js';
import type { AccountIq, AccountIqAnswerer } from '../../../engine/remote-service.js';
import { Session, type Sink } from '../../../engine/session.js';
import { el, type Element } from '../xml/element.js';
import { parseElements } from '../xml/fragment.js';
import { serialize } from '../xml/serialize.js';
import { AUTHENTICATED_LIMITS } from '../xml/stream-parser.js';
import { iqHandlerOf } from './iq-handlers.js';
import { NS } from './ns.js';
import type { IqContext, IqTarget, XmppOptions, XmppStream } from './types.js';

/** The answerer Engine.answerAccountIqs takes, over the handlers of `opts.extensions` and the core's. */
export function accountIqAnswerer(engine: Engine, opts: XmppOptions): AccountIqAnswerer {
  return async (q) => {
    const result = await answer(engine, opts, q);
    return result === null ? null : serialize(result, NS.client);
  };
}

async function answer(engine: Engine, opts: XmppOptions, q: AccountIq): Promise<Element | null> {
  const payload = payloadOf(q.xml);
  const handler = iqHandlerOf(opts.extensions, `${payload.xmlns} ${payload.name}`);
  const fn = handler?.get;
  // The server's own addresses (RFC 6120 §10.5.3.1): a hosted domain, or its room service.
  const target: IqTarget = q.user.includes('@')
    ? { kind: 'account', bare: q.user }
    : { kind: engine.ctx.directory.isRoomDomain(q.user) ? 'rooms' : 'server', bare: q.user };
  // RFC 6120 §8.4: a payload nobody here answers for that address is service-unavailable.
  if (!fn || (handler.targets && !handler.targets.includes(target.kind))) {
    throw new ParleyError('service-unavailable', `${payload.xmlns} ${payload.name} is not answered for ${q.user}`);
  }
  const asker = parseAddress(q.asker);
  const bare = asker.local === null ? asker.domain : `${asker.local}@${asker.domain}`;
  const c: IqContext = {
    conn: remoteStream(engine, opts),
    session: askerSession(q.asker, bare, asker.resource),
    iq: el('iq', { xmlns: NS.client, type: 'get', from: q.asker, to: q.user }, payload),
    payload,
    target,
  };
  return fn(c);
}

/**
 * The asker as the handlers' `session`: its bare address as `user`, never registered with the engine, with no
 * connection (nothing is ever sent through it) and never available.
 */
function askerSession(full: string, bare: string, resource: string | null): Session {
  const now = Date.now();
  const presence: SessionPresence = { availability: 'available', activity: null, status: null, priority: 0, idleSince: null, explicit: false, updatedAt: now };
  const s = new Session(`remote:${full}`, bare, resource ?? '', NO_SINK, presence, now);
  s.available = false;
  return s;
}

/** The one payload element of an iq get (RFC 6120 §8.2.3); bad-request otherwise. */
function payloadOf(xml: string | null): Element {
  const { elements, failure } = parseElements(xml ?? '', AUTHENTICATED_LIMITS);
  if (failure !== null || elements.length !== 1) throw new ParleyError('bad-request', 'an iq get carries exactly one payload element (RFC 6120 §8.2.3)');
  return elements[0]!;
}

/** The asker's "session" has no connection: nothing is ever sent through it. */
const NO_SINK: Sink = {
  send: () => undefined,
  close: () => undefined,
};

/**
 * The stream a handler sees for a remote asker: the engine and the front door's options, which is all a handler
 * of the `account` target reads; anything else is stream state no remote asker has (service-unavailable).
 */
function remoteStream(engine: Engine, opts: XmppOptions): XmppStream {
  const known: Record<string, unknown> = { engine, opts, session: null, isClosing: false };
  return new Proxy(known, {
    get(target, key) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) return target[key];
      if (key === 'then') return undefined;
      throw new ParleyError('service-unavailable', 'that query needs a client stream of this server');
    },
  }) as unknown as XmppStream;
}
