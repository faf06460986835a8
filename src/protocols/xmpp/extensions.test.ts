import { describe, expect, it } from 'vitest';
import { isParleyError } from '../../core/errors.js';
import { checkExtensionXml, extensionsToStore, keptExtensions, liveExtensions, liveOnlyExtensions, storageHint, withExtensions } from './extensions.js';
import { parseFragment } from './xml/fragment.js';

const OOB = '<x xmlns="jabber:x:oob"><url>https://files.a.test/cat.jpg</url></x>';
const REPLY = '<reply xmlns="urn:xmpp:reply:0" to="bob@a.test/phone" id="m1"/>';
const REACTION = '<reactions xmlns="urn:xmpp:reactions:0" id="m1"><reaction>👍</reaction></reactions>';

const message = (inner: string) => parseFragment(`<message xmlns="jabber:client" to="bob@a.test" type="chat">${inner}</message>`);

describe('message extensions', () => {
  it('keeps what Parley does not interpret, each element with its own namespace', () => {
    const m = message(
      `<body>hi</body><active xmlns="http://jabber.org/protocol/chatstates"/>${OOB}<origin-id xmlns="urn:xmpp:sid:0" id="c1"/>` +
        `<stanza-id xmlns="urn:xmpp:sid:0" id="forged" by="bob@a.test"/><store xmlns="urn:xmpp:hints"/>${REPLY}<thread>t1</thread>` +
        `<delay xmlns="urn:xmpp:delay" stamp="2020-01-01T00:00:00Z"/><request xmlns="urn:xmpp:receipts"/>`,
    );
    expect(keptExtensions(m)?.xml).toBe(`${OOB}${REPLY}<thread xmlns="jabber:client">t1</thread><request xmlns="urn:xmpp:receipts"/>`);
    const outer = parseFragment(`<message xmlns="jabber:client" xmlns:p="urn:p"><x xmlns="urn:example:x" p:a="1"/><y xmlns="urn:example:y" xmlns:q="urn:q" q:a="1"/></message>`);
    expect(keptExtensions(outer)?.xml).toBe('<y xmlns="urn:example:y" xmlns:q="urn:q" q:a="1"/>');
    expect(keptExtensions(message('<body>plain</body><origin-id xmlns="urn:xmpp:sid:0" id="c1"/>'))).toBeNull();
  });

  it('stores a body-less message only for a payload worth keeping or a store hint, never against no-store (XEP-0334)', () => {
    expect(extensionsToStore(message(REACTION), false)).toBe(REACTION);
    expect(extensionsToStore(message('<encrypted xmlns="eu.siacs.conversations.axolotl"><payload>AA==</payload></encrypted>'), false)).not.toBeNull();
    expect(extensionsToStore(message('<composing xmlns="http://jabber.org/protocol/chatstates"/>'), false)).toBeNull();
    expect(extensionsToStore(message('<custom xmlns="urn:example:x"/>'), false)).toBeNull();
    expect(extensionsToStore(message('<custom xmlns="urn:example:x"/><store xmlns="urn:xmpp:hints"/>'), false)).toBe('<custom xmlns="urn:example:x"/>');
    expect(extensionsToStore(message(`${REACTION}<no-store xmlns="urn:xmpp:hints"/>`), false)).toBeNull();
    expect(extensionsToStore(message(`${REACTION}<store xmlns="urn:xmpp:hints"/><no-permanent-store xmlns="urn:xmpp:hints"/>`), false)).toBeNull();
    // With a body, whatever is kept goes with it.
    expect(extensionsToStore(message(`<body>x</body><custom xmlns="urn:example:x"/>`), true)).toBe('<custom xmlns="urn:example:x"/>');
    expect(storageHint(message('<body>x</body>'))).toBeNull();
  });

  it('delivers a body-less payload with a no-store hint live only, and keeps a private message\'s receipts and corrections', () => {
    expect(liveOnlyExtensions(message(`${REACTION}<no-store xmlns="urn:xmpp:hints"/>`))).toBe(REACTION);
    expect(liveOnlyExtensions(message(`${REACTION}<no-permanent-store xmlns="urn:xmpp:hints"/>`))).toBe(REACTION);
    expect(liveOnlyExtensions(message(REACTION))).toBeNull(); // stored instead
    expect(liveOnlyExtensions(message('<composing xmlns="http://jabber.org/protocol/chatstates"/><no-store xmlns="urn:xmpp:hints"/>'))).toBeNull();
    // A message never stored carries on what only records would have taken; never the server's own elements.
    const pm = message(
      `<body>x</body><received xmlns="urn:xmpp:receipts" id="m1"/><replace xmlns="urn:xmpp:message-correct:0" id="m0"/>${OOB}` +
        `<x xmlns="http://jabber.org/protocol/muc#user"/><private xmlns="urn:xmpp:carbons:2"/><stanza-id xmlns="urn:xmpp:sid:0" id="f" by="b@a.test"/>` +
        `<active xmlns="http://jabber.org/protocol/chatstates"/><no-store xmlns="urn:xmpp:hints"/>`,
    );
    expect(liveExtensions(pm)).toBe(`<received xmlns="urn:xmpp:receipts" id="m1"/><replace xmlns="urn:xmpp:message-correct:0" id="m0"/>${OOB}`);
    expect(liveExtensions(message('<body>x</body>'))).toBeNull();
  });

  it('checks a client text with the stream parser and returns it canonical', () => {
    expect(checkExtensionXml(` <x xmlns='jabber:x:oob'><url>https://a.test/f?a=1&amp;b=2</url></x>\n${REACTION} `)).toBe(
      `<x xmlns="jabber:x:oob"><url>https://a.test/f?a=1&amp;b=2</url></x>${REACTION}`,
    );
    // Prefixed names come out in the default namespace; declarations of prefixes stay (attributes may use them).
    expect(checkExtensionXml('<o:x xmlns:o="jabber:x:oob"><o:url>u</o:url></o:x>')).toBe('<x xmlns="jabber:x:oob" xmlns:o="jabber:x:oob"><url>u</url></x>');
  });

  it.each([
    ['not well-formed', '<x xmlns="jabber:x:oob"><url>u</x>'],
    ['a comment', '<!-- hi --><x xmlns="jabber:x:oob"/>'],
    ['a processing instruction', '<?pi x?><x xmlns="jabber:x:oob"/>'],
    ['a DTD', '<!DOCTYPE x><x xmlns="jabber:x:oob"/>'],
    ['an undefined entity', '<x xmlns="jabber:x:oob">&foo;</x>'],
    ['text between elements', 'hello <x xmlns="jabber:x:oob"/>'],
    ['nothing', '   '],
    ['a body', '<body>sneaky</body>'],
    ['a forged stanza-id', '<stanza-id xmlns="urn:xmpp:sid:0" id="1" by="a.test"/>'],
    ['an attribute prefix declared outside the element', '<x xmlns="urn:example:x" stream:y="1"/>'],
    ['a closing tag that escapes the message', '</message><message to="eve@a.test">'],
  ])('refuses %s as bad-request', (_what, text) => {
    let err: unknown;
    try {
      checkExtensionXml(text);
    } catch (e) {
      err = e;
    }
    expect(isParleyError(err, 'bad-request')).toBe(true);
  });

  it('refuses a text past the limit as message-too-large', () => {
    expect(() => checkExtensionXml(`<x xmlns="urn:example:x">${'a'.repeat(100)}</x>`, 50)).toThrow(/limit/);
  });

  it('splices the text before the closing tag without parsing again', () => {
    expect(withExtensions('<message to="b"><body>x</body></message>', OOB)).toBe(`<message to="b"><body>x</body>${OOB}</message>`);
    expect(withExtensions('<message to="b"/>', OOB)).toBe(`<message to="b">${OOB}</message>`);
    const s = '<message><body>x</body></message>';
    expect(withExtensions(s, null)).toBe(s);
  });
});
