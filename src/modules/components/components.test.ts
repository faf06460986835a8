/**
 * The components module's parts: presence stanzas as thing updates, the exposure check, and the module over a
 * real TCP socket on the test engine: handshake (right, wrong, unknown domain, second connection), things
 * defined on first sight and updated, batching, invalid from, iqs, unknown on disconnect, malformed XML.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine.js';
import { parseAddress } from '../../core/address.js';
import type { ServerEvent } from '../../engine/outbound.js';
import { settle, TestCluster } from '../../engine/test-cluster.js';
import { testEngine, testPresence } from '../../engine/test-engine.js';
import { area as apikeysArea } from '../apikeys/sqlite.js';
import { area as presentitiesArea } from '../presentities/sqlite.js';
import { createMemoryStore } from '../../storage/memory/index.js';
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import { apikeys } from '../apikeys/index.js';
import type { ModuleHost } from '../host.js';
import { presentities } from '../presentities/index.js';
import { runOp, setupModules } from '../testing.js';
import { components } from './index.js';
import { checkExposure, isLoopback } from './listener.js';
import { InvalidFrom, reportOf, thingOf } from './presence.js';
import { freePort } from '../testing.js';

const SECRET = 'a-shared-secret-of-length';

describe('presence of a thing', () => {
  const p = (xml: string) => parseFragment(xml);
  it('maps show, status, activity and typed fields onto an update', () => {
    const r = reportOf(
      p(`<presence xmlns='jabber:component:accept' from='press-7@sensors.example.com'><show>dnd</show><status>hot</status><presence xmlns='urn:parley:presence:0' activity='pressing'/><fields xmlns='urn:xmpp:parley:presentity:0'><field name='temperature' type='number'>71.5</field><field name='ok' type='boolean'>true</field><field name='mode'>auto</field></fields></presence>`),
      null,
    );
    expect(r).toEqual({
      update: { availability: 'dnd', status: 'hot', activity: 'pressing', fields: { temperature: 71.5, ok: true, mode: 'auto' } },
      types: { temperature: 'number', ok: 'boolean', mode: 'string' },
    });
    expect(reportOf(p(`<presence xmlns='jabber:component:accept' type='unavailable'/>`), null).update).toEqual({ availability: 'offline', status: null, activity: null });
  });

  it('checks fields against the declaration and refuses bad values', () => {
    const f = (inner: string) => p(`<presence xmlns='jabber:component:accept'><fields xmlns='urn:xmpp:parley:presentity:0'>${inner}</fields></presence>`);
    expect(reportOf(f(`<field name='t'>3</field>`), { t: 'number' }).update.fields).toEqual({ t: 3 });
    expect(reportOf(f(`<field name='t'/>`), { t: 'number' }).update.fields).toEqual({ t: null });
    expect(() => reportOf(f(`<field name='x'>3</field>`), { t: 'number' })).toThrow(/not declared/);
    expect(() => reportOf(f(`<field name='t' type='string'>3</field>`), { t: 'number' })).toThrow(/is a number/);
    expect(() => reportOf(f(`<field name='t' type='number'>warm</field>`), null)).toThrow(/not a number/);
    expect(() => reportOf(p(`<presence xmlns='jabber:component:accept'><show>busy</show></presence>`), null)).toThrow(/show/);
  });

  it('comes from node@domain of the component; another domain is invalid-from', () => {
    expect(thingOf('Press-7@Sensors.Example.com/x', 'sensors.example.com')).toBe('press-7@sensors.example.com');
    expect(() => thingOf('press@example.com', 'sensors.example.com')).toThrow(InvalidFrom);
    expect(() => thingOf(undefined, 'sensors.example.com')).toThrow(InvalidFrom);
    expect(() => thingOf('sensors.example.com', 'sensors.example.com')).toThrow(/node@/);
    expect(() => thingOf('a b@sensors.example.com', 'sensors.example.com')).toThrow(/local|jid|address/i);
  });

  it('listens beyond loopback only when the operator says so', () => {
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('10.0.0.1')).toBe(false);
    expect(() => checkExposure({ host: '0.0.0.0', allowInsecureRemote: false })).toThrow(/allowInsecureRemote/);
    expect(() => checkExposure({ host: '0.0.0.0', allowInsecureRemote: true })).not.toThrow();
  });
});

/** A hand-written component client: raw XML over TCP. */
class Raw {
  text = '';
  closed = false;
  readonly socket: Socket;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => (this.text += d));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }
  send(s: string): void {
    this.socket.write(s);
  }
  async until(re: RegExp, ms = 3000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.text.match(re);
      if (m) return m;
      if (Date.now() > end) throw new Error(`timed out waiting for ${re} in: ${this.text}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  async open(domain: string, secret = SECRET): Promise<void> {
    this.send(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
    const id = (await this.until(/id="([^"]+)"/))[1]!;
    this.send(`<handshake>${createHash('sha1').update(id + secret).digest('hex')}</handshake>`);
  }
  async closedSoon(ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(this.closed).toBe(true);
  }
}

const opened: Raw[] = [];
let hosts: ModuleHost[] = [];
afterEach(async () => {
  for (const r of opened.splice(0)) r.socket.destroy();
  for (const h of hosts.splice(0)) await h.close();
});

async function rig(extra: Record<string, unknown> = {}): Promise<{ engine: Engine; host: ModuleHost; port: number; raw: () => Raw }> {
  const store = createMemoryStore({ modules: [apikeys, presentities].map((m) => ({ name: m.name, memory: m.storage!.memory })) });
  const { engine } = await testEngine(['owner@example.com', 'reader@example.com', 'other@example.com'], { store });
  const port = await freePort();
  const host = await setupModules([apikeys, presentities, components], { engine, store }, {
    apikeys: { enabled: true },
    presentities: { enabled: true },
    components: {
      enabled: true,
      port,
      components: [
        { domain: 'sensors.example.com', secret: SECRET, owner: 'owner@example.com', grants: { users: ['reader@example.com'] }, fields: { temperature: 'number' } },
        { domain: 'jobs.example.com', secret: SECRET, owner: 'owner@example.com', kind: 'process' },
      ],
      ...extra,
    },
  });
  hosts.push(host);
  return {
    engine,
    host,
    port,
    raw: () => {
      const r = new Raw(port);
      opened.push(r);
      return r;
    },
  };
}

type Read = { presentities: Array<{ address: string; availability: string; status: string | null; activity: string | null; fields: Record<string, unknown>; kind: string }>; missing: string[] };
const read = async (host: ModuleHost, engine: Engine, who: string, addresses: string[]): Promise<Read> => (await runOp(host, engine, who, 'presentities.get', { addresses })) as Read;

async function eventually<T>(f: () => Promise<T>, ok: (t: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const t = await f();
    if (ok(t) || Date.now() > end) return t;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the component listener', () => {
  it('refuses a bad configuration at start, naming every problem', async () => {
    const bad = rig({ components: [{ domain: 'example.com', secret: SECRET, owner: 'nobody@example.com' }, { domain: 'x.other.org', secret: SECRET, owner: 'owner@example.com' }] });
    await expect(bad).rejects.toThrow(/hosted domain.*nobody@example.com is not an account.*subdomain of a hosted domain/);
    expect(() => components.options.parse({ components: [{ domain: 'a.example.com', owner: 'o@example.com' }] })).toThrow(/secret/);
    expect(() => components.options.parse({ components: [{ domain: 'a.example.com', owner: 'o@example.com', secret: 'short' }] })).toThrow();
  });

  it('shakes hands, presents things with their state and fields, answers iqs, and makes them unknown when it leaves', async () => {
    const { engine, host, raw } = await rig();
    const c = raw();
    await c.open('sensors.example.com');
    await c.until(/<handshake\/>/);
    let batch = '';
    for (let i = 0; i < 50; i++) {
      batch += `<presence from='press-${i}@sensors.example.com'><status>run ${i}</status><presence xmlns='urn:parley:presence:0' activity='pressing'/><fields xmlns='urn:xmpp:parley:presentity:0'><field name='temperature' type='number'>${i}.5</field></fields></presence>`;
    }
    c.send(batch + `<presence from='press-0@sensors.example.com'><show>away</show></presence>`);
    const addresses = Array.from({ length: 50 }, (_, i) => `press-${i}@sensors.example.com`);
    const seen = await eventually(() => read(host, engine, 'reader@example.com', addresses), (r) => r.presentities.length === 50 && r.presentities.every((p) => p.availability !== 'unknown'));
    expect(seen.presentities).toHaveLength(50);
    const p7 = seen.presentities.find((p) => p.address === 'press-7@sensors.example.com')!;
    expect(p7).toMatchObject({ kind: 'thing', availability: 'available', status: 'run 7', activity: 'pressing', fields: { temperature: 7.5 } });
    // Two reports of one thing in one turn: the later state, both reports' fields.
    expect(seen.presentities.find((p) => p.address === 'press-0@sensors.example.com')).toMatchObject({ availability: 'away', status: null, fields: { temperature: 0.5 } });
    // Not granted: not seen.
    expect((await read(host, engine, 'other@example.com', ['press-7@sensors.example.com'])).missing).toHaveLength(1);

    // An undeclared field is a stanza error; the stream goes on.
    c.send(`<presence id='bad1' from='press-1@sensors.example.com'><fields xmlns='urn:xmpp:parley:presentity:0'><field name='humidity'>3</field></fields></presence>`);
    await c.until(/<presence[^>]*type="error"[^>]*id="bad1"|<presence[^>]*id="bad1"[^>]*type="error"/);
    // iqs to the server: ping, disco#info; anything else service-unavailable; to an account that does not exist:
    // service-unavailable (RFC 6121 §8.5.1).
    c.send(`<iq type='get' id='p1' from='sensors.example.com' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`);
    c.send(`<iq type='get' id='d1' from='sensors.example.com' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    c.send(`<iq type='get' id='v1' from='sensors.example.com' to='example.com'><query xmlns='jabber:iq:version'/></iq>`);
    c.send(`<message id='m1' from='press-1@sensors.example.com' to='nobody@example.com'><body>hi</body></message>`);
    await c.until(/id="p1"/);
    await c.until(/id="d1"[\s\S]*urn:xmpp:ping/);
    await c.until(/id="v1"[\s\S]*service-unavailable/);
    await c.until(/id="m1"[\s\S]*service-unavailable/);
    expect(c.closed).toBe(false);

    c.socket.end('</stream:stream>');
    const after = await eventually(() => read(host, engine, 'owner@example.com', addresses), (r) => r.presentities.every((p) => p.availability === 'unknown'));
    expect(after.presentities.map((p) => p.availability)).toEqual(addresses.map(() => 'unknown'));
    expect(after.presentities.find((p) => p.address === 'press-7@sensors.example.com')).toMatchObject({ status: 'run 7', fields: { temperature: 7.5 } });
  });

  it('refuses a wrong secret with not-authorized and an unknown domain with host-unknown', async () => {
    const { raw } = await rig();
    const wrong = raw();
    await wrong.open('sensors.example.com', 'not-the-secret-at-all');
    await wrong.until(/<not-authorized/);
    await wrong.closedSoon();
    const unknown = raw();
    unknown.send(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='nope.example.com'>`);
    await unknown.until(/<host-unknown/);
    await unknown.closedSoon();
  });

  it('keeps the live connection and refuses a second one with conflict', async () => {
    const { raw } = await rig();
    const first = raw();
    await first.open('jobs.example.com');
    await first.until(/<handshake\/>/);
    const second = raw();
    await second.open('jobs.example.com');
    await second.until(/<conflict/);
    await second.closedSoon();
    first.send(`<iq type='get' id='still' from='jobs.example.com' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await first.until(/id="still"/);
  });

  it('ends the stream with invalid-from for a from outside its domain, and malformed XML ends only that stream', async () => {
    const { raw } = await rig();
    const a = raw();
    await a.open('sensors.example.com');
    await a.until(/<handshake\/>/);
    a.send(`<presence from='alice@example.com'/>`);
    await a.until(/<invalid-from/);
    await a.closedSoon();
    const b = raw();
    await b.open('sensors.example.com');
    await b.until(/<handshake\/>/);
    const other = raw();
    await other.open('jobs.example.com');
    await other.until(/<handshake\/>/);
    b.send(`<presence from='x@sensors.example.com'></iq>`);
    await b.until(/<not-well-formed/);
    await b.closedSoon();
    other.send(`<iq type='get' id='ok' from='jobs.example.com' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await other.until(/id="ok"/);
  });

  it('reads a secret from secretFile, refuses a non-loopback host unless allowed, and caps the things per component', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-components-'));
    try {
      const file = join(dir, 'secret');
      writeFileSync(file, `${SECRET}\n`);
      await expect(rig({ host: '0.0.0.0' })).rejects.toThrow(/allowInsecureRemote/);
      const { raw } = await rig({ components: [{ domain: 'sensors.example.com', secretFile: file, owner: 'owner@example.com', maxThings: 2 }] });
      const c = raw();
      await c.open('sensors.example.com');
      await c.until(/<handshake\/>/);
      c.send(`<presence from='a@sensors.example.com'/><presence from='b@sensors.example.com'/>`);
      await new Promise((r) => setTimeout(r, 50));
      c.send(`<presence id='third' from='c@sensors.example.com'/>`);
      await c.until(/id="third"[\s\S]*resource-constraint/);
      const missing = await rig({ port: 0, components: [{ domain: 'sensors.example.com', secretFile: join(dir, 'nope'), owner: 'owner@example.com' }] }).catch((e: Error) => e.message);
      expect(missing).toMatch(/cannot read secretFile .*nope: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over its rate a connection is read more slowly, and every stanza is still answered', async () => {
    const { raw } = await rig({ stanzasPerSecond: 100 });
    const c = raw();
    await c.open('jobs.example.com');
    await c.until(/<handshake\/>/);
    let pings = '';
    for (let i = 0; i < 300; i++) pings += `<iq type='get' id='q${i}' from='jobs.example.com' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`;
    const started = Date.now();
    c.send(pings);
    c.send(`<iq type='get' id='last' from='jobs.example.com' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.until(/id="last"/, 10_000);
    // 301 stanzas at 100 a second with a burst of 100: the last read waits about 2 s of debt first.
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(c.text.match(/type="result"/g)).toHaveLength(301);
  });

  it('a thing reported unavailable is offline, and one not reported within its heartbeat lapses to unknown while the component stays', async () => {
    const { engine, host, raw } = await rig({
      components: [{ domain: 'jobs.example.com', secret: SECRET, owner: 'owner@example.com', kind: 'process', heartbeatSeconds: 1 }],
    });
    const c = raw();
    await c.open('jobs.example.com');
    await c.until(/<handshake\/>/);
    c.send(`<presence from='nightly@jobs.example.com'><status>running</status></presence><presence from='backup@jobs.example.com' type='unavailable'><status>done</status></presence>`);
    const both = ['nightly@jobs.example.com', 'backup@jobs.example.com'];
    const first = await eventually(() => read(host, engine, 'owner@example.com', both), (r) => r.presentities.length === 2);
    expect(Object.fromEntries(first.presentities.map((p) => [p.address, [p.kind, p.availability, p.status]]))).toEqual({
      'nightly@jobs.example.com': ['process', 'available', 'running'],
      'backup@jobs.example.com': ['process', 'offline', 'done'],
    });
    const lapsed = await eventually(() => read(host, engine, 'owner@example.com', ['nightly@jobs.example.com']), (r) => r.presentities[0]?.availability === 'unknown', 4000);
    expect(lapsed.presentities[0]?.availability).toBe('unknown');
    expect(c.closed).toBe(false);
    c.send(`<presence from='nightly@jobs.example.com'/>`);
    const back = await eventually(() => read(host, engine, 'owner@example.com', ['nightly@jobs.example.com']), (r) => r.presentities[0]?.availability === 'available');
    expect(back.presentities[0]).toMatchObject({ availability: 'available', status: null });
  });

  it('times out a connection that does not shake hands', async () => {
    const { raw } = await rig({ handshakeTimeoutSeconds: 1 });
    const c = raw();
    c.send(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='sensors.example.com'>`);
    await c.until(/<connection-timeout/, 3000);
    await c.closedSoon();
  });
});

describe('a component in a cluster', () => {
  let cluster: TestCluster | null = null;
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
    await cluster?.close();
    cluster = null;
  });

  it('connected to one node, it serves users on another: stanzas both ways, and service-unavailable once it leaves', async () => {
    cluster = new TestCluster(['owner@example.com', 'reader@example.com'], undefined, [
      { name: 'apikeys', area: apikeysArea },
      { name: 'presentities', area: presentitiesArea },
    ]);
    // Every node is configured alike and listens for the component; it connects to one of them.
    const nodes = [await cluster.node(), await cluster.node()];
    const ports: number[] = [];
    for (const n of nodes) {
      const port = await freePort();
      ports.push(port);
      hosts.push(
        await setupModules([apikeys, presentities, components], n, {
          apikeys: { enabled: true },
          presentities: { enabled: true },
          components: { enabled: true, port, components: [{ domain: 'sensors.example.com', secret: SECRET, owner: 'owner@example.com', grants: { users: ['reader@example.com'] } }] },
        }),
      );
    }
    const c = new Raw(ports[0]!);
    opened.push(c);
    await c.open('sensors.example.com');
    await c.until(/<handshake\/>/);
    await settle();

    // The reader is on the other node.
    const two = nodes[1]!.engine;
    const events: ServerEvent[] = [];
    const { session, position } = await two.openSession('reader@example.com', 'desk', { send: (o) => events.push(o.event), close: () => undefined }, { ...testPresence });
    await two.catchUp(session, null, position);
    await two.messages.send(session, parseAddress('press-1@sensors.example.com'), 'status please', null, 0);
    await c.until(/<message[^>]*to="press-1@sensors.example.com"[^>]*>[\s\S]*status please/);
    expect(c.text).toMatch(/from="reader@example.com\/desk"/);
    c.send(`<message from='press-1@sensors.example.com' to='reader@example.com/desk' type='chat'><body>all good</body></message>`);
    await eventually(async () => events, (e) => e.some((x) => x.ev === 'message' && x.data.body === 'all good'));
    expect(events.find((x) => x.ev === 'message' && x.data.body === 'all good')).toMatchObject({ data: { from: 'press-1@sensors.example.com' } });
    // The server's disco#items on the other node lists it (XEP-0030 §4).
    expect(two.remoteServices('example.com')).toEqual([{ jid: 'sensors.example.com' }]);

    // It leaves: the other node's own route answers again, as for a component connected nowhere.
    c.socket.end('</stream:stream>');
    await c.closedSoon();
    await settle();
    await expect(two.messages.send(session, parseAddress('press-1@sensors.example.com'), 'still there?', null, 0)).rejects.toMatchObject({ code: 'service-unavailable' });
  });
});
