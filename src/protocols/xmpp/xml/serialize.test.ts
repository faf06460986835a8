import { describe, expect, it } from 'vitest';
import { Element, el } from './element.js';
import { escapeAttr, escapeText, serialize, streamFooter, streamHeader, STREAMS_NS } from './serialize.js';

describe('Element', () => {
  const msg = el(
    'message',
    { xmlns: 'jabber:client', to: 'a@b', type: undefined },
    el('body', {}, 'hel', 'lo'),
    el('x', { xmlns: 'urn:a' }),
    el('x', { xmlns: 'urn:b' }),
  );

  it('el() takes xmlns out of the attributes and skips undefined ones', () => {
    expect(msg.xmlns).toBe('jabber:client');
    expect({ ...msg.attrs }).toEqual({ to: 'a@b' });
    expect(msg.attr('to')).toBe('a@b');
    expect(msg.attr('type')).toBeUndefined();
    expect(msg.attr('toString')).toBeUndefined();
  });

  it('finds children by name and namespace, and concatenates text', () => {
    expect(msg.getChild('body')?.text()).toBe('hello');
    expect(msg.getChild('x')?.xmlns).toBe('urn:a');
    expect(msg.getChild('x', 'urn:b')?.xmlns).toBe('urn:b');
    expect(msg.getChild('x', 'urn:c')).toBeUndefined();
    expect(msg.getChildren('x').length).toBe(2);
    expect(msg.getChildren('x', 'urn:b').length).toBe(1);
    expect(msg.text()).toBe('');
    expect(new Element('a').append('b').append(el('c')).children.length).toBe(2);
  });
});

describe('serialize', () => {
  it('escapes text: & < > and CR', () => {
    expect(escapeText(`a&b<c>d"e'f\r\n\tg`)).toBe(`a&amp;b&lt;c&gt;d"e'f&#xD;\n\tg`);
    expect(serialize(el('body', {}, ']]> & <x/>'))).toBe('<body>]]&gt; &amp; &lt;x/&gt;</body>');
  });

  it('escapes attributes: & < > " and TAB/LF/CR as character references', () => {
    expect(escapeAttr(`a&b<c>d"e'f\r\n\tg`)).toBe(`a&amp;b&lt;c&gt;d&quot;e'f&#xD;&#xA;&#x9;g`);
    expect(serialize(el('a', { v: '"\n' }))).toBe('<a v="&quot;&#xA;"/>');
  });

  it('replaces characters XML 1.0 cannot carry with U+FFFD, keeping valid astral characters', () => {
    expect(escapeText('a\u0000b\u001Fc\uFFFEd\uD800e😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe😀');
    expect(escapeAttr('\uDC00x')).toBe('\uFFFDx');
  });

  it('writes xmlns only where the namespace differs from the parent', () => {
    const stanza = el('iq', { xmlns: 'jabber:client', type: 'get' }, el('query', { xmlns: 'jabber:iq:roster' }, el('item', { jid: 'a@b' })));
    expect(serialize(stanza, 'jabber:client')).toBe('<iq type="get"><query xmlns="jabber:iq:roster"><item jid="a@b"/></query></iq>');
    expect(serialize(stanza)).toBe('<iq xmlns="jabber:client" type="get"><query xmlns="jabber:iq:roster"><item jid="a@b"/></query></iq>');
    // A built child without xmlns inherits; an explicit '' is "no namespace" and must be declared.
    expect(serialize(el('a', { xmlns: 'urn:x' }, el('b'), new Element('c', '')), 'urn:x')).toBe('<a><b/><c xmlns=""/></a>');
  });

  it('serialises a deep tree without recursion', () => {
    const root = el('a');
    let cur = root;
    for (let i = 0; i < 100_000; i++) {
      const next = el('a');
      cur.children.push(next);
      cur = next;
    }
    const out = serialize(root);
    expect(out.length).toBe(100_000 * 7 + 4);
    expect(out.startsWith('<a><a>')).toBe(true);
  });

  it('writes the stream header and footer of RFC 6120 §4.7', () => {
    expect(streamHeader({ from: 'example.com', to: 'juliet@example.com', id: 'x&1', version: '1.0', lang: 'en', xmlns: 'jabber:client' })).toBe(
      `<?xml version='1.0'?><stream:stream from="example.com" to="juliet@example.com" id="x&amp;1" version="1.0" xml:lang="en" xmlns="jabber:client" xmlns:stream="${STREAMS_NS}">`,
    );
    expect(streamHeader({ xmlns: 'jabber:server' })).toBe(`<?xml version='1.0'?><stream:stream xmlns="jabber:server" xmlns:stream="${STREAMS_NS}">`);
    expect(streamFooter()).toBe('</stream:stream>');
  });
});
