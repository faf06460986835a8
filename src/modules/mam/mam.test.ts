/**
 * The mam module through the seam: a ModuleHost with only this module and an XmppConnection serving what it
 * added. XEP-0313 §5.1 the form, §4 a query of the user's own archive and of a room's, §7 the feature in the
 * account's (and the room's) disco#info. Disabled: service-unavailable and no feature.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, setupModules, TestXmppClient } from '../testing.js';
import { mam } from './index.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';

const MAM = 'urn:xmpp:mam:2';
const DISCO = `<query xmlns='http://jabber.org/protocol/disco#info'/>`;
const withForm = (peer: string): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field><field var='with'><value>${peer}</value></field></x>`;

/** `from` writes `bodies` to `to`. */
async function writes(engine: Engine, from: string, to: string, bodies: string[]): Promise<void> {
  const { session } = await engine.openSession(from, 'desk', { send: () => undefined, close: () => undefined }, testPresence);
  for (const body of bodies) await engine.messages.send(session, parseAddress(to), body, null, Date.now());
  await engine.closeSession(session);
}

/** b writes `bodies` to a. */
const bWrites = (engine: Engine, ...bodies: string[]): Promise<void> => writes(engine, 'b@example.com', 'a@example.com', bodies);

/** A submitted query form with the given fields. */
const form = (fields: Record<string, string>): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
    .join('')}</x>`;
const bodiesOf = (stanzas: string): string[] => [...stanzas.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1]!);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('mam module', () => {
  it('returns the query form (XEP-0313 §5.1) and pages the user\'s archive (§4)', async () => {
    const { engine, host } = await moduleFixture([mam]);
    await bWrites(engine, 'one', 'two', 'three');
    const c = await TestXmppClient.login(engine, host.xmpp);
    const form = (await c.iq('get', `<query xmlns='${MAM}'/>`)).reply;
    expect(form).toContain('<field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field>');
    expect(form).toContain('<field var="with" type="jid-single"/>');

    const all = await c.iq('set', `<query xmlns='${MAM}' queryid='q1'>${withForm('b@example.com')}</query>`);
    expect(all.reply).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
    expect([...all.before.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1])).toEqual(['one', 'two', 'three']);
    expect(all.before).toContain('<result xmlns="urn:xmpp:mam:2" queryid="q1"');

    // XEP-0059: the newest page of two, not complete.
    const page = await c.iq('set', `<query xmlns='${MAM}'>${withForm('b@example.com')}<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></query>`);
    expect([...page.before.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1])).toEqual(['two', 'three']);
    expect(page.reply).not.toContain('complete="true"');
    c.close();
  });

  it('returns each message with its extension elements inside the forwarded message, a body-less one too', async () => {
    const { engine, host } = await moduleFixture([mam]);
    const oob = '<x xmlns="jabber:x:oob"><url>https://f.example.com/a.jpg</url></x>';
    const reaction = '<reactions xmlns="urn:xmpp:reactions:0" id="m1"><reaction>👍</reaction></reactions>';
    const { session } = await engine.openSession('b@example.com', 'desk', { send: () => undefined, close: () => undefined }, testPresence);
    await engine.messages.send(session, parseAddress('a@example.com'), 'a cat', null, Date.now(), oob);
    await engine.messages.send(session, parseAddress('a@example.com'), null, null, Date.now(), reaction);
    await engine.closeSession(session);
    const c = await TestXmppClient.login(engine, host.xmpp);
    const all = await c.iq('set', `<query xmlns='${MAM}'>${withForm('b@example.com')}</query>`);
    const results = all.before.split('</message><message');
    expect(results).toHaveLength(2);
    expect(results[0]).toContain('<body>a cat</body>');
    expect(results[0]).toContain(`${oob}</message></forwarded>`);
    expect(results[1]).toContain(`<stanza-id`);
    expect(results[1]).toContain(`${reaction}</message></forwarded>`);
    expect(results[1]).not.toContain('<body>');
    c.close();
  });

  it('filters by start and end (§4.1.1), with and without "with", and pages the whole archive both ways', async () => {
    const T = Date.UTC(2026, 11, 1, 9, 0, 0);
    let clock = T;
    const { engine, store } = await testEngine(['a@example.com', 'b@example.com', 'c@example.com'], { password: 'secret-pw', now: () => clock });
    const host = await setupModules([mam], { engine, store });
    for (const [from, to, body, at] of [
      ['b', 'a', 'b1', T],
      ['b', 'a', 'b2', T + 60_000],
      ['c', 'a', 'c1', T + 120_000],
      ['b', 'a', 'b3', T + 180_000],
      ['b', 'c', 'not for a', T + 200_000],
    ] as const) {
      clock = at;
      await writes(engine, `${from}@example.com`, `${to}@example.com`, [body]);
    }
    clock = T + 300_000;
    const c = await TestXmppClient.login(engine, host.xmpp);
    const q = async (fields: Record<string, string>, rsm = ''): Promise<{ bodies: string[]; reply: string }> => {
      const r = await c.iq('set', `<query xmlns='${MAM}'>${form(fields)}${rsm}</query>`);
      return { bodies: bodiesOf(r.before), reply: r.reply };
    };
    const formReply = (await c.iq('get', `<query xmlns='${MAM}'/>`)).reply;
    expect(formReply).toContain('<field var="start" type="text-single"/>');
    expect(formReply).toContain('<field var="end" type="text-single"/>');
    // Inclusive bounds, in the conversation and across all of them.
    expect((await q({ with: 'b@example.com', start: iso(T + 60_000) })).bodies).toEqual(['b2', 'b3']);
    expect((await q({ with: 'b@example.com', end: iso(T + 60_000) })).bodies).toEqual(['b1', 'b2']);
    expect((await q({ start: iso(T + 30_000), end: '2026-12-01T10:02:00.000+01:00' })).bodies).toEqual(['b2', 'c1']);
    expect((await q({ start: iso(T + 500_000) })).bodies).toEqual([]);
    // The whole archive, the newest page first (an empty <before/>), then the page before it.
    const newest = await q({}, `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set>`);
    expect(newest.bodies).toEqual(['c1', 'b3']);
    expect(newest.reply).not.toContain('complete="true"');
    const first = /<first>([^<]+)<\/first>/.exec(newest.reply)![1]!;
    const older = await q({}, `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before>${first}</before></set>`);
    expect(older.bodies).toEqual(['b1', 'b2']);
    expect(older.reply).toContain('complete="true"');
    // Backwards within a time range.
    expect((await q({ end: iso(T + 150_000) }, `<set xmlns='http://jabber.org/protocol/rsm'><max>1</max><before/></set>`)).bodies).toEqual(['c1']);
    // Bad input: not a DateTime, a range that ends before it starts, a field this archive does not filter on.
    expect((await q({ start: 'yesterday' })).reply).toMatch(/<bad-request[^>]*\/>.*"start" must be an XEP-0082 date and time/s);
    expect((await q({ start: iso(T + 1), end: iso(T) })).reply).toContain('start is after end');
    expect((await q({ 'before-id': 'x' })).reply).toContain('<feature-not-implemented');
    c.close();
  });

  it('answers for rooms (§6) and lists the feature for accounts and rooms (§7)', async () => {
    const { engine, host } = await moduleFixture([mam]);
    const room = await engine.rooms.create('a@example.com', 'Team', 'team', true);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<query xmlns='${MAM}'/>`, room.address)).reply).toContain('type="result"');
    expect((await c.iq('set', `<query xmlns='${MAM}'/>`, room.address)).reply).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
    expect((await c.iq('get', DISCO, 'a@example.com')).reply).toContain(`<feature var="${MAM}"/>`);
    expect((await c.iq('get', DISCO, 'b@example.com')).reply).toContain(`<feature var="${MAM}"/>`);
    expect((await c.iq('get', DISCO, room.address)).reply).toContain(`<feature var="${MAM}"/>`);
    // And on the server's own address, where some clients look before they ask for history.
    expect((await c.iq('get', DISCO, 'example.com')).reply).toContain(`<feature var="${MAM}"/>`);
    c.close();
  });

  it('disabled: queries are service-unavailable and no disco#info lists the feature', async () => {
    const { engine, host } = await moduleFixture([mam], { options: { mam: { enabled: false } } });
    const room = await engine.rooms.create('a@example.com', 'Team', 'team', true);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<query xmlns='${MAM}'/>`)).reply).toContain('<service-unavailable');
    expect((await c.iq('set', `<query xmlns='${MAM}'/>`)).reply).toContain('<service-unavailable');
    expect((await c.iq('set', `<query xmlns='${MAM}'/>`, room.address)).reply).toContain('<service-unavailable');
    const account = (await c.iq('get', DISCO, 'a@example.com')).reply;
    expect(account).toContain('<feature var="urn:xmpp:sid:0"/>');
    expect(account).not.toContain(MAM);
    const roomInfo = (await c.iq('get', DISCO, room.address)).reply;
    expect(roomInfo).toContain('<feature var="http://jabber.org/protocol/muc"/>');
    expect(roomInfo).not.toContain(MAM);
    c.close();
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({ modules: { mam: { enabled: false } } }).modules.mam).toEqual({ enabled: false });
    expect(() => validateConfig({ modules: { mam: { retention: 30 } } })).toThrow(/modules\.mam\.retention: unknown key/);
  });
});
