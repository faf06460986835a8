/**
 * BoshSession without HTTP or XMPP: fake responders and a fake stream (what onData receives, what write()
 * sends), fake timers for hold/wait, inactivity and polling (XEP-0124 §7, §8, §11, §14, §17).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseBody } from './body.js';
import { versionFor } from './server.js';
import { BoshSession, type BoshSessionParams, type Responder } from './session.js';

const NS = 'http://jabber.org/protocol/httpbind';

/** A responder that records what it was sent. */
function responder(): Responder & { got: string[] } {
  const got: string[] = [];
  return { got, send: (xml) => void got.push(xml) };
}

function body(attrs = '', payload = ''): ReturnType<typeof parseBody> {
  return parseBody(`<body xmlns="${NS}" ${attrs}>${payload}</body>`, 100_000);
}

/** A session over a fake stream: features are written when the stream opens, input is recorded. */
function session(over: Partial<BoshSessionParams> = {}): { s: BoshSession; input: string[]; closed: () => boolean; create: Responder & { got: string[] } } {
  const s = new BoshSession({ sid: 'S', rid: 10, waitSeconds: 30, hold: 1, inactivitySeconds: 60, pollingSeconds: 2, remoteAddress: '127.0.0.1', secure: false, ...over });
  const input: string[] = [];
  let closed = false;
  s.onData((chunk) => {
    const text = String(chunk);
    input.push(text);
    if (text.startsWith('<open ')) {
      s.write('<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
      s.write('<stream:features xmlns:stream="http://etherx.jabber.org/streams"/>');
    }
    if (text.startsWith('<close ')) {
      s.write('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
      s.end();
    }
  });
  s.onClose(() => (closed = true));
  const create = responder();
  s.open(body('rid="10" to="localhost"'), 'localhost', '1.6', create);
  return { s, input, closed: () => closed, create };
}

const tick = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(1);
};

describe('BoshSession', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the creation response carries the session attributes and the stream features (§7.1, XEP-0206 §5)', async () => {
    const { create, input } = session();
    await tick();
    expect(input[0]).toMatch(/^<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"\/>$/);
    expect(create.got).toHaveLength(1);
    const r = create.got[0]!;
    for (const a of ['sid="S"', 'wait="30"', 'requests="2"', 'hold="1"', 'inactivity="60"', 'polling="2"', 'ver="1.6"', 'xmpp:version="1.0"', 'xmpp:restartlogic="true"']) expect(r).toContain(a);
    expect(r).toContain('<stream:features');
    expect(r).not.toContain('<open');
  });

  it('holds one request until the stream writes, then answers it at once (§8)', async () => {
    const { s } = session();
    await tick();
    const r = responder();
    s.request(11, body(), r);
    await tick();
    expect(r.got).toEqual([]);
    s.write('<message xmlns="jabber:client"><body>hi</body></message>');
    await tick();
    expect(r.got).toEqual([`<body xmlns="${NS}"><message xmlns="jabber:client"><body>hi</body></message></body>`]);
  });

  it('answers a held request empty when wait runs out', async () => {
    const { s } = session({ waitSeconds: 5 });
    await tick();
    const r = responder();
    s.request(11, body(), r);
    await vi.advanceTimersByTimeAsync(4900);
    expect(r.got).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(r.got).toEqual([`<body xmlns="${NS}"/>`]);
  });

  it('a second request releases the first (hold=1); payloads reach the stream in rid order (§14.1)', async () => {
    const { s, input } = session();
    await tick();
    const a = responder();
    const b = responder();
    const c = responder();
    s.request(12, body('', '<presence xmlns="jabber:client" id="second"/>'), b); // early: waits for 11
    expect(input.some((x) => x.includes('second'))).toBe(false);
    s.request(11, body('', '<presence xmlns="jabber:client" id="first"/>'), a);
    const order = input.filter((x) => x.startsWith('<presence')).map((x) => /id="(\w+)"/.exec(x)?.[1]);
    expect(order).toEqual(['first', 'second']);
    await tick();
    expect(a.got).toEqual([`<body xmlns="${NS}"/>`]);
    expect(b.got).toEqual([]);
    s.request(13, body(), c);
    await tick();
    expect(b.got).toHaveLength(1);
  });

  it('a repeated rid gets the same response; an old or far rid ends the session with item-not-found (§14.3)', async () => {
    const { s, closed } = session();
    await tick();
    const a = responder();
    s.request(11, body(), a);
    s.write('<message xmlns="jabber:client"/>');
    await tick();
    const again = responder();
    s.request(11, body(), again);
    expect(again.got).toEqual(a.got);
    const far = responder();
    s.request(14, body(), far);
    expect(far.got[0]).toBe(`<body xmlns="${NS}" type="terminate" condition="item-not-found"/>`);
    expect(closed()).toBe(true);
    expect(s.isGone).toBe(true);
    const late = responder();
    s.request(12, body(), late);
    expect(late.got[0]).toContain('item-not-found');
  });

  it('polling faster than `polling` with hold=0 is policy-violation (§11)', async () => {
    const { s } = session({ hold: 0 });
    await tick();
    const a = responder();
    s.request(11, body(), a);
    await tick();
    expect(a.got).toEqual([`<body xmlns="${NS}"/>`]);
    const b = responder();
    s.request(12, body(), b);
    expect(b.got[0]).toContain('condition="policy-violation"');
  });

  it('a session with no request for `inactivity` is gone', async () => {
    const { s, closed } = session({ inactivitySeconds: 10 });
    await tick();
    await vi.advanceTimersByTimeAsync(9000);
    expect(closed()).toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    expect(closed()).toBe(true);
    const r = responder();
    s.request(11, body(), r);
    expect(r.got[0]).toContain('item-not-found');
  });

  it('terminate from the client: the payload first, then <close/>, answered with a terminate body (§13)', async () => {
    const { s, input, closed } = session();
    await tick();
    const r = responder();
    s.request(11, body('type="terminate"', '<presence xmlns="jabber:client" type="unavailable"/>'), r);
    expect(input.slice(-2)).toEqual(['<presence xmlns="jabber:client" type="unavailable"/>', '<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>']);
    await tick();
    expect(r.got).toEqual([`<body xmlns="${NS}" type="terminate"/>`]);
    expect(closed()).toBe(true);
  });

  it('a stream error becomes remote-stream-error with the <stream:error/> inside (XEP-0206 §7)', async () => {
    const { s } = session();
    await tick();
    const r = responder();
    s.request(11, body(), r);
    s.write('<stream:error xmlns:stream="http://etherx.jabber.org/streams"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>');
    s.write('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
    s.end();
    await tick();
    expect(r.got[0]).toMatch(/^<body xmlns="http:\/\/jabber.org\/protocol\/httpbind" type="terminate" condition="remote-stream-error" xmlns:stream="http:\/\/etherx.jabber.org\/streams"><stream:error /);
  });

  it('restart opens the stream again and answers with the new features (XEP-0206 §5)', async () => {
    const { s, input } = session();
    await tick();
    const r = responder();
    s.request(11, body('to="localhost" xmpp:restart="true" xmlns:xmpp="urn:xmpp:xbosh"'), r);
    expect(input.at(-1)).toBe('<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>');
    await tick();
    expect(r.got[0]).toContain('<stream:features');
  });

  it('paused (rate limit): payloads wait until the stream reads again', async () => {
    const { s, input } = session();
    await tick();
    s.pause(true);
    s.request(11, body('', '<presence xmlns="jabber:client" id="p"/>'), responder());
    expect(input.some((x) => x.includes('id="p"'))).toBe(false);
    s.pause(false);
    await tick();
    expect(input.some((x) => x.includes('id="p"'))).toBe(true);
  });
});

describe('parseBody and versionFor', () => {
  it('reads xbosh attributes under any prefix and puts undeclared payload in jabber:client', () => {
    const b = parseBody(`<?xml version="1.0"?><body xmlns="${NS}" xmlns:x="urn:xmpp:xbosh" x:restart="true" rid="1"><message to="a@b"><body>hi</body></message></body>`, 10_000);
    expect(b.attrs).toEqual({ 'xmpp:restart': 'true', rid: '1' });
    expect(b.payload).toEqual(['<message xmlns="jabber:client" to="a@b"><body>hi</body></message>']);
  });
  it('refuses what is not one <body/>', () => {
    for (const bad of ['', '<body/>', `<body xmlns="${NS}">text</body>`, `<body xmlns="${NS}"/><body xmlns="${NS}"/>`, `<body xmlns="${NS}"><!-- c --></body>`]) {
      expect(() => parseBody(bad, 10_000)).toThrow();
    }
  });
  it('answers with the lower of the two versions', () => {
    expect(versionFor('1.6')).toBe('1.6');
    expect(versionFor('1.11')).toBe('1.11');
    expect(versionFor('2.0')).toBe('1.11');
    expect(versionFor(undefined)).toBe('1.11');
  });
});
