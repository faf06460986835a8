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

const compiled = new WeakMap<NamingPolicy, RegExp | null>();

function regexOf(p: NamingPolicy): RegExp | null {
  let r = compiled.get(p);
  if (r === undefined) {
    r = p.localPattern === null ? null : new RegExp(`^(?:${p.localPattern})$`, 'u');
    compiled.set(p, r);
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
