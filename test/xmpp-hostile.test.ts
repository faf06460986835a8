/**
 * Hostile and malformed input on the XMPP front door (RFC 6120 §4.9, §8.3, §11.1, §13.12): each gets the
 * right stream or stanza error, and the server goes on serving everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
let plainPort: number;
let tlsPort: number;
const open: RawXmpp[] = [];

async function conn(tls = false): Promise<RawXmpp> {
  const c = await RawXmpp.open(tls ? tlsPort : plainPort, tls);
  open.push(c);
  return c;
}

/** A logged-in bystander whose session must survive every attack. */
async function bystander(): Promise<{ c: RawXmpp; user: string }> {
  const [user] = await freshUsers(t, 'bystander');
  const c = await conn(true);
  await c.login(user!, `pw-${user!.split('@')[0]}`);
  return { c, user: user! };
}

/** The bystander still gets answers: a ping to the server round-trips. */
async function stillServed(b: RawXmpp): Promise<void> {
  const id = `ping-${Math.random().toString(36).slice(2)}`;
  b.write(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await b.until(new RegExp(`<iq[^>]*id="${id}"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="${id}"`));
}

const streamError = (condition: string): RegExp => new RegExp(`<stream:error><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"`);

beforeAll(async () => {
  t = await startServer();
  plainPort = t.server.xmpp!.ports.starttls!;
  tlsPort = t.server.xmpp!.ports.directTls!;
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

describe('xmpp: hostile input', () => {
  it('refuses a DTD with an entity bomb (billion laughs) before expanding anything', async () => {
    const b = await bystander();
    const c = await conn();
    let bomb = `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">`;
    for (let i = 1; i < 10; i++) bomb += `<!ENTITY lol${i} "${`&lol${i - 1 || ''};`.repeat(10)}">`;
    bomb += `]><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol9;`;
    c.write(bomb);
    await c.until(streamError('restricted-xml'));
    await c.untilClosed();
    await stillServed(b.c);
  });

  it('refuses an external entity after the stream is open', async () => {
    const c = await conn();
    await c.open();
    c.write(`<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><message>&xxe;</message>`);
    await c.until(streamError('restricted-xml'));
    await c.untilClosed();
    expect(c.text).not.toContain('root:');
  });

  it('stops 100,000-deep nesting at the depth limit', async () => {
    const b = await bystander();
    const c = await conn();
    await c.open();
    c.write('<message>' + '<a>'.repeat(100_000));
    await c.until(streamError('policy-violation'));
    expect(c.text).toMatch(/maxDepth/);
    await c.untilClosed();
    await stillServed(b.c);
  });

  it('refuses an oversized stanza before authentication (about 10 KB)', async () => {
    const c = await conn();
    await c.open();
    c.write(`<iq type='get' id='big'><query xmlns='jabber:iq:version'>${'x'.repeat(20_000)}</query></iq>`);
    await c.until(streamError('policy-violation'));
    await c.untilClosed();
  });

  it('accepts a 100 KB stanza after authentication but refuses one over 256 KiB', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await conn(true);
    await a.login(alice!, `pw-${alice!.split('@')[0]}`);
    const bo = await conn(true);
    await bo.login(bob!, `pw-${bob!.split('@')[0]}`);
    bo.write(`<presence/>`);
    // 60,000 characters: within the body limit (64 KiB) and far above the pre-auth stanza limit.
    a.write(`<message to='${bob}' type='chat' id='m1'><body>${'y'.repeat(60_000)}</body></message>`);
    await bo.until(/y{60000}<\/body>/, 10_000);
    a.write(`<message to='${bob}' type='chat' id='m2'><body>${'z'.repeat(300_000)}</body></message>`);
    await a.until(streamError('policy-violation'), 10_000);
    await a.untilClosed();
    await stillServed(bo);
  });

  it('ends the stream of a client that forges its from address (invalid-from)', async () => {
    const [mallory, victim] = await freshUsers(t, 'mallory', 'victim');
    const b = await bystander();
    const m = await conn(true);
    await m.login(mallory!, `pw-${mallory!.split('@')[0]}`);
    m.write(`<message from='${victim}/phone' to='${b.user}' type='chat'><body>it is me, really</body></message>`);
    await m.until(streamError('invalid-from'));
    await m.untilClosed();
    await stillServed(b.c);
    expect(b.c.text).not.toContain('it is me, really');
  });

  it('answers a bad stanza with a stanza error and keeps the stream', async () => {
    const [user] = await freshUsers(t, 'carol');
    const c = await conn(true);
    await c.login(user!, `pw-${user!.split('@')[0]}`);
    // An iq get with two payloads (RFC 6120 §8.2.3), a malformed address, an unknown namespace.
    c.write(`<iq type='get' id='two'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.until(/id="two"[^>]*>.*?<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/s);
    c.write(`<message to='a@b@c' type='chat' id='jid'><body>x</body></message>`);
    await c.until(/id="jid"[^>]*>.*?<jid-malformed/s);
    c.write(`<iq type='get' id='unknown' to='localhost'><query xmlns='urn:example:nothing'/></iq>`);
    await c.until(/id="unknown"[^>]*>.*?<service-unavailable/s);
    // RFC 6121 §8.5.1: to an account that does not exist, service-unavailable (nothing about which exist).
    c.write(`<message to='nobody-at-all@localhost' type='chat' id='ghost'><body>x</body></message>`);
    const ghost = await c.until(/<message[^>]*id="ghost"[^>]*>.*?<\/message>/s);
    expect(ghost[0]).toContain('<service-unavailable');
    expect(ghost[0]).not.toContain('no such user');
    c.write(`<presence><priority>1000</priority></presence>`);
    await c.until(/<presence[^>]*type="error"[^>]*>.*?<bad-request/s);
    await stillServed(c);
  });

  it('refuses a stanza of an unknown kind with unsupported-stanza-type', async () => {
    const [user] = await freshUsers(t, 'dave');
    const c = await conn(true);
    await c.login(user!, `pw-${user!.split('@')[0]}`);
    c.write(`<foo xmlns='jabber:client'/>`);
    await c.until(streamError('unsupported-stanza-type'));
    await c.untilClosed();
  });

  it('answers a stream to an unknown domain with host-unknown', async () => {
    const c = await conn();
    c.write(`<?xml version='1.0'?><stream:stream to='elsewhere.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    await c.until(streamError('host-unknown'));
    await c.untilClosed();
  });

  it('requires STARTTLS before authentication on the plain port', async () => {
    const c = await conn();
    await c.open();
    expect(c.text).toMatch(/<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>/);
    expect(c.text).not.toContain('<mechanisms');
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>`);
    await c.until(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><encryption-required\/>/);
  });

  it('never offers PLAIN without TLS and answers bad SASL with the defined failures', async () => {
    const c = await conn(true);
    await c.open();
    expect(c.text).toContain('<mechanism>SCRAM-SHA-256</mechanism>');
    expect(c.text).toContain('<mechanism>PLAIN</mechanism>');
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>`);
    await c.until(/<invalid-mechanism\/>/);
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!not base64</auth>`);
    await c.until(/<incorrect-encoding\/>/);
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0nobody\0wrong').toString('base64')}</auth>`);
    await c.until(/<not-authorized\/>/);
    // The third failed attempt closes the stream (RFC 6120 §6.4.5).
    await c.until(streamError('policy-violation'));
    await c.untilClosed();
  });

  it('reports stanzas sent before authentication as not-authorized', async () => {
    const c = await conn(true);
    await c.open();
    c.write(`<message to='someone@localhost'><body>hi</body></message>`);
    await c.until(streamError('not-authorized'));
    await c.untilClosed();
  });
});
