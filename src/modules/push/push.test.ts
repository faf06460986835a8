/**
 * The push module through the seam (XEP-0357), with an in-process domain route acting as the app server
 * (push.example.net, the way a component's route serves its domain): enable and disable (§5, §6) and their
 * refusals, the account's disco feature (§4); publishes (§7) when the user has no session, with the node, the
 * counts, the sender and the publish-options form, and the body only when the operator allows it; bursts
 * coalesced and the count starting over once the user is live; a session that told the server it is inactive
 * (XEP-0352) gets publishes, an active one does not; a subscription request wakes the device; an app server
 * answering item-not-found loses its registration (§8); a publish nobody answers is retried once. The engine's
 * side (answers matched to requests, timeouts) is src/engine/server-iq.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import type { RoutedStanza } from '../../engine/domain-routes.js';
import type { Engine } from '../../engine/engine.js';
import type { RouteHandle } from '../../engine/remote-service.js';
import type { ModuleHost } from '../host.js';
import { moduleFixture, TestXmppClient } from '../testing.js';
import { push } from './index.js';
import type { PushArea } from './sqlite.js';

const APP = 'push.example.net';
const FORM = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x>`;
const enable = (node: string, form = FORM, jid = APP): string => `<enable xmlns='urn:xmpp:push:0' jid='${jid}' node='${node}'>${form}</enable>`;

/** The app server's side: every publish it received, answered as `answer` says. */
interface AppServer {
  got: RoutedStanza[];
  answer: 'result' | 'item-not-found' | 'none';
  handle: RouteHandle;
}

function appServer(engine: Engine): AppServer {
  const app: AppServer = { got: [], answer: 'result', handle: undefined as unknown as RouteHandle };
  app.handle = engine.domainRoute({
    name: 'app',
    domains: [APP],
    send(s) {
      app.got.push(s);
      if (app.answer === 'none' || s.kind !== 'iq' || s.type !== 'set') return;
      const error = app.answer === 'item-not-found' ? `<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>` : null;
      const reply = { kind: 'iq' as const, from: s.to, to: s.from, type: error === null ? 'result' : 'error', id: s.id, body: null, xml: error };
      // Answered on a later turn, as a peer's answer arrives.
      setTimeout(() => void app.handle.deliver({ ...reply, stanza: '', keep: null }), 1);
    },
  });
  return app;
}

const field = (s: RoutedStanza, name: string): string | null => new RegExp(`<field var="${name}"><value>([^<]*)</value>`).exec(s.xml ?? '')?.[1] ?? null;
const publishes = (app: AppServer): RoutedStanza[] => app.got.filter((s) => s.kind === 'iq' && /<publish /.test(s.xml ?? ''));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const open: Array<{ host: ModuleHost; clients: TestXmppClient[] }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    for (const c of o.clients) c.close();
    await o.host.close();
  }
});

async function rig(options: Record<string, unknown> = {}): Promise<{ engine: Engine; host: ModuleHost; app: AppServer; a: TestXmppClient; b: TestXmppClient; store: PushArea }> {
  const { engine, host } = await moduleFixture([push], { options: { push: { coalesceSeconds: 0.3, ...options } } });
  host.start();
  const app = appServer(engine);
  const a = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
  const b = await TestXmppClient.login(engine, host.xmpp, 'b', 'desk');
  open.push({ host, clients: [a, b] });
  return { engine, host, app, a, b, store: engine.ctx.store.area<PushArea>('push') };
}

const say = (c: TestXmppClient, body: string, to = 'a@example.com'): void => c.send(`<message to='${to}' type='chat' id='m${Math.random()}'><body>${body}</body></message>`);

describe('push module (XEP-0357)', () => {
  it('enables and disables per (app server, node), announces the feature on the account, and refuses what it cannot serve', async () => {
    const { a, store } = await rig({ maxRegistrations: 2 });
    expect((await a.iq('set', enable('n1'))).reply).toContain('type="result"');
    expect((await a.iq('set', enable('n2', ''))).reply).toContain('type="result"');
    // The same (jid, node) again replaces; a third one is past the limit.
    expect((await a.iq('set', enable('n1'))).reply).toContain('type="result"');
    expect((await a.iq('set', enable('n3'))).reply).toMatch(/<policy-violation[^>]*\/><text[^>]*>an account holds at most 2 push registrations/);
    const regs = await store.list('a@example.com');
    expect(regs.map((r) => [r.jid, r.node, r.resource, r.form !== null])).toEqual([[APP, 'n1', 'phone', true], [APP, 'n2', 'phone', false]]);
    expect(regs[0]!.form).toContain('<value>s3cr3t</value>');
    // Refusals: no node, a malformed address, an app server no route reaches, a form of the wrong type.
    expect((await a.iq('set', `<enable xmlns='urn:xmpp:push:0' jid='${APP}'/>`)).reply).toMatch(/<bad-request[^>]*\/><text[^>]*>name the node/);
    expect((await a.iq('set', enable('n', '', 'a@b@c'))).reply).toContain('<jid-malformed');
    expect((await a.iq('set', enable('n', '', 'nowhere.example'))).reply).toMatch(/<remote-server-not-found[^>]*\/><text[^>]*>nowhere\.example is not reachable/);
    expect((await a.iq('set', enable('n', `<x xmlns='jabber:x:data' type='form'/>`))).reply).toContain('<bad-request');
    // §4: the feature on the user's bare address.
    const info = (await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, 'a@example.com')).reply;
    expect(info).toContain('<feature var="urn:xmpp:push:0"/>');
    // §6: one node, then every node of the app server; disabling what is not there is no error.
    expect((await a.iq('set', `<disable xmlns='urn:xmpp:push:0' jid='${APP}' node='n2'/>`)).reply).toContain('type="result"');
    expect((await store.list('a@example.com')).map((r) => r.node)).toEqual(['n1']);
    await a.iq('set', enable('n2'));
    expect((await a.iq('set', `<disable xmlns='urn:xmpp:push:0' jid='${APP}'/>`)).reply).toContain('type="result"');
    expect(await store.list('a@example.com')).toEqual([]);
    expect((await a.iq('set', `<disable xmlns='urn:xmpp:push:0' jid='${APP}'/>`)).reply).toContain('type="result"');
  });

  it('publishes to the node when the user has no session: count, sender and the publish-options form, no body', async () => {
    const { a, b, app } = await rig();
    await a.iq('set', enable('node-1'));
    say(b, 'are you there?');
    await sleep(300);
    // a is connected and active: nothing to wake.
    expect(publishes(app)).toEqual([]);
    a.close();
    await sleep(50);
    say(b, 'hello while away');
    await until(() => publishes(app).length === 1);
    const p = publishes(app)[0]!;
    expect([p.from, p.to, p.type]).toEqual(['a@example.com', APP, 'set']);
    expect(p.xml).toMatch(/^<pubsub xmlns="http:\/\/jabber\.org\/protocol\/pubsub"><publish node="node-1"><item><notification xmlns="urn:xmpp:push:0"><x xmlns="jabber:x:data" type="submit">/);
    expect(field(p, 'FORM_TYPE')).toBe('urn:xmpp:push:summary');
    expect(field(p, 'message-count')).toBe('1');
    expect(field(p, 'last-message-sender')).toBe('b@example.com/desk');
    expect(field(p, 'last-message-body')).toBeNull();
    expect(p.xml).toContain(`<publish-options><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>s3cr3t</value></field></x></publish-options>`);
  });

  it('sends the body only when the operator allows it', async () => {
    const { a, b, app } = await rig({ includeBody: true });
    await a.iq('set', enable('node-b'));
    a.close();
    await sleep(50);
    say(b, 'secret &lt;plans&gt; &amp; more');
    await until(() => publishes(app).length === 1);
    expect(publishes(app)[0]!.xml).toContain('<field var="last-message-body"><value>secret &lt;plans&gt; &amp; more</value></field>');
  });

  it('coalesces a burst into one publish per window with the right count, and counts again from zero once the user was live', async () => {
    const { engine, host, a, b, app } = await rig({ coalesceSeconds: 0.6 });
    await a.iq('set', enable('node-c'));
    a.close();
    await sleep(50);
    say(b, 'one');
    await until(() => publishes(app).length === 1);
    say(b, 'two');
    say(b, 'three');
    await sleep(250);
    expect(publishes(app)).toHaveLength(1);
    await until(() => publishes(app).length === 2);
    expect(publishes(app).map((p) => field(p, 'message-count'))).toEqual(['1', '3']);
    // The user comes back, then leaves again: the next publish counts from one.
    const back = await TestXmppClient.login(engine, host.xmpp, 'a', 'phone');
    back.close();
    await sleep(700);
    say(b, 'four');
    await until(() => publishes(app).length === 3);
    expect(field(publishes(app)[2]!, 'message-count')).toBe('1');
  });

  it('a session that said it is inactive (XEP-0352) gets publishes; once active again it does not', async () => {
    const { a, b, app } = await rig({ coalesceSeconds: 0 });
    await a.iq('set', enable('node-csi'));
    a.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
    await sleep(50);
    say(b, 'while inactive');
    await until(() => publishes(app).length === 1);
    a.send(`<active xmlns='urn:xmpp:csi:0'/>`);
    await sleep(50);
    say(b, 'while active');
    await sleep(400);
    expect(publishes(app)).toHaveLength(1);
  });

  it('a subscription request wakes the device with pending-subscription-count', async () => {
    const { a, b, app } = await rig();
    await a.iq('set', enable('node-s'));
    a.close();
    await sleep(50);
    b.send(`<presence to='a@example.com' type='subscribe'/>`);
    await until(() => publishes(app).length === 1);
    const p = publishes(app)[0]!;
    expect([field(p, 'message-count'), field(p, 'pending-subscription-count'), field(p, 'last-message-sender')]).toEqual(['0', '1', 'b@example.com']);
  });

  it('an app server answering item-not-found loses the registration (§8); nothing more is published to it', async () => {
    const { a, b, app, store } = await rig({ coalesceSeconds: 0 });
    await a.iq('set', enable('node-gone'));
    app.answer = 'item-not-found';
    a.close();
    await sleep(50);
    say(b, 'first');
    await until(() => publishes(app).length === 1);
    for (let i = 0; i < 100 && (await store.list('a@example.com')).length > 0; i++) await sleep(10);
    expect(await store.list('a@example.com')).toEqual([]);
    say(b, 'second');
    await sleep(400);
    expect(publishes(app)).toHaveLength(1);
  });

  it('a publish nobody answers is retried once after the window, then given up', async () => {
    const { a, b, app } = await rig({ coalesceSeconds: 0.2, timeoutSeconds: 0.2 });
    await a.iq('set', enable('node-t'));
    app.answer = 'none';
    a.close();
    await sleep(50);
    say(b, 'anyone?');
    await until(() => publishes(app).length === 2, 4000);
    await sleep(1500);
    expect(publishes(app)).toHaveLength(2);
    expect(publishes(app).map((p) => field(p, 'message-count'))).toEqual(['1', '1']);
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({}).modules.push).toEqual({ enabled: true, maxRegistrations: 5, coalesceSeconds: 15, includeBody: false, timeoutSeconds: 10 });
    expect(() => validateConfig({ modules: { push: { maxRegistrations: 0 } } })).toThrow(/modules\.push\.maxRegistrations/);
  });
});
