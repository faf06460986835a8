/**
 * Stanzas between local users and domains served by a route (domain-routes.ts): what a front door hands out
 * (Engine.routeRemote) and what a route owner hands in (RouteHandle.deliver). Outbound, `from` is stamped here
 * (RFC 6120 §8.1.2.1) and directed presence is remembered per session (RFC 6121 §4.6, remote-presence.ts).
 * Inbound, the `from` must be on a domain the route serves (§13.7) and the `to` a local user; then a message with
 * a body goes to the message path (stored, delivered, offline when nobody takes it), subscription stanzas to the
 * user's roster (RFC 6121 §3, remote-roster.ts), probes and a contact's presence to remote presence (§4.3, §4.1),
 * an iq get to the user's bare address to the answerer the XMPP front door registers (the handlers a local
 * client's iq to that address gets, RFC 6121 §8.5.1: the server answers on the account's behalf, online or not),
 * and other stanzas (directed presence such as a remote room's, iqs to a resource, groupchat) as ready stanzas
 * through the Router to the XMPP sessions they are for (§8.5).
 */
import { parseAddress, type Address } from '../core/address.js';
import { ParleyError } from '../core/errors.js';
import type { SubscriptionAction } from '../core/roster.js';
import type { BlockService } from './block-service.js';
import type { Ctx } from './context.js';
import type { DomainRoute, RoutedStanza } from './domain-routes.js';
import { KeyedQueue } from './keyed-queue.js';
import type { MessageService } from './message-service.js';
import type { RemotePresence } from './remote-presence.js';
import type { RemoteRooms } from './remote-rooms.js';
import type { RosterService } from './roster-service.js';
import type { Session } from './session.js';

/** A stanza a route hands in: its fields, and the stanza as jabber:client XML for XMPP sessions. */
export interface InboundStanza extends RoutedStanza {
  /** The whole stanza serialised with jabber:client as its namespace (what an XMPP session is sent as is). */
  stanza: string;
  /** For a message: the extension elements to keep with it when it is stored (canonical XML), else null. */
  keep: string | null;
  /**
   * For a body-less message whose XEP-0334 `<no-store/>` (or `<no-permanent-store/>`) hint keeps it out of storage:
   * its extension elements (canonical XML), delivered live only; else null or absent.
   */
  live?: string | null;
  /**
   * For a message: the sender's XEP-0359 origin-id, which dedupes a resend. The stanza id is not used for that:
   * a remote peer's ids may repeat (counters restarting with each stream), and a repeat would be dropped.
   */
  originId?: string | null;
}

/** A stanza taken in by RouteHandle.accept: `done` settles once its effects are durable (a message: committed). */
export interface Accepted {
  /** Resolves when the stanza is handled (a message stored and delivered); rejects with the refusal. */
  done: Promise<void>;
}

/** A stanza whose handling ended when it was taken in. */
export const HANDLED: Accepted = { done: Promise.resolve() };

/** What a route owner gets back from ModuleApi.domainRoute. */
export interface RouteHandle {
  /**
   * Takes a stanza in, as `deliver`, in two steps: the promise resolves once the stanza has its place in its
   * sender's order (so the owner may hand in the next stanza of the same stream, RFC 6120 §10.1, without waiting
   * for this one's commit: a link's messages then share the store's commits), and `done` settles when it is
   * handled. Checks that fail before the stanza has its place reject the promise itself.
   */
  accept(stanza: InboundStanza, startedAt?: number): Promise<Accepted>;
  /**
   * Hands a stanza from the routed side to the local user it names; rejects with a ParleyError the owner turns
   * into a stanza error for its peer (forbidden for a `from` the route does not serve, service-unavailable for
   * an address with nobody to take it, RFC 6121 §8.5.1, §8.5.2.1.3, §8.5.3.2.3).
   */
  deliver(stanza: InboundStanza, startedAt?: number): Promise<void>;
  /** Removes the route (at the owner's shutdown). */
  remove(): void;
  /**
   * Tells the engine that what the route serves now changed (DomainRoute.serves: a component connected or left),
   * so the other nodes of a cluster learn which node serves the domain.
   */
  changed(): void;
}

/**
 * An iq get a routed domain sends to a local account's bare address, for the server to answer on the account's
 * behalf (RFC 6120 §10.5.4, RFC 6121 §8.5.1). RemoteService checked the addresses, the account and the block list.
 */
export interface AccountIq {
  /** The local account asked (bare address), or a hosted domain or room service (the server's own address). */
  user: string;
  /** The remote address that asks (as it came, full or bare). */
  asker: string;
  /** The iq's children as jabber:client XML text (RoutedStanza.xml). */
  xml: string | null;
}

/**
 * Answers an AccountIq: the result's payload as XML text (null: an empty result), or a rejection with a
 * ParleyError (the stanza error the route owner sends back).
 */
export type AccountIqAnswerer = (q: AccountIq) => Promise<string | null>;

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

/** Outbound to routed domains and inbound from them. */
export class RemoteService {
  /**
   * Presence stanzas for one local user, one at a time: a route owner hands stanzas in without waiting, and a
   * contact's `subscribed` must change the roster before the presence that follows it is judged (§3.1.5).
   */
  private readonly presenceTurns = new KeyedQueue();
  /** Who answers iq gets to accounts' bare addresses (the XMPP front door's handlers), or null: nobody. */
  private accountIqs: AccountIqAnswerer | null = null;

  constructor(
    private readonly ctx: Ctx,
    private readonly messages: MessageService,
    private readonly blocks: BlockService,
    private readonly rosters: RosterService,
    private readonly presence: RemotePresence,
    private readonly rooms: RemoteRooms,
  ) {}

  /** Registers a route; the handle delivers what its owner receives. */
  register(route: DomainRoute): Omit<RouteHandle, 'changed'> {
    const remove = this.ctx.routes.add(route);
    const accept = (s: InboundStanza, startedAt = 0): Promise<Accepted> => this.inbound(route, s, startedAt);
    return { accept, deliver: async (s, startedAt = 0) => (await accept(s, startedAt)).done, remove };
  }

  /** Sets who answers routed iq gets to accounts' bare addresses (AccountIq). */
  answerAccountIqs(fn: AccountIqAnswerer): void {
    this.accountIqs = fn;
  }

  /**
   * A stanza of `session` for an address on a routed domain, handed to its route with `from` stamped: the
   * session's full address, or its bare one for subscription stanzas and probes (RFC 6121 §3.1.2, §4.3).
   * remote-server-not-found when no route serves the domain (RFC 6120 §8.3.3.16).
   */
  async toRemote(session: Session, s: Omit<RoutedStanza, 'from'>): Promise<void> {
    const to = parseAddress(s.to);
    const route = this.ctx.routes.routeOf(to.domain);
    if (route === null) throw new ParleyError('remote-server-not-found', `domain ${to.domain} is not served by this server`);
    const bare = to.local === null ? to.domain : `${to.local}@${to.domain}`;
    // XEP-0191: nothing goes to an address the user blocks (its block list only: the other side keeps its own).
    if (s.type !== 'error' && (await this.blocks.blocks(session.user, bare))) throw new ParleyError('not-acceptable', `you have blocked ${bare}; unblock to write`, { blocked: true });
    const bareFrom = s.kind === 'presence' && (s.type === 'probe' || (s.type !== null && SUBSCRIPTION_TYPES.has(s.type)));
    await route.check?.(s.to, session.user);
    await route.send({ ...s, from: bareFrom ? session.user : session.full });
    // §4.6: directed presence is remembered, so the address gets unavailable when the session ends (§4.6.3).
    if (s.kind === 'presence') this.presence.noteDirected(session, s.to, s.type);
  }

  private async inbound(route: DomainRoute, s: InboundStanza, startedAt: number): Promise<Accepted> {
    const { routes, directory } = this.ctx;
    routes.checkFrom(route, s.from);
    let to: Address;
    let from: Address;
    try {
      to = parseAddress(s.to);
      from = parseAddress(s.from);
    } catch (e) {
      throw new ParleyError('jid-malformed', e instanceof Error ? e.message : 'the address is not valid');
    }
    // XEP-0045 over the route: an occupant entering, leaving or writing to one of this server's rooms.
    if (to.local !== null && directory.isRoomDomain(to.domain)) {
      await this.rooms.inbound(s, from, `${to.local}@${to.domain}`, to.resource);
      return HANDLED;
    }
    // An iq get to a hosted domain or its room service is the server's to answer (RFC 6120 §10.5.3.1), as it
    // answers a local client's: disco#info with the server's features, disco#items with its services and rooms.
    if (to.local === null && to.resource === null && s.kind === 'iq' && s.type === 'get' && this.accountIqs !== null && (directory.hostsDomain(to.domain) || directory.isRoomDomain(to.domain))) {
      const xml = await this.accountIqs({ user: to.domain, asker: s.from, xml: s.xml });
      await route.send({ kind: 'iq', from: to.domain, to: s.from, type: 'result', id: s.id, body: null, xml });
      return HANDLED;
    }
    // Otherwise only local users are reached this way; other routed domains are not reached from a route (no
    // relaying between routes, RFC 6120 §13.7).
    if (to.local === null || !directory.hostsDomain(to.domain) || directory.isRoomDomain(to.domain)) {
      throw new ParleyError('service-unavailable', `${s.to} cannot be reached from ${route.name}`);
    }
    const user = `${to.local}@${to.domain}`;
    const sender = from.local === null ? from.domain : `${from.local}@${from.domain}`;
    if (!(await directory.userExists(user))) {
      // RFC 6121 §8.5.1: no such account; presence is silently dropped, the rest bounce.
      if (s.kind === 'presence') return HANDLED;
      throw new ParleyError('service-unavailable', `${user} is not available`);
    }
    if (await this.blocks.blocks(user, sender)) {
      // XEP-0191 §3.5: the blocked party sees only that the user is not available.
      if (s.kind === 'presence' || s.type === 'error' || s.type === 'result') return HANDLED;
      throw new ParleyError('service-unavailable', `${user} is not available`);
    }
    if (s.kind === 'presence' && s.type !== 'error') {
      const full = from.resource === null ? sender : `${sender}/${from.resource}`;
      await this.presenceTurns.run(user, () => this.inboundPresence(s, user, sender, full, to.resource));
      return HANDLED;
    }
    if (s.kind === 'message' && (s.type === null || s.type === 'chat' || s.type === 'normal') && (s.body !== null || s.keep !== null)) {
      // The message path queues it in its sender's order at once (MessageService.ordered); the commit follows.
      const ack = this.messages.receiveRemote({ from: { bare: sender, resource: from.resource }, to: { bare: user, resource: to.resource }, body: s.body, clientId: s.originId ?? null, xml: s.keep }, startedAt);
      return { done: ack.then(() => undefined) };
    }
    // RFC 6121 §8.5.1: an iq get to the bare address is the server's to answer for the account, online or not.
    if (s.kind === 'iq' && s.type === 'get' && to.resource === null && this.accountIqs !== null) {
      const xml = await this.accountIqs({ user, asker: s.from, xml: s.xml });
      await route.send({ kind: 'iq', from: user, to: s.from, type: 'result', id: s.id, body: null, xml });
      return HANDLED;
    }
    this.deliverStanza(s, user, to.resource);
    return HANDLED;
  }

  /**
   * Presence from a routed domain (RFC 6121 §3-4): a subscription stanza to the user's roster, a probe answered
   * when the prober may see the user, a contact's presence remembered and sent to all the user's sessions; any
   * other presence (directed, §4.6: a remote room's occupants) as it came to the XMPP sessions.
   */
  private async inboundPresence(s: InboundStanza, user: string, sender: string, full: string, resource: string | null): Promise<void> {
    if (s.type !== null && SUBSCRIPTION_TYPES.has(s.type)) return this.rosters.inboundRemote(user, sender, s.type as SubscriptionAction);
    if (s.type === 'probe') return this.presence.answerProbe(user, sender);
    if (s.type !== null && s.type !== 'unavailable') throw new ParleyError('bad-request', `presence type "${s.type}" is not defined (RFC 6121 §4.7.1)`);
    if (await this.presence.inbound(user, full, s)) return;
    this.deliverStanza(s, user, resource);
  }

  /**
   * A ready stanza to the XMPP sessions it is for (RFC 6121 §8.5): to a full address, that session (an iq or
   * presence to a resource that is gone: service-unavailable for an iq get/set, §8.5.3.2.3; dropped otherwise);
   * to the bare address, each available session for presence and messages (§8.5.2.1), and an iq get/set the
   * answerer did not take (a set, or no XMPP front door) is answered service-unavailable on the user's behalf
   * (§8.5.2.1.3; nothing on an account is changed from another server).
   */
  private deliverStanza(s: InboundStanza, user: string, resource: string | null): void {
    const { router, sessions, cluster } = this.ctx;
    const out = router.outbound({ ev: 'stanza', data: { xml: s.stanza }, stanzasOnly: true });
    const request = s.kind === 'iq' && (s.type === 'get' || s.type === 'set');
    if (resource !== null) {
      const local = sessions.get(user, resource);
      if (local !== undefined && local.sink.relaysStanzas === true) {
        router.toSession(local, out);
        return;
      }
      const remote = local === undefined && cluster.remoteCount > 0 ? cluster.remoteSession(user, resource) : undefined;
      if (remote?.stanzas === true) {
        router.toRemote([remote], out, true);
        return;
      }
      if (request) throw new ParleyError('service-unavailable', `${user}/${resource} is not available`);
      if (s.kind === 'iq') return;
      // §8.5.3.2.1-2: a message or presence for a resource that is gone goes as to the bare address.
    }
    if (s.kind === 'iq') {
      if (request) throw new ParleyError('service-unavailable', `${user} answers no queries from ${s.from}`);
      return;
    }
    for (const x of sessions.of(user)) if (x.available) router.toSession(x, out);
    if (cluster.remoteCount > 0) {
      const remote = [...cluster.remoteOf(user)].filter((r) => r.available && r.stanzas);
      if (remote.length > 0) router.toRemote(remote, out, true);
    }
  }
}
