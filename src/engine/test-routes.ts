/**
 * An in-memory domain route for unit tests (engine/domain-routes.ts): what the engine hands it is recorded, a
 * test hands stanzas in through its RouteHandle as a route owner (components, federation) would, and `refuse`
 * makes its `send` throw. Shared by the engine's tests of routed domains, in one process and in a cluster.
 */
import type { ParleyError } from '../core/errors.js';
import type { DomainRoute, RoutedStanza } from './domain-routes.js';
import type { Engine } from './engine.js';
import type { InboundStanza, RouteHandle } from './remote-service.js';

/** A registered test route. */
export interface FakeRoute {
  handle: RouteHandle;
  /** What the engine handed over, in order. */
  sent: RoutedStanza[];
  /** Takes (and clears) what was handed over. */
  take(): RoutedStanza[];
  /** When set, `send` throws it (a route's refusal). */
  refuse: ParleyError | null;
}

/**
 * Registers a route on `engine` that by default accepts any domain under remote.test (as federation accepts
 * other domains); `spec` overrides it (`domains` for a component's exact domain, `serves`, `check`, `send`).
 */
export function fakeRoute(engine: Engine, spec: Partial<DomainRoute> = {}): FakeRoute {
  const r: FakeRoute = { handle: undefined as unknown as RouteHandle, sent: [], take: () => r.sent.splice(0), refuse: null };
  r.handle = engine.domainRoute({
    name: 'fake',
    ...(spec.domains === undefined ? { accepts: (d: string) => d.endsWith('remote.test') } : {}),
    send: (s) => {
      if (r.refuse !== null) throw r.refuse;
      r.sent.push(s);
    },
    ...spec,
  });
  return r;
}

/** A stanza as a route owner hands it in, with its jabber:client text for XMPP sessions. */
export function inboundStanza(kind: InboundStanza['kind'], from: string, to: string, type: string | null, xml: string | null = null, body: string | null = null): InboundStanza {
  return { kind, from, to, type, id: null, body, xml, stanza: `<${kind} xmlns="jabber:client" from="${from}" to="${to}"${type ? ` type="${type}"` : ''}>${xml ?? ''}</${kind}>`, keep: null };
}
