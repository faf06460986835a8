/**
 * RFC 6121 §8.5 routing rules that depend on XMPP session state, stream management's promise that no message
 * is lost, and XMPP users talking with JSON users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUsers, startServer, type TestServer } from './harness.js';
import { RawXmpp } from './xmpp-raw.js';

let t: TestServer;
const open: RawXmpp[] = [];

async function login(user: string, resource: string): Promise<RawXmpp> {
  const c = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
  open.push(c);
  await c.login(user, `pw-${user.split('@')[0]}`, resource);
  return c;
}

const settle = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  t = await startServer({ xmpp: { resumeSeconds: 0.3 } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await t.close();
});

describe('xmpp: routing by session state', () => {
  it('holds bare-address messages until initial presence, then replays them with a delay stamp', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!, 'a');
    const b = await login(bob!, 'b');
    a.write(`<message to='${bob}' type='chat' id='early'><body>before your presence</body></message>`);
    await settle();
    expect(b.text).not.toContain('before your presence');
    b.write('<presence/>');
    const m = await b.until(/<message[^>]*id="early"[^>]*>.*?<\/message>/s);
    expect(m[0]).toContain('before your presence');
    expect(m[0]).toMatch(/<delay xmlns="urn:xmpp:delay"[^>]*stamp="\d{4}-\d\d-\d\dT/);
    expect(m[0]).toMatch(/<stanza-id xmlns="urn:xmpp:sid:0" id="[^"]+" by="[^"]+"/);
  });

  it('skips a negative-priority session for bare messages but delivers to its full address', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!, 'a');
    const low = await login(bob!, 'low');
    const high = await login(bob!, 'high');
    low.write('<presence><priority>-1</priority></presence>');
    high.write('<presence><priority>5</priority></presence>');
    await settle();
    a.write(`<message to='${bob}' type='chat' id='bare'><body>to the person</body></message>`);
    await high.until(/to the person/);
    a.write(`<message to='${bob}/low' type='chat' id='full'><body>to the low one</body></message>`);
    await low.until(/to the low one/);
    await settle();
    expect(low.text).not.toContain('to the person');
    expect(high.text).not.toContain('to the low one');
  });

  it('queues offline when every session has negative priority', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!, 'a');
    const low = await login(bob!, 'low');
    low.write('<presence><priority>-5</priority></presence>');
    await settle();
    a.write(`<message to='${bob}' type='chat' id='q'><body>wait for me</body></message>`);
    await settle();
    expect(low.text).not.toContain('wait for me');
    const later = await login(bob!, 'later');
    later.write('<presence/>');
    await later.until(/wait for me/);
  });

  it('an XMPP user and a JSON user chat both ways', async () => {
    const [xu, ju] = await freshUsers(t, 'xmpp', 'json');
    const x = await login(xu!, 'desk');
    x.write('<presence/>');
    const j = await t.connect(ju!);
    x.write(`<message to='${ju}' type='chat' id='x1'><body>hello from xmpp</body></message>`);
    const { data: got } = await j.waitFor('message', (d) => d.body === 'hello from xmpp');
    expect(got.from).toBe(`${xu}/desk`);
    expect(got.clientId).toBe('x1');
    await j.request('message.send', { to: xu, body: 'hello from json', clientId: 'j1' });
    const m = await x.until(/<message[^>]*>.*?hello from json.*?<\/message>/s);
    expect(m[0]).toContain(`from="${ju}/`);
    expect(m[0]).toContain('id="j1"');
  });
});

describe('xmpp: stream management', () => {
  it('acknowledges only what was handled and puts unacknowledged messages back in the offline queue', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!, 'a');
    const b = await login(bob!, 'b');
    b.write(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await b.until(/<enabled xmlns="urn:xmpp:sm:3" id="[^"]+" resume="true"/);
    b.write('<presence/>');
    // The presence is handled once the user's own presence comes back; then h counts it.
    await b.until(/<presence[^>]*from="[^"]+"[^>]*>/);
    b.write(`<r xmlns='urn:xmpp:sm:3'/>`);
    await b.until(/<a xmlns="urn:xmpp:sm:3" h="1"\/>/);
    // The connection dies without a word; a message arrives before the server notices and is never acknowledged.
    a.write(`<message to='${bob}' type='chat' id='lost?'><body>do not lose me</body></message>`);
    await b.until(/do not lose me/);
    b.close();
    // The hibernating session expires (resumeSeconds 0.3); the message goes back to the offline queue.
    await settle(800);
    const again = await login(bob!, 'b2');
    again.write('<presence/>');
    const m = await again.until(/<message[^>]*>.*?do not lose me.*?<\/message>/s);
    expect(m[0]).toContain('<delay');
  });

  it('resumes a dropped stream and resends what was not acknowledged, once', async () => {
    const [alice, bob] = await freshUsers(t, 'alice', 'bob');
    const a = await login(alice!, 'a');
    const b = await login(bob!, 'b');
    b.write(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    const id = (await b.until(/<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)"/))[1]!;
    b.write('<presence/>');
    await settle();
    a.write(`<message to='${bob}' type='chat' id='one'><body>first</body></message>`);
    await b.until(/first/);
    b.close();
    await settle(50);
    a.write(`<message to='${bob}' type='chat' id='two'><body>second</body></message>`);
    await settle(50);
    const r = await RawXmpp.open(t.server.xmpp!.ports.directTls!, true);
    open.push(r);
    await r.open();
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${bob!.split('@')[0]}\0pw-${bob!.split('@')[0]}`).toString('base64')}</auth>`);
    await r.until(/<success/);
    await r.open();
    // The client saw nothing of its own (h=0): the server resends both messages it had not acknowledged.
    r.write(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await r.until(/<resumed xmlns="urn:xmpp:sm:3" previd="[^"]+" h="\d+"\/>/);
    await r.until(/second/);
    await settle();
    expect(r.text.match(/>first</g)?.length).toBe(1);
    expect(r.text.match(/>second</g)?.length).toBe(1);
    // The resumed session is the same session: a new message reaches it.
    a.write(`<message to='${bob}' type='chat' id='three'><body>third</body></message>`);
    await r.until(/third/);
  });
});
