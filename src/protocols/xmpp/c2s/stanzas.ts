/**
 * The stanzas of a bound XMPP session (RFC 6120 §8, RFC 6121) mapped onto the engine: messages, presence and
 * IQs. Addressing is checked first (§8.1.2.1: the server stamps `from`; a forged one ends the stream), then
 * each kind goes to its handler. IQ payloads are looked up in a table by namespace and element name
 * (iq-handlers.ts: the core's, then those the modules added, e.g. the message archive of src/modules/mam); MUC
 * (muc.ts) is a handler like any other.
 */
import { ParleyError } from '../../../core/errors.js';
import { parseAddress, parseBare, type Address } from '../../../core/address.js';
import type { UserPresence } from '../../../core/types.js';
import type { SubscriptionAction } from '../../../core/roster.js';
import type { Session } from '../../../engine/session.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { extensionsToStore, liveOnlyExtensions } from '../extensions.js';
import { CapsLearner } from './caps.js';
import { contactStanzas, parsePresence } from './presence-stanzas.js';
import { errorElement, errorReply, StreamFailure } from './errors.js';
import { iqHandlerOf, type IqTarget } from './iq-handlers.js';
import { Muc } from './muc.js';
import { NS } from './ns.js';
import { isEntityAddress, isRoutedAddress, toRoute } from './routed.js';
import type { Pending, XmppStream } from './types.js';

export type { Pending } from './types.js';

const CHAT_STATES = new Set(['active', 'composing', 'paused', 'inactive', 'gone']);
const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

/** Handlers of one connection. */
export class StanzaHandlers {
  readonly muc: Muc;
  /** XEP-0115: the session's capabilities, for its +notify interests (XEP-0163 §4.3). */
  private readonly caps: CapsLearner;
  constructor(readonly conn: XmppStream) {
    this.muc = new Muc(conn);
    this.caps = new CapsLearner(conn);
  }

  private get engine() {
    return this.conn.engine;
  }
  private get session(): Session {
    const s = this.conn.session;
    if (!s) throw new ParleyError('not-authorized', 'no session');
    return s;
  }

  /**
   * Handles one stanza. Resolves when the next stanza may be handled; `done`, when given, settles once the
   * stanza's effects are durable (stream management counts it as handled then). Throws StreamFailure to end
   * the stream.
   */
  async handle(stanza: Element, startedAt: number): Promise<Pending | void> {
    const session = this.session;
    // RFC 6120 §8.1.2.1: a `from` must be the session's own full or bare address; anything else is forged.
    const from = stanza.attr('from');
    if (from !== undefined && from !== session.full && from !== session.user) {
      let ok = false;
      try {
        const a = parseAddress(from);
        ok = `${a.local}@${a.domain}` === session.user && (a.resource === null || a.resource === session.resource);
      } catch {
        ok = false;
      }
      if (!ok) throw new StreamFailure('invalid-from', `you are ${session.full}, not ${from}`);
    }
    const toAttr = stanza.attr('to');
    let to: Address | null = null;
    if (toAttr !== undefined && toAttr !== '') {
      try {
        to = parseAddress(toAttr);
      } catch (e) {
        // §8.3.3.8: a malformed address in a stanza is a stanza error, not a stream error.
        if (stanza.attr('type') === 'error') return;
        throw new ParleyError('jid-malformed', e instanceof Error ? e.message : 'the address is not valid');
      }
    }
    switch (stanza.name) {
      case 'message':
        return this.message(stanza, to, startedAt);
      case 'presence':
        return this.presence(stanza, to, startedAt);
      default:
        return this.iq(stanza, to);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Messages (RFC 6121 §5, §8)
  // -------------------------------------------------------------------------------------------------------------

  private async message(stanza: Element, to: Address | null, startedAt: number): Promise<Pending | void> {
    const session = this.session;
    const type = stanza.attr('type') ?? 'normal';
    if (to !== null && this.routed(to)) return this.routedMessage(stanza, to, type, startedAt);
    if (type === 'error') return; // never answer an error with an error (§8.3.1)
    // §8.1.1.1: no `to` means the user's own account.
    const target = to ?? parseAddress(session.user);
    if (target.local === null) {
      // Messages to the server or to a room service itself: nothing to deliver them to.
      throw new ParleyError('service-unavailable', 'messages to a domain are not accepted');
    }
    const targetBare = `${target.local}@${target.domain}`;
    const isRoom = this.engine.ctx.directory.isRoomDomain(target.domain);
    if (isRoom) return this.muc.message(stanza, targetBare, target.resource, startedAt);
    // RFC 6121 §8.5.2.1.1: a groupchat message to a person is answered with service-unavailable.
    if (type === 'groupchat') throw new ParleyError('service-unavailable', `${targetBare} is not a room`);

    // XEP-0249 §2: a direct invitation to a room becomes the room's own invitation (the invitee may then enter a
    // members-only room, and hears of it in both forms, mediated and direct, wherever it is online).
    const direct = stanza.getChild('x', NS.conference);
    if (direct) {
      const room = direct.attr('jid');
      if (!room) throw new ParleyError('bad-request', 'an invitation names the room (jid)');
      await this.engine.rooms.invite(parseBare(room), session.user, targetBare);
      return;
    }
    // A payload a module takes (XmppExtensions.messages): XEP-0060 §8.6.2 answers to one's own PEP service.
    const handlers = this.conn.opts.extensions.messages;
    if (handlers !== undefined && handlers.size > 0) {
      for (const child of stanza.children) {
        if (typeof child === 'string' || child.xmlns === null) continue;
        const handler = handlers.get(child.xmlns)?.get(child.name);
        if (handler !== undefined && (await handler({ session, stanza, payload: child, to: targetBare }))) return;
      }
    }
    const body = stanza.getChild('body');
    const clientId = originId(stanza);
    const messages = this.engine.messages;
    // The child elements Parley does not interpret go with the message (extensions.ts; XEP-0334 for body-less ones).
    const xml = extensionsToStore(stanza, body !== undefined);
    const replace = stanza.getChild('replace', NS.correct);
    if (replace && body) {
      const orig = await this.resolveOwn(replace.attr('id') ?? '');
      return this.settle(stanza, messages.edit(session, orig, body.text(), clientId, startedAt, xml));
    }
    const retract = stanza.getChild('retract', NS.retract);
    if (retract) {
      const orig = await this.resolveOwn(retract.attr('id') ?? '');
      return this.settle(stanza, messages.retract(session, orig, clientId, startedAt));
    }
    if (body) return this.settle(stanza, messages.send(session, target, body.text(), clientId, startedAt, xml));

    // No body: receipts (XEP-0184), markers (XEP-0333), payloads not to be stored (XEP-0334), chat states
    // (XEP-0085); anything else has no effect.
    const received = stanza.getChild('received', NS.receipts);
    const displayed = stanza.getChild('displayed', NS.markers);
    const ref = received ?? displayed;
    if (ref) {
      const id = await this.resolveReceived(ref.attr('id') ?? '', targetBare);
      if (id === null) return; // a receipt for something we never delivered: ignored, like a duplicate
      return this.settle(stanza, messages.receipt(session, id, displayed ? 'read' : 'delivered', startedAt).catch((e: unknown) => {
        // A receipt repeated by another device, or for a message not the user's: nothing to tell the client.
        if (!(e instanceof ParleyError)) throw e;
      }));
    }
    // A body-less payload worth keeping (a reaction, an encrypted message, a link) is stored like a message.
    if (xml !== null) return this.settle(stanza, messages.send(session, target, null, clientId, startedAt, xml));
    // XEP-0334 §4: a payload its sender asked not to be stored still reaches the recipient, live only.
    const live = liveOnlyExtensions(stanza);
    if (live !== null) await messages.live(session, target, live, type, stanza.attr('id') ?? null);
    for (const child of stanza.children) {
      if (typeof child !== 'string' && child.xmlns === NS.chatStates && CHAT_STATES.has(child.name)) {
        await messages.typing(session, target, child.name);
        return;
      }
    }
  }

  /**
   * A message to a routed domain (a component, engine/domain-routes.ts). One with a body, or with a payload
   * worth keeping, of type chat or normal is stored and routed by the message path like any chat message
   * (history, MAM, carbons); anything else (chat states, receipts, corrections, headlines, groupchat to a
   * component's rooms, invitations) is handed over as it is, with `from` stamped, and not stored.
   */
  private routedMessage(stanza: Element, to: Address, type: string, startedAt: number): Pending | Promise<void> {
    const body = stanza.getChild('body');
    const plain = (type === 'chat' || type === 'normal') && !stanza.getChild('replace', NS.correct) && !stanza.getChild('retract', NS.retract);
    if (plain) {
      const xml = extensionsToStore(stanza, body !== undefined);
      if (body !== undefined || xml !== null) return this.settle(stanza, this.engine.messages.send(this.session, to, body?.text() ?? null, originId(stanza), startedAt, xml));
    }
    return this.toRoute(stanza, to);
  }

  /** Whether stanzas to `to` go to a route (routed.ts). */
  private routed(to: Address): boolean {
    return isRoutedAddress(this.engine, to);
  }

  /** Whether `to` is a presence entity's address (routed.ts). */
  private isEntity(to: Address): boolean {
    return isEntityAddress(this.engine, to);
  }

  /** Hands the stanza to its route through the engine (routed.ts). */
  private toRoute(stanza: Element, to: Address): Promise<void> {
    return toRoute(this.engine, this.session, stanza, to);
  }

  /**
   * A message queued in the engine: the next stanza need not wait for its commit (the engine keeps the
   * session's send order). A refusal or failed commit comes back as a message error.
   */
  private settle(stanza: Element, p: Promise<unknown>): Pending {
    return {
      done: p.catch((e: unknown) => {
        if (this.conn.isClosing) return;
        // RFC 6121 §8.5.1: a message to an account that does not exist gets service-unavailable (the same
        // answer as for one that refuses it, so the error tells nothing about which accounts exist).
        if (e instanceof ParleyError && e.code === 'item-not-found' && stanza.getChild('body') && !stanza.getChild('replace', NS.correct)) {
          e = new ParleyError('service-unavailable', 'the recipient is not available');
        }
        this.conn.replyError(stanza, e);
      }),
    };
  }

  /** The server id of one of the user's own messages, named by the id the client knows (its own or ours). */
  private async resolveOwn(id: string): Promise<string> {
    if (id === '') throw new ParleyError('bad-request', 'which message? (id is missing)');
    return this.engine.messages.ownId(this.session.user, id);
  }

  /** The server id of a message the user received from `sender`, named by the id the client saw. */
  private async resolveReceived(id: string, sender: string): Promise<string | null> {
    if (id === '') return null;
    return this.engine.messages.receivedId(sender, id);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Presence (RFC 6121 §3, §4)
  // -------------------------------------------------------------------------------------------------------------

  private async presence(stanza: Element, to: Address | null, startedAt: number): Promise<void> {
    const session = this.session;
    const type = stanza.attr('type');
    // RFC 6121 §3 to a routed domain: the user's roster item changes as for a local contact and the engine
    // hands the stanza to the route from the bare address; probes and directed presence (§4.3, §4.6: a remote
    // room's join and leave) go to the route as they are, the engine remembering where directed presence went.
    if (to !== null && this.routed(to)) {
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
        await this.engine.rosters.act(session.user, to.local === null ? to.domain : `${to.local}@${to.domain}`, type as SubscriptionAction);
        return;
      }
      return this.toRoute(stanza, to);
    }
    if (type === 'error') return;
    if (to !== null && to.local !== null && this.engine.ctx.directory.isRoomDomain(to.domain)) {
      return this.muc.presence(stanza, to, type);
    }
    if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
      if (to === null || to.local === null) throw new ParleyError('bad-request', 'a subscription stanza needs a user address in "to"');
      await this.engine.rosters.act(session.user, `${to.local}@${to.domain}`, type as SubscriptionAction);
      return;
    }
    if (type === 'probe') {
      if (to === null || to.local === null) throw new ParleyError('bad-request', 'a probe needs a user address in "to"');
      // §4.3.2: each available resource of the contact from its full address, else unavailable from the bare one.
      const target = `${to.local}@${to.domain}`;
      await this.engine.presence.query(session.user, target);
      const e = await this.engine.presence.eventOf(target);
      const p = e.data as unknown as UserPresence;
      for (const text of contactStanzas(p, e.resources?.[target], session.full, target === session.user ? session.resource : null)) this.conn.sendStanza(text);
      return;
    }
    if (type !== undefined && type !== 'unavailable') throw new ParleyError('bad-request', `presence type "${type}" is not defined`);
    if (to !== null) {
      // Directed presence (§4.6) to someone allowed to see the user.
      if (type === 'unavailable') return;
      await this.engine.presence.directed(session, `${to.local}@${to.domain}`);
      return;
    }
    const first = !session.available;
    const p = type === 'unavailable' ? null : parsePresence(stanza, this.engine.ctx.now());
    // XEP-0115: interests known from the caps now are recorded before the session becomes available, so it gets
    // the last items at once (XEP-0163 §4.3.1); a ver never seen is asked of the client meanwhile.
    if (p !== null) await this.caps.heard(stanza);
    // The offline queue is replayed at the client's pace; each message leaves the queue once the client has
    // acknowledged it (stream management) or it was written to the socket (XmppConnection.confirmed).
    await this.engine.announce(session, p, startedAt);
    if (first && type !== 'unavailable') await this.pendingRequests(session);
  }

  /** §3.1.3: subscription requests that arrived while the user was away are delivered at initial presence. */
  private async pendingRequests(session: Session): Promise<void> {
    for (const contact of await this.engine.rosters.pendingIn(session.user)) {
      this.conn.sendElement(el('presence', { xmlns: NS.client, type: 'subscribe', from: contact, to: session.user }));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // IQ (RFC 6120 §8.2.3)
  // -------------------------------------------------------------------------------------------------------------

  private async iq(stanza: Element, to: Address | null): Promise<void> {
    const session = this.session;
    const type = stanza.attr('type');
    const id = stanza.attr('id');
    if (id === undefined || id === '') throw new ParleyError('bad-request', 'an iq needs an id');
    if (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error') throw new ParleyError('bad-request', 'iq type must be get, set, result or error');
    // To a routed domain (a component): handed over, `from` stamped; its answer comes back to this session.
    if (to !== null && this.routed(to)) {
      if (type === 'get' || type === 'set') {
        const n = stanza.children.filter((c) => typeof c !== 'string').length;
        if (n !== 1) throw new ParleyError('bad-request', 'an iq get or set carries exactly one payload element (RFC 6120 §8.2.3)');
      }
      return this.toRoute(stanza, to);
    }
    // RFC 6120 §8.3.3.16: a domain neither hosted here nor served by a route (federation is not there yet); the
    // presence entities Parley answers for (a component's things) are this server's.
    const directory = this.engine.ctx.directory;
    if (to !== null && !directory.hostsDomain(to.domain) && !directory.isRoomDomain(to.domain) && !this.isEntity(to)) {
      if (type === 'get' || type === 'set') throw new ParleyError('remote-server-not-found', `${to.domain} is not served here`);
      return;
    }
    // To another user's session: relayed (a reply to the relayed one goes back the same way).
    if (to !== null && to.local !== null && to.resource !== null && `${to.local}@${to.domain}` !== session.user) {
      if (this.engine.ctx.directory.isRoomDomain(to.domain)) {
        if (type === 'result' || type === 'error') return;
        return this.occupantIq(stanza, `${to.local}@${to.domain}`, to.resource);
      }
      return this.relay(stanza, `${to.local}@${to.domain}`, to.resource);
    }
    if (type === 'result' || type === 'error') {
      this.caps.settle(stanza); // answers to our disco#info queries (XEP-0115 §6.3); the rest to pings and pushes
      return;
    }
    const payloads = stanza.children.filter((c): c is Element => typeof c !== 'string');
    if (payloads.length !== 1) throw new ParleyError('bad-request', 'an iq get or set carries exactly one payload element (RFC 6120 §8.2.3)');
    const payload = payloads[0]!;
    const target = this.iqTarget(to);
    const handler = iqHandlerOf(this.conn.opts.extensions, `${payload.xmlns} ${payload.name}`);
    const fn = handler?.[type];
    if (!fn || (handler?.targets && !handler.targets.includes(target.kind))) {
      throw new ParleyError('service-unavailable', `${payload.xmlns} ${payload.name} (${type}) is not supported here`);
    }
    const result = await fn({ conn: this.conn, session, iq: stanza, payload, target });
    if (this.conn.isClosing && !this.conn.sm.hibernating) return;
    const reply = el('iq', { xmlns: NS.client, type: 'result', id, from: stanza.attr('to'), to: session.full });
    if (result) reply.append(result);
    this.conn.sendElement(reply);
  }

  /**
   * An iq to a room occupant (room/nick). XEP-0410 §3: a client pings its own occupant address to learn whether
   * it is still in the room, and reads feature-not-implemented or service-unavailable as "joined"; so a session
   * not in the room gets not-acceptable whatever it asked, and its own ping is answered here (§3.2, the
   * service's answer on the client's behalf). Queries to other occupants are not relayed.
   */
  private occupantIq(stanza: Element, room: string, nick: string): void {
    const mine = this.conn.roomNick(room);
    if (mine === undefined) throw new ParleyError('not-acceptable', `you are not in ${room}; enter it again (XEP-0410)`);
    const payload = stanza.children.find((c): c is Element => typeof c !== 'string');
    if (nick === mine && stanza.attr('type') === 'get' && payload?.name === 'ping' && payload.xmlns === NS.ping) {
      this.conn.sendElement(el('iq', { xmlns: NS.client, type: 'result', id: stanza.attr('id'), from: `${room}/${nick}`, to: this.session.full }));
      return;
    }
    throw new ParleyError('feature-not-implemented', 'queries to room occupants are not relayed');
  }

  /** Who an iq is for: the server, the user's own account, another account, a room service or a room. */
  private iqTarget(to: Address | null): IqTarget {
    const session = this.session;
    if (to === null) return { kind: 'self', bare: session.user };
    const directory = this.engine.ctx.directory;
    if (to.local === null) {
      if (directory.isRoomDomain(to.domain)) return { kind: 'rooms', bare: to.domain };
      if (directory.hostsDomain(to.domain)) return { kind: 'server', bare: to.domain };
      return { kind: 'remote', bare: to.domain };
    }
    const bare = `${to.local}@${to.domain}`;
    if (directory.isRoomDomain(to.domain)) return { kind: 'room', bare };
    if (bare === session.user) return { kind: 'self', bare };
    return { kind: 'account', bare };
  }

  /** An iq for another user's session goes to it if that session speaks XMPP (RFC 6121 §8.5.3.1). */
  private async relay(stanza: Element, bare: string, resource: string): Promise<void> {
    const session = this.session;
    // XEP-0191: nothing passes between a user and someone either of them blocks.
    try {
      await this.engine.blocks.check(session.user, bare);
    } catch (e) {
      if (stanza.attr('type') === 'result' || stanza.attr('type') === 'error') return;
      throw e;
    }
    const copy = el('iq', { ...stanza.attrs, xmlns: NS.client, from: session.full });
    copy.children = stanza.children;
    // Only another XMPP connection can take a ready stanza.
    if (!this.engine.relayStanza(bare, resource, serialize(copy, null), (sink) => sink instanceof this.conn.constructor)) {
      const type = stanza.attr('type');
      if (type === 'result' || type === 'error') return;
      throw new ParleyError('service-unavailable', `${bare}/${resource} is not available`);
    }
  }

  /** Ends the session's MUC presence in every room it joined (the connection is going). */
  leaveRooms(session: Session): void {
    this.muc.leaveAll(session);
  }

  /** Replies with an error to a stanza that failed before it reached a handler. */
  errorReply(stanza: Element, condition: string, text: string): void {
    this.conn.sendElement(errorReply(stanza, errorElement(condition, text), stanza.attr('to'), this.conn.full));
  }
}

/** XEP-0359 origin-id, else the stanza id: the sender's own id for dedupe and corrections. */
function originId(stanza: Element): string | null {
  const origin = stanza.getChild('origin-id', NS.sid)?.attr('id');
  const id = origin ?? stanza.attr('id');
  return id !== undefined && id !== '' && id.length <= 128 ? id : null;
}

