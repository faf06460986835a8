/**
 * Interoperability with xmpp.js (@xmpp/client 0.14) beyond log-in and chat: what a client written with it does
 * with its iq caller, its `xml` builder and the stanzas it receives, against the server's actual answers.
 *
 * - XEP-0363 HTTP File Upload: a slot, the PUT and the GET of the same bytes; EICAR refused at the PUT by the
 *   scanner (a private clamd, test/clamd.ts); a request over the limit refused with `file-too-large`. Without
 *   clamd these cases are skipped, loudly.
 * - XEP-0402 bookmarks with the publish-options the XEP asks for (§3), retrieved, and notified to a second
 *   session of the account whose caps (XEP-0115) carry `urn:xmpp:bookmarks:1+notify`.
 * - XEP-0084 avatars: data and metadata published; a contact gets the metadata event and fetches both.
 * - XEP-0045: a room created and the owner's configuration form accepted as it is (§10.1.3), a member
 *   affiliation (§9.3), a kick (§8.2), a ban (§9.1) and the ban list (§9.2).
 * - XEP-0313 with `start`/`end` (§4.1.1) and XEP-0059 paging forwards and backwards (`after`/`before`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { xml, type XmlElement } from '@xmpp/client';
import { EICAR, findClamd, TestClamd } from './clamd.js';
import { freshUsers, onlineAt, startServer, type TestServer, trustServerCertificate, until } from './harness.js';
import { type Recorded, refusal, stopAllXmppjs, waitStanza, withCaps, XMPPJS_DOMAIN as DOMAIN, xmppjs } from './xmpp/xmppjs.js';

const CLAMD = findClamd();
if (CLAMD === null) {
  console.warn(
    '\n*** SKIPPED: the XEP-0363 cases of test/xmpp-client-features.test.ts need clamd (Debian clamav-daemon) to scan uploads with.\n' +
      '*** Install it: apt-get install -y --no-install-recommends clamav-daemon (.ci/run does)\n',
  );
}

const NS_UPLOAD = 'urn:xmpp:http:upload:0';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_DATA = 'jabber:x:data';
const NS_BOOKMARKS = 'urn:xmpp:bookmarks:1';
const NS_AVATAR_DATA = 'urn:xmpp:avatar:data';
const NS_AVATAR_META = 'urn:xmpp:avatar:metadata';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_RSM = 'http://jabber.org/protocol/rsm';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DELAY = 'urn:xmpp:delay';
const MAX = 1 << 20;

let t: TestServer;
let restoreTls: (() => void) | null = null;
let dir: string;
let clamd: TestClamd | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-xmppjs-'));
  if (CLAMD !== null) clamd = await TestClamd.start(CLAMD, dir, '1M');
  t = await startServer(
    clamd === null
      ? {}
      : ({ modules: { files: { enabled: true, directory: join(dir, 'files'), maxFileBytes: MAX, clamd: { socket: clamd.socket, timeoutMs: 5000, checkSeconds: 1 } } } } as never),
  );
  restoreTls = trustServerCertificate(t, DOMAIN);
}, 90_000);
afterEach(stopAllXmppjs);
afterAll(async () => {
  restoreTls?.();
  await t?.close();
  await clamd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A started session (initial presence sent, with `presence` children such as caps). */
async function online(address: string, resource: string, ...presence: XmlElement[]): Promise<Recorded> {
  const r = xmppjs(t, address, resource);
  await r.x.start();
  await r.x.send(xml('presence', {}, ...presence));
  return r;
}

const iq = (r: Recorded, type: 'get' | 'set', to: string | undefined, child: XmlElement): Promise<XmlElement> => r.x.iqCaller.request(xml('iq', { type, to }, child));

/** A submitted data form (XEP-0004 §3.3) of `formType` with the fields given. */
function submitForm(formType: string | null, fields: Record<string, string | string[]>): XmlElement {
  const all: Array<[string, string[], string | undefined]> = [];
  if (formType !== null) all.push(['FORM_TYPE', [formType], 'hidden']);
  for (const [k, v] of Object.entries(fields)) all.push([k, Array.isArray(v) ? v : [v], undefined]);
  return xml('x', { xmlns: NS_DATA, type: 'submit' }, ...all.map(([v, values, type]) => xml('field', { var: v, type }, ...values.map((x) => xml('value', {}, x)))));
}

/** Makes the two users see each other's presence (subscription both). */
async function friends(a: string, b: string): Promise<void> {
  const { rosters } = t.server.engine;
  await rosters.act(a, b, 'subscribe');
  await rosters.act(b, a, 'subscribed');
  await rosters.act(b, a, 'subscribe');
  await rosters.act(a, b, 'subscribed');
}

/** Waits until the server learnt the session's +notify interest from its caps (it asks the client, XEP-0115 §6.3). */
const interested = (user: string, resource: string, node: string): Promise<void> =>
  until(() => t.server.engine.sessions.get(user, resource)?.interests?.has(node) === true, 10_000, `${user}/${resource} +notify ${node}`);

const pepEvent = (from: string, node: string) => (el: XmlElement): boolean =>
  el.is('message') && el.attrs.from === from && el.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === node;

describe.skipIf(CLAMD === null)('XEP-0363 HTTP File Upload with @xmpp/client (real clamd)', () => {
  beforeAll(async () => {
    // Uploads wait for the scanner: the first check of clamd comes within checkSeconds.
    for (let i = 0; i < 100; i++) {
      const h = (await (await fetch(`${t.url}/health`)).json()) as { checks: { files: { scanner: { state: string } } } };
      if (h.checks.files.scanner.state === 'up') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the scanner never came up');
  }, 20_000);

  const slotRequest = (r: Recorded, filename: string, size: number, contentType: string): Promise<XmlElement> =>
    iq(r, 'get', DOMAIN, xml('request', { xmlns: NS_UPLOAD, filename, size: String(size), 'content-type': contentType }));

  it('gets a slot (§4), PUTs the file and GETs the same bytes back (§5)', async () => {
    const [alice] = await freshUsers(t, 'upa');
    const r = await online(alice!, 'xmppjs');
    const data = Buffer.from('quarterly numbers, all clean\n'.repeat(500));
    const res = await slotRequest(r, 'numbers.txt', data.length, 'text/plain');
    const slot = res.getChild('slot', NS_UPLOAD)!;
    const putUrl = slot.getChild('put')!.attrs.url!;
    const getUrl = slot.getChild('get')!.attrs.url!;
    expect(putUrl).toMatch(/^https?:\/\/.+\/api\/v1\/files\/[A-Za-z0-9_-]{43}\/numbers\.txt$/);
    expect(getUrl).toMatch(/\/api\/v1\/files\/[A-Za-z0-9_-]{43}\/numbers\.txt$/);

    const put = await fetch(putUrl, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: data });
    expect(put.status).toBe(201);
    const got = await fetch(getUrl);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    expect(r.errors).toEqual([]);
  });

  it('has EICAR refused at the PUT by the scanner, and never downloadable', async () => {
    const [alice] = await freshUsers(t, 'upb');
    const r = await online(alice!, 'xmppjs');
    const slot = (await slotRequest(r, 'eicar.com', EICAR.length, 'application/octet-stream')).getChild('slot', NS_UPLOAD)!;
    const put = await fetch(slot.getChild('put')!.attrs.url!, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: EICAR });
    expect(put.status).toBe(403);
    expect(((await put.json()) as { error: unknown }).error).toMatchObject({ code: 'file-infected', signature: 'Parley.Test.EICAR.UNOFFICIAL' });
    expect((await fetch(slot.getChild('get')!.attrs.url!)).status).toBe(404);
  });

  it('refuses a request over the limit with not-acceptable and <file-too-large/> naming the limit (§4.2)', async () => {
    const [alice] = await freshUsers(t, 'upc');
    const r = await online(alice!, 'xmppjs');
    const e = await refusal(slotRequest(r, 'huge.bin', MAX + 1, 'application/octet-stream'));
    expect([e.condition, e.type]).toEqual(['not-acceptable', 'modify']);
    expect(e.element.getChild('file-too-large', NS_UPLOAD)?.getChildText('max-file-size')).toBe(String(MAX));
  });
});

describe('PEP with @xmpp/client', () => {
  it('publishes an XEP-0402 bookmark with its publish-options, retrieves it, and a second session gets the +notify event', async () => {
    const [alice] = await freshUsers(t, 'bm');
    const desk = await online(alice!, 'desk');
    const phone = xmppjs(t, alice!, 'phone');
    const caps = withCaps(phone, [NS_BOOKMARKS]);
    await phone.x.start();
    await phone.x.send(xml('presence', {}, caps));
    await interested(alice!, 'phone', NS_BOOKMARKS);

    // XEP-0402 §3: one item per room, its id the room's address, and these publish-options.
    const room = 'council@conference.localhost';
    const options = submitForm('http://jabber.org/protocol/pubsub#publish-options', {
      'pubsub#persist_items': 'true',
      'pubsub#max_items': 'max',
      'pubsub#send_last_published_item': 'never',
      'pubsub#access_model': 'whitelist',
    });
    const conference = xml('conference', { xmlns: NS_BOOKMARKS, name: 'The Council', autojoin: 'true' }, xml('nick', {}, 'al'));
    const published = await iq(
      desk,
      'set',
      undefined,
      xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', { node: NS_BOOKMARKS }, xml('item', { id: room }, conference)), xml('publish-options', {}, options)),
    );
    expect(published.attrs.type).toBe('result');

    // Retrieval (XEP-0060 §6.5) from the account.
    const items = (await iq(desk, 'get', undefined, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node: NS_BOOKMARKS })))).getChild('pubsub', NS_PUBSUB)!.getChild('items')!;
    expect(items.getChildren('item').map((i) => i.attrs.id)).toEqual([room]);
    const got = items.getChild('item')!.getChild('conference', NS_BOOKMARKS)!;
    expect([got.attrs.name, got.attrs.autojoin, got.getChildText('nick')]).toEqual(['The Council', 'true', 'al']);

    // The other session, whose caps say +notify, gets the event from the account's bare address (XEP-0163 §4.3).
    const ev = await waitStanza(phone, pepEvent(alice!, NS_BOOKMARKS));
    const item = ev.getChild('event', NS_EVENT)!.getChild('items')!.getChild('item')!;
    expect(item.attrs.id).toBe(room);
    expect(item.getChild('conference', NS_BOOKMARKS)?.attrs.name).toBe('The Council');
    expect(desk.errors).toEqual([]);
    expect(phone.errors).toEqual([]);
  });

  it('publishes an XEP-0084 avatar (data, then metadata); a contact gets the metadata event and fetches both', async () => {
    const [alice, bob] = await freshUsers(t, 'ava', 'avb');
    await friends(alice!, bob!);
    const b = xmppjs(t, bob!, 'desk');
    const caps = withCaps(b, [NS_AVATAR_META]);
    await b.x.start();
    await b.x.send(xml('presence', {}, caps));
    await interested(bob!, 'desk', NS_AVATAR_META);
    const a = await online(alice!, 'desk');

    // XEP-0084 §4.1-4.2: the data item's id is the SHA-1 of the image, and the metadata names it.
    const image = Buffer.from('not really a PNG, but bytes all the same');
    const id = createHash('sha1').update(image).digest('hex');
    const publish = (node: string, payload: XmlElement): Promise<XmlElement> =>
      iq(a, 'set', undefined, xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', { node }, xml('item', { id }, payload))));
    expect((await publish(NS_AVATAR_DATA, xml('data', { xmlns: NS_AVATAR_DATA }, image.toString('base64')))).attrs.type).toBe('result');
    const info = { bytes: String(image.length), id, type: 'image/png', width: '64', height: '64' };
    expect((await publish(NS_AVATAR_META, xml('metadata', { xmlns: NS_AVATAR_META }, xml('info', info)))).attrs.type).toBe('result');

    // §4.3: the contact is notified of the metadata, then fetches the data by id (§4.4).
    const ev = await waitStanza(b, pepEvent(alice!, NS_AVATAR_META));
    const evItem = ev.getChild('event', NS_EVENT)!.getChild('items')!.getChild('item')!;
    expect(evItem.attrs.id).toBe(id);
    expect(evItem.getChild('metadata', NS_AVATAR_META)?.getChild('info')?.attrs).toMatchObject(info);

    const items = (node: string, itemId?: string): Promise<XmlElement> =>
      iq(b, 'get', alice!, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node }, ...(itemId === undefined ? [] : [xml('item', { id: itemId })])))).then(
        (res) => res.getChild('pubsub', NS_PUBSUB)!.getChild('items')!,
      );
    const meta = await items(NS_AVATAR_META);
    expect(meta.getChild('item')?.getChild('metadata', NS_AVATAR_META)?.getChild('info')?.attrs).toMatchObject(info);
    const data = await items(NS_AVATAR_DATA, id);
    expect(data.getChildren('item').map((i) => i.attrs.id)).toEqual([id]);
    expect(Buffer.from(data.getChild('item')!.getChildText('data', NS_AVATAR_DATA)!, 'base64').equals(image)).toBe(true);

    // Someone without a presence subscription is refused (XEP-0060 §6.5.9 under the default presence model).
    const [carol] = await freshUsers(t, 'avc');
    const c = await online(carol!, 'desk');
    const e = await refusal(iq(c, 'get', alice!, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node: NS_AVATAR_DATA }))));
    expect(e.condition).toBe('not-authorized');
    expect(e.element.getChild('presence-subscription-required', 'http://jabber.org/protocol/pubsub#errors')).toBeDefined();
  });
});

describe('XEP-0045 administration with @xmpp/client', () => {
  const nickOf = (user: string): string => user.split('@')[0]!;
  const mucItem = (el: XmlElement): XmlElement | undefined => el.getChild('x', NS_MUC_USER)?.getChild('item');
  const codes = (el: XmlElement): string[] => (el.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((s) => s.attrs.code!);

  /** Enters `room` and waits for the occupant's own presence (status 110, §7.2.3). */
  async function enter(r: Recorded, room: string, nick: string): Promise<XmlElement> {
    await r.x.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS_MUC })));
    return waitStanza(r, (el) => el.is('presence') && el.attrs.from === `${room}/${nick}` && codes(el).includes('110'));
  }

  it('creates a room, accepts the default configuration, makes a member, kicks a participant, bans a user and reads the ban list', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'owner', 'guest', 'other');
    const [a, b] = await Promise.all([online(alice!, 'a'), online(bob!, 'b')]);
    const room = `xjs-${nickOf(alice!).split('-')[1]}@conference.localhost`;

    // §10.1.1: entering a room that does not exist creates it; the creator is owner and moderator, status 201.
    const self = await enter(a, room, nickOf(alice!));
    expect(codes(self)).toEqual(expect.arrayContaining(['110', '201']));
    expect(mucItem(self)?.attrs).toMatchObject({ affiliation: 'owner', role: 'moderator' });

    // §10.1.3: the owner asks for the configuration form and submits it with its values unchanged.
    const configQuery = (await iq(a, 'get', room, xml('query', { xmlns: NS_MUC_OWNER }))).getChild('query', NS_MUC_OWNER)!;
    const form = configQuery.getChild('x', NS_DATA)!;
    expect(form.attrs.type).toBe('form');
    const fields = form.getChildren('field').filter((f) => f.attrs.var !== undefined);
    expect(fields.map((f) => f.attrs.var)).toEqual(expect.arrayContaining(['FORM_TYPE', 'muc#roomconfig_moderatedroom']));
    const values = Object.fromEntries(fields.filter((f) => f.attrs.var !== 'FORM_TYPE').map((f) => [f.attrs.var!, f.getChildren('value').map((v) => v.text())]));
    const accepted = await iq(a, 'set', room, xml('query', { xmlns: NS_MUC_OWNER }, submitForm('http://jabber.org/protocol/muc#roomconfig', values)));
    expect(accepted.attrs.type).toBe('result');

    // bob comes in as a participant.
    const bobEntered = await enter(b, room, nickOf(bob!));
    expect(mucItem(bobEntered)?.attrs).toMatchObject({ role: 'participant' });

    const admin = (...items: XmlElement[]): Promise<XmlElement> => iq(a, 'set', room, xml('query', { xmlns: NS_MUC_ADMIN }, ...items));
    const list = async (affiliation: string): Promise<Array<Record<string, string | undefined>>> =>
      (await iq(a, 'get', room, xml('query', { xmlns: NS_MUC_ADMIN }, xml('item', { affiliation })))).getChild('query', NS_MUC_ADMIN)!.getChildren('item').map((i) => i.attrs);

    // §9.3: carol, not in the room, made a member. Parley rooms admit members by invitation, so she gets the
    // room's mediated invitation (§7.8.2) and, entering, is a member; the member list names her.
    const c = await online(carol!, 'c');
    expect((await admin(xml('item', { affiliation: 'member', jid: carol }))).attrs.type).toBe('result');
    const invitation = await waitStanza(c, (el) => el.is('message') && el.attrs.from === room && el.getChild('x', NS_MUC_USER)?.getChild('invite') !== undefined);
    expect(String(invitation.getChild('x', NS_MUC_USER)!.getChild('invite')!.attrs.from).split('/')[0]).toBe(alice);
    expect(mucItem(await enter(c, room, nickOf(carol!)))?.attrs).toMatchObject({ affiliation: 'member', role: 'participant' });
    expect((await list('member')).map((i) => i.jid)).toEqual(expect.arrayContaining([bob, carol]));

    // §8.2: bob kicked by nick: unavailable presence with status 307 to him and to the others.
    const kicked = (el: XmlElement): boolean => el.is('presence') && el.attrs.type === 'unavailable' && el.attrs.from === `${room}/${nickOf(bob!)}` && codes(el).includes('307');
    expect((await admin(xml('item', { nick: nickOf(bob!), role: 'none' }, xml('reason', {}, 'cool down'))))).toMatchObject({ attrs: { type: 'result' } });
    const toBob = await waitStanza(b, kicked);
    expect(codes(toBob)).toContain('110');
    expect(mucItem(toBob)?.attrs.role).toBe('none');
    expect(codes(await waitStanza(a, kicked))).not.toContain('110');

    // §9.1: bob banned (he is out already; the ban is stored), §9.2: the ban list, §7.2.7: his entry refused.
    expect((await admin(xml('item', { affiliation: 'outcast', jid: bob }, xml('reason', {}, 'spam')))).attrs.type).toBe('result');
    const bans = await list('outcast');
    expect(bans.map((i) => [i.jid, i.affiliation])).toEqual([[bob, 'outcast']]);
    await b.x.send(xml('presence', { to: `${room}/${nickOf(bob!)}` }, xml('x', { xmlns: NS_MUC })));
    const refused = await waitStanza(b, (el) => el.is('presence') && el.attrs.type === 'error' && String(el.attrs.from).startsWith(room));
    expect(refused.getChild('error')?.getChildElements()[0]?.name).toBe('forbidden');

    // A member who is not an owner or admin cannot ban (§9.1: owners and admins only).
    const [dave] = await freshUsers(t, 'member');
    expect((await admin(xml('item', { affiliation: 'member', jid: dave }))).attrs.type).toBe('result');
    const d = await online(dave!, 'd');
    await enter(d, room, nickOf(dave!));
    const e = await refusal(iq(d, 'set', room, xml('query', { xmlns: NS_MUC_ADMIN }, xml('item', { affiliation: 'outcast', jid: carol }))));
    expect(e.condition).toBe('forbidden');
    expect(a.errors).toEqual([]);
  });
});

describe('XEP-0313 with @xmpp/client', () => {
  /** One MAM query (§4): the result messages tagged with its queryid, and the <fin/>. */
  async function mam(r: Recorded, queryid: string, fields: Record<string, string>, rsm: XmlElement[] = []): Promise<{ results: Array<{ id: string; body: string; stamp: string }>; fin: XmlElement }> {
    const res = await iq(r, 'set', undefined, xml('query', { xmlns: NS_MAM, queryid }, submitForm(NS_MAM, fields), ...(rsm.length > 0 ? [xml('set', { xmlns: NS_RSM }, ...rsm)] : [])));
    const results = r.received
      .map((el) => el.is('message') ? el.getChild('result', NS_MAM) : undefined)
      .filter((x): x is XmlElement => x !== undefined && x.attrs.queryid === queryid)
      .map((x) => {
        const fwd = x.getChild('forwarded', NS_FORWARD)!;
        return { id: x.attrs.id!, body: fwd.getChild('message')!.getChildText('body')!, stamp: fwd.getChild('delay', NS_DELAY)!.attrs.stamp! };
      });
    return { results, fin: res.getChild('fin', NS_MAM)! };
  }
  const rsmText = (fin: XmlElement, name: string): string | null => fin.getChild('set', NS_RSM)?.getChildText(name) ?? null;

  it('narrows a query with start and end (§4.1.1) and pages it forwards and backwards with RSM (XEP-0059)', async () => {
    const [alice, bob] = await freshUsers(t, 'mama', 'mamb');
    const a = await online(alice!, 'xmppjs');
    const j = await onlineAt(t, bob!, 'desk');
    const bodies = ['one', 'two', 'three', 'four', 'five'];
    for (const body of bodies) {
      await a.x.send(xml('message', { type: 'chat', to: bob }, xml('body', {}, body)));
      await j.waitFor('message', (d) => d.body === body);
      await new Promise((r) => setTimeout(r, 15)); // distinct times for the filters below
    }

    const all = await mam(a, 'all', { with: bob! });
    expect(all.results.map((x) => x.body)).toEqual(bodies);
    expect(all.fin.attrs.complete).toBe('true');
    const stamps = all.results.map((x) => x.stamp);
    for (const s of stamps) expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const between = (lo: string, hi: string): string[] => all.results.filter((x) => Date.parse(x.stamp) >= Date.parse(lo) && Date.parse(x.stamp) <= Date.parse(hi)).map((x) => x.body);

    // start and end are inclusive, alone or together.
    const fromThird = await mam(a, 'start', { with: bob!, start: stamps[2]! });
    expect(fromThird.results.map((x) => x.body)).toEqual(between(stamps[2]!, '9999-12-31T00:00:00Z'));
    expect(fromThird.results.map((x) => x.body)).toEqual(expect.arrayContaining(['three', 'four', 'five']));
    expect(fromThird.results.map((x) => x.body)).not.toContain('one');
    const upToSecond = await mam(a, 'end', { with: bob!, end: stamps[1]! });
    expect(upToSecond.results.map((x) => x.body)).toEqual(between('1970-01-01T00:00:00Z', stamps[1]!));
    expect(upToSecond.results.map((x) => x.body)).not.toContain('five');
    const middle = await mam(a, 'range', { with: bob!, start: stamps[1]!, end: stamps[3]! });
    expect(middle.results.map((x) => x.body)).toEqual(between(stamps[1]!, stamps[3]!));
    expect(middle.results.map((x) => x.body)).toEqual(expect.arrayContaining(['two', 'three', 'four']));

    // Forwards: two at a time from the start, then <after/> the last id of each page, until complete.
    const p1 = await mam(a, 'f1', { with: bob! }, [xml('max', {}, '2')]);
    expect(p1.results.map((x) => x.body)).toEqual(['one', 'two']);
    expect(p1.fin.attrs.complete).not.toBe('true');
    expect([rsmText(p1.fin, 'first'), rsmText(p1.fin, 'last')]).toEqual([all.results[0]!.id, all.results[1]!.id]);
    const p2 = await mam(a, 'f2', { with: bob! }, [xml('max', {}, '2'), xml('after', {}, rsmText(p1.fin, 'last')!)]);
    expect(p2.results.map((x) => x.body)).toEqual(['three', 'four']);
    const p3 = await mam(a, 'f3', { with: bob! }, [xml('max', {}, '2'), xml('after', {}, rsmText(p2.fin, 'last')!)]);
    expect(p3.results.map((x) => x.body)).toEqual(['five']);
    expect(p3.fin.attrs.complete).toBe('true');

    // Backwards: an empty <before/> is the newest page (XEP-0059 §2.5), then <before/> the first id of each.
    const b1 = await mam(a, 'b1', { with: bob! }, [xml('max', {}, '2'), xml('before')]);
    expect(b1.results.map((x) => x.body)).toEqual(['four', 'five']);
    const b2 = await mam(a, 'b2', { with: bob! }, [xml('max', {}, '2'), xml('before', {}, rsmText(b1.fin, 'first')!)]);
    expect(b2.results.map((x) => x.body)).toEqual(['two', 'three']);
    const b3 = await mam(a, 'b3', { with: bob! }, [xml('max', {}, '2'), xml('before', {}, rsmText(b2.fin, 'first')!)]);
    expect(b3.results.map((x) => x.body)).toEqual(['one']);
    expect(b3.fin.attrs.complete).toBe('true');

    // Paging inside a time window: start with <after/>.
    const w = await mam(a, 'w', { with: bob!, start: stamps[1]! }, [xml('max', {}, '1'), xml('after', {}, all.results[2]!.id)]);
    expect(w.results.map((x) => x.body)).toEqual(['four']);

    // A malformed time is bad-request.
    const e = await refusal(iq(a, 'set', undefined, xml('query', { xmlns: NS_MAM, queryid: 'bad' }, submitForm(NS_MAM, { start: 'yesterday' }))));
    expect(e.condition).toBe('bad-request');
    expect(a.errors).toEqual([]);
  });
});
