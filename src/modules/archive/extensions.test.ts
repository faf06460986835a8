import { describe, expect, it } from 'vitest';
import { summarizeExtensions } from './extensions.js';

describe('summarizeExtensions', () => {
  it('lists shared links and one note per element', () => {
    const xml =
      '<x xmlns="jabber:x:oob"><url>https://files.a.test/cat.jpg</url></x>' +
      '<reactions xmlns="urn:xmpp:reactions:0" id="m1"><reaction>👍</reaction><reaction>🎉</reaction></reactions>' +
      '<reply xmlns="urn:xmpp:reply:0" id="m0"/><encrypted xmlns="eu.siacs.conversations.axolotl"/><z xmlns="urn:example:z"/>';
    expect(summarizeExtensions(xml)).toEqual({
      links: ['https://files.a.test/cat.jpg'],
      notes: ['link (XEP-0066)', 'reaction to m1: 👍 🎉', 'reply to m0', 'encrypted payload (OMEMO), not readable by the server', '<z xmlns="urn:example:z">'],
    });
  });

  it('is null without extension elements and tolerates text that does not parse', () => {
    expect(summarizeExtensions(null)).toBeNull();
    expect(summarizeExtensions('<broken')).toEqual({ links: [], notes: ['extension elements that do not parse'] });
  });
});
