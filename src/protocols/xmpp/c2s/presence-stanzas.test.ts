import { describe, expect, it } from 'vitest';
import { aggregatePresence } from '../../../core/presence.js';
import type { ResourcePresence, SessionPresence, UserPresence } from '../../../core/types.js';
import { Outbound, type ServerEvent } from '../../../engine/outbound.js';
import { parseFragment } from '../xml/fragment.js';
import { encodeFor } from './encode.js';
import { NS } from './ns.js';
import { contactStanzas, parsePresence, presenceExtensions, resourceStanza } from './presence-stanzas.js';
import type { XmppView } from './types.js';

const CAPS = `<c xmlns="${NS.caps}" hash="sha-1" node="https://client.example" ver="abc="/>`;
const s = (over: Partial<SessionPresence> = {}): SessionPresence => ({
  availability: 'available',
  activity: null,
  status: null,
  priority: 0,
  idleSince: null,
  explicit: false,
  updatedAt: 1000,
  ...over,
});
const view = (user: string, resource = 'r', available = true): XmppView => ({
  user,
  resource,
  full: `${user}/${resource}`,
  domain: 'x',
  available,
  takesBare: available,
  carbons: false,
  rosterRequested: true,
  blocklistRequested: false,
  roomNick: () => undefined,
});

describe('presenceExtensions (RFC 6121 §4.7.3)', () => {
  it('keeps what Parley does not read, as sent, and leaves out what it writes itself', () => {
    const stanza = parseFragment(
      `<presence xmlns="jabber:client"><show>away</show><status>out</status><priority>3</priority>` +
        `<idle xmlns="urn:xmpp:idle:1" since="2020-01-01T00:00:00Z"/>${CAPS}<x xmlns="vcard-temp:x:update"><photo>01ab</photo></x>` +
        `<nick xmlns="http://jabber.org/protocol/nick">Al &amp; co</nick><delay xmlns="urn:xmpp:delay" stamp="2020-01-01T00:00:00Z"/>` +
        `<presence xmlns="${NS.parleyPresence}" state="dnd"/><unknown xmlns="urn:example:x" a="1"><y/></unknown></presence>`,
    );
    expect(presenceExtensions(stanza)).toBe(
      CAPS + '<x xmlns="vcard-temp:x:update"><photo>01ab</photo></x><nick xmlns="http://jabber.org/protocol/nick">Al &amp; co</nick>' + '<unknown xmlns="urn:example:x" a="1"><y/></unknown>',
    );
    expect(presenceExtensions(parseFragment('<presence xmlns="jabber:client"><show>dnd</show></presence>'))).toBeNull();
  });

  it('parsePresence keeps them with the session presence', () => {
    const p = parsePresence(parseFragment(`<presence xmlns="jabber:client"><priority>-1</priority>${CAPS}</presence>`), 5);
    expect(p).toMatchObject({ priority: -1, extensions: CAPS, updatedAt: 5 });
    expect('extensions' in parsePresence(parseFragment('<presence xmlns="jabber:client"/>'), 5)).toBe(false);
  });
});

describe('resourceStanza (RFC 6121 §4.2.2, §4.5.2)', () => {
  const agg: UserPresence = { ...aggregatePresence('a@x', [s(), s()], null), state: 'dnd' };

  it('writes a resource from its full address with its own presence, the aggregate and its extensions', () => {
    const r: ResourcePresence = { resource: 'desk', presence: s({ availability: 'away', status: 'lunch', priority: 5, idleSince: 0, extensions: CAPS }) };
    const text = resourceStanza(agg, r, 'b@x');
    const pres = parseFragment(text);
    expect(pres.attrs).toMatchObject({ from: 'a@x/desk', to: 'b@x' });
    expect(pres.getChild('show')?.text()).toBe('away');
    expect(pres.getChild('status')?.text()).toBe('lunch');
    expect(pres.getChild('priority')?.text()).toBe('5');
    expect(pres.getChild('idle', NS.idle)?.attr('since')).toBe('1970-01-01T00:00:00.000Z');
    expect(pres.getChild('presence', NS.parleyPresence)?.attrs).toMatchObject({ state: 'dnd', sessions: '2' });
    expect(pres.getChild('c', NS.caps)?.attr('ver')).toBe('abc=');
    expect(text.endsWith(`${CAPS}</presence>`)).toBe(true);
  });

  it('writes an unavailable resource with the aggregate only', () => {
    const pres = parseFragment(resourceStanza(agg, { resource: 'phone', presence: null }, 'b@x'));
    expect(pres.attrs).toMatchObject({ from: 'a@x/phone', type: 'unavailable' });
    expect(pres.children.filter((c) => typeof c !== 'string')).toHaveLength(1);
  });
});

describe('contactStanzas (RFC 6121 §4.3.2)', () => {
  const online = aggregatePresence('a@x', [s(), s()], null);
  const two: ResourcePresence[] = [
    { resource: 'phone', presence: s() },
    { resource: 'desk', presence: s() },
  ];

  it('one presence per available resource, without the asking session\'s own', () => {
    expect(contactStanzas(online, two, 'b@x', null).map((t) => parseFragment(t).attr('from'))).toEqual(['a@x/phone', 'a@x/desk']);
    expect(contactStanzas(online, two, 'a@x', 'desk').map((t) => parseFragment(t).attr('from'))).toEqual(['a@x/phone']);
  });

  it('unavailable from the bare address with the last-seen time for a person with no resource (XEP-0203)', () => {
    const [text] = contactStanzas({ ...aggregatePresence('a@x', [], 86_400_000), status: 'gone' }, [], 'b@x', null);
    const pres = parseFragment(text!);
    expect(pres.attrs).toMatchObject({ from: 'a@x', type: 'unavailable' });
    expect(pres.getChild('status')?.text()).toBe('gone');
    expect(pres.getChild('delay', NS.delay)?.attrs).toMatchObject({ from: 'x', stamp: '1970-01-02T00:00:00.000Z' });
    expect(contactStanzas(aggregatePresence('a@x', [], null), [], 'a@x', 'r')).toEqual([]);
  });

  it('a presence entity from its bare address while online (no resources)', () => {
    expect(contactStanzas(online, undefined, 'b@x', null).map((t) => parseFragment(t).attr('from'))).toEqual(['a@x']);
    expect(contactStanzas(aggregatePresence('a@x', [], null), undefined, 'b@x', null)).toEqual([]);
  });
});

describe('encodeFor presence', () => {
  const agg = aggregatePresence('a@x', [s(), s()], null);
  const event: ServerEvent = {
    ev: 'presence',
    data: agg as unknown as Record<string, unknown>,
    resources: { 'a@x': [{ resource: 'desk', presence: s({ extensions: CAPS }) }] },
  };

  it('serialises each stanza once per fan-out and completes only the recipient per session', () => {
    const out = new Outbound(event);
    let built = 0;
    const encode = out.encode.bind(out);
    out.encode = <T>(codec: string, fn: (e: ServerEvent) => T): T =>
      encode(codec, (e) => {
        built++;
        return fn(e);
      });
    const [toB] = encodeFor(out, view('b@x'));
    const [toC] = encodeFor(out, view('c@x'));
    expect(built).toBe(1);
    expect(toB).toBe(toC!.replace('to="c@x"', 'to="b@x"'));
    expect(parseFragment(toB!).attrs).toMatchObject({ from: 'a@x/desk', to: 'b@x' });
    // §4.2.2: the user's own resources get it too (the one that sent it included); none before initial presence.
    expect(encodeFor(out, view('a@x', 'desk'))).toHaveLength(1);
    expect(encodeFor(out, view('b@x', 'r', false))).toEqual([]);
  });

  it('a presence without resources (a presence entity, a block) goes from the bare address', () => {
    const [text] = encodeFor(new Outbound({ ev: 'presence', data: agg as unknown as Record<string, unknown> }), view('b@x'));
    expect(parseFragment(text!).attr('from')).toBe('a@x');
  });

  it('a login\'s snapshot: each resource of each person, the user\'s own other resources, offline people once', () => {
    const me = aggregatePresence('b@x', [s(), s()], null);
    const gone = aggregatePresence('c@x', [], 1000);
    const snapshot: ServerEvent = {
      ev: 'presence.snapshot',
      data: { presences: [agg, gone, me] },
      resources: {
        'a@x': [{ resource: 'desk', presence: s({ extensions: CAPS }) }],
        'c@x': [],
        'b@x': [
          { resource: 'r', presence: s() },
          { resource: 'tablet', presence: s() },
        ],
      },
    };
    const stanzas = encodeFor(new Outbound(snapshot), view('b@x')).map((t) => parseFragment(t));
    expect(stanzas.map((p) => [p.attr('from'), p.attr('type')])).toEqual([
      ['a@x/desk', undefined],
      ['c@x', 'unavailable'],
      ['b@x/tablet', undefined],
    ]);
    expect(stanzas[0]!.getChild('c', NS.caps)).toBeDefined();
  });
});
