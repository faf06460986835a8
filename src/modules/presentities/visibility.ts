/**
 * Who may see what. A person is seen by themselves and by their presence audience: roster contacts with a
 * subscription from them, and shared-group peers (the engine's audienceOf, blocking applied). A thing or
 * process is seen by its owner and by explicit grants only: a user, a shared group the viewer is in, or the
 * viewer's domain. Everything else is invisible: readers get nothing of it, not even that it exists.
 */
import type { DeviceDef } from './model.js';

/** The viewer's identity as the rules need it. */
export interface Viewer {
  address: string;
  domain: string;
  /** The shared groups the viewer is in. */
  groups: ReadonlySet<string>;
}

/** A viewer for `address` in `groups`. */
export function viewer(address: string, groups: Iterable<string>): Viewer {
  return { address, domain: address.slice(address.lastIndexOf('@') + 1), groups: new Set(groups) };
}

/** Whether `v` may see the thing or process `def`. */
export function seesDevice(v: Viewer, def: DeviceDef): boolean {
  if (def.owner === v.address) return true;
  const g = def.grants;
  if (g.users.includes(v.address) || g.domains.includes(v.domain)) return true;
  for (const group of g.groups) if (v.groups.has(group)) return true;
  return false;
}

/** Whether `v` may see the person `person`, whose presence audience is `audience`. */
export function seesPerson(v: Viewer, person: string, audience: ReadonlySet<string>): boolean {
  return person === v.address || audience.has(v.address);
}
