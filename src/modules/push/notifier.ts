/**
 * When and what to publish (XEP-0357 §7): per registration, the messages and subscription requests counted since
 * the user was last live, and at most one publish per `coalesceSeconds` (the first of a burst at once, the rest
 * counted and sent in one publish when the window ends). The app server's answer decides what follows (§8: a
 * node it no longer knows, or a refusal, disables the registration; a timeout is retried once). No I/O of its
 * own: the module gives it the publish and the disable, so the unit tests drive it with a real clock.
 */
import { isParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { ServerIqReply } from '../../engine/server-iq.js';
import type { PushRegistration } from './sqlite.js';
import { errorCondition, type Summary } from './stanzas.js';

/** The app server's errors that end a registration (XEP-0357 §8: the node is gone, or the server refuses us). */
const DISABLING = new Set(['item-not-found', 'forbidden', 'not-authorized']);

/** What the notifier needs from the module. */
export interface NotifierDeps {
  /** Sends the publish for `reg` with `summary`; resolves with the app server's answer, rejects on a timeout. */
  publish(reg: PushRegistration, summary: Summary): Promise<ServerIqReply>;
  /** Removes a registration the app server refused (§8). */
  disable(reg: PushRegistration, condition: string): Promise<void>;
  /** The coalescing window and whether bodies go out, read per use (options may change). */
  settings(): { coalesceMs: number; includeBody: boolean };
  log: Logger;
  now(): number;
}

/** What woke the device: a message (its sender and body) or a subscription request (its sender). */
export type Wake = { kind: 'message'; sender: string; body: string } | { kind: 'subscription'; sender: string };

interface State {
  reg: PushRegistration;
  messages: number;
  subscriptions: number;
  sender: string | null;
  body: string | null;
  /** When the last publish went out (0: never). */
  lastAt: number;
  timer: NodeJS.Timeout | null;
  inFlight: boolean;
  /** Something is counted that no publish has carried yet. */
  due: boolean;
  /** The last publish timed out and its retry is pending. */
  retrying: boolean;
}

const keyOf = (r: { user: string; jid: string; node: string }): string => `${r.user}\n${r.jid}\n${r.node}`;

/** The publish state of every registration that has something to say. */
export class Notifier {
  private readonly states = new Map<string, State>();
  /** Publishes sent and their outcomes (health, tests). */
  readonly counts = { published: 0, failed: 0, disabled: 0, timeouts: 0 };
  private closed = false;

  constructor(private readonly deps: NotifierDeps) {}

  /** Counts what woke the device for `reg` and publishes now or at the end of the window. */
  wake(reg: PushRegistration, what: Wake): void {
    if (this.closed) return;
    const k = keyOf(reg);
    let s = this.states.get(k);
    if (s === undefined) {
      s = { reg, messages: 0, subscriptions: 0, sender: null, body: null, lastAt: 0, timer: null, inFlight: false, due: false, retrying: false };
      this.states.set(k, s);
    }
    s.reg = reg;
    if (what.kind === 'message') {
      s.messages++;
      s.body = what.body;
    } else {
      s.subscriptions++;
    }
    s.sender = what.sender;
    s.due = true;
    this.schedule(s);
  }

  /** The user is live again: counts start over and nothing pending is sent (§7 "since the user was last live"). */
  reset(user: string): void {
    for (const [k, s] of this.states) {
      if (s.reg.user !== user) continue;
      if (s.timer !== null) clearTimeout(s.timer);
      // A publish in flight finishes; its state is dropped, so what follows starts from zero.
      this.states.delete(k);
    }
  }

  /** Forgets registrations (disabled by the client, or the account removed). */
  forget(user: string, jid: string | null = null, node: string | null = null): void {
    for (const [k, s] of this.states) {
      if (s.reg.user !== user || (jid !== null && s.reg.jid !== jid) || (node !== null && s.reg.node !== node)) continue;
      if (s.timer !== null) clearTimeout(s.timer);
      this.states.delete(k);
    }
  }

  /** The counts `reg` would publish now (tests, the README's examples). */
  pendingOf(reg: { user: string; jid: string; node: string }): { messages: number; subscriptions: number } | null {
    const s = this.states.get(keyOf(reg));
    return s === undefined ? null : { messages: s.messages, subscriptions: s.subscriptions };
  }

  /** Stops every timer (shutdown). */
  close(): void {
    this.closed = true;
    for (const s of this.states.values()) if (s.timer !== null) clearTimeout(s.timer);
    this.states.clear();
  }

  private schedule(s: State): void {
    if (s.inFlight || s.timer !== null || !s.due) return;
    const { coalesceMs } = this.deps.settings();
    const wait = s.lastAt === 0 ? 0 : s.lastAt + coalesceMs - this.deps.now();
    if (wait <= 0) {
      void this.publish(s);
      return;
    }
    s.timer = setTimeout(() => {
      s.timer = null;
      if (this.states.get(keyOf(s.reg)) === s) void this.publish(s);
    }, wait);
    s.timer.unref?.();
  }

  private async publish(s: State): Promise<void> {
    const { includeBody, coalesceMs } = this.deps.settings();
    s.inFlight = true;
    s.due = false;
    s.lastAt = this.deps.now();
    const summary: Summary = { messageCount: s.messages, subscriptionCount: s.subscriptions, lastSender: s.sender, lastBody: includeBody ? s.body : null };
    const reg = s.reg;
    try {
      const reply = await this.deps.publish(reg, summary);
      if (reply.type === 'result') {
        this.counts.published++;
        s.retrying = false;
      } else {
        const condition = errorCondition(reply.xml);
        this.counts.failed++;
        if (DISABLING.has(condition)) {
          // §8: the app server no longer takes this node (or refuses us): stop publishing to it.
          this.counts.disabled++;
          this.forget(reg.user, reg.jid, reg.node);
          this.deps.log.warn({ user: reg.user, jid: reg.jid, condition }, 'the push app server refused a publish: the registration is disabled');
          await this.deps.disable(reg, condition);
          return;
        }
        this.deps.log.warn({ user: reg.user, jid: reg.jid, condition }, 'the push app server answered a publish with an error');
      }
    } catch (e) {
      if (isParleyError(e, 'remote-server-timeout')) {
        this.counts.timeouts++;
        if (!s.retrying) {
          // Retried once, after the window: what is counted by then goes with it.
          s.retrying = true;
          s.due = true;
          s.lastAt = Math.max(s.lastAt, this.deps.now() + Math.max(1000, coalesceMs) - coalesceMs);
        } else {
          s.retrying = false;
          this.deps.log.warn({ user: reg.user, jid: reg.jid }, 'the push app server did not answer a publish, nor its retry');
        }
      } else {
        this.counts.failed++;
        this.deps.log.warn({ err: e, user: reg.user, jid: reg.jid }, 'a push publish could not be sent');
      }
    } finally {
      s.inFlight = false;
    }
    if (this.states.get(keyOf(reg)) === s && !this.closed) this.schedule(s);
  }
}
