/**
 * The federation module's pure rules: RFC 6125 DNS-ID matching (wildcards), XEP-0220 §2.1.2 dialback keys,
 * the outsider policy's decisions (modes, partners, exceptions in order, groups), and the order in which
 * a remote domain's addresses are tried (RFC 6120 §3.2, XEP-0368), and the refusal to start a node of a cluster
 * without a dialback secret shared by every node.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../engine/test-cluster.js';
import { setupModules } from '../testing.js';
import { dialbackKey, verifyDialbackKey } from './dialback.js';
import { federation } from './index.js';
import { certificateNames, dnsIdMatches, dnsNamesOf } from './names.js';
import { domainPolicy, outsiderPolicy } from './options.js';
import { admitsDomain, decide, policyOf } from './policy.js';
import { resolveTargets, type SrvLookup } from './resolver.js';

describe('RFC 6125 DNS-ID matching', () => {
  it('matches exact names without case or a trailing dot', () => {
    expect(dnsIdMatches('Partner.Example', 'partner.example')).toBe(true);
    expect(dnsIdMatches('partner.example.', 'partner.example')).toBe(true);
    expect(dnsIdMatches('partner.example', 'other.example')).toBe(false);
  });

  it('a wildcard is the whole leftmost label and stands for exactly one label (§6.4.3)', () => {
    expect(dnsIdMatches('*.partner.example', 'conference.partner.example')).toBe(true);
    expect(dnsIdMatches('*.partner.example', 'partner.example')).toBe(false);
    expect(dnsIdMatches('*.partner.example', 'a.b.partner.example')).toBe(false);
    expect(dnsIdMatches('f*o.partner.example', 'foo.partner.example')).toBe(false);
    expect(dnsIdMatches('*.*.example', 'a.b.example')).toBe(false);
    expect(dnsIdMatches('*.example', 'partner.example')).toBe(false);
  });

  it('reads DNS names out of a subjectAltName, ignoring other kinds', () => {
    const names = dnsNamesOf('DNS:partner.example, IP Address:127.0.0.1, DNS:*.Partner.Example, email:x@y');
    expect(names).toEqual(['partner.example', '*.partner.example']);
    expect(certificateNames(names, 'conference.partner.example')).toBe(true);
    expect(certificateNames(names, 'evil.example')).toBe(false);
    expect(dnsNamesOf(undefined)).toEqual([]);
  });
});

describe('XEP-0220 dialback keys', () => {
  it('is HMAC-SHA256 keyed with the hex SHA-256 of the secret over "receiving originating id" (§2.1.2)', () => {
    const secret = 's3cr3tf0rd14lb4ck';
    const k = createHash('sha256').update(secret).digest('hex');
    // The XEP's worked example gives SHA256(secret) for this secret.
    expect(k).toBe('a7136eb1f46c9ef18c5e78c36ca257067c69b3d518285f0b18a96c33beae9acc');
    const key = dialbackKey(secret, 'example.net', 'example.com', 'D60000229F');
    expect(key).toBe(createHmac('sha256', k).update('example.net example.com D60000229F').digest('hex'));
    expect(key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('binds the key to the pair, the direction and the stream', () => {
    const key = dialbackKey('secret-one', 'b.example', 'a.example', 'id1');
    expect(verifyDialbackKey('secret-one', 'b.example', 'a.example', 'id1', key)).toBe(true);
    expect(verifyDialbackKey('secret-one', 'b.example', 'a.example', 'id1', key.toUpperCase())).toBe(true);
    expect(verifyDialbackKey('secret-one', 'a.example', 'b.example', 'id1', key)).toBe(false);
    expect(verifyDialbackKey('secret-one', 'b.example', 'a.example', 'id2', key)).toBe(false);
    expect(verifyDialbackKey('secret-two', 'b.example', 'a.example', 'id1', key)).toBe(false);
    expect(verifyDialbackKey('secret-one', 'b.example', 'a.example', 'id1', 'short')).toBe(false);
  });
});

describe('the outsider policy', () => {
  const p = (o: Record<string, unknown>) => domainPolicy.parse(o);

  it('closed refuses everyone, open admits everyone, partners only the listed domains', () => {
    expect(decide(p({}), 'a@here.example', [], 'partner.example')).toEqual({ allowed: false, reason: 'federation is closed for this domain' });
    expect(decide(p({ mode: 'open' }), 'a@here.example', [], 'anyone.example')).toEqual({ allowed: true });
    const partners = p({ mode: 'partners', partners: ['partner.example'] });
    expect(decide(partners, 'a@here.example', [], 'partner.example').allowed).toBe(true);
    expect(decide(partners, 'a@here.example', [], 'other.example')).toEqual({ allowed: false, reason: 'other.example is not a partner of this domain' });
  });

  it('only the trading desk may talk to partner A: restrictToGroups', () => {
    const desk = p({ mode: 'partners', partners: ['a.example'], restrictToGroups: ['trading-desk'] });
    expect(decide(desk, 'trader@here.example', ['trading-desk'], 'a.example').allowed).toBe(true);
    expect(decide(desk, 'clerk@here.example', ['back-office'], 'a.example').allowed).toBe(false);
    // The domain itself (a room, the server) is not a person: the mode alone decides.
    expect(decide(desk, null, [], 'a.example').allowed).toBe(true);
  });

  it('exceptions are checked in order and the first matching one decides, over the mode', () => {
    const pol = p({
      mode: 'partners',
      partners: ['a.example'],
      exceptions: [
        { people: ['intern@here.example'], effect: 'deny' },
        { groups: ['sales'], remoteDomains: ['b.example'], effect: 'allow' },
      ],
    });
    expect(decide(pol, 'intern@here.example', ['sales'], 'a.example').allowed).toBe(false);
    expect(decide(pol, 'seller@here.example', ['sales'], 'b.example').allowed).toBe(true);
    expect(decide(pol, 'seller@here.example', ['sales'], 'c.example').allowed).toBe(false);
    expect(decide(pol, 'other@here.example', [], 'b.example').allowed).toBe(false);
    // A stream from b.example is admitted (an allowing exception names it); from c.example it is not.
    expect(admitsDomain(pol, 'b.example').allowed).toBe(true);
    expect(admitsDomain(pol, 'c.example').allowed).toBe(false);
    expect(admitsDomain(p({}), 'a.example').allowed).toBe(false);
  });

  it('a room domain follows the hosted domain it belongs to, others the default', () => {
    const all = outsiderPolicy.parse({ default: { mode: 'closed' }, domains: { 'here.example': { mode: 'open' } } });
    expect(policyOf(all, 'conference.here.example', 'here.example').mode).toBe('open');
    expect(policyOf(all, 'here.example').mode).toBe('open');
    expect(policyOf(all, 'else.example').mode).toBe('closed');
  });
});

describe('where a remote domain listens', () => {
  const lookup = (records: Record<string, Array<{ name: string; port: number; priority: number; weight: number }>>): SrvLookup => async (name) => {
    const r = records[name];
    if (r === undefined) throw Object.assign(new Error('no record'), { code: 'ENOTFOUND' });
    return r;
  };

  it('a resolve override comes first and alone', async () => {
    const got = await resolveTargets('p.example', { 'p.example': '10.0.0.7:5299' }, { timeoutMs: 100, lookup: lookup({ '_xmpp-server._tcp.p.example': [{ name: 'x.p.example', port: 5269, priority: 0, weight: 0 }] }) });
    expect(got).toEqual([{ host: '10.0.0.7', port: 5299, directTls: false }]);
    expect(await resolveTargets('v6.example', { 'v6.example': '[2001:db8::7]:5269' }, { timeoutMs: 100, lookup: lookup({}) })).toEqual([{ host: '2001:db8::7', port: 5269, directTls: false }]);
  });

  it('SRV records of both services by priority then weight, direct TLS first among equals; "." means no service', async () => {
    const got = await resolveTargets('p.example', {}, {
      timeoutMs: 100,
      lookup: lookup({
        '_xmpps-server._tcp.p.example': [{ name: 'tls.p.example.', port: 5270, priority: 10, weight: 5 }],
        '_xmpp-server._tcp.p.example': [
          { name: 'b.p.example', port: 5269, priority: 20, weight: 0 },
          { name: 'a.p.example', port: 5269, priority: 10, weight: 5 },
          { name: 'c.p.example', port: 5269, priority: 10, weight: 50 },
        ],
      }),
    });
    expect(got.map((t) => `${t.host}:${t.port}:${t.directTls}`)).toEqual(['c.p.example:5269:false', 'tls.p.example:5270:true', 'a.p.example:5269:false', 'b.p.example:5269:false']);
    expect(await resolveTargets('none.example', {}, { timeoutMs: 100, lookup: lookup({ '_xmpp-server._tcp.none.example': [{ name: '.', port: 0, priority: 0, weight: 0 }] }) })).toEqual([]);
  });

  it('without SRV records (or when DNS is too slow) the domain itself on 5269', async () => {
    expect(await resolveTargets('plain.example', {}, { timeoutMs: 100, lookup: lookup({}) })).toEqual([{ host: 'plain.example', port: 5269, directTls: false }]);
    const slow: SrvLookup = () => new Promise(() => undefined);
    const started = Date.now();
    expect(await resolveTargets('slow.example', {}, { timeoutMs: 50, lookup: slow })).toEqual([{ host: 'slow.example', port: 5269, directTls: false }]);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('federation in a cluster', () => {
  it('refuses to start a node without an explicit dialback secret (XEP-0220 keys are checked by any node)', async () => {
    const cluster = new TestCluster(['a@example.com']);
    try {
      const n = await cluster.node();
      expect(n.engine.clustered).toBe(true);
      await expect(setupModules([federation], n, { federation: { enabled: true, listen: { host: '127.0.0.1', port: 0 } } })).rejects.toMatchObject({
        code: 'bad-request',
        message: expect.stringMatching(/dialback\.secret must be set, the same on every node/),
      });
    } finally {
      await cluster.close();
    }
  });
});
