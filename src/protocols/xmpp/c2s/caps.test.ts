/** XEP-0115 verification (caps.ts): the specification's own examples, and the §5.4 refusals. */
import { describe, expect, it } from 'vitest';
import { el } from '../xml/element.js';
import { notifyNodes, verificationString, verifies } from './caps.js';

const feature = (v: string) => el('feature', { var: v });

describe('entity capabilities', () => {
  it('verifies the simple example of XEP-0115 §5.2', () => {
    const q = el(
      'query',
      { xmlns: 'http://jabber.org/protocol/disco#info' },
      el('identity', { category: 'client', type: 'pc', name: 'Exodus 0.9.1' }),
      feature('http://jabber.org/protocol/disco#info'),
      feature('http://jabber.org/protocol/disco#items'),
      feature('http://jabber.org/protocol/muc'),
      feature('http://jabber.org/protocol/caps'),
    );
    expect(verificationString(q)).toBe('client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<');
    expect(verifies(q, 'QgayPKawpkPSDYmwT/WM94uAlu0=')).toBe(true);
    expect(verifies(q, 'QgayPKawpkPSDYmwT/WM94uAlu1=')).toBe(false);
  });

  it('verifies the complex example of XEP-0115 §5.3 (extended information form)', () => {
    const field = (v: string, ...values: string[]) => el('field', { var: v }, ...values.map((x) => el('value', null, x)));
    const q = el(
      'query',
      { xmlns: 'http://jabber.org/protocol/disco#info' },
      el('identity', { 'xml:lang': 'en', category: 'client', name: 'Psi 0.11', type: 'pc' }),
      el('identity', { 'xml:lang': 'el', category: 'client', name: 'Ψ 0.11', type: 'pc' }),
      feature('http://jabber.org/protocol/disco#info'),
      feature('http://jabber.org/protocol/disco#items'),
      feature('http://jabber.org/protocol/muc'),
      feature('http://jabber.org/protocol/caps'),
      el(
        'x',
        { xmlns: 'jabber:x:data', type: 'result' },
        el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', null, 'urn:xmpp:dataforms:softwareinfo')),
        field('ip_version', 'ipv4', 'ipv6'),
        field('os', 'Mac'),
        field('os_version', '10.5.1'),
        field('software', 'Psi'),
        field('software_version', '0.11'),
      ),
    );
    expect(verifies(q, 'q07IKJEyjvHSyhy//CH0CxmKi8w=')).toBe(true);
  });

  it('refuses duplicate features and identities (§5.4), and reads +notify nodes', () => {
    const dup = el('query', null, el('identity', { category: 'client', type: 'pc' }), feature('a'), feature('a'));
    expect(verificationString(dup)).toBeNull();
    const q = el('query', null, feature('urn:x:0+notify'), feature('urn:y'), feature('+notify'));
    expect([...notifyNodes(q)]).toEqual(['urn:x:0']);
  });
});
