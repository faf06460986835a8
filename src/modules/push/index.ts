/**
 * XEP-0357 push notifications: a client registers an app server (its address and a node, §5) and, while its
 * device cannot be reached live, the server publishes a summary to that node (§7) so the app server wakes the
 * device through its vendor's push service. On by default and idle until a client enables push.
 *
 * Registrations are per account and per (app server, node), kept in the module's storage area (they survive
 * restarts), at most `maxRegistrations` per account. What wakes a device: a 1:1 message with a body, and a
 * subscription request, for an account none of whose sessions is connected, or whose registering session
 * hibernates after a dropped connection (XEP-0198 §5) or said it is inactive (XEP-0352 §4). Room messages do not
 * wake it (Parley stores no per-room notification preference a client could set; see the README). Publishes
 * go from the account's bare address through the domain route serving the app server (ModuleApi.serverIq).
 */
import { ParleyError } from '../../core/errors.js';
import type { LogRecord } from '../../core/types.js';
import { domainPart } from '../../engine/domain-routes.js';
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { Notifier, type Wake } from './notifier.js';
import { pushOptions } from './options.js';
import { area, type PushArea, type PushRegistration } from './sqlite.js';
import { NS_PUSH, publishPayload, readDisable, readEnable } from './stanzas.js';

/** Records older than this at consumption are not pushed (a backlog read after a restart is old news). */
const STALE_MS = 10 * 60_000;

/** The push module. */
export const push = defineModule({
  name: 'push',
  summary: 'XEP-0357 push notifications: wake mobile clients through their app servers while they are not connected',
  options: pushOptions,
  storage: sqliteBeside(import.meta.url, area),
  async setup(api) {
    const store = api.storage<PushArea>();
    const engine = api.engine;
    // Registrations of the accounts that have any, in memory: a message for anyone else costs one lookup.
    const regs = new Map<string, PushRegistration[]>();
    for (const user of await store.users()) regs.set(user, await store.list(user));
    const reload = async (user: string): Promise<void> => {
      const list = await store.list(user);
      if (list.length > 0) regs.set(user, list);
      else regs.delete(user);
    };

    const notifier = new Notifier({
      publish: (reg, summary) =>
        api.serverIq({ from: reg.user, to: reg.jid, type: 'set', xml: publishPayload(reg.node, summary, reg.form), timeoutMs: api.options.timeoutSeconds * 1000 }),
      disable: async (reg) => {
        await store.remove(reg.user, reg.jid, reg.node);
        await reload(reg.user);
      },
      settings: () => ({ coalesceMs: api.options.coalesceSeconds * 1000, includeBody: api.options.includeBody }),
      log: api.log,
      now: Date.now,
    });

    /**
     * Whether `reg`'s device is out of reach live: none of the user's sessions is connected (on any node), or the
     * session that registered hibernates or is inactive (this node's sessions; device-states.ts).
     */
    const asleep = (reg: PushRegistration): boolean => {
      if (!engine.isOnline(reg.user)) return true;
      const state = reg.resource === null ? null : engine.devices.ofResource(reg.user, reg.resource);
      return state !== null && state !== 'live';
    };
    const wake = (user: string, what: Wake): void => {
      for (const reg of regs.get(user) ?? []) if (asleep(reg)) notifier.wake(reg, what);
    };

    // §5: enabling and disabling, by the account's own sessions.
    api.xmppIq(NS_PUSH, 'enable', {
      targets: ['self'],
      async set({ session, payload }) {
        const req = readEnable(payload);
        const domain = domainPart(req.jid);
        // Publishes travel through a domain route (a component, or federation): an app server none serves would
        // never hear from us, so the client learns it now.
        if (!engine.isRouted(domain)) throw new ParleyError('remote-server-not-found', `${domain} is not reachable from this server, so no push could reach it`);
        await store.put({ user: session.user, jid: req.jid, node: req.node, form: req.form, resource: session.resource, createdAt: Date.now() }, api.options.maxRegistrations);
        await reload(session.user);
        api.log.info({ user: session.user, jid: req.jid }, 'push enabled');
        return null;
      },
    });
    api.xmppIq(NS_PUSH, 'disable', {
      targets: ['self'],
      async set({ session, payload }) {
        const req = readDisable(payload);
        // §6: disabling what is not registered is no error: the result says it is off.
        const removed = await store.remove(session.user, req.jid, req.node);
        notifier.forget(session.user, req.jid, req.node);
        await reload(session.user);
        if (removed > 0) api.log.info({ user: session.user, jid: req.jid, removed }, 'push disabled');
        return null;
      },
    });
    // §4: the account (the user's bare address) says it supports push.
    api.xmppFeature(NS_PUSH, 'account');

    // §7: what arrives while the device sleeps, read from the log off the delivery path.
    api.consume(
      'wake',
      async (records: readonly LogRecord[]) => {
        const now = Date.now();
        for (const r of records) {
          if (r.kind !== 'message' || r.type !== 'chat' || r.body === null || r.body === '' || r.from === r.to) continue;
          if (!regs.has(r.to) || now - r.ts > STALE_MS) continue;
          wake(r.to, { kind: 'message', sender: r.fromResource === null ? r.from : `${r.from}/${r.fromResource}`, body: r.body });
        }
      },
      { wants: () => regs.size > 0 },
    );
    // A subscription request waiting for the contact's answer (RFC 6121 §3.1.3) wakes the contact's device.
    api.on('subscription.changed', (e) => {
      if (e.action === 'subscribe' && e.item.pendingOut && regs.has(e.contact)) wake(e.contact, { kind: 'subscription', sender: e.user });
    });
    // The user is live again: the counts start over.
    api.on('session.opened', (e) => notifier.reset(e.user));
    engine.devices.onChange((session, state) => {
      if (state === 'live') notifier.reset(session.user);
    });
    api.on('account.removed', async (e) => {
      notifier.forget(e.address);
      await store.drop(e.address);
      regs.delete(e.address);
    });
    api.health(() => ({ accounts: regs.size, ...notifier.counts }));
    api.onClose(() => notifier.close());
  },
});
