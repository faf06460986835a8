/**
 * Runs the configured modules: gives each its ModuleApi, collects what it adds (JSON operations, HTTP routes,
 * XMPP iq handlers and features, log consumers) and hands those to the front doors through the composition
 * root. A module's additions are its own: two modules (or a module and the core) claiming one operation name or
 * iq payload is a start-up error naming both, never a silent override.
 */
import type { FastifyInstance } from 'fastify';
import { ParleyError } from '../core/errors.js';
import type { Logger } from '../engine/context.js';
import type { Engine } from '../engine/engine.js';
import type { ModuleEventName } from '../engine/outbound.js';
import type { Bus } from '../ports/bus.js';
import type { ModuleStorageSpec } from '../ports/module-storage.js';
import type { Store } from '../ports/store.js';
import { OPS, type OpDef } from '../protocols/json-ws/ops.js';
import { IQ_HANDLERS } from '../protocols/xmpp/c2s/iq-handlers.js';
import type { AccountNodes, DiscoForm, DiscoIdentity, IqHandler, IqTarget, MessageHandler, XmppExtensions } from '../protocols/xmpp/c2s/types.js';
import type { HttpContext, ModuleApi, ModuleServices, ParleyModule, ServiceName } from './api.js';
import { follower, recordConsumer, type LogWorker } from './consumer.js';
import { LiveSettings } from './live-settings.js';
import { settingsRoutes } from './settings-routes.js';

/** A module as listed in the composition root, whatever its options type. */
export type AnyModule = ParleyModule;

/** The options section of each module (`modules.<name>`), already validated. */
export type ModuleOptions = Record<string, { enabled: boolean } & Record<string, unknown>>;

/** The modules enabled in the configuration, in the listed order. */
export function enabledModules(modules: readonly AnyModule[], options: ModuleOptions): AnyModule[] {
  return modules.filter((m) => options[m.name]?.enabled === true);
}

/** The storage areas of the enabled modules, for opening the store. */
export function storageSpecs(modules: readonly AnyModule[], options: ModuleOptions): ModuleStorageSpec[] {
  return enabledModules(modules, options)
    .filter((m) => m.storage !== undefined)
    .map((m) => ({ name: m.name, sqlite: m.storage!.sqlite, memory: m.storage!.memory }));
}

/** What the host needs from the composition root. */
export interface HostDeps {
  engine: Engine;
  store: Store;
  bus: Bus;
  log: Logger & { child(b: object): Logger };
}

/** The running modules and what they added. */
export class ModuleHost {
  /** JSON operations added by modules. */
  readonly jsonOps = new Map<string, OpDef>();
  private readonly iq = new Map<string, IqHandler>();
  /** Iq handlers that serve only some targets (xmppIq's `serves`), by payload key, tried before the plain one. */
  private readonly partialIq = new Map<string, Array<{ handler: IqHandler; serves: (t: IqTarget) => boolean; module: string }>>();
  private readonly plainIq = new Map<string, IqHandler>();
  private readonly messages = new Map<string, Map<string, MessageHandler>>();
  private readonly serverFeatures: string[] = [];
  private readonly accountFeatures: string[] = [];
  private readonly roomFeatures: string[] = [];
  private readonly entityFeatures: string[] = [];
  private readonly serverIdentities: DiscoIdentity[] = [];
  private readonly serverForms: DiscoForm[] = [];
  private nodes: AccountNodes | undefined;
  /** Bumped when a module replaces a form's fields (XmppExtensions.generation). */
  private generation = 0;
  /** What the XMPP front door serves on the modules' behalf. */
  readonly xmpp: XmppExtensions = ((host: ModuleHost): XmppExtensions => ({
    iq: this.iq,
    messages: this.messages,
    serverFeatures: this.serverFeatures,
    accountFeatures: this.accountFeatures,
    roomFeatures: this.roomFeatures,
    entityFeatures: this.entityFeatures,
    get accountNodes(): AccountNodes | undefined {
      return host.nodes;
    },
    serverIdentities: this.serverIdentities,
    serverForms: this.serverForms,
    get generation(): number {
      return host.generation;
    },
  }))(this);
  private readonly reports = new Map<string, () => Record<string, unknown>>();
  /** What the modules tell every signed-in person (ModuleApi.userNotice), in set-up order. */
  readonly notices: Array<{ module: string; text: string }> = [];
  /** The modules' role sources (ModuleApi.roles), in set-up order. */
  private readonly roleSources: Array<(user: string) => Promise<string[]>> = [];
  private baseUrl: string | null = null;
  private readonly owners = new Map<string, string>();
  private readonly routes: Array<{ name: string; plugin: (app: FastifyInstance, ctx: HttpContext) => void | Promise<void> }> = [];
  private readonly consumers: LogWorker[] = [];
  private readonly closers: Array<() => void | Promise<void>> = [];
  /** Services modules provide to each other (ModuleServices), by name. */
  private readonly services = new Map<ServiceName, ModuleServices[ServiceName]>();
  private started = false;
  /** Every listed module's options as they are now, with the live ones administrators set (docs/settings.md). */
  readonly settings: LiveSettings;

  private constructor(
    private readonly deps: HostDeps,
    modules: readonly AnyModule[],
    options: ModuleOptions,
  ) {
    this.settings = new LiveSettings(modules, options, { engine: deps.engine, store: deps.store, bus: deps.bus, log: deps.log.child({ component: 'settings' }) });
  }

  /** The roles every module gives `user` (ModuleApi.roles), each once, in set-up order. */
  async rolesOf(user: string): Promise<string[]> {
    const all = await Promise.all(this.roleSources.map((fn) => fn(user)));
    return [...new Set(all.flat())];
  }

  /**
   * Sets up every enabled module, in order, on its configured options merged with the live ones stored (a stored
   * value that no longer validates is logged, shown on /health and ignored).
   */
  static async setup(modules: readonly AnyModule[], options: ModuleOptions, deps: HostDeps): Promise<ModuleHost> {
    const host = new ModuleHost(deps, modules, options);
    await host.settings.load();
    host.settings.listen();
    for (const m of enabledModules(modules, options)) await m.setup(host.api(m));
    // Consumers wake as soon as a record is stored (the lowest priority, so they never delay a gate), and when
    // another process wrote to the store (the engine's watch of the data version, or the bus).
    if (host.consumers.length > 0) {
      const wake = (): void => {
        for (const c of host.consumers) c.wake();
      };
      deps.engine.events.on('message.recorded', wake, { priority: -1_000_000, owner: 'consumers' });
      deps.engine.events.on('store.changed', wake, { owner: 'consumers' });
    }
    return host;
  }

  /** Names of the modules running. */
  get names(): string[] {
    return [...new Set(this.owners.values())];
  }

  private claim(kind: string, key: string, module: string): void {
    const id = `${kind} ${key}`;
    const owner = this.owners.get(id);
    if (owner !== undefined) throw new ParleyError('conflict', `module ${module} adds ${id}, which module ${owner} already added`);
    this.owners.set(id, module);
  }

  private api<O>(m: AnyModule): ModuleApi<O> {
    const { engine, store, bus } = this.deps;
    const log = this.deps.log.child({ module: m.name });
    const name = m.name;
    const settings = this.settings;
    this.owners.set(`module ${name}`, name);
    return {
      name,
      // The module's options type is its schema's output, which the settings merge parses with that schema.
      get options(): O {
        return settings.optionsOf(name) as O;
      },
      onOptions: (fn) => settings.onOptions(name, fn as (next: unknown, previous: unknown) => void | Promise<void>),
      log,
      engine,
      bus,
      on: (event, handler, priority = 0) => {
        engine.events.on(event, handler, { priority, owner: name });
      },
      storage: <A>() => store.area<A>(name),
      consume: (consumer, handler, opts = {}) => {
        this.claim('consumer', `${name}.${consumer}`, name);
        const options = { batch: opts.batch ?? 256, ...(opts.wants ? { wants: opts.wants } : {}), ...(opts.yieldToTraffic === true ? { yieldToTraffic: true } : {}), ...(opts.waitOutBursts === true ? { waitOutBursts: true } : {}) };
        this.consumers.push(recordConsumer(`${name}.${consumer}`, store, handler, options, log));
      },
      follow: (worker, work) => {
        this.claim('consumer', `${name}.${worker}`, name);
        this.consumers.push(follower(`${name}.${worker}`, work, log));
      },
      jsonOp: (op, def) => {
        if (Object.hasOwn(OPS, op)) throw new ParleyError('conflict', `module ${name} adds operation ${op}, which the core has`);
        this.claim('operation', op, name);
        this.jsonOps.set(op, def);
      },
      http: (plugin) => {
        this.routes.push({ name, plugin });
      },
      xmppIq: (ns, element, handler, serves) => {
        const key = `${ns} ${element}`;
        if (IQ_HANDLERS.has(key)) throw new ParleyError('conflict', `module ${name} handles iq ${key}, which the core handles`);
        if (serves === undefined) {
          this.claim('iq', key, name);
          this.plainIq.set(key, handler);
        } else {
          const list = this.partialIq.get(key) ?? [];
          if (list.length > 0) throw new ParleyError('conflict', `module ${name} handles iq ${key} for some targets, as module ${list[0]!.module} already does`);
          list.push({ handler, serves, module: name });
          this.partialIq.set(key, list);
        }
        this.iq.set(key, combineIq(this.partialIq.get(key) ?? [], this.plainIq.get(key)));
      },
      xmppMessage: (ns, element, handler) => {
        const key = `${ns} ${element}`;
        this.claim('message payload', key, name);
        let byName = this.messages.get(ns);
        if (byName === undefined) this.messages.set(ns, (byName = new Map()));
        byName.set(element, handler);
      },
      xmppAccountNodes: (nodes) => {
        this.claim('account nodes', 'pep', name);
        this.nodes = nodes;
      },
      xmppFeature: (feature, of = 'server') => {
        const lists = { server: this.serverFeatures, account: this.accountFeatures, room: this.roomFeatures, entity: this.entityFeatures };
        const list = lists[of];
        if (!list.includes(feature)) list.push(feature);
      },
      xmppIdentity: (identity) => {
        if (!this.serverIdentities.some((i) => i.category === identity.category && i.type === identity.type)) this.serverIdentities.push(identity);
      },
      xmppForm: (form) => {
        this.claim('disco form', form.formType, name);
        this.serverForms.push(form);
        return (fields) => {
          const i = this.serverForms.findIndex((f) => f.formType === form.formType);
          this.serverForms[i] = { formType: form.formType, fields };
          this.generation++;
        };
      },
      health: (report) => {
        this.claim('health', name, name);
        this.reports.set(name, report);
      },
      userNotice: (text) => {
        this.notices.push({ module: name, text });
      },
      roles: (fn) => {
        this.roleSources.push(fn);
      },
      httpUrl: () => this.baseUrl,
      provide: (service, impl) => {
        this.claim('service', service, name);
        this.services.set(service, impl);
      },
      use: <K extends ServiceName>(service: K): ModuleServices[K] => {
        if (!this.services.has(service)) {
          throw new ParleyError('service-unavailable', `module ${name} uses the service ${service}, which no enabled module set up before it provides`);
        }
        return this.services.get(service) as ModuleServices[K];
      },
      tryUse: <K extends ServiceName>(service: K): ModuleServices[K] | undefined => this.services.get(service) as ModuleServices[K] | undefined,
      presenceEntities: (provider) => engine.presenceEntities(provider),
      domainRoute: (route) => engine.domainRoute(route),
      serverIq: (request) => engine.serverIq(request),
      presenceExtender: (fn) => engine.presence.addExtender(fn),
      refreshPresence: (user) => engine.refreshPresence(user),
      entityPresence: (address, presence) => engine.entityChanged(address, presence),
      entityItem: (address, item) => engine.entityItem(address, item),
      pepNotify: (owner, item, audience, subscribers) => engine.pepNotify(owner, item, audience, subscribers),
      pepToSubscribers: (owner, item, subscribers) => engine.pep.toSubscribers(owner, item, subscribers),
      pepSource: (source) => engine.pepSource(source),
      push: (session, event, data) => {
        const ev: ModuleEventName = `${name}.${event}`;
        return engine.pushToSession(session, ev, data);
      },
      pushToUser: (user, event, data) => engine.pushToUser(user, `${name}.${event}`, data),
      change: async (kind, about, write) => {
        const change = { module: name, kind, actor: about.actor ?? null, subject: about.subject ?? null, data: about.data ?? {} };
        const result = await engine.events.change({ type: 'module.change', ...change }, write);
        // The notification that follows a made change, as the core's changes have theirs (the audit trail's).
        await engine.events.emit('module.change', about.secretSubject === true ? { ...change, secretSubject: true } : change);
        return result;
      },
      onClose: (fn) => {
        this.closers.push(fn);
      },
    };
  }

  /**
   * Registers each module's routes in a scope of its own, under `/api/v1/<module>`, and the administrators' live
   * options of every module under `/api/v1/admin/settings`.
   */
  async registerHttp(app: FastifyInstance, ctx: HttpContext): Promise<void> {
    await app.register(async (scope) => settingsRoutes(scope, ctx, this.settings), { prefix: '/api/v1/admin/settings' });
    for (const r of this.routes) {
      await app.register(async (scope) => r.plugin(scope, ctx), { prefix: `/api/v1/${r.name}` });
    }
  }

  /**
   * The modules' own states for GET /health, by module name (a report that throws says so instead), and the
   * reasons some of the service is refused (each report's `degraded`, prefixed with its module's name).
   */
  health(): { checks: Record<string, unknown>; degraded: string[] } {
    const checks: Record<string, unknown> = {};
    const degraded: string[] = [];
    for (const [name, report] of this.reports) {
      try {
        const r = report();
        checks[name] = r;
        if (typeof r.degraded === 'string') degraded.push(`${name}: ${r.degraded}`);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        checks[name] = { error: why };
        degraded.push(`${name}: its health report failed (${why})`);
      }
    }
    const ignored = this.settings.problems();
    if (ignored.length > 0) {
      checks['settings'] = { ignored };
      degraded.push(`settings: stored live options ignored because they do not validate (${ignored.map((i) => `${i.module}.${i.key}`).join(', ')}); the configuration file's values are used`);
    }
    return { checks, degraded };
  }

  /** The HTTP listener is up at `url` (what ModuleApi.httpUrl returns from now on). */
  listening(url: string): void {
    this.baseUrl = url;
  }

  /** Starts the log consumers (after the engine started). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const c of this.consumers) c.start();
  }

  /** Stops consumers and runs the modules' close functions, last set up first. */
  async close(): Promise<void> {
    this.settings.close();
    await Promise.all(this.consumers.map((c) => c.stop()));
    for (const fn of [...this.closers].reverse()) {
      try {
        await fn();
      } catch (e) {
        this.deps.log.error({ err: e }, 'a module failed to close');
      }
    }
  }
}

/**
 * One iq handler from a module's partial one (xmppIq's `serves`) and another module's plain one: the partial one
 * takes the targets it serves, the plain one (or, without it, service-unavailable) the rest.
 */
function combineIq(partial: ReadonlyArray<{ handler: IqHandler; serves: (t: IqTarget) => boolean }>, plain: IqHandler | undefined): IqHandler {
  const [p] = partial;
  if (p === undefined) return plain!;
  const pick = (t: IqTarget): IqHandler | undefined => (p.serves(t) ? p.handler : plain);
  const run = (type: 'get' | 'set'): IqHandler['get'] => async (c) => {
    const h = pick(c.target);
    const fn = h?.[type];
    if (!fn || (h.targets && !h.targets.includes(c.target.kind))) throw new ParleyError('service-unavailable', 'no such service here');
    return fn(c);
  };
  const targets = [...new Set([...(p.handler.targets ?? []), ...(plain?.targets ?? [])])];
  const any = p.handler.targets === undefined || (plain !== undefined && plain.targets === undefined);
  return { get: run('get'), set: run('set'), ...(any ? {} : { targets }) };
}
