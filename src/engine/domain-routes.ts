/**
 * Routes to domains Parley does not host as user domains: Prosody's `route/remote` seam. A route owner (the
 * components module for XEP-0114 components; later server-to-server federation, as the route that accepts
 * "any domain not hosted here") registers which domains it serves and how a stanza is handed over. The engine
 * stamps `from` before handing a stanza over (RFC 6120 §8.1.2.1) and checks, for what a route hands back, that
 * its `from` is on a domain that route serves (RFC 6120 §13.7: no route speaks for a hosted domain or another
 * route's). Pure bookkeeping, no I/O: the engine (engine.ts, message-service.ts) calls it, the Router delivers.
 *
 * In a cluster, a domain served exactly by a route on another node (a component connected there) is served here
 * by a stand-in route that hands stanzas to that node (cluster-routes.ts sets them: `setElsewhere`). A local
 * route that serves the domain now wins; a stand-in wins over a local route that cannot serve it now (the
 * component is configured here too but connected there) and over every predicate route.
 */
import { ParleyError } from '../core/errors.js';

/** A stanza crossing between Parley and a routed domain, in jabber:client terms (RFC 6120 §8). */
export interface RoutedStanza {
  kind: 'message' | 'presence' | 'iq';
  /** The sender: a local user's full address (bare for subscription stanzas, RFC 6121 §3.1.2), stamped by Parley. */
  from: string;
  /** The recipient on the routed domain. */
  to: string;
  type: string | null;
  id: string | null;
  /** A message's body text (null: none). */
  body: string | null;
  /**
   * The other children as XML text whose default namespace is jabber:client's (RFC 6120 §4.8.3): a message's
   * extension elements, a presence's show/status/priority and extensions, an iq's payload. Null: none.
   */
  xml: string | null;
}

/** A route for domains this server does not host (ModuleApi.domainRoute). */
export interface DomainRoute {
  /** Who owns it, for logs and errors ("components", later "s2s"). */
  readonly name: string;
  /** The exact domains it serves (lowercase). */
  readonly domains?: readonly string[];
  /**
   * Or any domain this accepts, asked only for domains neither hosted here nor served exactly by some route
   * (federation: "any other domain"). Exact domains win over predicates; among predicates the first added wins.
   */
  readonly accepts?: (domain: string) => boolean;
  /**
   * Throws a ParleyError when a stanza for `to` cannot be taken now (a component that is not connected:
   * service-unavailable), before anything is stored for it. `from` is the local sender's bare address (an
   * outsider policy decides per person); a promise is awaited. Optional: no check.
   */
  check?(to: string, from?: string): void | Promise<void>;
  /**
   * Whether it can serve `domain` (one of `domains`) now: a component connected to this node. Absent: always.
   * A domain it cannot serve now is served by another node's route when one announced it (cluster-routes.ts);
   * the owner tells the engine when the answer changes (RouteHandle.changed).
   */
  serves?(domain: string): boolean;
  /** Hands a stanza over; a ParleyError thrown here bounces to the sender. */
  send(stanza: RoutedStanza): void | Promise<void>;
  /** Services to list in the server's disco#items (XEP-0030 §4): e.g. the components connected now. */
  services?(): ReadonlyArray<{ jid: string; name?: string }>;
}

/** The lowercase domainpart of an address (RFC 7622 §3.2), without parsing the rest. */
export function domainPart(address: string): string {
  const slash = address.indexOf('/');
  const bare = slash === -1 ? address : address.slice(0, slash);
  return bare.slice(bare.indexOf('@') + 1).toLowerCase();
}

/** The registry of domain routes: which route, if any, serves a domain. */
export class DomainRoutes {
  private readonly exact = new Map<string, DomainRoute>();
  private readonly fallbacks: DomainRoute[] = [];
  /** Domains routes of other nodes serve, each with the stand-in route to its node (cluster-routes.ts). */
  private readonly elsewhere = new Map<string, DomainRoute>();

  /**
   * @param local whether a domain is this server's own (hosted user domains, their room services): never routed,
   *   whatever a route claims.
   */
  constructor(private readonly local: (domain: string) => boolean) {}

  /** Adds a route; a domain already served exactly by another route, or a hosted one, is refused. Returns its removal. */
  add(route: DomainRoute): () => void {
    const domains = (route.domains ?? []).map((d) => d.toLowerCase());
    for (const d of domains) {
      const other = this.exact.get(d);
      if (other !== undefined) throw new ParleyError('conflict', `${d} is already routed by ${other.name}`);
      if (this.local(d)) throw new ParleyError('conflict', `${d} is hosted here and cannot be routed elsewhere`);
    }
    for (const d of domains) this.exact.set(d, route);
    if (route.accepts) this.fallbacks.push(route);
    return () => {
      for (const d of domains) if (this.exact.get(d) === route) this.exact.delete(d);
      const i = this.fallbacks.indexOf(route);
      if (i !== -1) this.fallbacks.splice(i, 1);
    };
  }

  /** Whether any route is registered: without one, no address is remote and the hot paths skip the question. */
  get any(): boolean {
    return this.exact.size > 0 || this.fallbacks.length > 0 || this.elsewhere.size > 0;
  }

  /** The route serving `domain`, or null (hosted here, or nobody serves it: remote-server-not-found). */
  routeOf(domain: string): DomainRoute | null {
    const d = domain.toLowerCase();
    const r = this.exact.get(d);
    if (r !== undefined && (r.serves === undefined || r.serves(d))) return r;
    // Another node's route (only in a cluster: alone, the map is empty and this is one size test).
    if (this.elsewhere.size > 0) {
      const e = this.elsewhere.get(d);
      if (e !== undefined) return e;
    }
    if (r !== undefined) return r;
    if (this.fallbacks.length === 0 || this.local(d)) return null;
    for (const f of this.fallbacks) if (f.accepts!(d)) return f;
    return null;
  }

  /** The route of this node serving `domain` exactly (never a stand-in), or null: what another node hands here. */
  localRouteOf(domain: string): DomainRoute | null {
    return this.exact.get(domain.toLowerCase()) ?? null;
  }

  /** The exact domains this node's routes serve now (`serves`), which the other nodes are told of. */
  servedHere(): string[] {
    const out: string[] = [];
    for (const [d, r] of this.exact) if (r.serves === undefined || r.serves(d)) out.push(d);
    return out.sort();
  }

  /**
   * Another node serves `domain` through `standIn` (null: no longer). A hosted domain is never taken, whatever
   * another node claims.
   */
  setElsewhere(domain: string, standIn: DomainRoute | null): void {
    const d = domain.toLowerCase();
    if (standIn === null) this.elsewhere.delete(d);
    else if (!this.local(d)) this.elsewhere.set(d, standIn);
  }

  /**
   * Checks that `route` may speak for `from` (RFC 6120 §8.1.2.1, §13.7): its domain is one that route serves, so
   * a route cannot send stanzas as a local user, a hosted domain, or a domain another route serves.
   */
  checkFrom(route: DomainRoute, from: string): void {
    const d = domainPart(from);
    if (d === '' || this.routeOf(d) !== route) throw new ParleyError('forbidden', `${route.name} may not send from ${d === '' ? 'an empty address' : d}`);
  }

  /** The services the routes list in disco#items, those under `domain` (sensors.example.com under example.com). */
  services(domain: string): Array<{ jid: string; name?: string }> {
    const out: Array<{ jid: string; name?: string }> = [];
    const seen = new Set<DomainRoute>();
    for (const r of [...this.exact.values(), ...this.fallbacks]) {
      if (seen.has(r)) continue;
      seen.add(r);
      for (const s of r.services?.() ?? []) if (s.jid.endsWith(`.${domain}`)) out.push(s);
    }
    // Services other nodes serve (a component connected there), listed once.
    for (const d of this.elsewhere.keys()) if (d.endsWith(`.${domain}`) && !out.some((s) => s.jid === d)) out.push({ jid: d });
    return out;
  }
}
