/**
 * Webhooks for presence changes (docs/webhooks.md): an owner's subscription, by a list of addresses, a group or
 * a query, delivered as signed HTTP POSTs (HMAC-SHA256 with a timestamp) to a URL checked against server-side
 * request forgery; one delivery in flight per webhook, in position order, retried with backoff, disabled with a
 * reason after repeated failure, resumed from the stored position after a restart. Uses the `apikeys` and
 * `presentities` services (both listed before this module in src/app/modules.ts).
 */
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { TargetGuard } from './guard.js';
import { webhooksOptions } from './options.js';
import { webhooksRoutes } from './routes.js';
import { WebhookService } from './service.js';
import { area, type WebhooksArea } from './sqlite.js';

/** The webhooks module. */
export const webhooks = defineModule({
  name: 'webhooks',
  summary: 'Signed, retried HTTP deliveries of presence changes to other systems (docs/webhooks.md)',
  options: webhooksOptions,
  // Read per use (a webhook created, an attempt made); the SSRF guard, the HTTP client's limits and the delivery
  // log's size take a restart.
  live: ['maxPerOwner', 'maxConsecutiveFailures', 'retryMinSeconds', 'retryMaxSeconds', 'maxPendingPerWebhook'],
  storage: sqliteBeside(import.meta.url, area),
  async setup(api) {
    const keys = api.use('apikeys');
    const presentities = api.use('presentities');
    const guard = new TargetGuard(api.options);
    const hooks = new WebhookService(api.storage<WebhooksArea>(), presentities, guard, () => api.options, api.log, api.change.bind(api));
    await hooks.start();
    api.http((app, ctx) => webhooksRoutes(app, ctx, { hooks, keys, options: api.options }));
    api.onClose(() => hooks.close());
  },
});

export { WebhookService };
export { TargetGuard } from './guard.js';
export { signatureHeader, verifySignature } from './signature.js';
