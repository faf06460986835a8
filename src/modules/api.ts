/**
 * The module API: what a capability folder (src/modules/<name>/) declares and what its setup function gets.
 * Modules are listed in one composition root (src/app/modules.ts); nothing registers itself by being imported.
 *
 * A module declares its options (a zod object under `modules.<name>` in the configuration, validated with the
 * rest at start; `enabled` says whether it runs), its storage (an area of its own in every store, with its own
 * migrations: ports/module-storage.ts) and its CLI commands, and its setup function hooks engine events
 * (engine/events.ts) and adds JSON operations, HTTP routes under its own prefix, XMPP iq handlers and disco
 * features, and consumers of the message log. Modelled on Prosody's module API (hook, add_feature, open_store),
 * ejabberd's gen_mod (options with defaults beside the code) and Fastify's encapsulated plugins (a prefix and
 * hooks of its own).
 *
 * Modules also share typed services with each other (Prosody's module:provides / module:depends): a module
 * that offers one declares its type by augmenting `ModuleServices` and calls `api.provide(name, impl)` in its
 * setup; another obtains it with `api.use(name)` in its own setup, which runs later (MODULES order). A service
 * provided twice, or used when no enabled module provides it, is a start-up error naming the modules.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { LogRecord } from '../core/types.js';
import type { Logger } from '../engine/context.js';
import type { Engine } from '../engine/engine.js';
import type { DomainRoute } from '../engine/domain-routes.js';
import type { EntityItem, EntityPresence, PresenceEntityProvider } from '../engine/entities.js';
import type { RouteHandle } from '../engine/remote-service.js';
import type { ServerIqReply, ServerIqRequest } from '../engine/server-iq.js';
import type { PepAudience, PepItem, PepSource, PepSubscriber } from '../engine/pep.js';
import type { PresenceExtender } from '../engine/presence-service.js';
import type { Change, EventHandler, EventName } from '../engine/events.js';
import type { Session } from '../engine/session.js';
import type { Bus } from '../ports/bus.js';
import type { Store } from '../ports/store.js';
import type { OpDef } from '../protocols/json-ws/ops.js';
import type { AccountNodes, DiscoForm, DiscoIdentity, IqHandler, IqTarget, MessageHandler } from '../protocols/xmpp/c2s/types.js';

/** A module: a capability that plugs into the engine. */
export interface ParleyModule<S extends z.ZodObject = z.ZodObject> {
  /** Its name: the config key (`modules.<name>`), the storage area, the HTTP prefix (`/api/v1/<name>`). */
  readonly name: string;
  /** One line for `parley --help` and the docs. */
  readonly summary: string;
  /** Its options; every key has a default, so an empty section (or none) is valid. Must include `enabled`. */
  readonly options: S;
  /**
   * Top-level keys of its options an administrator may change while the server runs (docs/settings.md; never
   * `enabled`): stored overrides of them win over the configuration file, ModuleApi.options returns the current
   * values and ModuleApi.onOptions tells of a change. A module reads a live key per use, never once into a local.
   */
  readonly live?: readonly string[];
  /** Its own storage area (name = the module's name). */
  readonly storage?: ModuleStorage;
  /** Operator commands: `parley <module name> <command> ...`. They run without a server, on the store. */
  readonly commands?: readonly CliCommand<z.output<S>>[];
  /** Hooks events and adds what the module serves; runs once at start, before any listener opens. */
  setup(api: ModuleApi<z.output<S>>): void | Promise<void>;
  /**
   * The `parley` CLI's changes to accounts, domains and shared groups, heard in the CLI's own process, where no engine runs (so
   * no engine event), with the module's storage open: as the engine's `change.check` gate and `change.failed`
   * notification (engine/events.ts). `check` comes after the CLI's own checks and before the change is stored;
   * throwing refuses the change, nothing is changed and the operator sees the error. `failed` says that a change
   * that passed was not made after all (the store refused it). `ctx.options` are the module's options with the
   * stored live overrides, as the server runs with them.
   */
  operatorChange?(event: OperatorChange, ctx: { options: z.output<S>; store: Store }): Promise<void>;
}

/** A change an operator makes with the CLI (who: `cli:<operating-system user>`), before or after it failed. */
export type OperatorChange = { phase: 'check'; change: Change } | { phase: 'failed'; change: Change; code: string };

/** Declares a module (keeps the option types flowing into setup). */
export function defineModule<S extends z.ZodObject>(m: ParleyModule<S>): ParleyModule<S> {
  return m;
}

/** The storage code of a module for each store adapter (ports/module-storage.ts). */
export interface ModuleStorage {
  /** URL of the file whose export `area` is the SqliteArea (imported on the store's thread). */
  sqlite: string;
  /** The in-memory twin (unit tests, the memory adapter). */
  memory: (ctx: import('../ports/module-storage.js').AreaContext) => unknown;
}

/** One `parley <module> <name>` command. */
export interface CliCommand<O> {
  name: string;
  /** Usage line after `parley <module> <name>`, e.g. `[--from DATE] <query>`. */
  usage: string;
  summary: string;
  /** Runs when `parley <module>` names no command (nothing follows, or an option does): `parley usage --days 7`. */
  default?: boolean;
  run(args: string[], ctx: CliContext<O>): Promise<number>;
}

/** What a CLI command gets. */
export interface CliContext<O> {
  options: O;
  store: Store;
  out(s: string): void;
  err(s: string): void;
  /** Progress of a long command (a line rewritten in place on a terminal, plain lines otherwise). */
  progress(s: string): void;
  /** Who runs the command, as changes record it (`cli:<operating-system user>`). */
  actor: string;
  /**
   * Makes one of the module's changes through the CLI's change gate (src/app/cli-gate.ts), as ModuleApi.change
   * does in the server: the modules that hear of operators' changes (the audit log, the archive) record it before
   * `write` stores it, and hear if it failed. The actor is the operator.
   */
  change<T>(kind: string, about: { subject?: string | null; secretSubject?: boolean; data?: Record<string, unknown> }, write: () => Promise<T>): Promise<T>;
}

/** One HTTP route handler's identity check: the caller's bare address from its bearer token. */
export type Authenticate = (req: FastifyRequest) => Promise<string>;

/** What a module's HTTP plugin gets besides its own Fastify scope (prefix `/api/v1/<name>`). */
export interface HttpContext {
  /** The caller's address, or not-authorized. */
  user: Authenticate;
  /** The caller's address when it is an administrator, or forbidden. */
  admin: Authenticate;
}

/**
 * The services modules provide to each other, by name: a providing module adds its entry by declaration
 * merging, beside its code:
 *
 * ```ts
 * declare module '../api.js' {
 *   interface ModuleServices { apikeys: ApiKeyVerifier }
 * }
 * ```
 *
 * so `api.provide('apikeys', impl)` and `api.use('apikeys')` are both checked against that type.
 */
export interface ModuleServices {}

/** A service's name. */
export type ServiceName = keyof ModuleServices;

/** Options of a log consumer. */
export interface ConsumerOptions {
  /** Most records per call (default 256). */
  batch?: number;
  /**
   * Asked before each pass: false skips what was logged meanwhile without reading it (the work is off, e.g.
   * review with no lexicon and no sampling), moving the position to the end of the log.
   */
  wants?: () => boolean | Promise<boolean>;
  /**
   * Work that may lag behind the log under load (an index, usage figures): between full batches the consumer
   * pauses so live traffic keeps the threads (at most a seventh of them, one batch a second while messages keep
   * arriving), and catches up when the load falls or when more than 100,000 records wait (consumer.ts).
   */
  yieldToTraffic?: boolean;
  /**
   * Work nobody waits on while messages arrive (supervision review): it also starts no batch while records arrive
   * faster than one batch a second, until they slow down or its backlog would take about ten seconds of its
   * batches to clear (consumer.ts). Implies yieldToTraffic.
   */
  waitOutBursts?: boolean;
}

/** What a module's setup function gets. */
export interface ModuleApi<O> {
  readonly name: string;
  /**
   * The module's options as they are now: the configuration file's, with the live keys' stored overrides
   * (docs/settings.md). A getter: read it per use where a key is live.
   */
  readonly options: O;
  /**
   * Tells `fn` when an administrator changed the module's live options (on this node or another, or with the
   * CLI), after `options` returns the new ones; `previous` are those before. For what a module derived from them
   * once (an announced limit, a timer's period).
   */
  onOptions(fn: (next: O, previous: O) => void | Promise<void>): void;
  readonly log: Logger;
  /** The engine facade (the same one the front doors use). */
  readonly engine: Engine;
  /** The message bus port: what crosses sessions, and later processes (in-process today). */
  readonly bus: Bus;
  /** Hooks an engine event; higher priorities run first (engine/events.ts). */
  on<E extends EventName>(event: E, handler: EventHandler<E>, priority?: number): void;
  /** The module's storage area (declared in `storage`). */
  storage<A>(): A;
  /**
   * Follows the message log from where this consumer last stopped (its position is stored under
   * `<module>.<name>`), in seq order, outside the delivery path: work that must not hold up delivery. A
   * batch that throws is retried (with a growing pause) until it succeeds, so a handler must be idempotent.
   */
  consume(name: string, handler: (records: readonly LogRecord[]) => Promise<void>, opts?: ConsumerOptions): void;
  /**
   * Runs `work` when the log grows (coalesced: at most one run at a time, a few per second under load), and when
   * another process wrote to the store; a failing run is retried with a growing pause. For work that keeps its
   * own position in the module's storage, such as an index over the module's own tables. `signal` aborts when
   * the server stops: a run that works in paced batches (TrafficPacer) ends at its next pause.
   */
  follow(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  /** Adds a JSON WebSocket operation (docs/protocol.md documents the core's; the module's README its own). */
  jsonOp(name: string, def: OpDef): void;
  /** Adds HTTP routes inside the module's own scope, under `/api/v1/<name>`. */
  http(plugin: (app: FastifyInstance, ctx: HttpContext) => void | Promise<void>): void;
  /**
   * Handles an XMPP iq payload `<element xmlns=ns>` (get and/or set) for the targets the handler names. With
   * `serves`, the handler takes only the iqs whose target it says it serves, and one other module may handle the
   * same payload for the rest (two PEP services: users' accounts and presence entities).
   */
  xmppIq(ns: string, element: string, handler: IqHandler, serves?: (target: IqTarget) => boolean): void;
  /**
   * Takes XMPP messages to accounts that carry a payload `<element xmlns=ns>` (before they go on as ordinary
   * messages): the handler says whether it consumed one (XEP-0060 §8.6.2: an owner's answer to a subscription
   * request, sent to its own bare address). One module per payload.
   */
  xmppMessage(ns: string, element: string, handler: MessageHandler): void;
  /** Serves the PEP nodes of accounts in disco (XEP-0163 §9): disco#items of an account, disco#info of a node. */
  xmppAccountNodes(nodes: AccountNodes): void;
  /**
   * Announces a feature in disco#info (XEP-0030) of the server, of accounts, of rooms or of the module's presence
   * entities (`entity`: what a bare address registered with presenceEntities answers); the server's caps follow.
   */
  xmppFeature(feature: string, of?: 'server' | 'account' | 'room' | 'entity'): void;
  /**
   * Registers presence entities the module owns (engine/entities.ts): bare addresses that are not accounts (the
   * presentities module's things and processes). Users subscribe to them like to any contact and the engine
   * answers on their behalf (RFC 6121 §3: `subscribed` when `provider.sees` lets the user see the entity, else
   * `unsubscribed`); the entity keeps no roster. A login's catch-up and probes get `provider.presenceOf`.
   */
  presenceEntities(provider: PresenceEntityProvider): void;
  /**
   * Serves domains this server does not host (engine/domain-routes.ts, Prosody's `route/remote`): local users'
   * stanzas to them reach `route.send` with `from` stamped, and what the module receives from that side it hands
   * in through the returned handle, checked (its `from` must be on a domain the route serves, RFC 6120 §13.7) and
   * delivered by the engine. The components module serves its components' domains; federation will be a route
   * that `accepts` any other domain.
   */
  domainRoute(route: DomainRoute): RouteHandle;
  /**
   * Sends an iq from a local account's bare address to an address on a routed domain, with no session behind it
   * (XEP-0357 §7: the user's server publishes to the app server), and resolves with the answer, an error
   * included; rejects with remote-server-not-found (no route), the route's refusal, or remote-server-timeout
   * (engine/server-iq.ts).
   */
  serverIq(request: ServerIqRequest): Promise<ServerIqReply>;
  /**
   * Adds an element to the users' outgoing presence (engine/presence-service.ts PresenceExtender): the XML the
   * function returns travels with each presence a user's resource publishes, from its full address, as if the
   * client had sent it (XEP-0153 §4.3 / XEP-0398: the server adding `vcard-temp:x:update` with the avatar hash).
   */
  presenceExtender(fn: PresenceExtender): void;
  /**
   * Runs the extenders again on `user`'s presence, because what they add for that user changed, and sends the
   * resources whose presence changed (Engine.refreshPresence).
   */
  refreshPresence(user: string): Promise<void>;
  /**
   * Tells the engine that one of the module's entities changed: its presence, who may see it (grants), or that it
   * is gone (null). The engine delivers the presence through the Router to the users whose roster item receives
   * the entity's presence and who may still see it; the others lose their subscription (`unsubscribed`, then
   * unavailable).
   */
  entityPresence(address: string, presence: EntityPresence | null): Promise<void>;
  /**
   * Publishes the new last item of one of an entity's nodes (XEP-0163 PEP): the engine sends it to the watchers'
   * sessions that asked for the node's notifications (Session.interests); `provider.itemOf` must return it from
   * now on, for sessions that become available later (§4.3.1).
   */
  entityItem(address: string, item: EntityItem): Promise<void>;
  /**
   * Publishes (or retracts) an item of one of a user's own nodes (XEP-0163 §4.3): the engine sends it through the
   * Router to the owner's sessions and to the online contacts `audience` lets see it (roster items with
   * subscription from or both), those that asked for the node's notifications (Session.interests), and the node's
   * explicit subscribers (XEP-0060 §6.1), each session once.
   */
  pepNotify(owner: string, item: PepItem, audience: PepAudience, subscribers?: readonly PepSubscriber[]): Promise<void>;
  /**
   * Sends an item to explicit subscribers only (XEP-0060 §6.1.7: the last item to a new subscriber), through the
   * Router, with or without their `+notify` (engine/pep.ts).
   */
  pepToSubscribers(owner: string, item: PepItem, subscribers: readonly PepSubscriber[]): Promise<void>;
  /**
   * Adds a source of last published items (engine/pep.ts): the engine asks it for the items a session is owed
   * when it becomes available or declares new interests (XEP-0163 §4.3.2), and delivers them.
   */
  pepSource(source: PepSource): void;
  /** Adds an identity to the server's disco#info (XEP-0030 §3.1), e.g. `store/file` for XEP-0363; caps follow. */
  xmppIdentity(identity: DiscoIdentity): void;
  /**
   * Adds an XEP-0128 extended form to the server's disco#info (one per FORM_TYPE); caps follow (XEP-0115 §5.4).
   * Returns a function that replaces the form's fields, for a value that follows a live option (files'
   * max-file-size); disco#info and the caps hash follow from the next request on.
   */
  xmppForm(form: DiscoForm): (fields: DiscoForm['fields']) => void;
  /**
   * Reports the module's state on GET /health under `checks.<module name>`: called on every request, so it returns
   * what the module already knows (a dependency's last check), never waits for I/O. A report with a `degraded`
   * string (why part of the service is refused, e.g. a required scanner is down) makes the server's status
   * `degraded` and is listed in its `degraded` reasons; the answer stays 200, since everything else still works.
   */
  health(report: () => Record<string, unknown>): void;
  /**
   * The HTTP listener's base URL (`http(s)://host:port`) once the server listens, null before: for links a module
   * hands out when no public URL is configured.
   */
  httpUrl(): string | null;
  /**
   * Offers a service to the modules set up after this one (ModuleServices names its type). A second provider
   * of one name is a start-up error naming both.
   */
  provide<K extends ServiceName>(service: K, impl: ModuleServices[K]): void;
  /**
   * A service an earlier module provides; a start-up error (service-unavailable, naming the service and this
   * module) when no enabled module set up before this one provides it.
   */
  use<K extends ServiceName>(service: K): ModuleServices[K];
  /** A service an earlier module provides, or undefined when none does: for what a module offers only with it. */
  tryUse<K extends ServiceName>(service: K): ModuleServices[K] | undefined;
  /**
   * Pushes the module's own event `<module name>.<event>` to one session (one that called the module's JSON
   * operation, say), through the engine's Router like every delivery: after the session's catch-up, never to a
   * closed session. Returns false when the session is closed. JSON sessions receive `{ev, data}`; XMPP sessions
   * skip module events. The same `data` object pushed to many sessions (with the same event) is encoded once for
   * all of them, so it must not be changed after it was pushed.
   */
  push(session: Session, event: string, data: Record<string, unknown>): boolean;
  /**
   * Pushes the module's own event `<module name>.<event>` to every session of `user` on every node of the
   * cluster, through the engine's Router and its cluster delivery (Engine.pushToUser): what concerns a person on
   * all their devices (a count that changed), not a node-local loop over this process's sessions. Returns how
   * many sessions of this node received it.
   */
  pushToUser(user: string, event: string, data: Record<string, unknown>): number;
  /**
   * Makes one of the module's own changes through the engine's change gate (engine/events.ts): the gate's
   * handlers (the compliance archive journals it as `<module>.<kind>`) run first and may refuse it, and only then
   * does `write` store it; a write that fails is reported to them (change.failed). Once it is stored, the
   * `module.change` notification follows (the audit trail records it). For records a module keeps
   * that compliance cares about: notifications, deliveries, acknowledgements, escalations. `secretSubject` says
   * the subject is itself a capability (a file's download token): the compliance journal keeps it, the
   * notification marks it so readable trails (the audit log) show only a digest of it.
   */
  change<T>(kind: string, about: { actor?: string | null; subject?: string | null; secretSubject?: boolean; data?: Record<string, unknown> }, write: () => Promise<T>): Promise<T>;
  /**
   * A notice every signed-in person is shown in the web apps (GET /api/v1/web/session `notices`), e.g. the
   * compliance archive's "conversations are recorded": one sentence, in plain words, as long as the module runs.
   */
  userNotice(text: string): void;
  /**
   * Names the roles the module gives `user` (the archive's compliance-officer, supervision-reviewer), for the
   * administration console (GET /api/v1/admin/me `roles`): what to show, never what to allow, since each module's
   * routes check their own roles.
   */
  roles(fn: (user: string) => Promise<string[]>): void;
  /** Runs at shutdown, after the listeners closed and before the store closes. */
  onClose(fn: () => void | Promise<void>): void;
}
