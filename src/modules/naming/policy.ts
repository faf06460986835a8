/**
 * The naming rules themselves, pure: whether a local part may be created in a domain, and if not, which rule it
 * breaks, in words an administrator or a user can act on.
 */
import { ParleyError } from '../../core/errors.js';
import type { NamingPolicy } from './options.js';

/** Who creates the account: an administrator (the CLI, the HTTP admin API) or the person themself (XEP-0077). */
export type Creator = 'administrator' | 'self';

/** Look-alike characters folded to the letter they stand for, so "b1gmu5cles" reads as "bigmuscles". */
const LOOK_ALIKE: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', $: 's', '!': 'i', '|': 'l' };

/** A local part (or a blocked word) reduced to letters and digits for comparison: lower case, look-alikes folded. */
export function fold(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFKD').toLowerCase()) {
    const c = LOOK_ALIKE[ch] ?? ch;
    if (/[\p{L}\p{N}]/u.test(c)) out += c;
  }
  return out;
}

const compiled = { localPattern: new WeakMap<NamingPolicy, RegExp | null>(), displayNamePattern: new WeakMap<NamingPolicy, RegExp | null>() };

/** The policy's pattern compiled once (anchored, `u` flag), or null when it has none. */
function regexOf(p: NamingPolicy, key: keyof typeof compiled = 'localPattern'): RegExp | null {
  let r = compiled[key].get(p);
  if (r === undefined) {
    const source = p[key];
    r = source === null ? null : new RegExp(`^(?:${source})$`, 'u');
    compiled[key].set(p, r);
  }
  return r;
}

/**
 * Checks `local` (already normalised, RFC 7622) against `policy`; throws policy-violation naming the rule, with
 * details `{rule, domain}` (rule: length, pattern, reserved or blocked).
 */
export function checkLocalPart(local: string, domain: string, policy: NamingPolicy, by: Creator): void {
  const refuse = (rule: string, why: string): never => {
    throw new ParleyError('policy-violation', `${local}@${domain} breaks the naming policy of ${domain}: ${why}`, { rule, domain });
  };
  const n = [...local].length;
  if (n < policy.minLength || n > policy.maxLength) refuse('length', `a name has ${policy.minLength} to ${policy.maxLength} characters`);
  const folded = fold(local);
  for (const word of policy.blocked) {
    const w = fold(word);
    if (w !== '' && folded.includes(w)) refuse('blocked', `it contains the blocked word "${word}"`);
  }
  const r = regexOf(policy);
  if (r !== null && !r.test(local)) refuse('pattern', policy.patternHint === null ? `it must match ${policy.localPattern}` : `names are ${policy.patternHint}`);
  if (by === 'self' && policy.reserved.some((x) => x.toLowerCase() === local.toLowerCase())) {
    refuse('reserved', `"${local}" is reserved; an administrator may create it`);
  }
}

/**
 * Checks a name a person shows others (a vCard's FN or NICKNAME, a PEP nickname) against `policy`: its display-name
 * pattern, and the blocked words, which hold for names as for addresses. Throws policy-violation with details
 * `{rule, domain}` (rule: display-name or blocked).
 */
export function checkDisplayName(name: string, domain: string, policy: NamingPolicy): void {
  const refuse = (rule: string, why: string): never => {
    throw new ParleyError('policy-violation', `the name "${name}" breaks the naming policy of ${domain}: ${why}`, { rule, domain });
  };
  const folded = fold(name);
  for (const word of policy.blocked) {
    const w = fold(word);
    if (w !== '' && folded.includes(w)) refuse('blocked', `it contains the blocked word "${word}"`);
  }
  const r = regexOf(policy, 'displayNamePattern');
  if (r !== null && !r.test(name)) refuse('display-name', policy.displayNameHint === null ? `it must match ${policy.displayNamePattern}` : `names are ${policy.displayNameHint}`);
}
