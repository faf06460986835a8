/**
 * Presence between local users and contacts on routed domains (RFC 6121 §4): a local user's presence goes out
 * through the route to remote subscribers (`from`/`both`), one stanza per resource from its full address
 * (§4.2.2, §4.4.2, §4.5.2); probes go to remote contacts (`to`/`both`) at the user's first available presence
 * (§4.3.1); a remote contact's probe is answered when it is subscribed and ignored otherwise (§4.3.2); a remote
 * contact's presence reaches the user's sessions as a `presence` event (JSON and XMPP alike, from the contact's
 * full address for XMPP) and is remembered in memory for sessions that log in later, on every node of a cluster
 * (the shared part `heard`: each change announced, the whole in the answer to a hello), so a user's login snapshot
 * is the same whichever node the route that carried it runs on. Directed presence (§4.6):
 * the routed addresses a session sent available presence to get unavailable when the session goes unavailable
 * or ends (§4.6.3) — remote rooms and components included.
 */
import { aggregatePresence, aggregateResources, MAX_STATUS_LENGTH } from '../core/presence.js';
import { receivesPresenceOf, sendsPresenceTo } from '../core/roster.js';
import type { Availability, ResourcePresence, RosterItem, SessionPresence, UserPresence } from '../core/types.js';
import type { Ctx } from './context.js';
import { domainPart, type RoutedStanza } from './domain-routes.js';
import type { InboundStanza } from './remote-service.js';
import { childrenOf, escapeXmlAttr, escapeXmlText } from './routed-xml.js';
import type { Session } from './session.js';

/** What remote presence needs of the rest of the engine. */
export interface RemotePresenceDeps {
  /** The user's roster as clients see it (RosterService.list). */
  rosterOf(user: string): Promise<readonly RosterItem[]>;
  /** Who may see the user's presence, blocks applied (PresenceService.audienceOf). */
  audienceOf(user: string): Promise<ReadonlySet<string>>;
  /** The presence of each of the user's available resources (PresenceService.resourcesOf). */
  resourcesOf(user: string): ResourcePresence[];
  /** Whether `owner`'s block list names `other` or its domain (BlockService.blocks, XEP-0191). */
  blocks(owner: string, other: string): Promise<boolean>;
}

/**
 * What the other nodes are told when what was heard for a user changed (the shared part `heard`): the contact's
 * resources now (absent or empty: forgotten), or without `contact`, everything of a user whose account is gone.
 */
export interface HeardChange {
  user: string;
  contact?: string;
  resources?: Record<string, SessionPresence>;
}

/** A remote contact's presence as one viewer knows it: the aggregate and each resource. */
export interface RemoteView {
  aggregate: UserPresence;
  resources: ResourcePresence[];
}

const SHOWS: Record<string, Availability> = { away: 'away', chat: 'chat', dnd: 'dnd', xa: 'xa' };
/** Children a server writes itself (Parley's aggregate, XEP-0203 delay): never relayed as a contact's own. */
const SERVER_WRITTEN = new Set(['urn:parley:presence:0', 'urn:xmpp:delay']);
const IDLE_NS = 'urn:xmpp:idle:1';

/** The `<show/>` of each state (RFC 6121 §4.7.2.1). */
const SHOW_OF: Record<Availability, string | null> = { available: null, chat: 'chat', away: 'away', xa: 'xa', dnd: 'dnd' };

/**
 * A presence stanza's children (RoutedStanza.xml) read as a resource's presence (RFC 6121 §4.7.2): show, status,
 * priority, XEP-0319 idle; the other children kept as its extensions, relayed as received (§4.7.3). Values out
 * of range are clamped rather than refused: the sender is another server's user, who gets no error from here.
 */
export function readPresence(xml: string | null, now: number): SessionPresence {
  let availability: Availability = 'available';
  let status: string | null = null;
  let priority = 0;
  let idleSince: number | null = null;
  let extensions = '';
  for (const c of childrenOf(xml)) {
    if (c.xmlns === null && c.name === 'show') availability = SHOWS[c.text.trim()] ?? 'available';
    else if (c.xmlns === null && c.name === 'status') status = c.text === '' ? null : c.text.slice(0, MAX_STATUS_LENGTH);
    else if (c.xmlns === null && c.name === 'priority') {
      const n = Number(c.text.trim());
      priority = Number.isInteger(n) ? Math.max(-128, Math.min(127, n)) : 0;
    } else if (c.xmlns === IDLE_NS && c.name === 'idle') {
      const t = Date.parse(c.attrs.since ?? '');
      idleSince = Number.isFinite(t) ? Math.min(t, now) : null;
    } else if (c.xmlns === null || !SERVER_WRITTEN.has(c.xmlns)) extensions += c.raw;
  }
  const p: SessionPresence = { availability, activity: null, status, priority, idleSince, explicit: idleSince === null, updatedAt: now };
  if (extensions !== '') p.extensions = extensions;
  return p;
}

/** A resource's presence as the children of a presence stanza (the inverse of readPresence). */
export function presenceXml(p: SessionPresence): string | null {
  let out = '';
  const show = SHOW_OF[p.availability];
  if (show !== null) out += `<show>${show}</show>`;
  if (p.status !== null) out += `<status>${escapeXmlText(p.status)}</status>`;
  if (p.priority !== 0) out += `<priority>${p.priority}</priority>`;
  if (p.idleSince !== null) out += `<idle xmlns="${IDLE_NS}" since="${escapeXmlAttr(new Date(p.idleSince).toISOString())}"/>`;
  out += (p.extensions ?? '') + (p.added ?? '');
  return out === '' ? null : out;
}

const bareOf = (a: string): string => {
  const i = a.indexOf('/');
  return i === -1 ? a : a.slice(0, i);
};

/** Presence across routes: out to remote subscribers, in from remote contacts, directed presence kept per session. */
export class RemotePresence {
  /** Local user → remote contact (bare) → resource ('' for the bare address) → the presence last received. */
  private readonly heard = new Map<string, Map<string, Map<string, SessionPresence>>>();
  /** Routed addresses each session sent directed available presence to (RFC 6121 §4.6). */
  private readonly directed = new WeakMap<Session, Set<string>>();

  /** Tells the other nodes of a change of `heard` (nothing while this node is alone). */
  private readonly announce: (data: unknown) => void;

  constructor(
    private readonly ctx: Ctx,
    private readonly deps: RemotePresenceDeps,
  ) {
    this.announce = ctx.cluster.share('heard', {
      snapshot: () => {
        if (this.heard.size === 0) return undefined;
        const out: Array<[string, string, Record<string, SessionPresence>]> = [];
        for (const [user, contacts] of this.heard) for (const [contact, resources] of contacts) out.push([user, contact, Object.fromEntries(resources)]);
        return out;
      },
      // What a running node knew is taken where this node knows nothing yet: its own announcements are newer.
      state: (_node, data) => {
        if (!Array.isArray(data)) return;
        for (const [user, contact, resources] of data as Array<[string, string, Record<string, SessionPresence>]>) {
          if (this.heard.get(user)?.has(contact) !== true) this.apply({ user, contact, resources });
        }
      },
      change: (_node, data) => this.apply(data as HeardChange),
    });
  }

  /** A change another node announced (HeardChange), applied without telling any session: that node did. */
  private apply(c: HeardChange): void {
    if (typeof c?.user !== 'string') return;
    if (c.contact === undefined) {
      this.heard.delete(c.user);
      return;
    }
    const entries = Object.entries(c.resources ?? {});
    if (entries.length === 0) {
      const byUser = this.heard.get(c.user);
      byUser?.delete(c.contact);
      if (byUser?.size === 0) this.heard.delete(c.user);
      return;
    }
    let byUser = this.heard.get(c.user);
    if (byUser === undefined) this.heard.set(c.user, (byUser = new Map()));
    byUser.set(c.contact, new Map(entries));
  }

  /** Tells the other nodes what is known now of `contact` for `user` (only when some other node is known). */
  private shareHeard(user: string, contact: string): void {
    if (this.ctx.cluster.peerCount === 0) return;
    const known = this.heard.get(user)?.get(contact);
    this.announce({ user, contact, resources: known === undefined ? {} : Object.fromEntries(known) } satisfies HeardChange);
  }

  /** Whether `address` is on a domain a route serves. */
  isRemote(address: string): boolean {
    return this.ctx.routes.any && this.ctx.routes.routeOf(domainPart(address)) !== null;
  }

  /**
   * Hands a presence the server sends on a user's behalf to its route. Best effort, like any presence (RFC 6121
   * §4.4.2 has no acknowledgement): a route that cannot take it now (a component not connected) is logged.
   */
  send(s: RoutedStanza): void {
    const route = this.ctx.routes.routeOf(domainPart(s.to));
    if (route === null) return;
    const failed = (err: unknown): void => this.ctx.log.debug({ err, to: s.to, route: route.name }, 'presence not handed to its route');
    try {
      route.check?.(s.to);
      const r = route.send(s);
      if (r instanceof Promise) r.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  private presenceTo(from: string, to: string, p: SessionPresence | null): void {
    this.send({ kind: 'presence', from, to, type: p === null ? 'unavailable' : null, id: null, body: null, xml: p === null ? null : presenceXml(p) });
  }

  /**
   * After `user`'s presence changed (PresenceService): each changed resource to each remote member of the
   * audience, from the resource's full address (§4.2.2, §4.4.2, §4.5.2).
   */
  broadcast(user: string, changes: readonly ResourcePresence[], audience: ReadonlySet<string>): void {
    // Every presence change passes here: with no route at all (no components, no federation) nothing is remote.
    if (changes.length === 0 || !this.ctx.routes.any) return;
    for (const contact of audience) {
      if (!this.isRemote(contact)) continue;
      for (const c of changes) this.presenceTo(`${user}/${c.resource}`, contact, c.presence);
    }
  }

  /** §4.3.1: a probe from the user's bare address to each remote contact whose presence the user receives. */
  async probe(user: string): Promise<void> {
    for (const item of await this.deps.rosterOf(user)) {
      if (receivesPresenceOf(item) && this.isRemote(item.contact)) {
        this.send({ kind: 'presence', from: user, to: item.contact, type: 'probe', id: null, body: null, xml: null });
      }
    }
  }

  /** §3.1.5, §4.3.2: the presence of each of `user`'s available resources to `contact`; none: unavailable. */
  sendCurrent(user: string, contact: string): void {
    const resources = this.deps.resourcesOf(user);
    if (resources.length === 0) this.presenceTo(user, contact, null);
    for (const r of resources) this.presenceTo(`${user}/${r.resource}`, contact, r.presence);
  }

  /** §3.2.2, §3.3.3: unavailable from each of `user`'s available resources to `contact` (none: from the bare). */
  sendUnavailable(user: string, contact: string): void {
    const resources = this.deps.resourcesOf(user);
    if (resources.length === 0) this.presenceTo(user, contact, null);
    for (const r of resources) this.presenceTo(`${user}/${r.resource}`, contact, null);
  }

  /**
   * A probe from a remote contact (§4.3.2): answered with the user's presence when the contact may see it (a
   * subscription `from`/`both`, no block either way), otherwise ignored: nothing tells the prober anything.
   */
  async answerProbe(user: string, contact: string): Promise<void> {
    // An online user's audience is in memory; for one who is away, its item and block list are read (and not
    // kept: probes for users who are away must not fill the audience cache).
    if (this.ctx.sessions.isOnline(user)) {
      if ((await this.deps.audienceOf(user)).has(contact)) this.sendCurrent(user, contact);
      return;
    }
    const item = await this.ctx.store.rosters.get(user, contact);
    if (item !== null && sendsPresenceTo(item) && !(await this.deps.blocks(user, contact))) this.sendCurrent(user, contact);
  }

  /**
   * Presence (available or unavailable) from `from` on a routed domain for `user`. A contact whose presence the
   * user receives (§4.1) is remembered and sent to the user's sessions as a `presence` event; returns false for
   * anyone else (directed presence, §4.6: a remote room's occupants, a component), which the caller relays.
   */
  async inbound(user: string, from: string, s: InboundStanza): Promise<boolean> {
    const contact = bareOf(from);
    // An online user's roster is in memory; for one who is away a single row is read (no shared groups: those
    // hold accounts only, never a routed address).
    const item = this.ctx.sessions.isOnline(user) ? (await this.deps.rosterOf(user)).find((i) => i.contact === contact) : await this.ctx.store.rosters.get(user, contact);
    if (item === undefined || item === null || !receivesPresenceOf(item)) return false;
    const slash = from.indexOf('/');
    const resource = slash === -1 ? '' : from.slice(slash + 1);
    let byUser = this.heard.get(user);
    const known = byUser?.get(contact);
    if (s.type === 'unavailable') {
      // From the bare address: the contact has no available resource at all (§4.5.2, a probe's answer §4.3.2).
      const gone = resource === '' ? [...(known?.keys() ?? [])] : known?.has(resource) ? [resource] : [];
      for (const r of gone) known!.delete(r);
      if (known !== undefined && known.size === 0) byUser!.delete(contact);
      if (byUser?.size === 0) this.heard.delete(user);
      if (known !== undefined) this.shareHeard(user, contact);
      this.emit(user, contact, gone.filter((r) => r !== '').map((r) => ({ resource: r, presence: null })));
      return true;
    }
    const p = readPresence(s.xml, this.ctx.now());
    if (byUser === undefined) this.heard.set(user, (byUser = new Map()));
    let resources = known;
    if (resources === undefined) byUser.set(contact, (resources = new Map()));
    // A bare-address presence stands for the contact until a resource speaks (and the other way round).
    if (resource === '') resources.clear();
    else resources.delete('');
    resources.set(resource, p);
    this.shareHeard(user, contact);
    this.emit(user, contact, resource === '' ? [] : [{ resource, presence: p }]);
    return true;
  }

  /** The user's sessions hear of the contact's presence now, with the resources that changed (XMPP). */
  private emit(user: string, contact: string, changes: ResourcePresence[]): void {
    const view = this.viewOf(user, contact);
    const { router } = this.ctx;
    router.toUser(user, router.outbound({ ev: 'presence', data: view.aggregate as unknown as Record<string, unknown>, resources: { [contact]: changes } }));
  }

  /** What `user` knows of a remote contact's presence now (offline when nothing was heard). */
  viewOf(user: string, contact: string): RemoteView {
    const known = this.heard.get(user)?.get(contact);
    if (known === undefined || known.size === 0) return { aggregate: aggregatePresence(contact, [], null), resources: [] };
    const entries = [...known].map(([resource, presence]) => ({ resource, presence }));
    const aggregate = aggregateResources(contact, entries);
    if (aggregate.resources) aggregate.resources = aggregate.resources.filter((r) => r.resource !== '');
    return { aggregate, resources: entries.filter((e) => e.resource !== '') };
  }

  /**
   * The user no longer receives the contact's presence (a subscription ended, §3.2.3, §3.3.3): what was heard is
   * forgotten and the user's sessions see the contact unavailable.
   */
  forget(user: string, contact: string): void {
    const known = this.heard.get(user)?.get(contact);
    this.heard.get(user)?.delete(contact);
    if (known !== undefined) this.shareHeard(user, contact);
    const changes = [...(known?.keys() ?? [])].filter((r) => r !== '').map((r) => ({ resource: r, presence: null }));
    this.emit(user, contact, changes);
  }

  /**
   * A session's presence to a routed address (Engine.routeRemote): directed available presence is remembered,
   * directed unavailable forgets it (§4.6.2, §4.6.3).
   */
  noteDirected(session: Session, to: string, type: string | null): void {
    if (type !== null && type !== 'unavailable') return;
    let set = this.directed.get(session);
    if (type === null) {
      if (set === undefined) this.directed.set(session, (set = new Set()));
      set.add(to);
    } else set?.delete(to);
  }

  /** Directed presence of a session to a routed address (§4.6.2), from its full address; remembered (§4.6.3). */
  directedTo(session: Session, to: string): void {
    this.presenceTo(session.full, to, session.presence);
    this.noteDirected(session, to, null);
  }

  /**
   * The session went unavailable or ended (§4.6.3): unavailable from its full address to every routed address
   * it sent directed presence to and did not withdraw, remote rooms and components included.
   */
  endDirected(session: Session): void {
    const set = this.directed.get(session);
    if (set === undefined) return;
    this.directed.delete(session);
    for (const to of set) this.presenceTo(session.full, to, null);
  }

  /**
   * XEP-0191 §3.3 across routes: when a user blocks remote contacts (by address or domain), each side sees the
   * other unavailable (the contact gets unavailable from each resource, the user's sessions the contact offline,
   * and what was heard of it is forgotten: its presence is dropped while blocked); an unblock sends the user's
   * presence again where the roster allows it and probes the contact for its presence now (§4.3).
   */
  async blockChanged(user: string, entries: readonly string[], blocked: boolean): Promise<void> {
    if (entries.length === 0) return;
    const named = new Set(entries);
    const hits = (await this.deps.rosterOf(user)).filter((i) => this.isRemote(i.contact) && (named.has(i.contact) || named.has(domainPart(i.contact))));
    if (hits.length === 0) return;
    const audience = blocked ? null : await this.deps.audienceOf(user);
    const { router } = this.ctx;
    for (const item of hits) {
      if (blocked) {
        if (sendsPresenceTo(item)) this.sendUnavailable(user, item.contact);
        if (receivesPresenceOf(item)) {
          if (this.heard.get(user)?.delete(item.contact) === true) this.shareHeard(user, item.contact);
          router.toUser(user, router.outbound({ ev: 'presence', data: aggregatePresence(item.contact, [], null) as unknown as Record<string, unknown> }));
        }
      } else {
        if (audience!.has(item.contact)) this.sendCurrent(user, item.contact);
        if (receivesPresenceOf(item)) this.send({ kind: 'presence', from: user, to: item.contact, type: 'probe', id: null, body: null, xml: null });
      }
    }
  }

  /** Forgets what was heard for a user whose account is gone. */
  drop(user: string): void {
    if (this.heard.delete(user) && this.ctx.cluster.peerCount > 0) this.announce({ user } satisfies HeardChange);
  }
}
