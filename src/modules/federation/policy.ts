/**
 * The outsider policy (the module's README): per hosted domain `closed`, `partners` or `open`, with exceptions
 * for shared groups and people, checked in order (the first that matches decides). Pure decisions over the
 * options; the caller supplies the local user's groups. A room domain (conference.<domain>) follows the policy
 * of the domain it belongs to.
 */
import type { DomainPolicy, OutsiderPolicy } from './options.js';

/** A decision: allowed, or refused with the reason given to the sender and the audit log. */
export type Decision = { allowed: true } | { allowed: false; reason: string };

/** The policy of a local domain, or of the hosted domain a room domain belongs to (`parentOf`). */
export function policyOf(policy: OutsiderPolicy, localDomain: string, hostedParent: string | null = null): DomainPolicy {
  return policy.domains[localDomain] ?? (hostedParent !== null ? policy.domains[hostedParent] : undefined) ?? policy.default;
}

/**
 * Whether streams between `remote` and this local domain may be set up at all: the mode admits the domain, or
 * some allowing exception names it (or names no domain), so that the per-person checks can run on what comes.
 */
export function admitsDomain(p: DomainPolicy, remote: string): Decision {
  if (p.mode === 'open') return { allowed: true };
  if (p.mode === 'partners' && p.partners.includes(remote)) return { allowed: true };
  if (p.exceptions.some((e) => e.effect === 'allow' && (e.remoteDomains.length === 0 || e.remoteDomains.includes(remote)))) return { allowed: true };
  return { allowed: false, reason: p.mode === 'closed' ? 'federation is closed for this domain' : `${remote} is not a partner of this domain` };
}

/**
 * Whether the local `user` (null: the domain itself, a room or the server) may exchange stanzas with `remote`.
 * Exceptions first, in order; then the mode; then `restrictToGroups`.
 */
export function decide(p: DomainPolicy, user: string | null, groups: readonly string[], remote: string): Decision {
  if (user !== null) {
    for (const e of p.exceptions) {
      const covers = e.people.includes(user) || e.groups.some((g) => groups.includes(g));
      if (!covers || (e.remoteDomains.length > 0 && !e.remoteDomains.includes(remote))) continue;
      if (e.effect === 'allow') return { allowed: true };
      return { allowed: false, reason: `${user} may not talk to ${remote} (an exception of the outsider policy)` };
    }
  }
  if (p.mode === 'closed') return { allowed: false, reason: 'federation is closed for this domain' };
  if (p.mode === 'partners' && !p.partners.includes(remote)) return { allowed: false, reason: `${remote} is not a partner of this domain` };
  if (user !== null && p.restrictToGroups.length > 0 && !p.restrictToGroups.some((g) => groups.includes(g))) {
    return { allowed: false, reason: `only members of ${p.restrictToGroups.join(', ')} may talk to other organisations` };
  }
  return { allowed: true };
}
