/**
 * The presentities service: things and processes in memory (written through to the module's storage), people
 * from the engine, one sequence of positions over every change, a bounded ring of recent changes, and the
 * subscriptions that follow them.
 *
 * Positions: every change (a person's presence, a thing's update, lapse, expiry, definition or removal) takes
 * the next position when it happens; changes are stored (things with their record, people in the change log)
 * and published to subscribers strictly in position order, a change whose write is slower holding back the
 * ones after it. The sequence continues from the stored change log after a restart.
 *
 * Subscriptions: one starting is told of every change published while it resolves its group and builds its
 * snapshot (held in a buffer), then indexed by address and group, then the buffer is flushed: no change is
 * missed and none is sent twice. Each keeps the set of addresses it currently shows, so an entity that leaves
 * the view (stopped matching, grant withdrawn, removed) is announced once as `match: false`, with no state.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../../core/errors.js';
import { parseBare } from '../../core/address.js';
import type { UserPresence } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import type { Logger } from '../../engine/context.js';
import { Deadlines, type DeadlineKind } from './deadlines.js';
import { deviceView, passes, UNREPORTED, type DefineBody, type DeviceDef, type DeviceRecord, type DeviceState, type Presentity, type Target, type UpdateBody } from './model.js';
import type { PresentitiesArea } from './sqlite.js';
import { seesDevice, seesPerson, viewer as makeViewer, type Viewer } from './visibility.js';

/** One published change. */
export interface Change {
  seq: number;
  address: string;
  /** The new view; null when the thing was removed. */
  presentity: Presentity | null;
  /** For things and processes: the definition then (grants decide who sees it). */
  def: DeviceDef | null;
  /** For people: their presence audience then. */
  audience: ReadonlySet<string> | null;
  /** Groups the entity counted in, before and after (which group subscriptions hear of it). */
  groups: readonly string[];
}

/** Where a subscription's events go (an SSE stream, a JSON WebSocket session). */
export interface SubscriptionOut {
  /** Everything the subscription shows now, at `position`; `reset` when a resume position was too old. */
  snapshot(position: number, presentities: Presentity[], reset: boolean): void;
  /** After a resume: the changes after `from` follow, up to the live ones. */
  resumed(from: number, position: number): void;
  /** One change: the new state when it matches, else `match: false` and no state (it left the view). */
  change(position: number, address: string, presentity: Presentity | null, match: boolean): void;
}

/** A live subscription. */
export class Subscription {
  readonly id = randomBytes(9).toString('base64url');
  members = new Set<string>();
  readonly matching = new Set<string>();
  buffer: Change[] | null = [];
  closed = false;
  constructor(
    readonly viewer: Viewer,
    readonly target: Target,
    readonly out: SubscriptionOut,
  ) {}

  /** Whether the change concerns an entity this subscription follows. */
  isMember(c: Change): boolean {
    if (this.members.has(c.address)) return true;
    const g = this.target.group;
    return g !== undefined && c.def !== null && c.def.groups.includes(g);
  }

  /** Whether the viewer may see the entity as of the change. */
  sees(c: Change): boolean {
    if (c.def) return seesDevice(this.viewer, c.def);
    return c.audience !== null && seesPerson(this.viewer, c.address, c.audience);
  }

  /** Applies a live change: sends it when it matches, or when the entity leaves the view. */
  apply(c: Change): void {
    const now = c.presentity !== null && this.isMember(c) && this.sees(c) && passes(c.presentity, this.target.where);
    if (now) {
      this.matching.add(c.address);
      this.out.change(c.seq, c.address, c.presentity, true);
    } else if (this.matching.delete(c.address)) {
      this.out.change(c.seq, c.address, null, false);
    }
  }
}

/** How long a viewer's shared groups are trusted for grant checks of reads. */
const GROUPS_TTL_MS = 10_000;
/** Things loaded per page at start. */
const LOAD_PAGE = 2000;

/** The person view of a user's aggregate presence. */
function personView(p: UserPresence, position: number): Presentity {
  return {
    address: p.user,
    kind: 'person',
    owner: p.user,
    availability: p.state === 'offline' ? 'offline' : (p.availability ?? 'available'),
    activity: p.activity,
    status: p.status,
    fields: {},
    groups: [],
    heartbeatSeconds: null,
    expiresAt: null,
    updatedAt: p.lastSeen ?? Date.now(),
    position,
  };
}

/** Merges an update into a state. */
function merged(s: DeviceState, u: UpdateBody): DeviceState {
  const fields = { ...s.fields };
  for (const [k, v] of Object.entries(u.fields ?? {})) if (v !== undefined) fields[k] = v;
  return {
    availability: u.availability ?? (s.availability === 'unknown' ? 'available' : s.availability),
    activity: u.activity === undefined ? s.activity : u.activity,
    status: u.status === undefined ? s.status : u.status,
    fields,
  };
}

/** The presentities service. */
export class PresentityHub {
  private readonly devices = new Map<string, DeviceRecord>();
  /** group → things and processes counted in it. */
  private readonly deviceGroups = new Map<string, Set<string>>();
  /** person → position of their last change. */
  private readonly personPos = new Map<string, number>();
  private readonly byAddress = new Map<string, Set<Subscription>>();
  private readonly byGroup = new Map<string, Set<Subscription>>();
  private readonly starting = new Set<Subscription>();
  private readonly ring: Change[] = [];
  private ringStart = 0;
  /** The ring holds every change after this position. */
  private floor = 0;
  private assigned = 0;
  private published = 0;
  private readonly done = new Map<number, Change | null>();
  private readonly groupCache = new Map<string, { at: number; groups: Promise<string[]> }>();
  /** Told of every published change of a thing or process, in position order (xmpp.ts: the XMPP face). */
  private readonly deviceListeners: Array<(c: Change) => void> = [];
  readonly deadlines: Deadlines;
  /**
   * Domains that are not hosted but whose things live here, each with the one owner who may define things there:
   * XEP-0114 components' (src/modules/components), so nobody else can claim addresses in a component's domain.
   */
  readonly componentDomains = new Map<string, string>();

  constructor(
    private readonly engine: Engine,
    private readonly store: PresentitiesArea,
    private readonly log: Logger,
    private readonly opts: { ringSize: number },
    private readonly now: () => number = Date.now,
  ) {
    this.deadlines = new Deadlines((key, kind) => this.onDeadline(key, kind), now);
  }

  /** Loads things and deadlines from the store and continues the sequence. */
  async start(): Promise<void> {
    this.assigned = this.published = this.floor = await this.store.lastSeq();
    let after = '';
    for (;;) {
      const page = await this.store.page(after, LOAD_PAGE);
      for (const r of page) {
        this.index(r);
        this.deadlines.set(r.def.address, 'heartbeat', r.heartbeatDue);
        this.deadlines.set(r.def.address, 'expiry', r.expiresAt);
      }
      if (page.length < LOAD_PAGE) break;
      after = page[page.length - 1]!.def.address;
    }
  }

  /** The last published position. */
  get position(): number {
    return this.published;
  }

  stop(): void {
    this.deadlines.stop();
  }

  // ---- who is asking ----

  /** The viewer `address`, with its shared groups (cached briefly). */
  async viewerOf(address: string): Promise<Viewer> {
    const t = this.now();
    let hit = this.groupCache.get(address);
    if (!hit || t - hit.at > GROUPS_TTL_MS) {
      if (this.groupCache.size > 100_000) this.groupCache.clear();
      hit = { at: t, groups: this.engine.admin.groupsOf(address) };
      this.groupCache.set(address, hit);
      hit.groups.catch(() => this.groupCache.delete(address));
    }
    return makeViewer(address, await hit.groups);
  }

  /** The stored record of a thing or process, if there is one (read-only use). */
  device(address: string): Readonly<DeviceRecord> | undefined {
    return this.devices.get(address);
  }

  /** Every thing and process now (read-only use). */
  allDevices(): Iterable<Readonly<DeviceRecord>> {
    return this.devices.values();
  }

  /** Calls `fn` with every published change of a thing or process, in position order. */
  onDeviceChange(fn: (c: Change) => void): void {
    this.deviceListeners.push(fn);
  }

  // ---- reads ----

  /** The presentities among `addresses` that `v` may see; the rest (unknown or not visible alike) in `missing`. */
  async read(v: Viewer, addresses: readonly string[]): Promise<{ presentities: Presentity[]; missing: string[] }> {
    const presentities: Presentity[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    await Promise.all(
      addresses.map(async (input) => {
        let a: string;
        try {
          a = parseBare(input);
        } catch {
          missing.push(input);
          return;
        }
        if (seen.has(a)) return;
        seen.add(a);
        const p = await this.visible(v, a);
        if (p) presentities.push(p);
        else missing.push(input);
      }),
    );
    return { presentities, missing };
  }

  /** One presentity if `v` may see it, else null (unknown and invisible look the same). */
  async visible(v: Viewer, address: string): Promise<Presentity | null> {
    const d = this.devices.get(address);
    if (d) return seesDevice(v, d.def) ? deviceView(d) : null;
    // Existence first (the directory's bounded cache): made-up addresses must not fill the engine's audiences.
    if (!(await this.engine.admin.accountExists(address))) return null;
    if (address !== v.address) {
      const audience = await this.engine.presence.audienceOf(address);
      if (!seesPerson(v, address, audience)) return null;
    }
    return personView(await this.engine.presence.presenceOf(address), this.personPos.get(address) ?? 0);
  }

  /** What a target names now: addresses, the group's members and the things counted in the group. */
  private async membersOf(t: Target): Promise<Set<string>> {
    const out = new Set<string>();
    for (const a of t.addresses ?? []) {
      try {
        out.add(parseBare(a));
      } catch {
        // An address that cannot exist names nothing.
      }
    }
    if (t.group !== undefined) {
      for (const m of await this.engine.admin.groupMembers(t.group)) out.add(m);
      for (const a of this.deviceGroups.get(t.group) ?? []) out.add(a);
    }
    return out;
  }

  /** A query: what `v` may see of the target's members that passes its `where`. */
  async query(v: Viewer, t: Target): Promise<{ position: number; presentities: Presentity[] }> {
    const position = this.published;
    const members = await this.membersOf(t);
    const { presentities } = await this.read(v, [...members]);
    return { position, presentities: presentities.filter((p) => passes(p, t.where)) };
  }

  // ---- things and processes ----

  /** The things and processes `owner` owns. */
  ownedBy(owner: string): Array<DeviceDef & { presentity: Presentity }> {
    const out: Array<DeviceDef & { presentity: Presentity }> = [];
    for (const r of this.devices.values()) if (r.def.owner === owner) out.push({ ...r.def, presentity: deviceView(r) });
    return out;
  }

  /** The record of a thing `owner` owns, or item-not-found (also when someone else owns it). */
  private owned(owner: string, address: string): DeviceRecord {
    const r = this.devices.get(address);
    if (!r || r.def.owner !== owner) throw new ParleyError('item-not-found', `you own no thing or process ${address}`);
    return r;
  }

  /** Declares (or redefines) a thing or process owned by `owner`. */
  async define(owner: string, input: string, b: DefineBody): Promise<DeviceDef & { presentity: Presentity }> {
    const address = parseBare(input);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (!address.includes('@')) throw new ParleyError('jid-malformed', 'a thing\'s address is name@domain');
    if (!this.engine.admin.hostsDomain(domain) && this.componentDomains.get(domain) !== owner) throw new ParleyError('remote-server-not-found', `the domain ${domain} is not served here`);
    const existing = this.devices.get(address);
    if (existing && existing.def.owner !== owner) throw new ParleyError('conflict', `${address} is taken`);
    if (!existing && (await this.engine.admin.accountExists(address))) throw new ParleyError('conflict', `${address} is an account`);
    const t = this.now();
    const def: DeviceDef = {
      address,
      kind: b.kind,
      owner,
      groups: [...new Set(b.groups)],
      heartbeatSeconds: b.heartbeatSeconds,
      fields: b.fields,
      grants: { users: [...new Set(b.grants.users.map((u) => parseBare(u)))], groups: [...new Set(b.grants.groups)], domains: [...new Set(b.grants.domains.map((d) => d.toLowerCase()))] },
      createdAt: existing?.def.createdAt ?? t,
    };
    // Fields no longer declared are dropped from the state.
    const keep = (s: DeviceState): DeviceState => ({ ...s, fields: Object.fromEntries(Object.entries(s.fields).filter(([k]) => k in def.fields)) });
    const record: DeviceRecord = existing
      ? { ...existing, def, base: keep(existing.base), current: keep(existing.current), heartbeatDue: def.heartbeatSeconds === null ? null : existing.updatedAt + def.heartbeatSeconds * 1000 }
      : { def, base: UNREPORTED, current: UNREPORTED, expiresAt: null, heartbeatDue: def.heartbeatSeconds === null ? null : t + def.heartbeatSeconds * 1000, lapsed: false, updatedAt: t, position: 0 };
    const r = await this.commitDevice(record, existing ?? null);
    return { ...r.def, presentity: deviceView(r) };
  }

  /** The definition and state of a thing `owner` owns. */
  definition(owner: string, address: string): DeviceDef & { presentity: Presentity } {
    const r = this.owned(owner, parseBare(address));
    return { ...r.def, presentity: deviceView(r) };
  }

  /** The declared fields of a thing `owner` owns (what an update is checked against), without building its view. */
  fieldsOf(owner: string, address: string): DeviceDef['fields'] {
    return this.owned(owner, parseBare(address)).def.fields;
  }

  /** Removes a thing `owner` owns. */
  async remove(owner: string, input: string): Promise<void> {
    const r = this.owned(owner, parseBare(input));
    const address = r.def.address;
    this.unindex(r);
    this.deadlines.set(address, 'heartbeat', null);
    this.deadlines.set(address, 'expiry', null);
    await this.sequenced((seq) => ({
      change: { seq, address, presentity: null, def: r.def, audience: null, groups: r.def.groups },
      write: () => this.store.remove(address, { seq, address, at: this.now(), presentity: null }),
    }));
  }

  /**
   * An update from the owner: availability, activity, status and fields (checked against the thing's declared
   * types by the caller), optionally temporary. Any update renews the heartbeat; an empty one is a heartbeat
   * only, and publishes nothing unless the heartbeat had lapsed.
   */
  async update(owner: string, input: string, u: UpdateBody): Promise<Presentity> {
    const r = this.owned(owner, parseBare(input));
    const t = this.now();
    const heartbeatDue = r.def.heartbeatSeconds === null ? null : t + r.def.heartbeatSeconds * 1000;
    const empty = u.availability === undefined && u.activity === undefined && u.status === undefined && u.fields === undefined && u.expiresInSeconds === undefined;
    if (empty && !r.lapsed) {
      r.heartbeatDue = heartbeatDue;
      this.deadlines.set(r.def.address, 'heartbeat', heartbeatDue);
      await this.store.heartbeat(r.def.address, heartbeatDue);
      return deviceView(r);
    }
    let next: DeviceRecord;
    if (u.expiresInSeconds !== undefined) {
      // A temporary state over the base, which comes back when it expires.
      next = { ...r, current: merged(r.current, u), expiresAt: t + u.expiresInSeconds * 1000, heartbeatDue, lapsed: false, updatedAt: t };
    } else {
      // A lasting state: the new base; a temporary one ends.
      const base = merged(r.current, u);
      next = { ...r, base, current: base, expiresAt: null, heartbeatDue, lapsed: false, updatedAt: t };
    }
    return deviceView(await this.commitDevice(next, r));
  }

  /** The owner's reporter went away (a component's connection dropped): the thing shows as unknown until its next update. */
  async lapse(owner: string, input: string): Promise<void> {
    const r = this.owned(owner, parseBare(input));
    if (!r.lapsed) await this.commitDevice({ ...r, lapsed: true, heartbeatDue: null, updatedAt: this.now() }, r);
  }

  /** A heartbeat lapsed or a temporary state expired. */
  private onDeadline(address: string, kind: DeadlineKind): void {
    const r = this.devices.get(address);
    if (!r) return;
    const next: DeviceRecord =
      kind === 'heartbeat' ? { ...r, lapsed: true, heartbeatDue: null, updatedAt: this.now() } : { ...r, current: r.base, expiresAt: null, updatedAt: this.now() };
    this.commitDevice(next, r).catch((e: unknown) => this.log.error({ err: e, address, kind }, 'storing a lapse or an expiry failed'));
  }

  /** Makes `next` the thing's record now, stores it and publishes the change in order. */
  private async commitDevice(next: DeviceRecord, before: DeviceRecord | null): Promise<DeviceRecord> {
    let record = next;
    await this.sequenced((seq) => {
      record = { ...next, position: seq };
      if (before) this.unindex(before);
      this.index(record);
      this.deadlines.set(record.def.address, 'heartbeat', record.lapsed ? null : record.heartbeatDue);
      this.deadlines.set(record.def.address, 'expiry', record.expiresAt);
      const presentity = deviceView(record);
      const groups = before ? [...new Set([...before.def.groups, ...record.def.groups])] : record.def.groups;
      const stored = record;
      return {
        change: { seq, address: record.def.address, presentity, def: record.def, audience: null, groups },
        write: () => this.store.put(stored, { seq, address: stored.def.address, at: stored.updatedAt, presentity }),
      };
    });
    return record;
  }

  private index(r: DeviceRecord): void {
    this.devices.set(r.def.address, r);
    for (const g of r.def.groups) {
      let s = this.deviceGroups.get(g);
      if (!s) this.deviceGroups.set(g, (s = new Set()));
      s.add(r.def.address);
    }
  }

  private unindex(r: DeviceRecord): void {
    this.devices.delete(r.def.address);
    for (const g of r.def.groups) {
      const s = this.deviceGroups.get(g);
      s?.delete(r.def.address);
      if (s?.size === 0) this.deviceGroups.delete(g);
    }
  }

  // ---- people ----

  /** A person's aggregate presence changed (engine event): a change at the next position. */
  personChanged(p: UserPresence): void {
    const seq = ++this.assigned;
    const work = async (): Promise<Change> => {
      const audience = await this.engine.presence.audienceOf(p.user);
      const presentity = personView(p, seq);
      const change: Change = { seq, address: p.user, presentity, def: null, audience, groups: [] };
      await this.store.note({ seq, address: p.user, at: this.now(), presentity });
      return change;
    };
    work().then(
      (c) => this.complete(seq, c),
      (e: unknown) => {
        this.log.error({ err: e, user: p.user }, 'recording a presence change failed');
        this.complete(seq, null);
      },
    );
  }

  // ---- sequencing ----

  /**
   * Takes the next position, builds the change for it and stores it, then publishes it in order. Whatever
   * fails (building or writing) leaves a hole at that position and fails the caller, never a position that
   * holds back every later change.
   */
  private async sequenced(build: (seq: number) => { change: Change; write: () => Promise<void> }): Promise<void> {
    const seq = ++this.assigned;
    let change: Change;
    try {
      const b = build(seq);
      change = b.change;
      await b.write();
    } catch (e) {
      this.complete(seq, null);
      throw e;
    }
    this.complete(seq, change);
  }

  /** Marks a position done and publishes every done change that no earlier one holds back. */
  private complete(seq: number, change: Change | null): void {
    this.done.set(seq, change);
    for (;;) {
      const next = this.published + 1;
      if (!this.done.has(next)) return;
      const c = this.done.get(next)!;
      this.done.delete(next);
      this.published = next;
      if (c) this.publish(c);
    }
  }

  private publish(c: Change): void {
    if (c.def === null) this.personPos.set(c.address, c.seq);
    else for (const l of this.deviceListeners) l(c);
    this.ring.push(c);
    if (this.ring.length - this.ringStart > this.opts.ringSize) {
      this.floor = this.ring[this.ringStart]!.seq;
      this.ringStart++;
      if (this.ringStart > 4096 && this.ringStart * 2 > this.ring.length) {
        this.ring.splice(0, this.ringStart);
        this.ringStart = 0;
      }
    }
    const direct = this.byAddress.get(c.address);
    // The common case, one address followed and no group or starting subscription: its set as is, rather than
    // a copy per change (10,000 insertions for a thing with 10,000 subscribers). Applying a change never adds or
    // removes a subscription synchronously (streams write, and end, on a later turn).
    if (this.starting.size === 0 && c.groups.every((g) => !this.byGroup.has(g))) {
      if (direct) for (const s of direct) this.deliver(s, c);
      return;
    }
    const subs = new Set<Subscription>(this.starting);
    for (const s of direct ?? []) subs.add(s);
    for (const g of c.groups) for (const s of this.byGroup.get(g) ?? []) subs.add(s);
    for (const s of subs) this.deliver(s, c);
  }

  private deliver(s: Subscription, c: Change): void {
    if (s.buffer) s.buffer.push(c);
    else s.apply(c);
  }

  /** Changes in the ring after `since` up to `upTo`, or null when the ring no longer holds them all. */
  private ringAfter(since: number, upTo: number): Change[] | null {
    if (since < this.floor || since > upTo) return null;
    const out: Change[] = [];
    for (let i = this.ringStart; i < this.ring.length; i++) {
      const c = this.ring[i]!;
      if (c.seq > upTo) break;
      if (c.seq > since) out.push(c);
    }
    return out;
  }

  /**
   * Changes after `since` up to `upTo` from the stored change log, for a position the ring no longer holds (or
   * held before a restart): at most ringSize of them, else null (a fresh snapshot is cheaper). Who may see them
   * is judged as of now: a thing's current grants, a person's current audience; a thing removed since is left
   * out.
   */
  private async storedAfter(since: number, upTo: number): Promise<Change[] | null> {
    if (since > upTo) return null;
    if (since === upTo) return [];
    const rows = await this.store.changesAfter(since, this.opts.ringSize + 1);
    // The log must hold the very next position, or some were pruned.
    if (rows.length === 0 || rows[0]!.seq !== since + 1) return null;
    const within = rows.filter((r) => r.seq <= upTo);
    if (within.length > this.opts.ringSize || (rows.length > this.opts.ringSize && within.length === rows.length)) return null;
    const audiences = new Map<string, ReadonlySet<string>>();
    const out: Change[] = [];
    for (const r of within) {
      const p = r.presentity;
      if (p !== null && p.kind === 'person') {
        let audience = audiences.get(r.address);
        if (!audience) audiences.set(r.address, (audience = await this.engine.presence.audienceOf(r.address)));
        out.push({ seq: r.seq, address: r.address, presentity: p, def: null, audience, groups: [] });
        continue;
      }
      const def = this.devices.get(r.address)?.def;
      if (!def) continue;
      out.push({ seq: r.seq, address: r.address, presentity: p, def, audience: null, groups: def.groups });
    }
    return out;
  }

  // ---- subscriptions ----

  /**
   * Starts a subscription of `viewerAddress` to `target`: a snapshot (or, from `since` when the ring or the
   * stored change log still holds every change after it, those changes), then the live changes.
   */
  async subscribe(viewerAddress: string, target: Target, since: number | null, out: SubscriptionOut): Promise<Subscription> {
    const sub = new Subscription(await this.viewerOf(viewerAddress), target, out);
    this.starting.add(sub);
    const upTo = this.published;
    try {
      sub.members = await this.membersOf(target);
      const replay = since === null ? null : (this.ringAfter(since, upTo) ?? (await this.storedAfter(since, upTo)));
      const now = await this.read(sub.viewer, [...sub.members]);
      const current = now.presentities.filter((p) => passes(p, target.where));
      if (replay === null) {
        for (const p of current) sub.matching.add(p.address);
        out.snapshot(upTo, current, since !== null);
      } else {
        // What the client showed at `since` is unknown here: every followed entity the viewer may see counts
        // as shown, so one that left the view meanwhile is announced as leaving.
        for (const c of replay) if (sub.isMember(c) && sub.sees(c)) sub.matching.add(c.address);
        out.resumed(since!, upTo);
        for (const c of replay) sub.apply(c);
        // From here on, what the client shows is what matches now.
        sub.matching.clear();
        for (const p of current) sub.matching.add(p.address);
      }
    } catch (e) {
      this.starting.delete(sub);
      throw e;
    }
    if (sub.closed) {
      this.starting.delete(sub);
      return sub;
    }
    for (const a of sub.members) {
      let s = this.byAddress.get(a);
      if (!s) this.byAddress.set(a, (s = new Set()));
      s.add(sub);
    }
    if (target.group !== undefined) {
      let s = this.byGroup.get(target.group);
      if (!s) this.byGroup.set(target.group, (s = new Set()));
      s.add(sub);
    }
    this.starting.delete(sub);
    const held = sub.buffer ?? [];
    sub.buffer = null;
    for (const c of held) if (c.seq > upTo && !sub.closed) sub.apply(c);
    return sub;
  }

  /** Ends a subscription. */
  unsubscribe(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    this.starting.delete(sub);
    for (const a of sub.members) {
      const s = this.byAddress.get(a);
      s?.delete(sub);
      if (s?.size === 0) this.byAddress.delete(a);
    }
    if (sub.target.group !== undefined) {
      const s = this.byGroup.get(sub.target.group);
      s?.delete(sub);
      if (s?.size === 0) this.byGroup.delete(sub.target.group);
    }
  }

  /** Prunes the stored change log to the newest `keep`. */
  prune(keep: number): Promise<number> {
    return this.store.prune(keep);
  }
}
