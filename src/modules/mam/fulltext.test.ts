/**
 * XEP-0431 full-text search in MAM queries, with the search module on: the field in the query form (XEP-0313
 * §5.1), results as MAM results (§4.2) narrowed by the other fields and paged with RSM, and the same access
 * rules as the JSON search. Without the search module the field is neither offered nor accepted.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../core/address.js';
import type { Engine } from '../../engine/engine.js';
import { testPresence } from '../../engine/test-engine.js';
import type { Store } from '../../ports/store.js';
import { search } from '../search/index.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { mam } from './index.js';

const MAM = 'urn:xmpp:mam:2';
const FULLTEXT = '{urn:xmpp:fulltext:0}fulltext';
const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';

const form = (fields: Record<string, string>): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
    .join('')}</x>`;
const bodiesOf = (stanzas: string): string[] => [...stanzas.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1]!);

async function writes(engine: Engine, from: string, to: string, bodies: string[]): Promise<void> {
  const { session } = await engine.openSession(from, 'desk', { send: () => undefined, close: () => undefined }, testPresence);
  for (const body of bodies) await engine.messages.send(session, parseAddress(to), body, null, Date.now());
  await engine.closeSession(session);
}

async function indexed(store: Store): Promise<void> {
  const last = await store.messages.lastSeq();
  for (let i = 0; i < 200 && (await store.positions.get('search.index')) < last; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('mam with XEP-0431 full-text search', () => {
  it('offers the field, answers with matching messages as MAM results, pages them, and keeps others\' messages out', async () => {
    const { engine, host, store } = await moduleFixture([search, mam], { users: [A, B, C] });
    host.start();
    await writes(engine, B, A, ['the Zürich offer', 'lunch', 'zurich again', 'ZURICH three']);
    await writes(engine, C, A, ['zurich from c']);
    await writes(engine, B, C, ['zurich between b and c']);
    await indexed(store);
    const c = await TestXmppClient.login(engine, host.xmpp);
    const formReply = (await c.iq('get', `<query xmlns='${MAM}'/>`)).reply;
    expect(formReply).toContain(`<field var="${FULLTEXT}" type="text-single" label="Search for"/>`);

    // No paging asked: from the start (XEP-0313 §4.1.2), in log order, narrowed by "with".
    const all = await c.iq('set', `<query xmlns='${MAM}' queryid='f1'>${form({ [FULLTEXT]: 'zurich', with: B })}</query>`);
    expect(bodiesOf(all.before)).toEqual(['the Zürich offer', 'zurich again', 'ZURICH three']);
    expect(all.before).toContain('<result xmlns="urn:xmpp:mam:2" queryid="f1"');
    expect(all.reply).toMatch(/<fin xmlns="urn:xmpp:mam:2" complete="true">/);
    // Every conversation of the user, never one it is not in.
    expect(bodiesOf((await c.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'zurich' })}</query>`)).before)).toEqual([
      'the Zürich offer',
      'zurich again',
      'ZURICH three',
      'zurich from c',
    ]);
    // The newest page of two, then the page before it (XEP-0059).
    const rsm = (inner: string): string => `<set xmlns='http://jabber.org/protocol/rsm'>${inner}</set>`;
    const newest = await c.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'zurich' })}${rsm('<max>2</max><before/>')}</query>`);
    expect(bodiesOf(newest.before)).toEqual(['ZURICH three', 'zurich from c']);
    expect(newest.reply).not.toContain('complete="true"');
    const first = /<first>([^<]+)<\/first>/.exec(newest.reply)![1]!;
    const older = await c.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'zurich' })}${rsm(`<max>2</max><before>${first}</before>`)}</query>`);
    expect(bodiesOf(older.before)).toEqual(['the Zürich offer', 'zurich again']);
    // A query that is nothing but punctuation is a bad request, not an index error.
    expect((await c.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: '***' })}</query>`)).reply).toContain('<bad-request');
    c.close();
  });

  it('searches a room\'s archive for its members only', async () => {
    const { engine, host, store } = await moduleFixture([search, mam], { users: [A, B] });
    host.start();
    const room = await engine.rooms.create(A, 'Team', 'team', true);
    await writes(engine, A, room.address, ['deploy on friday', 'no deploy today']);
    await indexed(store);
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    const r = await a.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'friday' })}</query>`, room.address);
    expect(bodiesOf(r.before)).toEqual(['deploy on friday']);
    a.close();
    const b = await TestXmppClient.login(engine, host.xmpp, 'b');
    expect((await b.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'friday' })}</query>`, room.address)).reply).toContain('<forbidden');
    b.close();
  });

  it('without the search module, the form has no full-text field and the field is not implemented', async () => {
    const { engine, host } = await moduleFixture([mam]);
    const c = await TestXmppClient.login(engine, host.xmpp);
    expect((await c.iq('get', `<query xmlns='${MAM}'/>`)).reply).not.toContain(FULLTEXT);
    expect((await c.iq('set', `<query xmlns='${MAM}'>${form({ [FULLTEXT]: 'x' })}</query>`)).reply).toContain('<feature-not-implemented');
    c.close();
  });
});
