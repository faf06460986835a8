/**
 * The domain-route registry: which route serves a domain (exact names before predicates, hosted domains never),
 * the `from` check of what a route hands in (RFC 6120 §8.1.2.1, §13.7), conflicts, removal, disco services, and
 * other nodes' routes through stand-ins (a local route serving now first, then the stand-in, then the rest).
 */
import { describe, expect, it } from 'vitest';
import { ParleyError } from '../core/errors.js';
import { domainPart, DomainRoutes, type DomainRoute, type RoutedStanza } from './domain-routes.js';

const HOSTED = new Set(['example.com', 'conference.example.com', 'other.org']);
const sent: RoutedStanza[] = [];
const route = (name: string, r: Partial<DomainRoute> = {}): DomainRoute => ({ name, send: (s) => void sent.push(s), ...r });

describe('domain routes', () => {
  it('an exact domain wins over a predicate; hosted domains are never routed; nobody: null', () => {
    const routes = new DomainRoutes((d) => HOSTED.has(d));
    const components = route('components', { domains: ['sensors.example.com'] });
    const s2s = route('s2s', { accepts: () => true });
    routes.add(s2s);
    routes.add(components);
    expect(routes.routeOf('sensors.example.com')).toBe(components);
    expect(routes.routeOf('Sensors.Example.com')).toBe(components);
    expect(routes.routeOf('jabber.org')).toBe(s2s);
    expect(routes.routeOf('example.com')).toBeNull();
    expect(routes.routeOf('conference.example.com')).toBeNull();
    const none = new DomainRoutes((d) => HOSTED.has(d));
    none.add(route('components', { domains: ['sensors.example.com'] }));
    expect(none.routeOf('jabber.org')).toBeNull();
  });

  it('among predicates the first added that accepts wins', () => {
    const routes = new DomainRoutes(() => false);
    const a = route('a', { accepts: (d) => d.endsWith('.test') });
    const b = route('b', { accepts: () => true });
    routes.add(a);
    routes.add(b);
    expect(routes.routeOf('x.test')).toBe(a);
    expect(routes.routeOf('x.org')).toBe(b);
  });

  it('refuses a domain another route serves or one hosted here, and forgets a removed route', () => {
    const routes = new DomainRoutes((d) => HOSTED.has(d));
    expect(routes.any).toBe(false);
    const remove = routes.add(route('one', { domains: ['svc.example.com'] }));
    expect(routes.any).toBe(true);
    expect(() => routes.add(route('two', { domains: ['svc.example.com'] }))).toThrow(/already routed by one/);
    expect(() => routes.add(route('three', { domains: ['example.com'] }))).toThrow(/hosted here/);
    remove();
    expect(routes.routeOf('svc.example.com')).toBeNull();
    expect(routes.any).toBe(false);
    const two = route('two', { domains: ['svc.example.com'] });
    routes.add(two);
    expect(routes.routeOf('svc.example.com')).toBe(two);
  });

  it('a route may send only from the domains it serves, never from a hosted or another route\'s domain', () => {
    const routes = new DomainRoutes((d) => HOSTED.has(d));
    const components = route('components', { domains: ['sensors.example.com', 'jobs.example.com'] });
    const s2s = route('s2s', { accepts: () => true });
    routes.add(components);
    routes.add(s2s);
    expect(() => routes.checkFrom(components, 'press-7@sensors.example.com/x')).not.toThrow();
    expect(() => routes.checkFrom(components, 'jobs.example.com')).not.toThrow();
    for (const forged of ['alice@example.com', 'example.com', 'room@conference.example.com', 'bob@jabber.org', '']) {
      const e = (() => {
        try {
          routes.checkFrom(components, forged);
          return null;
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(ParleyError);
      expect((e as ParleyError).code).toBe('forbidden');
    }
    // The fallback route speaks for other domains, not for the components' nor the hosted ones.
    expect(() => routes.checkFrom(s2s, 'bob@jabber.org')).not.toThrow();
    expect(() => routes.checkFrom(s2s, 'x@sensors.example.com')).toThrow(/may not send from sensors.example.com/);
    expect(() => routes.checkFrom(s2s, 'alice@example.com')).toThrow(/may not send from example.com/);
  });

  it('lists the services under a domain for disco#items', () => {
    const routes = new DomainRoutes((d) => HOSTED.has(d));
    routes.add(route('components', { domains: ['sensors.example.com', 'bots.other.org'], services: () => [{ jid: 'sensors.example.com' }, { jid: 'bots.other.org' }] }));
    expect(routes.services('example.com')).toEqual([{ jid: 'sensors.example.com' }]);
    expect(routes.services('other.org')).toEqual([{ jid: 'bots.other.org' }]);
  });

  it('another node\'s route wins over a local one that cannot serve now and over predicates, never over a hosted domain', () => {
    const routes = new DomainRoutes((d) => HOSTED.has(d));
    let live = false;
    const here = route('components', { domains: ['sensors.example.com'], serves: () => live });
    const s2s = route('s2s', { accepts: () => true });
    const there = route('node two');
    routes.add(here);
    routes.add(s2s);
    expect(routes.servedHere()).toEqual([]);
    expect(routes.routeOf('sensors.example.com')).toBe(here); // nobody serves it now: the local route refuses
    routes.setElsewhere('sensors.example.com', there);
    routes.setElsewhere('jobs.example.com', there);
    routes.setElsewhere('example.com', there);
    expect(routes.routeOf('sensors.example.com')).toBe(there);
    expect(routes.routeOf('jobs.example.com')).toBe(there);
    expect(routes.routeOf('example.com')).toBeNull();
    expect(routes.services('example.com')).toEqual([{ jid: 'sensors.example.com' }, { jid: 'jobs.example.com' }]);
    live = true;
    expect(routes.routeOf('sensors.example.com')).toBe(here);
    expect(routes.servedHere()).toEqual(['sensors.example.com']);
    expect(routes.localRouteOf('jobs.example.com')).toBeNull();
    routes.setElsewhere('jobs.example.com', null);
    expect(routes.routeOf('jobs.example.com')).toBe(s2s);
  });

  it('takes the domain of bare, full and domain-only addresses', () => {
    expect(domainPart('a@B.example/r@x')).toBe('b.example');
    expect(domainPart('svc.example.com')).toBe('svc.example.com');
    expect(domainPart('svc.example.com/res')).toBe('svc.example.com');
  });
});
