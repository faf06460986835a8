/**
 * Naming policy: every new account's address is checked against its domain's rules before the account is stored:
 * a local-part pattern, length bounds, words no one may use, and names only an administrator may create; and the
 * names a person shows others (a vCard's FN and NICKNAME, a PEP nickname) against the display-name pattern and the
 * blocked words, through the engine's profile.check gate. It
 * hears of every path that creates an account: the HTTP admin API and in-band registration through the engine's
 * change.check gate, and the `parley` CLI through operatorChange. A refusal is policy-violation naming the rule.
 */
import { defineModule } from '../api.js';
import type { Change } from '../../engine/events.js';
import { namingOptions, type NamingPolicy } from './options.js';
import { checkDisplayName, checkLocalPart } from './policy.js';

type Options = ReturnType<typeof namingOptions.parse>;

/** The rules of `domain`: its own, or the default. */
export function policyOf(options: Options, domain: string): NamingPolicy {
  return options.domains[domain] ?? options.default;
}

/** Checks an account creation (other changes pass). Self-registration is `by` the new address itself. */
function check(options: Options, change: Change): void {
  if (change.type !== 'account.created') return;
  const at = change.address.lastIndexOf('@');
  const local = change.address.slice(0, at);
  const domain = change.address.slice(at + 1);
  checkLocalPart(local, domain, policyOf(options, domain), change.by === change.address ? 'self' : 'administrator');
}

/** The naming module. */
export const naming = defineModule({
  name: 'naming',
  summary: 'Naming policy per domain: local-part pattern, length, blocked words and names only administrators may create',
  options: namingOptions,
  // Both read per account creation (api.options is the current value), so a change applies to the next one.
  live: ['default', 'domains'],
  setup(api) {
    api.on('change.check', (c) => check(api.options, c));
    // The names a person shows others (vCard FN and NICKNAME, XEP-0172 nickname) follow the domain's rules too.
    api.on('profile.check', ({ user, names }) => {
      const domain = user.slice(user.lastIndexOf('@') + 1);
      for (const name of names) checkDisplayName(name, domain, policyOf(api.options, domain));
    });
  },
  async operatorChange(event, ctx) {
    if (event.phase === 'check') check(ctx.options, event.change);
  },
});
