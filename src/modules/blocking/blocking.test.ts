/**
 * The blocking module through the seam: a ModuleHost with only this module; XEP-0191 iqs over an XmppConnection
 * (§3.2 list, §3.3 block, §3.4 unblock, §2 the feature) and the JSON block.* operations as the JSON door runs
 * them. Disabled: service-unavailable, no feature, unknown-op.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, runOp, TestXmppClient } from '../testing.js';
import { blocking } from './index.js';

const NS = 'urn:xmpp:blocking';
const DISCO = `<query xmlns='http://jabber.org/protocol/disco#info'/>`;

describe('blocking module', () => {
  it('lists, blocks and unblocks over XMPP (XEP-0191 §3.2-§3.4)', async () => {
    const { engine, host } = await moduleFixture([blocking]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<blocklist xmlns='${NS}'/>`)).reply).toContain(`<blocklist xmlns="${NS}"/>`);
    expect(c.conn.blocklistRequested).toBe(true);
    expect((await c.iq('set', `<block xmlns='${NS}'><item jid='b@example.com'/><item jid='spam.example'/></block>`)).reply).toContain('type="result"');
    expect(await engine.blocks.list('a@example.com')).toEqual(['b@example.com', 'spam.example']);
    const list = (await c.iq('get', `<blocklist xmlns='${NS}'/>`)).reply;
    expect(list).toContain('<item jid="b@example.com"/>');
    expect(list).toContain('<item jid="spam.example"/>');
    expect((await c.iq('set', `<unblock xmlns='${NS}'><item jid='b@example.com'/></unblock>`)).reply).toContain('type="result"');
    expect(await engine.blocks.list('a@example.com')).toEqual(['spam.example']);
    // §3.4: an unblock without items empties the list.
    await c.iq('set', `<unblock xmlns='${NS}'/>`);
    expect(await engine.blocks.list('a@example.com')).toEqual([]);
    // §3.3: a block names at least one item.
    expect((await c.iq('set', `<block xmlns='${NS}'/>`)).reply).toContain('<bad-request');
    c.close();
  });

  it('announces urn:xmpp:blocking in the server\'s disco#info (XEP-0191 §2)', async () => {
    const { engine, host } = await moduleFixture([blocking]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', DISCO, 'example.com')).reply).toContain(`<feature var="${NS}"/>`);
    c.close();
  });

  it('serves block.list, block.add and block.remove over JSON', async () => {
    const { engine, host } = await moduleFixture([blocking]);
    expect(await runOp(host, engine, 'a@example.com', 'block.list', {})).toEqual({ entries: [] });
    expect(await runOp(host, engine, 'a@example.com', 'block.add', { entries: ['b@example.com/desk', 'spam.example'] })).toEqual({
      entries: ['b@example.com', 'spam.example'],
    });
    expect(await runOp(host, engine, 'a@example.com', 'block.list', {})).toEqual({ entries: ['b@example.com', 'spam.example'] });
    expect(await runOp(host, engine, 'a@example.com', 'block.remove', { entries: ['spam.example'] })).toEqual({});
    expect(await runOp(host, engine, 'a@example.com', 'block.list', {})).toEqual({ entries: ['b@example.com'] });
    expect(await runOp(host, engine, 'a@example.com', 'block.remove', {})).toEqual({});
    expect(await runOp(host, engine, 'a@example.com', 'block.list', {})).toEqual({ entries: [] });
    // The schemas are unchanged: at least one entry to add, no unknown keys.
    await expect(runOp(host, engine, 'a@example.com', 'block.add', { entries: [] })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(runOp(host, engine, 'a@example.com', 'block.list', { all: true })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('disabled: the iqs are service-unavailable, the feature is absent, the operations are unknown-op', async () => {
    const { engine, host } = await moduleFixture([blocking], { options: { blocking: { enabled: false } } });
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<blocklist xmlns='${NS}'/>`)).reply).toContain('<service-unavailable');
    expect((await c.iq('set', `<block xmlns='${NS}'><item jid='b@example.com'/></block>`)).reply).toContain('<service-unavailable');
    expect((await c.iq('get', DISCO, 'example.com')).reply).not.toContain(NS);
    c.close();
    for (const op of ['block.list', 'block.add', 'block.remove']) {
      await expect(runOp(host, engine, 'a@example.com', op, {})).rejects.toMatchObject({ code: 'unknown-op' });
    }
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({ modules: { blocking: { enabled: false } } }).modules.blocking).toEqual({ enabled: false });
    expect(() => validateConfig({ modules: { blocking: { enable: false } } })).toThrow(/modules\.blocking\.enable: unknown key/);
  });
});
