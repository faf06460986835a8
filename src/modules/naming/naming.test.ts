import { describe, expect, it } from 'vitest';
import { isParleyError } from '../../core/errors.js';
import { ModuleHost } from '../host.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { archive } from '../archive/index.js';
import { pep } from '../pep/index.js';
import { vcard } from '../vcard/index.js';
import { naming } from './index.js';
import { namingOptions } from './options.js';
import { checkDisplayName, checkLocalPart, fold } from './policy.js';

const policy = (o: Record<string, unknown> = {}) => namingOptions.parse({ default: o }).default;

/** The rule a refusal names, or null when the name passes. */
function rule(local: string, p = policy(), by: 'administrator' | 'self' = 'self'): string | null {
  try {
    checkLocalPart(local, 'example.com', p, by);
    return null;
  } catch (e) {
    if (!isParleyError(e) || e.code !== 'policy-violation') throw e;
    return String(e.details?.rule);
  }
}

describe('the naming rules', () => {
  it('blocks words whatever the case, separators or look-alike digits', () => {
    const p = policy({ blocked: ['muscles'] });
    expect(fold('B1g.Mu5cles_')).toBe('bigmuscles');
    for (const name of ['bigmuscles', 'big.muscles', 'BIG-MUSCLES', 'b1gmu5cl3s', 'muscles']) expect(rule(name, p, 'administrator')).toBe('blocked');
    expect(rule('mussels', p)).toBeNull();
  });

  it('checks the whole local part against the pattern, and says the rule in words when given', () => {
    const p = policy({ localPattern: '[a-z]+\\.[a-z]+', patternHint: 'first.last in lower case' });
    expect(rule('ada.lovelace', p)).toBeNull();
    expect(rule('ada', p)).toBe('pattern');
    expect(rule('x.ada.lovelace', p)).toBe('pattern'); // anchored: no partial match
    expect(() => checkLocalPart('ada', 'example.com', p, 'self')).toThrow(/names are first\.last in lower case/);
  });

  it('keeps reserved names for administrators, and bounds the length', () => {
    expect(rule('postmaster')).toBe('reserved');
    expect(rule('Admin')).toBe('reserved');
    expect(rule('postmaster', policy(), 'administrator')).toBeNull();
    expect(rule('ab', policy({ minLength: 3 }), 'administrator')).toBe('length');
    expect(rule('a'.repeat(65))).toBe('length');
  });

  it('refuses a pattern that does not compile, or bounds the wrong way round, at start', () => {
    expect(() => namingOptions.parse({ default: { localPattern: '([a-z' } })).toThrow(/not a valid regular expression/);
    expect(() => namingOptions.parse({ domains: { 'example.com': { minLength: 9, maxLength: 3 } } })).toThrow(/Max length\\?" is less than \\?"Min length/);
    // At the field, so the console's Policies form says it there.
    const r = namingOptions.safeParse({ default: { minLength: 9, maxLength: 3 } });
    expect(r.success ? null : r.error.issues.map((i) => i.path.join('.'))).toEqual(['default.maxLength']);
  });
});

describe('the naming module', () => {
  it('refuses new accounts by administrators and by in-band registration, per domain, before they are stored', async () => {
    const { engine, store } = await moduleFixture([naming], {
      options: { naming: { default: { blocked: ['muscles'] }, domains: { 'example.com': { localPattern: '[a-z]+\\.[a-z]+', patternHint: 'first.last' } } } },
    });
    await expect(engine.admin.addUser('bob@example.com', 'pw-long-enough', false, 'root@example.com')).rejects.toMatchObject({ code: 'policy-violation', details: { rule: 'pattern', domain: 'example.com' } });
    expect(await store.accounts.get('bob@example.com')).toBeNull();
    await expect(engine.admin.addUser('bob.jones@example.com', 'pw-long-enough', false, 'root@example.com')).resolves.toBe('bob.jones@example.com');

    await engine.admin.addDomain('other.example', 'root@example.com');
    await expect(engine.auth.register('bigmuscles@other.example', 'pw-long-enough', '192.0.2.1')).rejects.toMatchObject({ code: 'policy-violation', details: { rule: 'blocked' } });
    await expect(engine.auth.register('postmaster@other.example', 'pw-long-enough', '192.0.2.1')).rejects.toMatchObject({ details: { rule: 'reserved' } });
    await expect(engine.admin.addUser('postmaster@other.example', 'pw-long-enough', false, 'root@example.com')).resolves.toBe('postmaster@other.example');
    expect(await store.accounts.get('bigmuscles@other.example')).toBeNull();
  });

  it('tells the gates that passed before it that a refused account was not created (the archive journals the refusal)', async () => {
    const { engine, host } = await moduleFixture([archive, naming], { options: { archive: { enabled: true }, naming: { default: { blocked: ['muscles'] } } } });
    expect(host).toBeInstanceOf(ModuleHost);
    const failed: string[] = [];
    engine.ctx.events.on('change.failed', (f) => void failed.push(`${f.change.type} ${f.code}`), { owner: 'test' });
    await expect(engine.admin.addUser('bigmuscles@example.com', 'pw-long-enough', false, 'root@example.com')).rejects.toMatchObject({ code: 'policy-violation' });
    expect(failed).toEqual(['account.created policy-violation']);
  });

  it('holds the names a person shows others to the display-name rule and the blocked words: vCard FN and NICKNAME, the PEP nickname', async () => {
    const { engine, host } = await moduleFixture([naming, vcard, pep], {
      options: { naming: { domains: { 'example.com': { displayNamePattern: '\\p{Lu}\\p{Ll}+ \\p{Lu}\\p{Ll}+', displayNameHint: 'first and last name, capitalised', blocked: ['muscles'] } } } },
    });
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    const vc = (fn: string, nick = ''): string => `<vCard xmlns='vcard-temp'><FN>${fn}</FN>${nick === '' ? '' : `<NICKNAME>${nick}</NICKNAME>`}</vCard>`;
    // XEP-0054 §3.1: the set is refused with a stanza error and nothing is stored.
    const refused = (await a.iq('set', vc('alice'))).reply;
    expect(refused).toContain('type="error"');
    expect(refused).toContain('names are first and last name, capitalised');
    expect(await engine.profiles.vcard('a@example.com')).toBeNull();
    expect((await a.iq('set', vc('Alice Example'))).reply).toContain('type="result"');
    expect((await a.iq('set', vc('Alice Example', 'Big Muscles'))).reply).toContain('the blocked word');
    expect(await engine.profiles.vcard('a@example.com')).toContain('<FN>Alice Example</FN>');
    // XEP-0172 §4.5: a nickname published over PEP passes the same rule.
    const nick = (n: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item><nick xmlns='http://jabber.org/protocol/nick'>${n}</nick></item></publish></pubsub>`;
    expect((await a.iq('set', nick('al'))).reply).toContain('type="error"');
    expect((await a.iq('set', nick('Alice Example'))).reply).toContain('type="result"');
    a.close();
  });

  it('checks display names without folding away what the pattern says', () => {
    const p = policy({ displayNamePattern: '[A-Z][a-z]+ [A-Z][a-z]+', blocked: ['sexy'] });
    expect(() => checkDisplayName('Ann Lee', 'example.com', p)).not.toThrow();
    expect(() => checkDisplayName('ann lee', 'example.com', p)).toThrow(/must match/);
    expect(() => checkDisplayName('S3xy Lee', 'example.com', p)).toThrow(/blocked word "sexy"/);
    expect(() => checkDisplayName('anything', 'example.com', policy())).not.toThrow();
  });
});
