/**
 * History pages bounded in bytes as well as in count, over every front door (JSON `history`, GET
 * /api/v1/history, XEP-0313 MAM with and without "with"): a page stops at the first message with which the
 * bodies reach limits.historyPageMaxBytes, `more` (MAM: `complete`) stays exact, and walking the pages yields
 * every message once. Heavy reads beyond the per-user allowance are refused with rate-limited (XMPP:
 * resource-constraint, a wait error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type ParleyClient } from '../client/index.js';
import { freshUsers, onlineAt, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

type Page = { messages: Array<{ seq: number; ts: number; body: string }>; more: boolean };

const BUDGET = 4096;
const BODY = 1000;
const COUNT = 23;
/** 1000-byte bodies reach 4096 bytes at the fifth message. */
const PAGE = 5;

let t: TestServer;
const open: RawXmpp[] = [];
beforeAll(async () => {
  t = await startServer({ limits: { historyPageMaxBytes: BUDGET, readsInFlightPerUser: 1, readsQueuedPerUser: 1 } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

const body = (i: number): string => `${String(i).padStart(4, '0')}${'x'.repeat(BODY - 4)}`;

/** A conversation of COUNT messages of BODY bytes from alice to bob. */
async function conversation(): Promise<{ alice: string; bob: string; a: ParleyClient; bodies: string[] }> {
  const [alice, bob] = (await freshUsers(t, 'alice', 'bob')) as [string, string];
  const a = await onlineAt(t, alice);
  const bodies: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    bodies.push(body(i));
    await a.send(bob, body(i));
  }
  return { alice, bob, a, bodies };
}

async function xmpp(user: string, resource: string): Promise<RawXmpp> {
  const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  open.push(c);
  await c.login(user, `pw-${user.split('@')[0]}`, resource);
  return c;
}

let iqs = 0;
/** A MAM query; returns the bodies of its results, the <fin/> text and the RSM first/last ids. */
async function mam(c: RawXmpp, form: string, rsm: string): Promise<{ bodies: string[]; complete: boolean; first?: string; last?: string }> {
  const id = `mam${++iqs}`;
  const from = c.text.length;
  c.write(`<iq type='set' id='${id}'><query xmlns='urn:xmpp:mam:2' queryid='${id}'>${form}<set xmlns='http://jabber.org/protocol/rsm'>${rsm}</set></query></iq>`);
  const m = await c.until(new RegExp(`<iq[^>]*id="${id}"[^>]*(?:/>|>.*?</iq>)`, 's'), 5000, from);
  const text = c.text.slice(from, from + m.index + m[0].length);
  const fin = /<fin[^>]*>.*?<\/fin>/s.exec(text)?.[0] ?? '';
  return {
    bodies: [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((b) => b[1]!),
    complete: /complete="true"/.test(fin),
    ...(/<first>([^<]+)<\/first>/.exec(fin) ? { first: /<first>([^<]+)<\/first>/.exec(fin)![1]! } : {}),
    ...(/<last>([^<]+)<\/last>/.exec(fin) ? { last: /<last>([^<]+)<\/last>/.exec(fin)![1]! } : {}),
  };
}

const withForm = (peer: string): string =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>${peer}</value></field></x>`;

describe('history pages bounded in bytes', () => {
  it('JSON and HTTP: pages stop at the budget, `more` is exact, and the walk yields every message once', async () => {
    const { alice, bob, a, bodies } = await conversation();
    const newest = await a.request<Page>('history', { with: bob, limit: 50 });
    expect(newest.messages.map((m) => m.body)).toEqual(bodies.slice(-PAGE));
    expect(newest.more).toBe(true);

    // Backwards to the start, then forwards to the end.
    const back: string[] = [];
    let page = newest;
    for (;;) {
      back.unshift(...page.messages.map((m) => m.body));
      if (!page.more) break;
      expect(page.messages.length).toBe(PAGE);
      page = await a.request<Page>('history', { with: bob, limit: 50, before: page.messages[0]!.seq });
    }
    expect(back).toEqual(bodies);
    const fwd: string[] = [];
    const walked: Page['messages'] = [];
    page = await a.request<Page>('history', { with: bob, limit: 50, after: 0 });
    for (;;) {
      fwd.push(...page.messages.map((m) => m.body));
      walked.push(...page.messages);
      if (!page.more) break;
      page = await a.request<Page>('history', { with: bob, limit: 50, after: page.messages.at(-1)!.seq });
    }
    expect(fwd).toEqual(bodies);
    // The count still binds when it is the smaller bound; a last page exactly at the budget says no more.
    expect((await a.request<Page>('history', { with: bob, limit: 2 })).messages).toHaveLength(2);
    const last = await a.request<Page>('history', { with: bob, after: newest.messages[0]!.seq - 1 });
    expect(last).toMatchObject({ more: false });
    expect(last.messages).toHaveLength(PAGE);

    const { token } = await login(t.url, alice, `pw-${alice.split('@')[0]}`);
    const res = await fetch(`${t.url}/api/v1/history?with=${encodeURIComponent(bob)}&limit=500`, { headers: { authorization: `Bearer ${token}` } });
    expect(await res.json()).toEqual(newest);

    // A time range narrows the pages, both bounds inclusive, on both doors.
    const pivot = walked[Math.floor(walked.length / 2)]!.ts;
    const fromPivot = await a.request<Page>('history', { with: bob, after: 0, start: pivot });
    expect(fromPivot.messages[0]!.seq).toBe(walked.find((m) => m.ts >= pivot)!.seq);
    const upToPivot = await a.request<Page>('history', { with: bob, end: pivot });
    expect(upToPivot.messages.at(-1)!.seq).toBe(walked.filter((m) => m.ts <= pivot).at(-1)!.seq);
    expect(upToPivot.messages.every((m) => m.ts <= pivot)).toBe(true);
    const viaHttp = await fetch(`${t.url}/api/v1/history?with=${encodeURIComponent(bob)}&end=${pivot}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await viaHttp.json()).toEqual(upToPivot);
    await expect(a.request('history', { with: bob, start: pivot + 1, end: pivot })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('MAM: a page may be shorter than <max/>; <fin complete/> only on the last one, with and without "with"', async () => {
    const { alice, bob, bodies } = await conversation();
    const x = await xmpp(alice, 'mam');
    // Backwards from the newest (an empty <before/>), RSM <before/> with the page's first id.
    const back: string[] = [];
    let page = await mam(x, withForm(bob), '<max>50</max><before/>');
    for (;;) {
      back.unshift(...page.bodies);
      if (page.complete) break;
      expect(page.bodies).toHaveLength(PAGE);
      page = await mam(x, withForm(bob), `<max>50</max><before>${page.first}</before>`);
    }
    expect(back).toEqual(bodies);
    // The whole archive forwards (no "with"): the same messages, the same bound.
    const all: string[] = [];
    page = await mam(x, '', '<max>50</max>');
    for (;;) {
      all.push(...page.bodies);
      if (page.complete) break;
      expect(page.bodies).toHaveLength(PAGE);
      page = await mam(x, '', `<max>50</max><after>${page.last}</after>`);
    }
    expect(all).toEqual(bodies);
  });
});

describe('heavy reads per user', () => {
  it('beyond the running and waiting reads, a request is refused with rate-limited; others go on', async () => {
    const { bob, a } = await conversation();
    // Sent in one burst, the requests reach the server together: one runs, one waits, the rest are refused.
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        a.request<Page>('history', { with: bob }).then(
          () => 'ok',
          (e: { code?: string }) => e.code ?? 'error',
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThanOrEqual(2);
    expect(outcomes.filter((o) => o === 'rate-limited').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'rate-limited')).toEqual([]);
    // Once answered, the allowance is back.
    expect((await a.request<Page>('history', { with: bob })).messages).toHaveLength(PAGE);
    const [carol] = (await freshUsers(t, 'carol')) as [string];
    const c = await onlineAt(t, carol);
    expect(await c.request('room.list')).toMatchObject({ rooms: [] });
  });

  it('XMPP: a MAM query over the allowance gets a resource-constraint wait error', async () => {
    const { alice, bob } = await conversation();
    const xs = await Promise.all([1, 2, 3].map((i) => xmpp(alice, `busy${i}`)));
    // Three streams of one user query at once; with one read running and one waiting, a third is refused.
    // Writes on separate sockets may be read in separate turns, so try a few rounds.
    let refused = '';
    for (let round = 0; round < 20 && refused === ''; round++) {
      const ids = xs.map(() => `rl${++iqs}`);
      const from = xs.map((x) => x.text.length);
      xs.forEach((x, i) => x.write(`<iq type='set' id='${ids[i]}'><query xmlns='urn:xmpp:mam:2'>${withForm(bob)}</query></iq>`));
      const replies = await Promise.all(xs.map((x, i) => x.until(new RegExp(`<iq[^>]*id="${ids[i]}"[^>]*(?:/>|>.*?</iq>)`, 's'), 5000, from[i]!)));
      refused = replies.map((r) => r[0]).find((r) => r.includes('type="error"')) ?? '';
    }
    expect(refused).toMatch(/<error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
  });
});
