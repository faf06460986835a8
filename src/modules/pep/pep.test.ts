/**
 * The pep module through the seam (XEP-0163, XEP-0060): publication with auto-creation and publish-options,
 * retrieval by the access models, retraction, configuration and deletion by the owner, disco of the nodes, the
 * limits, and the notifications to the owner's and contacts' sessions that asked for the node (+notify).
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import type { Engine } from '../../engine/engine.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { pep } from './index.js';

const A = 'a@example.com';
const B = 'b@example.com';
const TUNE = 'http://jabber.org/protocol/tune';
const PS = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub'>${inner}</pubsub>`;
const OWNER = (inner: string): string => `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>${inner}</pubsub>`;
const tune = (title: string, id = 'current'): string => PS(`<publish node='${TUNE}'><item id='${id}'><tune xmlns='${TUNE}'><title>${title}</title></tune></item></publish>`);
const form = (type: string, fields: Record<string, string>): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#${type}</value></field>${Object.entries(fields)
    .map(([k, v]) => `<field var='pubsub#${k}'><value>${v}</value></field>`)
    .join('')}</x>`;

/** Makes a and b see each other's presence (subscription both). */
async function friends(engine: Engine): Promise<void> {
  await engine.rosters.act(A, B, 'subscribe');
  await engine.rosters.act(B, A, 'subscribed');
  await engine.rosters.act(B, A, 'subscribe');
  await engine.rosters.act(A, B, 'subscribed');
}

/** Logs in, asks for `nodes`' notifications (as +notify caps would) and sends initial presence. */
async function online(engine: Engine, ext: Parameters<typeof TestXmppClient.login>[1], local: string, resource: string, nodes: string[]): Promise<TestXmppClient> {
  const c = await TestXmppClient.login(engine, ext, local, resource);
  const s = engine.sessions.get(`${local}@example.com`, resource)!;
  await engine.setInterests(s, new Set(nodes));
  c.send('<presence/>');
  for (let i = 0; i < 100 && !s.available; i++) await new Promise((r) => setTimeout(r, 5));
  return c;
}

describe('pep module (XEP-0163)', () => {
  it('publishes with auto-creation, returns items to contacts, retracts and notifies only +notify sessions', async () => {
    const { engine, host } = await moduleFixture([pep]);
    await friends(engine);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const b = await online(engine, host.xmpp, 'b', 'phone', [TUNE]);
    const bQuiet = await online(engine, host.xmpp, 'b', 'desk', []);
    const mark = b.mark;
    const quietMark = bQuiet.mark;
    expect((await a.iq('set', tune('Yesterday'))).reply).toContain(`<publish node="${TUNE}"><item id="current"/></publish>`);
    const ev = await b.waitFor(/<message [^>]*type="headline"[\s\S]*?<\/message>/, mark);
    expect(ev).toContain(`from="${A}"`);
    expect(ev).toContain('<title>Yesterday</title>');
    expect(bQuiet.conn).toBeDefined();
    // Items: by the contact, all, by id, max_items.
    await a.iq('set', tune('Help'));
    const got = (await b.iq('get', PS(`<items node='${TUNE}'/>`), A)).reply;
    expect(got).toContain('<title>Help</title>');
    expect(got).not.toContain('Yesterday'); // max_items 1 by default
    expect((await b.iq('get', PS(`<items node='${TUNE}'><item id='current'/></items>`), A)).reply).toContain('<title>Help</title>');
    expect((await b.iq('get', PS(`<items node='urn:none'/>`), A)).reply).toContain('<item-not-found');
    // Retraction with notify.
    const before = b.mark;
    expect((await a.iq('set', PS(`<retract node='${TUNE}' notify='true'><item id='current'/></retract>`))).reply).toContain('type="result"');
    expect(await b.waitFor(/<retract id="current"\/>/, before)).toContain(`node="${TUNE}"`);
    // The session without +notify heard nothing.
    expect((await bQuiet.waitFor(/.*/, quietMark)).includes('headline')).toBe(false);
    // Only the owner publishes.
    expect((await b.iq('set', tune('x'), A)).reply).toContain('<forbidden');
    for (const c of [a, b, bQuiet]) c.close();
  });

  it('sends the last item to a session that comes online later, and to one learning its interest', async () => {
    const { engine, host } = await moduleFixture([pep]);
    await friends(engine);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    await a.iq('set', tune('Blackbird'));
    const b = await online(engine, host.xmpp, 'b', 'phone', [TUNE]);
    expect(await b.waitFor(/<title>Blackbird<\/title>/)).toContain(`from="${A}"`);
    const late = await online(engine, host.xmpp, 'b', 'late', []);
    const mark = late.mark;
    await engine.setInterests(engine.sessions.get(B, 'late')!, new Set([TUNE]));
    expect(await late.waitFor(/<title>Blackbird<\/title>/, mark)).toContain('headline');
    for (const c of [a, b, late]) c.close();
  });

  it('sends the last item to a contact whose subscription is approved (§4.3.2)', async () => {
    const { engine, host } = await moduleFixture([pep]);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const b = await online(engine, host.xmpp, 'b', 'phone', [TUNE]);
    await a.iq('set', tune('Something'));
    await b.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
    expect(await b.waitFor(/.*/)).not.toContain('Something');
    await friends(engine);
    expect(await b.waitFor(/<title>Something<\/title>/)).toContain(`from="${A}"`);
    a.close();
    b.close();
  });

  it('keeps a node to those its access model lets in; disco lists the nodes each asker may see', async () => {
    const { engine, host } = await moduleFixture([pep], { users: [A, B, 'c@example.com'] });
    await friends(engine);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const b = await online(engine, host.xmpp, 'b', 'phone', ['urn:secret']);
    const c = await online(engine, host.xmpp, 'c', 'phone', []);
    await a.iq('set', tune('Michelle'));
    const mark = b.mark;
    const secret = PS(`<publish node='urn:secret'><item id='s1'><s xmlns='urn:secret'>42</s></item></publish><publish-options>${form('publish-options', { access_model: 'whitelist', persist_items: 'true' })}</publish-options>`);
    expect((await a.iq('set', secret)).reply).toContain('<item id="s1"/>');
    // A stranger: presence-subscription-required; a contact: closed-node on the whitelist node.
    expect((await c.iq('get', PS(`<items node='${TUNE}'/>`), A)).reply).toMatch(/<not-authorized[\s\S]*<presence-subscription-required xmlns="http:\/\/jabber.org\/protocol\/pubsub#errors"\/>/);
    expect((await b.iq('get', PS(`<items node='urn:secret'/>`), A)).reply).toMatch(/<not-allowed[\s\S]*<closed-node/);
    expect((await a.iq('get', PS(`<items node='urn:secret'/>`))).reply).toContain('<s xmlns="urn:secret">42</s>');
    // disco#items: the owner sees both, the contact the tune only, the stranger nothing.
    const items = (who: TestXmppClient): Promise<string> => who.iq('get', `<query xmlns='http://jabber.org/protocol/disco#items'/>`, A).then((r) => r.reply);
    expect(await items(a)).toContain('node="urn:secret"');
    expect(await items(b)).toContain(`node="${TUNE}"`);
    expect(await items(b)).not.toContain('urn:secret');
    expect(await items(c)).not.toContain('node=');
    const info = (await b.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info' node='${TUNE}'/>`, A)).reply;
    expect(info).toContain('<identity category="pubsub" type="leaf"/>');
    expect(info).toContain('pubsub#access_model');
    const account = (await b.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, A)).reply;
    expect(account).toContain('<identity category="pubsub" type="pep"/>');
    expect(account).toContain('http://jabber.org/protocol/pubsub#publish-options');
    // The contact with +notify for the whitelist node heard nothing of it.
    await new Promise((r) => setTimeout(r, 30));
    expect((await b.waitFor(/.*/, mark)).includes('urn:secret')).toBe(false);
    for (const x of [a, b, c]) x.close();
  });

  it('lets the roster access model admit the allowed groups only, and a blocked contact nothing', async () => {
    const { engine, host } = await moduleFixture([pep]);
    await friends(engine);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const b = await online(engine, host.xmpp, 'b', 'phone', ['urn:team']);
    const roster = form('publish-options', { access_model: 'roster', roster_groups_allowed: 'Team' });
    await a.iq('set', PS(`<publish node='urn:team'><item id='1'><t xmlns='urn:team'>one</t></item></publish><publish-options>${roster}</publish-options>`));
    expect((await b.iq('get', PS(`<items node='urn:team'/>`), A)).reply).toContain('<not-in-roster-group');
    await engine.rosters.set(A, B, null, ['Team']);
    expect((await b.iq('get', PS(`<items node='urn:team'/>`), A)).reply).toContain('<t xmlns="urn:team">one</t>');
    let mark = b.mark;
    await a.iq('set', PS(`<publish node='urn:team'><item id='2'><t xmlns='urn:team'>two</t></item></publish>`));
    await b.waitFor(/<t xmlns="urn:team">two<\/t>/, mark);
    await engine.blocks.block(A, [B]);
    mark = b.mark;
    await a.iq('set', PS(`<publish node='urn:team'><item id='3'><t xmlns='urn:team'>three</t></item></publish>`));
    await b.iq('get', `<ping xmlns='urn:xmpp:ping'/>`);
    expect((await b.waitFor(/.*/, mark)).includes('three')).toBe(false);
    expect((await b.iq('get', PS(`<items node='urn:team'/>`), A)).reply).toContain('type="error"');
    a.close();
    b.close();
  });

  it('checks publish-options as preconditions, configures and deletes nodes for the owner', async () => {
    const { engine, host } = await moduleFixture([pep]);
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const b = await online(engine, host.xmpp, 'b', 'phone', []);
    await a.iq('set', tune('One'));
    const withOptions = PS(`<publish node='${TUNE}'><item><tune xmlns='${TUNE}'/></item></publish><publish-options>${form('publish-options', { access_model: 'whitelist' })}</publish-options>`);
    expect((await a.iq('set', withOptions)).reply).toMatch(/<conflict[\s\S]*<precondition-not-met xmlns="http:\/\/jabber.org\/protocol\/pubsub#errors"\/>/);
    const config = (await a.iq('get', OWNER(`<configure node='${TUNE}'/>`))).reply;
    expect(config).toContain('<field var="pubsub#access_model" type="list-single"><value>presence</value>');
    expect((await a.iq('set', OWNER(`<configure node='${TUNE}'>${form('node_config', { access_model: 'whitelist', max_items: '5' })}</configure>`))).reply).toContain('type="result"');
    expect((await a.iq('set', withOptions)).reply).toContain('type="result"');
    // A server-made id, and two items kept now (max_items 5).
    expect((await a.iq('get', PS(`<items node='${TUNE}'/>`))).reply.match(/<item id=/g)).toHaveLength(2);
    expect((await a.iq('set', OWNER(`<configure node='${TUNE}'>${form('node_config', { access_model: 'presence-or-else' })}</configure>`))).reply).toContain('<not-acceptable');
    expect((await b.iq('get', OWNER(`<configure node='${TUNE}'/>`), A)).reply).toContain('<forbidden');
    expect((await a.iq('set', OWNER(`<delete node='${TUNE}'/>`))).reply).toContain('type="result"');
    expect((await a.iq('get', PS(`<items node='${TUNE}'/>`))).reply).toContain('<item-not-found');
    a.close();
    b.close();
  });

  it('holds the limits: payload size, nodes and bytes per account', async () => {
    const { engine, host } = await moduleFixture([pep], { options: { pep: { maxPayloadBytes: 1024, maxNodes: 2, maxBytes: 4096 } } });
    const a = await online(engine, host.xmpp, 'a', 'phone', []);
    const big = PS(`<publish node='urn:big'><item><b xmlns='urn:big'>${'x'.repeat(2000)}</b></item></publish>`);
    expect((await a.iq('set', big)).reply).toMatch(/<not-acceptable[\s\S]*<payload-too-big/);
    await a.iq('set', PS(`<publish node='urn:n1'><item><n xmlns='urn:n'/></item></publish>`));
    await a.iq('set', PS(`<publish node='urn:n2'><item><n xmlns='urn:n'/></item></publish>`));
    expect((await a.iq('set', PS(`<publish node='urn:n3'><item><n xmlns='urn:n'/></item></publish>`))).reply).toMatch(/<resource-constraint[\s\S]*at most 2 nodes/);
    await a.iq('set', OWNER(`<configure node='urn:n1'>${form('node_config', { max_items: '100' })}</configure>`));
    let refused = '';
    for (let i = 0; i < 6 && !refused; i++) {
      const r = (await a.iq('set', PS(`<publish node='urn:n1'><item><n xmlns='urn:n'>${'y'.repeat(900)}</n></item></publish>`))).reply;
      if (r.includes('type="error"')) refused = r;
    }
    expect(refused).toMatch(/<resource-constraint[\s\S]*at most 4096 bytes/);
    a.close();
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({}).modules.pep).toMatchObject({ enabled: true, maxItemsPerNode: 1000 });
    expect(() => validateConfig({ modules: { pep: { maxPayloadBytes: 10 } } })).toThrow(/modules\.pep\.maxPayloadBytes/);
  });
});
