/**
 * The engine's typed events: what modules hook (src/modules/api.ts). Every event has one payload type, and its
 * handlers run one after another, highest priority first and in registration order among equals, each awaited:
 * the order is part of the contract (a compliance journal at a high priority sees a message before a content
 * filter does).
 *
 * Two kinds. Gates decide: a handler of `message.check` may refuse a message by throwing a ParleyError, and a
 * `message.recorded` handler that fails fails the request (it runs after the durable append and before delivery
 * and the sender's acknowledgement). `change.check` is the gate of every change that is not a message (rooms,
 * membership, invitations, accounts, domains, shared groups, live options): it runs before the change is stored, so a handler
 * that throws (the compliance journal that cannot record it) refuses the change and nothing is changed
 * (EventHub.change).
 * Notifications report what already happened; a failing handler is logged and the rest still run, because the
 * change is made and the caller must not see it fail.
 *
 * Work that must not hold up delivery does not belong here: it follows the log as a consumer (consumers.ts).
 */
import { isParleyError } from '../core/errors.js';
import type { ClientProtocol } from './session.js';
import type { LogRecord, NewRecord, RoomRole, RosterItem, UserPresence } from '../core/types.js';
import type { Logger } from './context.js';

/** A message (or edit, retraction, receipt) before it is stored. */
export interface MessageDraft {
  record: NewRecord;
  /** The sending session's full address. */
  sender: string;
}

/** A session that opened or closed. */
export interface SessionEvent {
  user: string;
  resource: string;
  /** The session's id (unique per server run). */
  id: string;
  /** The front door and transport it speaks through. */
  protocol: ClientProtocol;
}

/** Every engine event and its payload. */
export interface EngineEvents {
  /** Gate, before storage: throw to refuse the message. */
  'message.check': MessageDraft;
  /** Gate, after the durable append and before delivery and acknowledgement: a failure fails the request. */
  'message.recorded': LogRecord;
  /** A stored edit (record.ref names the message), after message.recorded. */
  'message.edited': LogRecord;
  /** A stored retraction, after message.recorded. */
  'message.retracted': LogRecord;
  /** A stored delivery or read receipt, after message.recorded. */
  'message.receipt': LogRecord;
  /** A user's aggregate presence changed (going offline too: state 'offline'); one resource's own state alone is no change. */
  'presence.changed': { user: string; presence: UserPresence };
  'session.opened': SessionEvent;
  'session.closed': SessionEvent;
  /** A roster item was set or (item null) removed by its owner. */
  'roster.changed': { user: string; contact: string; item: RosterItem | null };
  /** A subscription action changed a roster item's state (RFC 6121 §3). */
  'subscription.changed': { user: string; contact: string; action: string; item: RosterItem };
  'room.created': { room: string; owner: string };
  'room.destroyed': { room: string; by: string };
  /**
   * Someone joined, was invited into, left or was removed from a room (role null: no longer a member; `by` the
   * user itself when it left). A removal says the moderator's `reason` when one was given, and `banned` when it was
   * a ban (XEP-0045 §8.2, §9.1).
   */
  'room.membership': { room: string; user: string; role: RoomRole | null; by: string; reason?: string | null; banned?: boolean };
  /** A member's role changed. */
  'room.role': { room: string; user: string; role: RoomRole; by: string };
  /** A user was invited into a members-only or open room (the invitation is stored until the user joins). */
  'room.invited': { room: string; user: string; by: string };
  /** An address or a whole domain was banned from a room (XEP-0045 §9.1, outcast), or (banned false) let in again. */
  'room.banned': { room: string; target: string; by: string; reason: string | null; banned: boolean };
  /** A moderator gave a member voice or took it (XEP-0045 §8.3-8.4: participant or visitor). */
  'room.voice': { room: string; user: string; voice: boolean; by: string };
  /** An owner changed a room's setting (XEP-0045 §10.2: whether it is moderated). */
  'room.configured': { room: string; by: string; moderated: boolean };
  'account.created': { address: string; by: string | null };
  'account.removed': { address: string; by: string | null };
  /**
   * A password or another account property changed: administrator rights given or taken (`admin`, with
   * `admin` saying which), the account disabled (it cannot sign in; its sessions end) or enabled again.
   */
  'account.changed': { address: string; change: 'password' | 'admin' | 'disabled' | 'enabled'; by: string | null; admin?: boolean };
  'domain.added': { domain: string; by: string | null };
  'domain.removed': { domain: string; by: string | null };
  /**
   * Another process (the operator CLI, another Parley server on the same database) changed the store: the
   * engine dropped its caches, and whatever follows the store re-reads it. Noticed within the engine's watch
   * interval (about a second), or at once from the bus.
   */
  'store.changed': Record<string, never>;
  /** A shared group was created, renamed (its display name) or removed (with its memberships). */
  'group.changed': { group: string; change: 'created' | 'renamed' | 'removed'; displayName: string | null; by: string | null };
  /** A user joined (member) or left a shared group (which scopes presence and supervision policies). */
  'group.membership': { group: string; user: string; member: boolean; by: string | null };
  /**
   * A module's own change (a notification posted, escalated, acknowledged; a webhook created), made through
   * ModuleApi.change so it passes the change gate like the core's: `kind` is the module's name for it, and the
   * change is known as `<module>.<kind>`. Emitted once the change is stored, after the gate and the write.
   */
  'module.change': { module: string; kind: string; actor: string | null; subject: string | null; data: Record<string, unknown>; secretSubject?: boolean };
  /**
   * An administrator set or reset live options of a module (docs/settings.md): `keys` are the top-level option
   * keys changed, `by` who changed them (an address, or `cli:<user>` for the `parley` CLI).
   */
  'settings.changed': { module: string; keys: string[]; by: string };
  /**
   * Gate, before a change that is not a message is stored (its type is the notification that follows once it is
   * made): throw to refuse it; nothing has been changed yet.
   */
  'change.check': Change;
  /** A change that passed change.check was not made after all: the store refused it (with `code`). */
  'change.failed': { change: Change; code: string };
  /**
   * Gate, before a user's own profile is stored (a vCard's FN and NICKNAME, XEP-0054; a PEP nickname, XEP-0172):
   * the names the person will show others, so a naming policy can refuse them. Throw to refuse; nothing is stored.
   */
  'profile.check': ProfileCheck;
}

/** The names a user is about to show others, and where they come from. */
export interface ProfileCheck {
  user: string;
  source: 'vcard' | 'nick';
  /** The names set (a vCard's FN and NICKNAME; a PEP nick), trimmed; empty ones are left out. */
  names: string[];
}

/** The changes that are not messages and pass the change.check gate before they are stored. */
export const CHANGES = [
  'room.created',
  'room.destroyed',
  'room.membership',
  'room.role',
  'room.invited',
  'room.banned',
  'room.voice',
  'room.configured',
  'account.created',
  'account.removed',
  'account.changed',
  'domain.added',
  'domain.removed',
  'group.changed',
  'group.membership',
  'module.change',
  'settings.changed',
] as const;

/** The name of such a change. */
export type ChangeName = (typeof CHANGES)[number];

/** One such change: its name as `type`, with the payload of its notification. */
export type Change = { [E in ChangeName]: { type: E } & EngineEvents[E] }[ChangeName];

/** An event name. */
export type EventName = keyof EngineEvents;
/** A handler of one event. */
export type EventHandler<E extends EventName> = (payload: EngineEvents[E]) => void | Promise<void>;

/**
 * Makes a change through the change.check gate: `write` runs only when the gate passed (EventHub.change inside
 * the server; the `parley` CLI brings its own, which asks the modules in its process).
 */
export type ChangeGate = <T>(change: Change, write: () => Promise<T>) => Promise<T>;

/** No gate: where nothing listens (tests of the store functions alone). */
export const ungated: ChangeGate = (_change, write) => write();

/** The events whose handlers may refuse or fail the request (see the header). */
const GATES: ReadonlySet<EventName> = new Set<EventName>(['message.check', 'message.recorded', 'change.check', 'profile.check']);

interface Entry {
  priority: number;
  owner: string;
  fn: (payload: never) => void | Promise<void>;
}

/** The stable code of a failure: a ParleyError's own, internal-server-error for anything else. */
export const failureCode = (e: unknown): string => (isParleyError(e) ? e.code : 'internal-server-error');

/** Holds the handlers of every event and runs them in order. */
export class EventHub {
  private readonly handlers = new Map<EventName, Entry[]>();

  constructor(private readonly log: Logger) {}

  /** Adds a handler; higher priorities run first (default 0). Returns a function that removes it. */
  on<E extends EventName>(event: E, fn: EventHandler<E>, opts: { priority?: number; owner?: string } = {}): () => void {
    const entry: Entry = { priority: opts.priority ?? 0, owner: opts.owner ?? 'core', fn: fn as Entry['fn'] };
    const list = [...(this.handlers.get(event) ?? []), entry];
    // Stable: equal priorities keep registration order.
    list.sort((a, b) => b.priority - a.priority);
    this.handlers.set(event, list);
    return () => {
      const now = (this.handlers.get(event) ?? []).filter((e) => e !== entry);
      if (now.length > 0) this.handlers.set(event, now);
      else this.handlers.delete(event);
    };
  }

  /** True when anything listens (callers skip building a payload otherwise). */
  has(event: EventName): boolean {
    return this.handlers.has(event);
  }

  /**
   * Makes a change that is not a message: the change.check gate first (a handler that throws refuses the change,
   * and `write` never runs), then `write`, the store write that makes it. When the write fails after the gate
   * passed, change.failed tells the handlers (a journal that recorded the change records that it was not made)
   * and the write's error is rethrown. The change's own notification is the caller's, once its caches agree.
   */
  async change<T>(change: Change, write: () => Promise<T>): Promise<T> {
    let passed = 0;
    try {
      for (const h of this.handlers.get('change.check') ?? []) {
        await (h.fn as EventHandler<'change.check'>)(change);
        passed++;
      }
    } catch (e) {
      // A later gate refused what earlier ones passed (a naming policy after the compliance journal): tell them
      // the change was not made, as when the store refuses it.
      if (passed > 0) await this.emit('change.failed', { change, code: failureCode(e) });
      throw e;
    }
    try {
      return await write();
    } catch (e) {
      await this.emit('change.failed', { change, code: failureCode(e) });
      throw e;
    }
  }

  /** Runs the event's handlers in order. Gates rethrow the first failure; notifications log it and go on. */
  async emit<E extends EventName>(event: E, payload: EngineEvents[E]): Promise<void> {
    const list = this.handlers.get(event);
    if (!list) return;
    const gate = GATES.has(event);
    for (const h of list) {
      if (gate) {
        await (h.fn as EventHandler<E>)(payload);
        continue;
      }
      try {
        await (h.fn as EventHandler<E>)(payload);
      } catch (e) {
        this.log.error({ err: e, event, module: h.owner }, 'an event handler failed');
      }
    }
  }
}
