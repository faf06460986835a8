/**
 * External components (XEP-0114, the Jabber Component Protocol): other systems connect over TCP to present
 * many things at once. A component is a domain (sensors.example.com) with a shared secret; each presence it
 * sends from `node@domain` updates that thing through the presentities service, which defines it on first
 * sight with the owner, kind, grants and fields configured for the component (docs/presence.md).
 */
import { readFileSync } from 'node:fs';
import { parseBare } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import { defineModule } from '../api.js';
import { startComponentListener } from './listener.js';
import { componentsOptions, type ComponentOptions } from './options.js';
import { ThingReporter } from './reporter.js';
import { domainPart } from '../../engine/domain-routes.js';
import type { Component, ComponentStream } from './stream.js';

/** The components module. */
export const components = defineModule({
  name: 'components',
  summary: 'External components (XEP-0114) presenting many things at once as presentities (docs/presence.md)',
  options: componentsOptions,
  async setup(api) {
    const svc = api.use('presentities');
    const opts = api.options;
    const problems: string[] = [];
    const configured = new Map<string, Component>();
    // The store's list: the engine's directory is loaded only after the modules are set up.
    const hosted = new Set(await api.engine.admin.domains());
    for (const [i, c] of opts.components.entries()) {
      const at = `modules.components.components[${i}] (${c.domain})`;
      const secret = secretOf(c, at, problems);
      // A component's domain is its own: a hosted domain's addresses are accounts, and a component speaking for
      // them could impersonate people. It must hang under a hosted domain so its things' addresses are plainly
      // this server's (and grants by domain read naturally).
      if (hosted.has(c.domain)) problems.push(`${at}: domain is a hosted domain; a component needs a subdomain of its own (e.g. sensors.${c.domain})`);
      else if (!parentHosted(c.domain, (d) => hosted.has(d))) problems.push(`${at}: domain must be a subdomain of a hosted domain`);
      let owner = c.owner;
      try {
        owner = parseBare(c.owner);
        if (!(await api.engine.admin.accountExists(owner))) problems.push(`${at}: owner ${c.owner} is not an account here`);
      } catch {
        problems.push(`${at}: owner ${c.owner} is not a valid address`);
      }
      if (secret === null) continue;
      const options: ComponentOptions = { ...c, owner };
      configured.set(c.domain, { domain: c.domain, secret, reporter: new ThingReporter(svc, options, api.log), live: null });
    }
    if (problems.length > 0) throw new ParleyError('bad-request', `modules.components: ${problems.join('; ')}`);
    for (const c of configured.values()) svc.serveDomain(c.domain, c.reporter.options.owner);

    // XEP-0114: users' stanzas to a component's domain go to its live connection; while it is not connected they
    // bounce with service-unavailable (RFC 6120 §8.3.3.19: the service exists but cannot answer now). In a
    // cluster the component connects to one node: `serves` tells the engine which domains are live here, and the
    // other nodes hand their users' stanzas for it to this one (docs/ARCHITECTURE.md, "The bus and the cluster").
    const liveOf = (to: string): ComponentStream => {
      const d = domainPart(to);
      const live = configured.get(d)?.live ?? null;
      if (live === null) throw new ParleyError('service-unavailable', `the component ${d} is not connected`);
      return live;
    };
    const route = api.domainRoute({
      name: 'components',
      domains: [...configured.keys()],
      serves: (d) => (configured.get(d)?.live ?? null) !== null,
      check: (to) => void liveOf(to),
      send: (s) => liveOf(s.to).sendRouted(s),
      services: () => [...configured.values()].filter((c) => c.live !== null).map((c) => ({ jid: c.domain })),
    });
    const listener = await startComponentListener(opts, configured, { hostsDomain: (d) => api.engine.admin.hostsDomain(d), deliver: (s) => route.deliver(s), log: api.log, liveChanged: () => route.changed() });
    // Until a component connects, nothing vouches for its things' last state (a restart, a crash): unknown.
    for (const c of configured.values()) {
      c.reporter.disconnected().catch((e: unknown) => api.log.warn({ err: e, component: c.domain }, 'marking a component\'s things unknown failed'));
    }
    api.onClose(() => {
      for (const c of configured.values()) c.reporter.close();
      route.remove();
      return listener.close();
    });
  },
});

/** The component's secret (from `secret` or `secretFile`); problems are collected, and never quote it. */
function secretOf(c: ComponentOptions, at: string, problems: string[]): string | null {
  if (c.secret !== undefined) return c.secret;
  try {
    const s = readFileSync(c.secretFile!, 'utf8').trimEnd();
    if (s.length < 16) {
      problems.push(`${at}: the secret in ${c.secretFile} is shorter than 16 characters`);
      return null;
    }
    return s;
  } catch (e) {
    problems.push(`${at}: cannot read secretFile ${c.secretFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    return null;
  }
}

/** Whether some proper suffix of `domain` (sensors.example.com → example.com, com) is hosted. */
function parentHosted(domain: string, hosted: (d: string) => boolean): boolean {
  for (let i = domain.indexOf('.'); i !== -1; i = domain.indexOf('.', i + 1)) if (hosted(domain.slice(i + 1))) return true;
  return false;
}

export type { ComponentsOptions, ComponentOptions } from './options.js';
