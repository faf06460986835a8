/**
 * Domain routes across the cluster: a route registered on one node (a component connected there) serves users on
 * every node. Each node tells the others which exact domains its routes serve now (the shared part `routes` of
 * the cluster layer: announced when it changes, sent in the answer to a hello, gone with a node that dies), and
 * puts a stand-in route for each domain another node serves into its own registry (DomainRoutes.setElsewhere).
 * The stand-in hands a stanza to the owning node on that node's route subject; the owner checks and sends it down
 * its own route as if a local user had, and answers, so a refusal (service-unavailable from a component that just
 * left, a route's own error) comes back to the sender as a ParleyError wherever it sent from.
 *
 * A request with no session behind it (an iq from an account's bare address: ModuleApi.serverIq) is answered
 * back to the node that asked: the owner hands the answer there instead of delivering it, and that node claims it
 * as its own route would have (server-iq.ts).
 *
 * Predicate routes (federation's "any other domain") are not shared: every node runs its own.
 *
 * Subject and messages (docs/ARCHITECTURE.md, "The bus and the cluster"):
 *   parley.node.<id>.route   {t:'send', node, id, stanza}: a stanza for a domain node <id> serves
 *                            {t:'done', node, id, error?}: the owner's answer to the sender's `send`
 *                            {t:'answer', node, stanza}: what the route brought back for a request with no
 *                            session behind it that node <id> handed over (an iq result or error)
 *
 * A node alone never publishes here: with no other node, no stand-in exists and routeOf never picks one.
 */
import { ParleyError, type ErrorCode, ERRORS } from '../core/errors.js';
import type { Bus } from '../ports/bus.js';
import type { Cluster } from './cluster.js';
import type { Logger } from './context.js';
import { domainPart, type DomainRoute, type DomainRoutes, type RoutedStanza } from './domain-routes.js';

/** The subject on which node `node` takes stanzas for the domains its routes serve, and answers to its own. */
export const routeSubject = (node: string): string => `parley.node.${node}.route`;

/** How long a stanza handed to another node waits for its answer before remote-server-timeout. */
const ANSWER_MS = 5_000;
/** How long a node remembers a request without a session it sent down its route for another node. */
const ASKED_MS = 60_000;

/** Messages on a node's route subject; `node` is always the sender. */
export type RouteMessage =
  | { t: 'send'; node: string; id: number; stanza: RoutedStanza }
  | { t: 'done'; node: string; id: number; error?: { code: string; message: string } }
  | { t: 'answer'; node: string; stanza: RoutedStanza };

/** A request with no session behind it sent down this node's route for another node, waiting for its answer. */
interface Asked {
  node: string;
  from: string;
  to: string;
  timer: NodeJS.Timeout;
}

interface Pending {
  node: string;
  resolve: () => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/** This node's routes told to the others, theirs served here through stand-ins. */
export class ClusterRoutes {
  /** Node -> the exact domains it serves now. */
  private readonly byNode = new Map<string, string[]>();
  /** Node -> its stand-in route (one per node, so a domain moving between two nodes' routes switches at once). */
  private readonly standIns = new Map<string, DomainRoute>();
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  /** What this node last told (sorted, joined), so a change that changes nothing is not announced. */
  private told = '';
  private readonly announce: (data: unknown) => void;
  private unsubscribe: (() => void) | null = null;
  /** Requests without a session sent down a route here for another node, by stanza id. */
  private readonly asked = new Map<string, Asked>();
  /** Claims an answer to a request this node sent through another node's route (ServerIqs.take). */
  answered: (route: DomainRoute, s: RoutedStanza) => boolean = () => false;

  constructor(
    private readonly cluster: Cluster,
    private readonly bus: Bus,
    private readonly routes: DomainRoutes,
    private readonly log: Logger,
    private readonly answerMs = ANSWER_MS,
  ) {
    this.announce = cluster.share('routes', {
      snapshot: () => routes.servedHere(),
      state: (node, data) => this.set(node, data),
      change: (node, data) => this.set(node, data),
      dropped: (node) => this.drop(node),
    });
  }

  /** Takes stanzas other nodes hand to this node's routes, and the answers to those it handed them. */
  start(): void {
    this.unsubscribe = this.bus.subscribe(routeSubject(this.cluster.node), (m) => this.receive(m as RouteMessage));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const [id, p] of this.pending) this.settle(id, p, new ParleyError('service-unavailable', 'the server is shutting down'));
    for (const a of this.asked.values()) clearTimeout(a.timer);
    this.asked.clear();
  }

  /**
   * Whether `s`, which a route of this node hands in, answers a request without a session another node sent
   * through it (an iq result or error with its id, from the address asked, to the address that asked); if so it
   * goes back to that node, not to delivery here. Costs one size test while nothing is asked.
   */
  claim(s: RoutedStanza): boolean {
    if (this.asked.size === 0 || s.kind !== 'iq' || (s.type !== 'result' && s.type !== 'error') || s.id === null) return false;
    const a = this.asked.get(s.id);
    if (a === undefined || s.from.toLowerCase() !== a.to || s.to.toLowerCase() !== a.from) return false;
    clearTimeout(a.timer);
    this.asked.delete(s.id);
    const stanza: RoutedStanza = { kind: s.kind, from: s.from, to: s.to, type: s.type, id: s.id, body: s.body, xml: s.xml };
    this.bus.publish(routeSubject(a.node), { t: 'answer', node: this.cluster.node, stanza } satisfies RouteMessage);
    return true;
  }

  /** This node's routes changed (added, removed, a component connected or left): the others are told. */
  changed(): void {
    const served = this.routes.servedHere();
    const key = served.join(' ');
    if (key === this.told) return;
    this.told = key;
    this.announce(served);
  }

  private set(node: string, data: unknown): void {
    const domains = Array.isArray(data) ? data.filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase()) : [];
    const before = this.byNode.get(node) ?? [];
    const standIn = this.standInOf(node);
    for (const d of before) if (!domains.includes(d)) this.routes.setElsewhere(d, this.otherOwner(d, node));
    if (domains.length === 0) this.byNode.delete(node);
    else this.byNode.set(node, domains);
    for (const d of domains) this.routes.setElsewhere(d, standIn);
  }

  /** The node is gone: its domains are served by another node that announced them, or by nobody. */
  private drop(node: string): void {
    this.set(node, []);
    this.standIns.delete(node);
    for (const [id, p] of this.pending) if (p.node === node) this.settle(id, p, new ParleyError('service-unavailable', 'the server node that served this domain is gone'));
  }

  /** The stand-in of another node that still serves `domain` (not `but`), or null. */
  private otherOwner(domain: string, but: string): DomainRoute | null {
    for (const [node, domains] of this.byNode) if (node !== but && domains.includes(domain)) return this.standInOf(node);
    return null;
  }

  private standInOf(node: string): DomainRoute {
    let r = this.standIns.get(node);
    if (r === undefined) {
      r = { name: `cluster node ${node}`, send: (s) => this.forward(node, s) };
      this.standIns.set(node, r);
    }
    return r;
  }

  /** Hands `s` to `node`, whose route serves its domain; settles with that node's answer. */
  private forward(node: string, s: RoutedStanza): Promise<void> {
    // The node stopped serving it (or died) since its route was picked.
    if (!this.byNode.has(node)) return Promise.reject(new ParleyError('service-unavailable', `${domainPart(s.to)} is no longer served by the node that served it`));
    const id = ++this.next;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyError('remote-server-timeout', `the server node serving ${domainPart(s.to)} did not answer`));
      }, this.answerMs);
      timer.unref?.();
      this.pending.set(id, { node, resolve, reject, timer });
      this.bus.publish(routeSubject(node), { t: 'send', node: this.cluster.node, id, stanza: s } satisfies RouteMessage);
    });
  }

  private remember(id: string, node: string, s: RoutedStanza): void {
    const old = this.asked.get(id);
    if (old !== undefined) clearTimeout(old.timer);
    const timer = setTimeout(() => this.asked.delete(id), ASKED_MS);
    timer.unref?.();
    this.asked.set(id, { node, from: s.from.toLowerCase(), to: s.to.toLowerCase(), timer });
  }

  private settle(id: number, p: Pending, error?: unknown): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (error === undefined) p.resolve();
    else p.reject(error);
  }

  private async receive(m: RouteMessage): Promise<void> {
    if (m.t === 'done') {
      const p = this.pending.get(m.id);
      if (p === undefined || p.node !== m.node) return;
      const code = m.error !== undefined && Object.hasOwn(ERRORS, m.error.code) ? (m.error.code as ErrorCode) : 'internal-server-error';
      this.settle(m.id, p, m.error === undefined ? undefined : new ParleyError(code, m.error.message));
      return;
    }
    if (m.t === 'answer') {
      const standIn = this.standIns.get(m.node);
      if (standIn !== undefined) this.answered(standIn, m.stanza);
      return;
    }
    if (m.t !== 'send') return;
    const answer = (error?: { code: string; message: string }): void =>
      this.bus.publish(routeSubject(m.node), { t: 'done', node: this.cluster.node, id: m.id, ...(error ? { error } : {}) } satisfies RouteMessage);
    const s = m.stanza;
    // Only this node's own route for the domain: a stanza is never handed on to a third node.
    const route = this.routes.localRouteOf(domainPart(s.to));
    if (route === null) {
      answer({ code: 'remote-server-not-found', message: `${domainPart(s.to)} is not served by this server` });
      return;
    }
    try {
      // As for a local sender: the route's check (a component that is not connected: service-unavailable), then send.
      const at = s.from.indexOf('/');
      await route.check?.(s.to, at === -1 ? s.from : s.from.slice(0, at));
      await route.send(s);
      // An iq request from a bare address has no session behind it (ModuleApi.serverIq): its answer goes back.
      if (s.kind === 'iq' && (s.type === 'get' || s.type === 'set') && s.id !== null && !s.from.includes('/')) this.remember(s.id, m.node, s);
      answer();
    } catch (e) {
      if (!(e instanceof ParleyError)) this.log.error({ err: e, route: route.name }, 'a stanza from another node failed in its route');
      answer(e instanceof ParleyError ? { code: e.code, message: e.message } : { code: 'internal-server-error', message: 'the route failed' });
    }
  }
}
