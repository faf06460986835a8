/** Mentions matching (pure): nicks as words, `@nick`, XEP-0372 references; never the sender, never a part of a word. */
import { describe, expect, it } from 'vitest';
import { mentioned, referencedAddresses, wordsOf } from './mentions.js';

const BOB = 'bob@example.com';
const ANN = 'ann.lee@example.com';
const CAROL = 'carol@example.com';
const MEMBERS = [BOB, ANN, CAROL];

describe('mentions', () => {
  it('matches a member\'s nick as a whole word, with or without @, in any case, beside punctuation', () => {
    expect(mentioned('bob, can you look?', null, CAROL, MEMBERS)).toEqual([BOB]);
    expect(mentioned('ping @Bob', null, CAROL, MEMBERS)).toEqual([BOB]);
    expect(mentioned('thanks BOB.', null, CAROL, MEMBERS)).toEqual([BOB]);
    expect(mentioned('(@ann.lee) and bob: both', null, CAROL, MEMBERS)).toEqual([BOB, ANN]);
    expect(mentioned('mail bob@example.com', null, CAROL, MEMBERS)).toEqual([BOB]);
  });

  it('does not match a nick inside another word, or the sender', () => {
    expect(mentioned('bobby and kebob and bob_x', null, CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('annalee ann', null, CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('carol here', null, CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('', null, CAROL, MEMBERS)).toEqual([]);
    expect(mentioned(null, null, CAROL, MEMBERS)).toEqual([]);
  });

  it('matches XEP-0372 mention references to a member\'s address (xmpp: URI), not other reference types', () => {
    const ref = (type: string, uri: string): string => `<reference xmlns="urn:xmpp:reference:0" begin="0" end="3" type="${type}" uri="${uri}"/>`;
    expect(mentioned('hey you', ref('mention', 'xmpp:bob@example.com'), CAROL, MEMBERS)).toEqual([BOB]);
    expect(mentioned('hey you', ref('mention', 'xmpp:ann.lee@example.com/phone?message'), CAROL, MEMBERS)).toEqual([ANN]);
    expect(mentioned('hey you', ref('data', 'xmpp:bob@example.com'), CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('hey you', ref('mention', 'https://example.com/bob'), CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('hey', ref('mention', 'xmpp:nobody@example.com'), CAROL, MEMBERS)).toEqual([]);
    expect(mentioned('hey', ref('mention', 'xmpp:carol@example.com'), CAROL, MEMBERS)).toEqual([]);
    expect(referencedAddresses(`<reference type='mention' uri='xmpp:a%40b@example.com' xmlns='urn:xmpp:reference:0'/>`)).toEqual(new Set(['a@b@example.com']));
    expect(referencedAddresses('<x xmlns="urn:other"/>')).toEqual(new Set());
  });

  it('splits words on anything but letters, digits and . _ -', () => {
    expect([...wordsOf('Hé, @zoë! a.b-c.')]).toEqual(['hé', 'zoë', 'a.b-c.', 'a.b-c']);
  });
});
