/**
 * The notification service: takes posts, routes each step to one person by presence (routing.ts), delivers an
 * IM from the service address through the engine's normal message path, escalates on the step's deadline
 * (deadlines.ts), takes acknowledgements (API, JSON operation, or a reply "ack"/"resolve" to the service address)
 * and falls back to e-mail (mail.ts). Every change of a notification runs in that notification's own queue, so
 * a deadline and an acknowledgement never interleave. A notification is stored before its first IM, each step's
 * delivery is stored with its deadline and history, and a restart picks up the stored deadlines (a step
 * interrupted by a crash runs again, and its IM is then a resend, not a second message).
 */
import { createHash, randomBytes } from 'node:crypto';
import { domainOf, normaliseUser, parseAddress, parseBare } from '../../core/address.js';
import { ParleyError, isParleyError } from '../../core/errors.js';
import { ROOM_ROLES, type LogRecord, type SessionPresence } from '../../core/types.js';
import { KeyedQueue } from '../../engine/keyed-queue.js';
import type { Outbound } from '../../engine/outbound.js';
import type { Session } from '../../engine/session.js';
import type { ModuleApi } from '../api.js';
import { Deadlines } from '../deadlines.js';
import { label, mailHeaders, mailSubject, mailText, type MailSender } from './mail.js';
import { parseId, targetKey, type Acknowledgement, type Action, type NewEvent, type Notification, type PolicySnapshot, type Severity, type Target } from './model.js';
import type { NotifyOptions } from './options.js';
import { choose, tierOf, type Candidate, type Strategy } from './routing.js';
import type { NotificationChange, NotifyArea } from './sqlite.js';

/** What a post carries once validated. */
export interface PostInput {
  title: string;
  body: string;
  severity: Severity;
  link?: string | undefined;
  dedupKey?: string | undefined;
  target: Target;
  policy?: string | undefined;
}

/** A notification as JSON clients show it, with the actions still open. */
export interface NotificationCard {
  id: number;
  short: string;
  state: Notification['state'];
  severity: Severity;
  title: string;
  body: string;
  link: string | null;
  createdAt: number;
  assignee: string | null;
  acknowledgedBy: string | null;
  resolvedBy: string | null;
  actions: Array<{ action: Action; op: 'notify.ack' | 'notify.resolve'; reply: 'ack' | 'resolve' }>;
}

/** The people a target names, in its order, and how it spreads load. */
interface Resolved {
  addresses: string[];
  strategy: Strategy;
  key: string;
}

/** The presence the service address shows. */
const servicePresence = (now: number): SessionPresence => ({
  availability: 'available',
  activity: null,
  status: 'Notifications: reply "ack" or "resolve"',
  priority: 0,
  idleSince: null,
  explicit: false,
  updatedAt: now,
});

/** Least time between two help texts to one person. */
const HELP_INTERVAL_MS = 60_000;

/** What routing sees of someone without a session. */
const OFFLINE = { state: 'offline', availability: null, activity: null } as const;

/** A reply to the service address: the command and the short id it names, if any. */
export function parseReply(body: string): { action: Action; id: number | null } | null {
  const m = /^(ack|acknowledge|resolve|resolved)(?:\s+#?([0-9a-z]{1,10}))?[.!]?$/i.exec(body.trim());
  if (!m) return null;
  const action: Action = m[1]!.toLowerCase().startsWith('ack') ? 'acknowledge' : 'resolve';
  return { action, id: m[2] === undefined ? null : parseId(m[2]) };
}

/** The notification service of one server. */
export class NotifyService {
  private readonly queue = new KeyedQueue();
  private readonly deadlines: Deadlines<number>;
  /** The service address's session per domain (opened on first use). */
  private readonly sessions = new Map<string, Promise<Session>>();
  /** The service addresses (one per hosted domain). */
  readonly services = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** When each person last got the help text (reply()). */
  private readonly helped = new Map<string, number>();
  /** Round robin positions by target key (route()). */
  private readonly cursors = new Map<string, number>();
  /** Per person, notifications route() chose for them whose assignment is not stored yet. */
  private readonly assigning = new Map<string, number>();
  private closing = false;
  private started = false;

  constructor(
    private readonly api: ModuleApi<NotifyOptions>,
    private readonly store: NotifyArea,
    private readonly mail: MailSender | null,
  ) {
    this.deadlines = new Deadlines((id) => this.track(this.queue.run(String(id), () => this.due(id))));
  }

  private get engine() {
    return this.api.engine;
  }

  private get options(): NotifyOptions {
    return this.api.options;
  }

  /** The service address of `domain`. */
  serviceOf(domain: string): string {
    return `${this.options.serviceLocalpart}@${domain}`;
  }

  /** Runs background work, logging a failure; shutdown waits for it. */
  private track(p: Promise<unknown>): void {
    const t = p.catch((e: unknown) => this.api.log.error({ err: e }, 'notification work failed'));
    this.inflight.add(t);
    void t.finally(() => this.inflight.delete(t));
  }

  /**
   * Makes sure the service address of `domain` is an account the module owns: creates it (with a random
   * password nobody knows) the first time, and refuses a same-named account someone else created.
   */
  async ensureServiceAccount(domain: string): Promise<void> {
    const address = this.serviceOf(domain);
    const ours = await this.store.serviceAccounts();
    if (!ours.includes(address)) {
      try {
        await this.engine.admin.addUser(address, randomBytes(32).toString('base64url'), false, null);
      } catch (e) {
        if (isParleyError(e, 'conflict')) {
          throw new ParleyError('conflict', `${address} is an account the notify module did not create; set modules.notify.serviceLocalpart to another name`);
        }
        throw e;
      }
      await this.store.addServiceAccount(address);
    }
    this.services.add(address);
  }

  /**
   * A service account was removed (its domain went, or an administrator removed it): forgotten, so it is created
   * again the next time its domain needs it.
   */
  async forgetService(address: string): Promise<void> {
    if (!this.services.has(address)) return;
    this.services.delete(address);
    this.sessions.delete(domainOf(address));
    await this.store.removeServiceAccount(address);
  }

  /** Service accounts of every hosted domain; run at set-up. */
  async prepare(): Promise<void> {
    for (const d of await this.engine.admin.domains()) await this.ensureServiceAccount(d);
  }

  /** After the engine started: opens the service sessions and schedules the stored deadlines (overdue ones now). */
  async start(): Promise<void> {
    if (this.started || this.closing) return;
    for (const s of this.services) await this.sessionOf(domainOf(s));
    for (const { id, nextAt } of await this.store.scheduled()) this.deadlines.set(id, nextAt);
    // Only now: a start that failed half-way is run again by the worker (setting a deadline twice is harmless).
    this.started = true;
  }

  /** Stops the deadlines and waits for work in hand. */
  async close(): Promise<void> {
    this.closing = true;
    this.deadlines.stop();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.mail?.close();
  }

  /** The service session of `domain`: a session without a connection, kept live so replies are delivered, not queued. */
  private async sessionOf(domain: string): Promise<Session> {
    const cached = this.sessions.get(domain);
    if (cached) {
      const s = await cached;
      if (!s.closed) return s;
      if (this.sessions.get(domain) === cached) this.sessions.delete(domain);
      if (this.closing) throw new ParleyError('service-unavailable', 'the server is shutting down');
      return this.sessionOf(domain);
    }
    let p: Promise<Session> | undefined = undefined;
    p = (async () => {
      const address = this.serviceOf(domain);
      if (!this.services.has(address)) await this.ensureServiceAccount(domain);
      let last = 0;
      const sink = {
        send: (out: Outbound): void => {
          const seq = out.event.seq;
          if (seq !== undefined && seq > last) last = seq;
        },
        close: (code: string): void => {
          if (this.sessions.get(domain) === p) this.sessions.delete(domain);
          // The server is shutting down: no step may run (and open a new session) after the sessions closed.
          if (code === 'shutdown') {
            this.closing = true;
            this.deadlines.stop();
          }
        },
      };
      const open = () => this.engine.openSession(address, 'notify', sink, servicePresence(Date.now()));
      let opened: Awaited<ReturnType<typeof open>>;
      try {
        opened = await open();
      } catch (e) {
        // Removed behind this server's back (the operator CLI): created again.
        if (!isParleyError(e, 'not-authorized')) throw e;
        await this.forgetService(address);
        await this.ensureServiceAccount(domain);
        opened = await open();
      }
      const { session, position } = opened;
      // Whatever waited in the offline queue (replies while the server was starting) was handled when it was
      // recorded: take it and acknowledge it, so the queue stays empty.
      await this.engine.catchUp(session, null, position);
      await this.engine.ack(session, Math.max(last, position));
      return session;
    })();
    this.sessions.set(domain, p);
    p.catch(() => this.sessions.delete(domain));
    return p;
  }

  /** Resolves a target to people (the service addresses never among them); item-not-found when it names nothing. */
  async resolve(t: Target): Promise<Resolved> {
    const key = targetKey(t);
    let addresses: string[];
    let strategy: Strategy;
    switch (t.type) {
      case 'person':
        addresses = [normaliseUser(t.address)];
        strategy = 'ordered';
        break;
      case 'group': {
        const g = (await this.engine.admin.groups()).find((x) => x.name === t.group);
        if (!g) throw new ParleyError('item-not-found', `no group ${t.group}`);
        addresses = g.members;
        strategy = t.strategy ?? this.options.strategy;
        break;
      }
      case 'role': {
        const room = parseBare(t.room);
        const members = await this.engine.rooms.membersOf(room);
        if (members.length === 0) throw new ParleyError('item-not-found', `no room ${room}`);
        const rank = ROOM_ROLES.indexOf(t.role);
        addresses = [];
        for (const m of members) {
          const role = await this.engine.rooms.requireMember(room, m).catch(() => null);
          if (role !== null && ROOM_ROLES.indexOf(role) <= rank) addresses.push(m);
        }
        strategy = t.strategy ?? this.options.strategy;
        break;
      }
      case 'rota': {
        const r = await this.store.rotaGet(t.rota);
        if (!r) throw new ParleyError('item-not-found', `no rota ${t.rota}`);
        addresses = [...r.members.slice(r.current), ...r.members.slice(0, r.current)];
        strategy = 'ordered';
        break;
      }
    }
    addresses = addresses.filter((a) => !this.services.has(a)).slice(0, this.options.limits.maxCandidates);
    return { addresses, strategy, key };
  }

  /** The policy a post names (or the default), as the notification will keep it. */
  private async policyFor(name: string | undefined): Promise<PolicySnapshot> {
    if (name === undefined || (name === 'default' && (await this.store.policyGet('default')) === null)) {
      return { name: 'default', steps: this.options.defaultPolicy.steps, repeats: this.options.defaultPolicy.repeats };
    }
    const p = await this.store.policyGet(name);
    if (!p) throw new ParleyError('item-not-found', `no policy ${name}`);
    return { name: p.name, steps: p.steps, repeats: p.repeats };
  }

  /** Stores a change to a notification (deliveries, escalations, e-mails and their events) through the change gate. */
  private apply(id: number, change: NotificationChange): Promise<Notification> {
    return this.api.change('updated', { actor: null, subject: change.set?.assignee ?? null, data: { id, ...change } }, () => this.store.apply(id, change));
  }

  /**
   * Takes a post: a new notification, routed at once (the reply says to whom), or the open one with the same
   * dedup key, counted (`duplicate`).
   */
  async post(input: PostInput, by: string, startedAt = Date.now()): Promise<{ notification: Notification; duplicate: boolean }> {
    const policy = await this.policyFor(input.policy);
    const target = input.target.type === 'person' ? { ...input.target, address: normaliseUser(input.target.address) } : input.target;
    // Resolved once for the check and the first step.
    const resolved = await this.resolve(target);
    for (const s of policy.steps) if (s.target !== undefined) await this.resolve(s.target);
    const about = {
      actor: by,
      subject: target.type === 'person' ? target.address : null,
      data: { title: input.title, body: input.body, severity: input.severity, link: input.link ?? null, dedupKey: input.dedupKey ?? null, target, policy: policy.name },
    };
    // Journaled (when the archive is on) before it is stored, as every change to a notification is (apply, act).
    const created = await this.api.change('posted', about, () => this.store.create(
      {
        dedupKey: input.dedupKey ?? null,
        title: input.title,
        body: input.body,
        severity: input.severity,
        link: input.link ?? null,
        target,
        policy,
        createdBy: by,
      },
      this.options.limits.maxOpen,
    ));
    if (created.duplicate) return created;
    const n = created.notification;
    const run = this.queue.run(String(n.id), () => (this.closing ? Promise.resolve(n) : this.advance(n, startedAt, resolved)));
    this.track(run);
    return { notification: await run, duplicate: false };
  }

  /** A deadline passed (or a post arrived): runs the next step(s) of the policy. */
  private async due(id: number, startedAt = 0): Promise<Notification | null> {
    if (this.closing) return null;
    const n = await this.store.get(id);
    if (!n || n.state !== 'triggered' || n.nextAt === null) return n;
    if (n.nextAt > Date.now()) {
      this.deadlines.set(id, n.nextAt);
      return n;
    }
    return this.advance(n, startedAt);
  }

  /**
   * Runs the policy from the step after `n.step`: each step notifies one person it has not notified in this
   * cycle; a step that finds nobody gives way to the next at once. After the last step the policy repeats (if
   * someone was notified in the cycle and repeats remain), else the e-mail fallback runs.
   */
  private async advance(n: Notification, startedAt: number, first: Resolved | null = null): Promise<Notification> {
    const { steps, repeats } = n.policy;
    const events: NewEvent[] = [];
    let cycle = n.cycle;
    let step = n.step + 1;
    if (n.step >= 0) events.push({ kind: 'escalated', data: { from: n.assignee, cycle: n.cycle, step: n.step, afterSeconds: steps[n.step]?.delaySeconds ?? null } });
    for (;;) {
      for (; step < steps.length; step++) {
        const s = steps[step]!;
        // A notification just posted has no recipients yet.
        const fresh = n.step < 0 && cycle === 0;
        const tried = new Set(fresh ? [] : await this.store.recipients(n.id, cycle));
        for (;;) {
          const given = fresh && s.target === undefined ? first : null;
          let pick: Awaited<ReturnType<NotifyService['route']>>;
          try {
            pick = await this.route(s.target ?? n.target, n.severity, tried, given);
          } catch (e) {
            // The target went away since the post (a rota or group deleted): this step has nobody.
            if (!(e instanceof ParleyError)) throw e;
            events.push({ kind: 'skipped', data: { cycle, step, reason: 'no-target', message: e.message } });
            break;
          }
          if (pick === null) {
            events.push({ kind: 'skipped', data: { cycle, step, reason: 'nobody-available' } });
            break;
          }
          try {
            const messageId = await this.deliver(n, pick.address, cycle, step, startedAt);
            const nextAt = Date.now() + s.delaySeconds * 1000;
            events.push({ kind: 'delivered', actor: null, data: { to: pick.address, channel: 'im', cycle, step, tier: pick.tier, presence: pick.presence, messageId } });
            const after = await this.apply(n.id, {
              set: { cycle, step, nextAt, assignee: pick.address },
              deliveries: [{ address: pick.address, channel: 'im', cycle, step, messageId }],
              events,
            });
            if (after.state === 'triggered') this.deadlines.set(n.id, nextAt);
            return after;
          } catch (e) {
            // Blocked by the person, or their account went away: the next candidate.
            if (!(e instanceof ParleyError)) throw e;
            events.push({ kind: 'delivery-failed', data: { to: pick.address, cycle, step, error: e.code, message: e.message } });
            tried.add(pick.address);
          } finally {
            this.assigned(pick.address);
          }
        }
      }
      const notified = await this.store.recipients(n.id, cycle);
      if (cycle < repeats && notified.length > 0) {
        cycle++;
        step = 0;
        events.push({ kind: 'repeated', data: { cycle } });
        continue;
      }
      break;
    }
    return this.fallback(n, cycle, events);
  }

  /** The end of the policy with nobody acknowledging: e-mail, and nothing more scheduled. */
  private async fallback(n: Notification, cycle: number, events: NewEvent[]): Promise<Notification> {
    const notified = await this.store.recipients(n.id);
    const why = notified.length > 0 ? 'not-acknowledged' : 'nobody-available';
    const people = notified.length > 0 ? notified : (await this.resolve(n.target).catch(() => ({ addresses: [] as string[] }))).addresses;
    const deliveries: Array<{ address: string; channel: 'email'; cycle: number; step: number; messageId: string | null }> = [];
    const step = n.policy.steps.length;
    if (this.mail === null) {
      events.push({ kind: 'email.skipped', data: { reason: 'no SMTP relay configured (modules.notify.smtp.host)', people } });
    } else {
      const emails = await this.store.emailsOf(people);
      const to = people.map((p) => emails[p] ?? (this.options.email.useAccountAddress ? p : null)).filter((e): e is string => e !== null);
      if (to.length === 0) {
        events.push({ kind: 'email.skipped', data: { reason: 'no e-mail address for anyone', people } });
      } else {
        const from = this.options.smtp.from ?? this.serviceOf(domainOf(people[0]!));
        try {
          const messageId = await this.mail.send({ from, to, subject: mailSubject(n), text: mailText(n, why, notified), headers: mailHeaders(n) });
          for (const p of people) if (emails[p] !== undefined || this.options.email.useAccountAddress) deliveries.push({ address: p, channel: 'email', cycle, step, messageId });
          events.push({ kind: 'email.sent', data: { to, reason: why, messageId } });
        } catch (e) {
          events.push({ kind: 'email.failed', data: { to, reason: why, error: (e as Error).message } });
        }
      }
    }
    events.push({ kind: 'exhausted', data: { cycle, reason: why } });
    return this.apply(n.id, { set: { cycle, step, nextAt: null, exhausted: true }, deliveries, events });
  }

  /** Picks the person for a step, or null (routing.ts). */
  private async route(
    t: Target,
    severity: Severity,
    tried: ReadonlySet<string>,
    resolved: Resolved | null,
  ): Promise<{ address: string; tier: number; presence: Record<string, unknown> } | null> {
    const { addresses, strategy, key } = resolved ?? (await this.resolve(t));
    if (strategy !== 'ordered' && !this.cursors.has(key)) {
      const stored = await this.store.cursor(key);
      if (!this.cursors.has(key)) this.cursors.set(key, stored);
    }
    const open = strategy === 'fewest-open' ? await this.store.openCounts(addresses) : {};
    // Someone without a session is offline: no read of their account's last-seen time is needed for that.
    const presence = await Promise.all(addresses.map((a) => (this.engine.sessions.isOnline(a) ? this.engine.presence.presenceOf(a) : OFFLINE)));
    // From here until the cursor moves nothing is awaited, so notifications routed at the same time take turns;
    // assignments chosen but not stored yet count as open.
    const candidates: Candidate[] = addresses.map((a, i) => ({
      address: a,
      tier: tried.has(a) ? null : tierOf(presence[i]!, severity),
      open: (open[a] ?? 0) + (this.assigning.get(a) ?? 0),
    }));
    const i = choose(candidates, strategy, strategy === 'ordered' ? -1 : this.cursors.get(key)!);
    if (i < 0) return null;
    if (strategy !== 'ordered') {
      // Kept in memory and written behind: the round robin order only needs to survive a restart roughly.
      this.cursors.set(key, i);
      this.track(this.store.setCursor(key, i));
    }
    const address = addresses[i]!;
    this.assigning.set(address, (this.assigning.get(address) ?? 0) + 1);
    const p = presence[i]!;
    return { address, tier: candidates[i]!.tier!, presence: { state: p.state, availability: p.availability, activity: p.activity } };
  }

  /** The assignment route() counted for `address` is stored (or failed). */
  private assigned(address: string): void {
    const n = (this.assigning.get(address) ?? 1) - 1;
    if (n > 0) this.assigning.set(address, n);
    else this.assigning.delete(address);
  }

  /** The IM text of a notification (what XMPP clients show). */
  private imText(n: Notification, escalated: boolean): string {
    const lines = [`[${label(n)}] ${n.title} (#${n.short})`];
    if (escalated) lines.push(`Escalated: ${n.assignee ?? 'nobody'} did not acknowledge it in time.`);
    if (n.body.length > 0) lines.push(n.body);
    if (n.link !== null) lines.push(n.link);
    lines.push(`Reply "ack" to acknowledge or "resolve" to resolve (add "${n.short}" when several are open).`);
    return lines.join('\n');
  }

  /**
   * Sends the IM from the service address through the engine's message path. Its client id,
   * `notify:<id>:<cycle>:<step>:<recipient hash>`, marks it for JSON clients and makes a retry after a crash (the
   * same step to the same person) a resend, which the store answers with the first message instead of a second.
   */
  private async deliver(n: Notification, to: string, cycle: number, step: number, startedAt: number): Promise<string> {
    const session = await this.sessionOf(domainOf(to));
    const who = createHash('sha256').update(to).digest('base64url').slice(0, 8);
    const ack = await this.engine.messages.send(session, parseAddress(to), this.imText(n, n.step >= 0 || cycle > 0), `notify:${n.id}:${cycle}:${step}:${who}`, startedAt);
    return ack.id;
  }

  /** A message to a service address: a reply "ack" or "resolve" (handled outside the message path). */
  onRecorded(r: LogRecord): void {
    if (r.kind !== 'message' || r.type !== 'chat' || r.body === null) return;
    if (!this.services.has(r.to) || this.services.has(r.from)) return;
    this.track(this.reply(r.from, r.to, r.body));
  }

  private async reply(from: string, service: string, body: string): Promise<void> {
    const cmd = parseReply(body);
    const say = (text: string): Promise<unknown> => this.say(service, from, text);
    if (cmd === null) {
      // At most once a minute per person, so an auto-responder and the service cannot keep each other talking.
      const now = Date.now();
      if ((this.helped.get(from) ?? 0) > now - HELP_INTERVAL_MS) return;
      if (this.helped.size >= 10_000) this.helped.clear();
      this.helped.set(from, now);
      await say('Reply "ack" to acknowledge or "resolve" to resolve a notification (add its short id when several are open).');
      return;
    }
    let id = cmd.id;
    if (id === null) {
      const open = (await this.store.openFor(from, 20)).filter((n) => cmd.action === 'resolve' || n.state === 'triggered');
      if (open.length === 0) {
        await say(`Nothing open to ${cmd.action === 'acknowledge' ? 'acknowledge' : 'resolve'}.`);
        return;
      }
      if (open.length > 1) {
        const list = open.map((n) => `#${n.short} ${n.title}`).join('; ');
        await say(`Several notifications are open: ${list}. Reply "${cmd.action === 'acknowledge' ? 'ack' : 'resolve'} <id>", e.g. "${cmd.action === 'acknowledge' ? 'ack' : 'resolve'} ${open[0]!.short}".`);
        return;
      }
      id = open[0]!.id;
    }
    try {
      const { notification, changed } = await this.act(id, from, cmd.action, 'im', false);
      const done = cmd.action === 'acknowledge' ? 'Acknowledged' : 'Resolved';
      await say(changed ? `${done} #${notification.short}: ${notification.title}` : `#${notification.short} is already ${notification.state}.`);
    } catch (e) {
      await say(e instanceof ParleyError ? `Could not ${cmd.action} #${id.toString(36)}: ${e.message}` : 'Something went wrong; try again.');
      if (!(e instanceof ParleyError)) throw e;
    }
  }

  /** A message from the service address (confirmations of replies). */
  private async say(service: string, to: string, text: string): Promise<void> {
    if (this.closing) return;
    const session = await this.sessionOf(domainOf(service));
    await this.engine.messages.send(session, parseAddress(to), text, null, Date.now());
  }

  /**
   * Acknowledges or resolves notification `id` as `user`: someone it was delivered to, or (`admin`) an
   * administrator. forbidden for anyone else; item-not-found for no such notification.
   */
  async act(id: number, user: string, action: Action, via: Acknowledgement['via'], admin: boolean): Promise<{ notification: Notification; changed: boolean }> {
    const run = this.queue.run(String(id), async () => {
      const n = await this.store.get(id);
      if (!n) throw new ParleyError('item-not-found', `no notification ${id}`);
      if (!admin && !(await this.store.isRecipient(id, user))) throw new ParleyError('forbidden', `notification ${id} was not sent to you`);
      const r = await this.api.change(action === 'acknowledge' ? 'acknowledged' : 'resolved', { actor: user, data: { id, via } }, () => this.store.act(id, user, action, via));
      if (r.changed) this.deadlines.cancel(id);
      return r;
    });
    this.track(run);
    return run;
  }

  /** A notification for `user`: one delivered to them, or any for an administrator. */
  async view(id: number, user: string, admin: boolean): Promise<NonNullable<Awaited<ReturnType<NotifyArea['detail']>>>> {
    const d = await this.store.detail(id);
    if (!d) throw new ParleyError('item-not-found', `no notification ${id}`);
    if (!admin && d.notification.createdBy !== user && !d.deliveries.some((x) => x.address === user)) throw new ParleyError('forbidden', `notification ${id} was not sent to you`);
    return d;
  }

  /**
   * What a JSON client shows for a notification (docs/notifications.md#json-clients): its content and state and
   * the actions still open, each with the operation that performs it.
   */
  cardOf(n: Notification): NotificationCard {
    const actions: NotificationCard['actions'] = [];
    if (n.state === 'triggered') actions.push({ action: 'acknowledge', op: 'notify.ack', reply: 'ack' });
    if (n.state !== 'resolved') actions.push({ action: 'resolve', op: 'notify.resolve', reply: 'resolve' });
    return {
      id: n.id,
      short: n.short,
      state: n.state,
      severity: n.severity,
      title: n.title,
      body: n.body,
      link: n.link,
      createdAt: n.createdAt,
      assignee: n.assignee,
      acknowledgedBy: n.acknowledgedBy,
      resolvedBy: n.resolvedBy,
      actions,
    };
  }

  /** The card of notification `id` for `user` (someone it was delivered to, or an administrator). */
  async card(id: number, user: string, admin: boolean): Promise<{ notification: NotificationCard }> {
    const { notification } = await this.view(id, user, admin);
    return { notification: this.cardOf(notification) };
  }

  /** Cards of the open notifications delivered to `user`, newest first. */
  async openCards(user: string): Promise<NotificationCard[]> {
    return (await this.store.openFor(user, this.options.limits.listMax)).map((n) => this.cardOf(n));
  }

  /** Whether `user` is an administrator (they may act on and read any notification). */
  isAdmin(user: string): Promise<boolean> {
    return this.engine.admin.isAdmin(user);
  }

  /** How many deadlines are pending (tests, metrics). */
  get pending(): number {
    return this.deadlines.size;
  }
}
