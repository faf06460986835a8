/**
 * Scoped API keys for other systems (docs/presence.md, "API keys"): created for an owner (by an administrator,
 * or by users for themselves), shown once, stored as a SHA-256 digest, revoked at will. Other modules check
 * them through the `apikeys` service this module provides (ModuleServices): who the caller is, whether it holds
 * a route's scope, and the per-caller rate limit.
 */
import { defineModule } from '../api.js';
import { openSqliteAreaInMemory } from '../sqlite-memory.js';
import { apikeysCommands } from './commands.js';
import { apikeysOptions } from './options.js';
import { apikeysRoutes } from './routes.js';
import { area, type ApiKeysArea } from './sqlite.js';
import { createVerifier, type ApiKeyVerifier } from './verifier.js';

export type { ApiKeyVerifier, Principal } from './verifier.js';
export type { Scope } from './token.js';

declare module '../api.js' {
  interface ModuleServices {
    /** API key verification, scopes and per-caller rate limits (src/modules/apikeys). */
    apikeys: ApiKeyVerifier;
  }
}

/** The apikeys module. */
export const apikeys = defineModule({
  name: 'apikeys',
  summary: 'Scoped API keys for other systems: create, list, revoke; verified for other modules (docs/presence.md)',
  options: apikeysOptions,
  storage: { sqlite: new URL('./sqlite.js', import.meta.url).href, memory: (ctx) => openSqliteAreaInMemory(area, ctx) },
  commands: apikeysCommands(),
  setup(api) {
    const store = api.storage<ApiKeysArea>();
    const verifier = createVerifier(store, api.options);
    api.provide('apikeys', verifier);
    api.http((app, ctx) => apikeysRoutes(app, ctx, { store, engine: api.engine, options: api.options, forget: (id) => verifier.forget(id) }));
  },
});
