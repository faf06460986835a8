/**
 * The mam module through the seam: a ModuleHost with only this module and an XmppConnection serving what it
 * added. XEP-0313 §5.1 the form, §4 a query of the user's own archive and of a room's, §7 the feature in the
 * account's (and the room's) disco#info. Disabled: service-unavailable and no feature.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { mam } from './index.js';
import { testPresence } from '../../engine/test-engine.js';

const MAM = 'urn:xmpp:mam:2';
const DISCO = `<query xmlns='http://jabber.org/protocol/disco#info'/>`;
const withForm = (peer: string): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field><field var='with'><value>${peer}</value></field></x>`;

/** b writes `bodies` to a. */
async function bWrites(engine: Engine, ...bodies: string[]): Promise<void> {
  const { session } = await engine.openSession('b@example.com', 'desk', { send: () => undefined, close: () => undefined }, testPresence);
  for (const body of bodies) await engine.messages.send(session, parseAddress('a@example.com'), body, null, Date.now());
  await engine.closeSession(session);
}

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

  it('answers for rooms (§6) and lists the feature for accounts and rooms (§7)', async () => {
    const { engine, host } = await moduleFixture([mam]);
    const room = await engine.rooms.create('a@example.com', 'Team', 'team', true);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<query xmlns='${MAM}'/>`, room.address)).reply).toContain('type="result"');
    expect((await c.iq('set', `<query xmlns='${MAM}'/>`, room.address)).reply).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
    expect((await c.iq('get', DISCO, 'a@example.com')).reply).toContain(`<feature var="${MAM}"/>`);
    expect((await c.iq('get', DISCO, 'b@example.com')).reply).toContain(`<feature var="${MAM}"/>`);
    expect((await c.iq('get', DISCO, room.address)).reply).toContain(`<feature var="${MAM}"/>`);
    // Not a server feature (the archive is the account's).
    expect((await c.iq('get', DISCO, 'example.com')).reply).not.toContain(MAM);
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
