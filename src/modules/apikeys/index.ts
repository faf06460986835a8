/**
 * Scoped API keys for other systems (docs/presence.md, "API keys"): created for an owner (by an administrator,
 * or by users for themselves), shown once, stored as a SHA-256 digest, revoked at will. Other modules check
 * them through the `apikeys` service this module provides (ModuleServices): who the caller is, whether it holds
 * a route's scope, and the per-caller rate limit.
 */
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { apikeysCommands } from './commands.js';
import { apikeysOptions } from './options.js';
import { apikeysRoutes } from './routes.js';
import { area, type ApiKeysArea } from './sqlite.js';
import { BOT_SCOPE, looksLikeKey } from './token.js';
import { createVerifier, type ApiKeyVerifier } from './verifier.js';

export type { ApiKeyVerifier, Principal } from './verifier.js';
export type { Scope } from './token.js';

declare module '../api.js' {
  interface ModuleServices {
    /** API key verification, scopes and per-caller rate limits (src/modules/apikeys). */
    apikeys: ApiKeyVerifier;
  }
}

/** The credential reference of a key (CredentialVerifier's `ref`): what its sessions are ended by. */
const keyRef = (id: string): string => `apikey:${id}`;

/** The apikeys module. */
export const apikeys = defineModule({
  name: 'apikeys',
  summary: 'Scoped API keys for other systems: create, list, revoke; verified for other modules (docs/presence.md)',
  options: apikeysOptions,
  // Read per request by the routes; the rate limit and the cache period are kept by the verifier and take a restart.
  live: ['usersMayCreate', 'maxKeysPerOwner'],
  storage: sqliteBeside(import.meta.url, area),
  commands: apikeysCommands(),
  setup(api) {
    const store = api.storage<ApiKeysArea>();
    const verifier = createVerifier(store, api.options);
    api.provide('apikeys', verifier);
    // Bots log in with a key of theirs holding the bot scope: the engine asks this verifier (docs/bots.md).
    api.engine.auth.addVerifier({
      kind: 'apiKey',
      recognises: looksLikeKey,
      async verify(token) {
        const p = await verifier.verifyKey(token, BOT_SCOPE);
        return { user: p.owner, ref: keyRef(p.keyId!) };
      },
    });
    const forget = (id: string): void => {
      verifier.forget(id);
      // A revoked key's bot sessions end at once (here; the CLI's revocation stops new logins within cacheSeconds).
      api.engine.endCredentialSessions(keyRef(id), 'the API key was revoked').catch((e: unknown) => api.log.error({ err: e }, 'ending a revoked key\'s sessions failed'));
    };
    api.http((app, ctx) =>
      apikeysRoutes(app, ctx, {
        store,
        engine: api.engine,
        // A getter, so the routes see a change of the live options.
        get options() {
          return api.options;
        },
        forget,
        change: api.change.bind(api),
      }),
    );
  },
});
