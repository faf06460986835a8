/**
 * Presence as a platform (docs/presence.md): presentities are people (their presence comes from the engine),
 * things and processes (stored here, reported by their owners over HTTP with API keys), each with availability,
 * activity, status and typed fields; heartbeats that lapse to `unknown` and temporary states that expire; reads
 * and queries of thousands per call; subscriptions over Server-Sent Events and the JSON WebSocket that start
 * with a snapshot and resume from a position. Who sees what follows rosters and shared groups for people and
 * explicit grants for things and processes.
 */
import { defineModule } from '../api.js';
import { parseInput } from '../input.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { PresentityHub, type Subscription, type SubscriptionOut } from './hub.js';
import { defineBody, updateSchema, type DefineBody, type DeviceDef, type Presentity, type Target, type UpdateBody } from './model.js';
import { presentitiesOps } from './ops.js';
import { presentitiesOptions } from './options.js';
import { presentitiesRoutes } from './routes.js';
import { notifyOp } from './notify-op.js';
import { FIELDS_NODE, pubsubHandler } from './pep.js';
import { area, type PresentitiesArea } from './sqlite.js';
import { xmppFace } from './xmpp.js';

/**
 * What the presentities module provides to modules set up after it (ModuleServices['presentities']): the
 * subscriptions its own streams use, with the same visibility rules (as seen by `viewer`) and the same resume
 * by position.
 */
export interface PresentitiesService {
  /** The last published position. */
  readonly position: number;
  /**
   * Follows `target` as `viewer` sees it: from `since` (the changes after it, from the ring or the stored change
   * log, then the live ones; a snapshot with `reset` when they are no longer all held), or a snapshot when null.
   */
  subscribe(viewer: string, target: Target, since: number | null, out: SubscriptionOut): Promise<Subscription>;
  /** Ends a subscription. */
  unsubscribe(sub: Subscription): void;
  /** Declares (or redefines) a thing or process owned by `owner`, as PUT /things/<address> does. */
  define(owner: string, address: string, def: DefineBody): Promise<DeviceDef>;
  /** The definition of a thing `owner` owns, or null (none, or someone else's). */
  definition(owner: string, address: string): DeviceDef | null;
  /** The things and processes `owner` owns. */
  owned(owner: string): DeviceDef[];
  /** An update from the owner, as POST /things/<address>/presence: checked against the declared field types. */
  report(owner: string, address: string, update: UpdateBody): Promise<Presentity>;
  /** The reporter went away: the thing shows as unknown until its next update. */
  lapse(owner: string, address: string): Promise<void>;
  /** Lets `owner` (only) define things at `domain`, which is not hosted: a component's (XEP-0114, src/modules/components). */
  serveDomain(domain: string, owner: string): void;
}

declare module '../api.js' {
  interface ModuleServices {
    /** Subscriptions to presence changes by position (src/modules/presentities). */
    presentities: PresentitiesService;
  }
}

/** How often the stored change log is pruned. */
const PRUNE_EVERY_MS = 60_000;

/** The presentities module. */
export const presentities = defineModule({
  name: 'presentities',
  summary: 'Presence of people, things and processes for other systems: REST, SSE and JSON subscriptions (docs/presence.md)',
  options: presentitiesOptions,
  storage: sqliteBeside(import.meta.url, area),
  async setup(api) {
    const keys = api.use('apikeys');
    const hub = new PresentityHub(api.engine, api.storage<PresentitiesArea>(), api.log, { ringSize: api.options.ringSize });
    await hub.start();
    api.on('presence.changed', (e) => hub.personChanged(e.presence));
    api.provide('presentities', {
      get position() {
        return hub.position;
      },
      subscribe: (viewer, target, since, out) => hub.subscribe(viewer, target, since, out),
      unsubscribe: (sub) => hub.unsubscribe(sub),
      define: async (owner, address, def) => {
        const { presentity: _, ...d } = await hub.define(owner, address, parseInput(defineBody, def));
        return d;
      },
      definition: (owner, address) => {
        try {
          const { presentity: _, ...d } = hub.definition(owner, address);
          return d;
        } catch {
          return null;
        }
      },
      owned: (owner) => hub.ownedBy(owner).map(({ presentity: _, ...d }) => d),
      report: (owner, address, update) => {
        const { presentity: _, fields } = hub.definition(owner, address);
        return hub.update(owner, address, parseInput(updateSchema(fields), update) as UpdateBody);
      },
      lapse: (owner, address) => hub.lapse(owner, address),
      serveDomain: (domain, owner) => void hub.componentDomains.set(domain, owner),
    });

    const { ops, sessionClosed } = presentitiesOps(hub, (s, ev, data) => api.push(s, ev, data));
    for (const [name, def] of Object.entries(ops)) api.jsonOp(name, def);
    api.on('session.closed', (e) => sessionClosed(e.id));

    api.http((app, ctx) => presentitiesRoutes(app, ctx, { hub, keys, options: api.options }));

    // The XMPP face (xmpp.ts, pep.ts): things and processes as presence entities, their fields as a PEP node.
    const fieldsOf = xmppFace({
      hub,
      log: api.log,
      presenceEntities: (p) => api.presenceEntities(p),
      entityPresence: (a, p) => api.entityPresence(a, p),
      entityItem: (a, i) => api.entityItem(a, i),
    });
    api.xmppIq('http://jabber.org/protocol/pubsub', 'pubsub', pubsubHandler(api.engine, fieldsOf));
    api.jsonOp('presentities.notify', notifyOp);
    for (const f of ['http://jabber.org/protocol/pubsub', 'http://jabber.org/protocol/pubsub#retrieve-items', 'http://jabber.org/protocol/pubsub#last-published', FIELDS_NODE]) {
      api.xmppFeature(f, 'entity');
    }

    const keep = api.options.changeLogKeep;
    const timer = keep > 0
      ? setInterval(() => {
          hub.prune(keep).catch((e: unknown) => api.log.error({ err: e }, 'pruning the change log failed'));
        }, PRUNE_EVERY_MS)
      : null;
    timer?.unref();
    api.onClose(() => {
      if (timer) clearInterval(timer);
      hub.stop();
    });
  },
});

export { PresentityHub };
export type { Subscription, SubscriptionOut } from './hub.js';
export type { DefineBody, DeviceDef, FieldType, FieldValue, Presentity, Target, UpdateBody } from './model.js';
