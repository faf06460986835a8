/**
 * Server-originated iq requests to routed domains: what a module sends on a user's behalf without a session (an
 * XEP-0357 §7 push publish from the user's bare address to an app server behind a component), and the answer it
 * awaits. The request goes to the route serving the `to` domain (domain-routes.ts), like a session's stanza
 * through RemoteService.toRemote; the answer comes back through that route's handle, where `take` claims it
 * before ordinary delivery (an iq result to a bare address would otherwise be dropped, RFC 6121 §8.5.2.1.3).
 *
 * RFC 6120 §8.2.3: an iq get or set is answered once with a result or an error of the same id, so replies are
 * correlated by an id generated here and checked against the address asked (its domain served by the same
 * route, §13.7) and the address that asked. A request no reply answers in time rejects with
 * remote-server-timeout (§8.3.3.17); a late reply is then dropped.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../core/errors.js';
import type { Ctx } from './context.js';
import { domainPart, type DomainRoute, type RoutedStanza } from './domain-routes.js';

/** An iq a module asks the engine to send: from a local account's bare address to an address on a routed domain. */
export interface ServerIqRequest {
  /** The local account the request is sent as (its bare address, stamped as `from`). */
  from: string;
  /** The recipient on a routed domain. */
  to: string;
  type: 'get' | 'set';
  /** The payload as XML text with its own namespace (jabber:client is the default of unqualified elements). */
  xml: string;
  /** How long to wait for the answer (default 10 s). */
  timeoutMs?: number;
}

/** The answer to a ServerIqRequest: a result, or an error whose children (the `<error/>`) are in `xml`. */
export interface ServerIqReply {
  type: 'result' | 'error';
  /** The reply's children as jabber:client XML text, or null for none. */
  xml: string | null;
}

interface Pending {
  route: DomainRoute;
  from: string;
  to: string;
  resolve: (r: ServerIqReply) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Sends modules' iq requests through domain routes and matches the answers to them. */
export class ServerIqs {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly ctx: Ctx) {}

  /**
   * Sends the request through the route serving its `to` domain and resolves with the answer.
   * remote-server-not-found when no route serves the domain, the route's own refusal when it cannot take it now
   * (a component that is not connected: service-unavailable), remote-server-timeout when nothing answers.
   */
  request(r: ServerIqRequest): Promise<ServerIqReply> {
    const route = this.ctx.routes.routeOf(domainPart(r.to));
    if (route === null) return Promise.reject(new ParleyError('remote-server-not-found', `${domainPart(r.to)} is not served by this server`));
    const id = `srv-${randomBytes(9).toString('base64url')}`;
    const stanza: RoutedStanza = { kind: 'iq', from: r.from, to: r.to, type: r.type, id, body: null, xml: r.xml };
    return new Promise<ServerIqReply>((resolve, reject) => {
      try {
        route.check?.(r.to);
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyError('remote-server-timeout', `${r.to} did not answer within ${r.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
      }, r.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      timer.unref?.();
      this.pending.set(id, { route, from: r.from.toLowerCase(), to: r.to.toLowerCase(), resolve, timer });
      Promise.resolve(route.send(stanza)).catch((e: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e);
      });
    });
  }

  /**
   * Claims a stanza `route` hands in when it answers one of these requests (an iq result or error with its id,
   * from the address asked, to the address that asked); returns whether it did. Anything else goes on to
   * ordinary delivery.
   */
  take(route: DomainRoute, s: RoutedStanza): boolean {
    if (s.kind !== 'iq' || (s.type !== 'result' && s.type !== 'error') || s.id === null || this.pending.size === 0) return false;
    const p = this.pending.get(s.id);
    if (p === undefined || p.route !== route || s.from.toLowerCase() !== p.to || s.to.toLowerCase() !== p.from) return false;
    clearTimeout(p.timer);
    this.pending.delete(s.id);
    p.resolve({ type: s.type, xml: s.xml });
    return true;
  }

  /** Requests awaiting an answer (tests, health). */
  get waiting(): number {
    return this.pending.size;
  }
}
