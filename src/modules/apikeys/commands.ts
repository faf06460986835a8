/** `parley apikeys ...`: operator commands over the store, without a server. */
import { ParleyError } from '../../core/errors.js';
import { normaliseUser } from '../../engine/admin-service.js';
import type { CliCommand } from '../api.js';
import type { ApiKeysOptions } from './options.js';
import type { ApiKeyInfo, ApiKeysArea } from './sqlite.js';
import { keyData } from './routes.js';
import { newToken, SCOPES, type Scope } from './token.js';

const line = (k: ApiKeyInfo): string =>
  `${k.id}\t${k.owner}\t${k.name}\t${k.scopes.join(',')}\t${k.revokedAt === null ? 'active' : `revoked ${new Date(k.revokedAt).toISOString()}`}\n`;

/** The commands, in the order `parley --help` lists them. */
export function apikeysCommands(): CliCommand<ApiKeysOptions>[] {
  return [
    {
      name: 'create',
      usage: 'OWNER NAME SCOPES',
      summary: `create a key for an account and print its token once (scopes: ${SCOPES.join(', ')})`,
      async run(args, { options, store, out, err, actor, change }) {
        const [ownerArg, name, ...scopes] = args;
        if (ownerArg === undefined || name === undefined || scopes.length === 0) {
          err('usage: parley apikeys create OWNER NAME SCOPE [SCOPE...]\n');
          return 2;
        }
        const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
        if (bad.length > 0) throw new ParleyError('bad-request', `unknown scope ${bad.join(', ')}; scopes are ${SCOPES.join(', ')}`);
        const owner = normaliseUser(ownerArg);
        if (!(await store.accounts.get(owner))) throw new ParleyError('item-not-found', `no account ${owner}`);
        const t = newToken();
        const unique = [...new Set(scopes as Scope[])];
        const key = await change('created', { subject: owner, data: keyData(t.id, name, unique) }, () =>
          store.area<ApiKeysArea>('apikeys').create({ id: t.id, owner, name, scopes: unique, hash: t.hash, createdAt: Date.now(), createdBy: actor, revokedAt: null, revokedBy: null }, options.maxKeysPerOwner),
        );
        out(line(key));
        out(`${t.token}\n`);
        return 0;
      },
    },
    {
      name: 'list',
      usage: '[OWNER]',
      summary: 'list keys (of one owner, or all), without their secrets',
      async run(args, { store, out }) {
        const keys = await store.area<ApiKeysArea>('apikeys').list(args[0] === undefined ? null : normaliseUser(args[0]));
        for (const k of keys) out(line(k));
        return 0;
      },
    },
    {
      name: 'revoke',
      usage: 'KEY-ID',
      summary: 'revoke a key (a running server stops taking it within modules.apikeys.cacheSeconds)',
      async run(args, { store, out, err, actor, change }) {
        const id = args[0];
        if (id === undefined) {
          err('usage: parley apikeys revoke KEY-ID\n');
          return 2;
        }
        const area = store.area<ApiKeysArea>('apikeys');
        const known = await area.get(id);
        if (!known) throw new ParleyError('item-not-found', `no key ${id}`);
        const k = await change('revoked', { subject: known.owner, data: keyData(id, known.name, known.scopes) }, () => area.revoke(id, actor, Date.now()));
        if (!k) throw new ParleyError('item-not-found', `no key ${id}`);
        out(line(k));
        return 0;
      },
    },
  ];
}
