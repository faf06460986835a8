/**
 * Notifications routed by presence (docs/notifications.md): business systems post a notification for a person,
 * a shared group, the holders of a room role or a rota; the module picks who gets it now from their presence,
 * delivers it as an IM from the domain's service address (notify@<domain>), escalates along a policy when nobody
 * acknowledges, and falls back to e-mail. Everything is kept in the module's own storage area with its history.
 */
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import { op } from '../../protocols/json-ws/ops.js';
import type { Engine } from '../../engine/engine.js';
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { notifyCommands } from './commands.js';
import { smtpSender } from './mail.js';
import { parseId } from './model.js';
import { notifyOptions } from './options.js';
import { notifyRoutes, type ApiKeyCheck } from './routes.js';
import { NotifyService } from './service.js';
import { area, type NotifyArea } from './sqlite.js';

/** A notification named by a JSON client: its id (number) or short id (string). */
const idSchema = z.strictObject({ id: z.union([z.number().int().min(1), z.string().min(1).max(11)]) });

const idOf = (raw: number | string): number => {
  const id = parseId(raw);
  if (id === null) throw new ParleyError('bad-request', 'id: a notification id or short id');
  return id;
};

/** The running service of each engine (tests and the benchmark post through it, as the HTTP route does). */
const running = new WeakMap<Engine, NotifyService>();

/** The notify service running on `engine`, if the module is on. */
export function notifyServiceOf(engine: Engine): NotifyService | undefined {
  return running.get(engine);
}

/** The notify module. */
export const notify = defineModule({
  name: 'notify',
  summary: 'Notifications routed by presence, with escalation and e-mail fallback (docs/notifications.md)',
  options: notifyOptions,
  commands: notifyCommands(),
  storage: sqliteBeside(import.meta.url, area),
  async setup(api) {
    const store = api.storage<NotifyArea>();
    const service = new NotifyService(api, store, smtpSender(api.options.smtp));
    await service.prepare();
    running.set(api.engine, service);
    api.on('domain.added', async (e) => {
      await service.ensureServiceAccount(e.domain);
    });
    api.on('domain.removed', async (e) => {
      await service.forgetService(service.serviceOf(e.domain));
    });
    api.on('account.removed', async (e) => {
      await service.forgetService(e.address);
    });
    // Replies to a service address: a cheap check on every record, the work outside the message path.
    api.on('message.recorded', (r) => service.onRecorded(r));
    // Runs once the engine has started (and is retried until it succeeds): service sessions, stored deadlines.
    api.follow('start', () => service.start());
    api.onClose(() => service.close());

    api.jsonOp('notify.ack', op(idSchema, async ({ session }, p) => service.act(idOf(p.id), session.user, 'acknowledge', 'json', await service.isAdmin(session.user))));
    api.jsonOp('notify.resolve', op(idSchema, async ({ session }, p) => service.act(idOf(p.id), session.user, 'resolve', 'json', await service.isAdmin(session.user))));
    api.jsonOp('notify.get', op(idSchema, async ({ session }, p) => service.card(idOf(p.id), session.user, await service.isAdmin(session.user))));
    api.jsonOp('notify.open', op(z.strictObject({}), async ({ session }) => ({ notifications: await service.openCards(session.user) })));

    // With the apikeys module on (listed before this one), business systems post with a key holding `notify`.
    const keys = api.tryUse('apikeys');
    api.http((app, ctx) => {
      const apiKey: ApiKeyCheck | null =
        keys === undefined
          ? null
          : async (req) => {
              // A user's session token gives keyId null: the routes then ask for an administrator (or the person).
              const p = await keys.authorize(req, 'notify', ctx.user);
              return p.keyId;
            };
      notifyRoutes(app, ctx, service, store, api.options, apiKey);
    });
  },
});

export { NotifyService };
