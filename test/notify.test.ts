/**
 * Notifications routed by presence, end to end over real sockets: Parley on ephemeral ports with the notify
 * module on and short escalation steps, people on JSON WebSocket clients and on an XMPP client (xmpp.js over
 * STARTTLS), and a real SMTP server (smtp-server, in this process on an ephemeral port) whose received mail is
 * parsed with mailparser. Covers the group-of-three scenario (the available person first, escalation to the
 * next, the e-mail fallback), acknowledgement by the JSON operation and by a plain "ack" reply over XMPP,
 * deduplication, policies and rotas, and bad input.
 */
import type { AddressInfo } from 'node:net';
import { client, xml, type XmlElement, type XmppClient } from '@xmpp/client';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../client/index.js';
import { addUser } from '../src/engine/admin-service.js';
import { freshUsers, onlineAt, startServer, type TestServer, trustServerCertificate, until } from './harness.js';

const DOMAIN = 'localhost';
const SERVICE = `notify@${DOMAIN}`;

let t: TestServer;
let smtp: SMTPServer;
const mails: ParsedMail[] = [];
let rootToken: string;
let restoreTls: (() => void) | null = null;

beforeAll(async () => {
  // A real SMTP server: plain text on loopback, no authentication; each message parsed as it arrives.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((m) => {
          mails.push(m);
          callback();
        })
        .catch((e: Error) => callback(e));
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  t = await startServer({
    modules: {
      apikeys: { enabled: true },
      notify: {
        enabled: true,
        defaultPolicy: { steps: [{ delaySeconds: 0.2 }, { delaySeconds: 0.2 }, { delaySeconds: 0.2 }], repeats: 0 },
        smtp: { host: '127.0.0.1', port, security: 'none', from: 'Parley Notifications <notify@localhost>' },
      },
    } as never,
  });
  await addUser(t.server.store, `root@${DOMAIN}`, 'pw-root', { admin: true, iterations: 4096, now: Date.now() });
  rootToken = (await login(t.url, `root@${DOMAIN}`, 'pw-root')).token;
  restoreTls = trustServerCertificate(t, DOMAIN);
});

afterAll(async () => {
  restoreTls?.();
  await t?.close();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
});

/** A request to the API as `token` (root by default). */
async function api(method: string, path: string, body?: unknown, token: string | null = rootToken): Promise<{ status: number; json: Record<string, any> }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}/api/v1/notify${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** A shared group of the given members. */
async function group(name: string, members: string[]): Promise<void> {
  for (const m of members) await t.server.engine.admin.addGroupMember(name, m);
}

const fromService = (d: Record<string, unknown>): boolean => String(d.from).split('/')[0] === SERVICE;

describe('notifications routed by presence', () => {
  it('a group of three: the available one first, escalation to the next, then an e-mail', async () => {
    const [alice, bob, carol] = await freshUsers(t, 'alice', 'bob', 'carol');
    await group('ops3', [carol!, alice!, bob!]);
    const a = await onlineAt(t, alice!, 'desk');
    const b = await onlineAt(t, bob!, 'desk', { availability: 'away' });
    const c = await onlineAt(t, carol!, 'desk', { availability: 'dnd' });

    const posted = await api('POST', '/notifications', {
      title: 'Database primary down',
      body: 'db-1 stopped answering.',
      severity: 'error',
      link: 'https://status.example.com/incidents/42',
      dedupKey: 'db-1-down',
      target: { type: 'group', group: 'ops3' },
    });
    expect(posted.status).toBe(201);
    const n = posted.json.notification;
    expect(n).toMatchObject({ state: 'triggered', assignee: alice, step: 0 });

    // Step 1: alice (available; carol is in do-not-disturb, bob is away).
    const first = await a.waitFor('message', fromService);
    expect(first.data.body).toContain(`[ERROR] Database primary down (#${n.short})`);
    expect(first.data.body).toContain('Reply "ack" to acknowledge or "resolve" to resolve');
    expect(first.data.clientId).toMatch(new RegExp(`^notify:${n.id}:0:0:[\\w-]{8}$`));
    const card = await a.request<{ notification: { actions: Array<{ action: string }> } }>('notify.get', { id: n.id });
    expect(card.notification.actions.map((x) => x.action)).toEqual(['acknowledge', 'resolve']);

    // The same key while it is open: the first one, counted.
    const again = await api('POST', '/notifications', { title: 'Database primary down', severity: 'error', dedupKey: 'db-1-down', target: { type: 'group', group: 'ops3' } });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ duplicate: true, notification: { id: n.id, duplicates: 1 } });

    // Not acknowledged within 0.2 s: bob.
    const second = await b.waitFor('message', fromService, 3000);
    expect(second.data.body).toContain(`Escalated: ${alice} did not acknowledge it in time.`);
    // Nobody left who may get it (carol: do not disturb, not critical): the e-mail fallback.
    await until(() => mails.some((m) => m.subject === `[ERROR] Database primary down (#${n.short})`), 5000, 'the e-mail');
    const mail = mails.find((m) => m.subject === `[ERROR] Database primary down (#${n.short})`)!;
    const to = (Array.isArray(mail.to) ? mail.to : [mail.to!]).flatMap((x) => x.value.map((v) => v.address));
    expect(to.sort()).toEqual([alice, bob].sort());
    expect(mail.from?.value[0]?.address).toBe('notify@localhost');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-parley-notification')).toBe(String(n.id));
    expect(mail.text).toContain('db-1 stopped answering.');
    expect(mail.text).toContain('Link: https://status.example.com/incidents/42');
    expect(mail.text).toContain(`Nobody acknowledged it in Parley (sent to ${alice}, ${bob}).`);
    expect(c.received('message').filter(fromService)).toEqual([]);

    // Everything is on record.
    const got = await api('GET', `/notifications/${n.id}`);
    expect(got.json.notification).toMatchObject({ exhausted: true, assignee: bob, duplicates: 1 });
    expect(got.json.deliveries.map((d: { address: string; channel: string }) => `${d.channel} ${d.address}`)).toEqual([`im ${alice}`, `im ${bob}`, `email ${alice}`, `email ${bob}`]);
    expect(got.json.events.map((e: { kind: string }) => e.kind)).toEqual(['posted', 'delivered', 'deduplicated', 'escalated', 'delivered', 'escalated', 'skipped', 'email.sent', 'exhausted']);
    const list = await api('GET', '/notifications?state=triggered&target=group:ops3');
    expect(list.json.notifications.map((x: { id: number }) => x.id)).toEqual([n.id]);

    // Now alice resolves it from her JSON client.
    expect(await a.request('notify.resolve', { id: n.short })).toMatchObject({ changed: true, notification: { state: 'resolved', resolvedBy: alice } });
  });

  it('acknowledged from a JSON client, it escalates no further', async () => {
    const [dave, erin] = await freshUsers(t, 'dave', 'erin');
    await group('pair', [dave!, erin!]);
    const d = await onlineAt(t, dave!, 'desk');
    const e = await onlineAt(t, erin!, 'desk');
    const { json } = await api('POST', '/notifications', { title: 'Queue backlog', severity: 'warning', target: { type: 'group', group: 'pair', strategy: 'fewest-open' } });
    const first = json.notification.assignee === dave ? d : e;
    const other = first === d ? e : d;
    await first.waitFor('message', fromService);
    expect(await first.request('notify.ack', { id: json.notification.id })).toMatchObject({ changed: true, notification: { state: 'acknowledged' } });
    await new Promise((r) => setTimeout(r, 500));
    expect(other.received('message').filter(fromService)).toEqual([]);
    const got = await api('GET', `/notifications/${json.notification.id}`);
    expect(got.json.acknowledgements).toMatchObject([{ action: 'acknowledge', via: 'json' }]);
    // The other person may not act on it; an administrator may.
    await expect(other.request('notify.resolve', { id: json.notification.id })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await api('POST', `/notifications/${json.notification.id}/resolve`, {})).json).toMatchObject({ changed: true, notification: { state: 'resolved', resolvedBy: `root@${DOMAIN}` } });
  });

  it('a plain "ack" reply from an XMPP client acknowledges', async () => {
    const [frank] = await freshUsers(t, 'frank');
    const local = frank!.split('@')[0]!;
    const x: XmppClient = client({ service: `xmpp://127.0.0.1:${t.server.xmpp!.ports.starttls}`, domain: DOMAIN, resource: 'xmppjs', username: local, password: `pw-${local}`, timeout: 10_000 });
    const received: XmlElement[] = [];
    x.on('element', (el: XmlElement) => received.push(el));
    x.on('error', () => undefined);
    try {
      await x.start();
      await x.send(xml('presence'));
      await until(() => t.server.engine.sessions.countOf(frank!) > 0 && [...t.server.engine.sessions.of(frank!)].every((s) => s.available), 5000, 'presence');
      const { json } = await api('POST', '/notifications', { title: 'Certificate expires', severity: 'warning', target: { type: 'person', address: frank } });
      expect(json.notification.assignee).toBe(frank);
      const body = (el: XmlElement): string => el.getChildText('body') ?? '';
      await until(() => received.some((el) => el.is('message') && body(el).includes('Certificate expires')), 5000, 'the IM');
      const im = received.find((el) => el.is('message') && body(el).includes('Certificate expires'))!;
      expect(String(im.attrs.from).split('/')[0]).toBe(SERVICE);
      expect(body(im)).toContain('Reply "ack" to acknowledge');
      await x.send(xml('message', { type: 'chat', to: SERVICE }, xml('body', {}, ' Ack ')));
      await until(() => received.some((el) => el.is('message') && body(el).startsWith(`Acknowledged #${json.notification.short}`)), 5000, 'the confirmation');
      const got = await api('GET', `/notifications/${json.notification.id}`);
      expect(got.json.notification).toMatchObject({ state: 'acknowledged', acknowledgedBy: frank });
      expect(got.json.acknowledgements).toMatchObject([{ action: 'acknowledge', via: 'im' }]);
    } finally {
      x.reconnect.stop();
      await x.stop().catch(() => undefined);
    }
  });

  it('rotas and escalation policies, managed by administrators', async () => {
    const [gina, hal] = await freshUsers(t, 'gina', 'hal');
    await onlineAt(t, gina!, 'desk');
    const h = await onlineAt(t, hal!, 'desk');
    expect((await api('POST', '/rotas', { name: 'db-oncall', members: [gina, hal], current: 1 })).status).toBe(201);
    expect((await api('POST', '/policies', { name: 'db', steps: [{ delaySeconds: 60, target: { type: 'rota', rota: 'db-oncall' } }], repeats: 0 })).status).toBe(201);
    expect((await api('GET', '/policies/db')).json).toMatchObject({ name: 'db', repeats: 0, steps: [{ delaySeconds: 60 }] });
    const { json } = await api('POST', '/notifications', { title: 'Replica lag', severity: 'info', target: { type: 'rota', rota: 'db-oncall' }, policy: 'db' });
    expect(json.notification).toMatchObject({ assignee: hal, policy: { name: 'db' } });
    await h.waitFor('message', fromService);
    expect((await api('POST', '/rotas/db-oncall/advance')).json).toMatchObject({ current: 0 });
    expect((await api('PUT', '/policies/db', { steps: [{ delaySeconds: 30 }], repeats: 2 })).json).toMatchObject({ repeats: 2 });
    expect((await api('DELETE', '/policies/db')).status).toBe(200);
    expect((await api('GET', '/policies/db')).json.error.code).toBe('item-not-found');
    expect((await api('PUT', `/emails/${gina}`, { email: 'gina@example.org' })).json).toEqual({ address: gina, email: 'gina@example.org' });
    // Nobody available (jack is offline): e-mail at once, to the address set for him.
    const [jack] = await freshUsers(t, 'jack');
    await api('PUT', `/emails/${jack}`, { email: 'jack@example.org' });
    const quiet = await api('POST', '/notifications', { title: 'Disk almost full', severity: 'warning', target: { type: 'person', address: jack } });
    expect(quiet.json.notification).toMatchObject({ exhausted: true, assignee: null, nextAt: null });
    await until(() => mails.some((m) => m.subject === `[WARNING] Disk almost full (#${quiet.json.notification.short})`), 5000, 'the e-mail');
    const mail = mails.find((m) => m.subject === `[WARNING] Disk almost full (#${quiet.json.notification.short})`)!;
    expect((Array.isArray(mail.to) ? mail.to : [mail.to!]).flatMap((x) => x.value.map((v) => v.address))).toEqual(['jack@example.org']);
    expect(mail.text).toContain('Nobody who could take this notification was available in Parley.');
    const history = await api('GET', `/notifications/${quiet.json.notification.id}`);
    expect(history.json.events.map((e: { kind: string }) => e.kind)).toEqual(['posted', 'skipped', 'skipped', 'skipped', 'email.sent', 'exhausted']);
    expect(history.json.deliveries).toMatchObject([{ channel: 'email', address: jack }]);
    // Not for other people.
    const token = (await login(t.url, hal!, `pw-${hal!.split('@')[0]}`)).token;
    expect((await api('GET', '/rotas', undefined, token)).json.error.code).toBe('forbidden');
  });

  it('refuses bad input with stable codes', async () => {
    const [ivy] = await freshUsers(t, 'ivy');
    const ok = { title: 'x', severity: 'info', target: { type: 'person', address: ivy } };
    const code = async (method: string, path: string, body: unknown, token: string | null = rootToken) => {
      const r = await api(method, path, body, token);
      return [r.status, r.json.error?.code, r.json.error?.message];
    };
    expect(await code('POST', '/notifications', { ...ok, colour: 'red' })).toEqual([400, 'bad-request', expect.stringContaining('colour')]);
    expect(await code('POST', '/notifications', { ...ok, target: { type: 'person', address: ivy, extra: 1 } })).toEqual([400, 'bad-request', expect.stringContaining('extra')]);
    expect(await code('POST', '/notifications', { ...ok, title: 42 })).toEqual([400, 'bad-request', expect.stringContaining('title')]);
    expect(await code('POST', '/notifications', { ...ok, severity: 'catastrophic' })).toEqual([400, 'bad-request', expect.stringContaining('severity')]);
    expect(await code('POST', '/notifications', { ...ok, target: { type: 'team', team: 'x' } })).toEqual([400, 'bad-request', expect.stringContaining('target')]);
    expect(await code('POST', '/notifications', { ...ok, link: 'javascript:alert(1)' })).toEqual([400, 'bad-request', expect.stringContaining('link')]);
    expect(await code('POST', '/notifications', { ...ok, title: '' })).toEqual([400, 'bad-request', expect.stringContaining('title')]);
    expect(await code('POST', '/notifications', '{"title":')).toEqual([400, 'bad-json', expect.any(String)]);
    expect(await code('POST', '/notifications', { ...ok, target: { type: 'group', group: 'no-such-group' } })).toEqual([404, 'item-not-found', 'no group no-such-group']);
    expect(await code('POST', '/notifications', { ...ok, policy: 'nope' })).toEqual([404, 'item-not-found', 'no policy nope']);
    expect(await code('POST', '/notifications', { ...ok, target: { type: 'person', address: 'not an address' } })).toEqual([400, 'jid-malformed', expect.any(String)]);
    expect(await code('POST', '/notifications', ok, null)).toEqual([401, 'not-authorized', expect.any(String)]);
    const token = (await login(t.url, ivy!, `pw-${ivy!.split('@')[0]}`)).token;
    expect(await code('POST', '/notifications', ok, token)).toEqual([403, 'forbidden', expect.any(String)]);
    expect(await code('GET', '/notifications?state=sleeping', undefined)).toEqual([400, 'bad-request', expect.stringContaining('state')]);
    expect(await code('GET', '/notifications?colour=red', undefined)).toEqual([400, 'bad-request', expect.stringContaining('colour')]);
    expect(await code('GET', '/notifications/abc', undefined)).toEqual([400, 'bad-request', expect.stringContaining('id')]);
    expect(await code('GET', '/notifications/999999', undefined)).toEqual([404, 'item-not-found', expect.any(String)]);
    expect(await code('POST', '/policies', { name: 'p', steps: [] })).toEqual([400, 'bad-request', expect.stringContaining('steps')]);
    expect(await code('POST', '/policies', { name: 'p', steps: [{ delaySeconds: '5' }] })).toEqual([400, 'bad-request', expect.stringContaining('delaySeconds')]);
    expect(await code('POST', '/policies', { name: 'p', steps: [{ delaySeconds: 5, after: 1 }] })).toEqual([400, 'bad-request', expect.stringContaining('after')]);
    expect(await code('POST', '/rotas', { name: 'r', members: [ivy], current: 3 })).toEqual([400, 'bad-request', expect.stringContaining('current')]);
    expect(await code('POST', '/rotas', { name: 'bad name', members: [ivy] })).toEqual([400, 'bad-request', expect.stringContaining('name')]);
    expect(await code('PUT', `/emails/${ivy}`, { email: 'not-mail' })).toEqual([400, 'bad-request', expect.stringContaining('email')]);
    expect(await code('POST', '/notifications/1/ack', { why: 'x' })).toEqual([400, 'bad-request', expect.stringContaining('why')]);
  });

  it('a business system posts with an API key holding notify; a key without it is refused', async () => {
    const [ivy] = await freshUsers(t, 'ivy');
    const keyOf = async (scopes: string[]): Promise<string> => {
      const res = await fetch(`${t.url}/api/v1/apikeys/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rootToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'monitoring', scopes }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { token: string }).token;
    };
    const withNotify = await keyOf(['notify']);
    const withoutNotify = await keyOf(['presence:read']);
    const ok = { title: 'from monitoring', body: '', severity: 'info', target: { type: 'person', address: ivy } };
    const posted = await api('POST', '/notifications', ok, withNotify);
    expect(posted.status).toBe(201);
    expect(posted.json.notification).toMatchObject({ title: 'from monitoring', createdBy: expect.stringMatching(/^apikey:[0-9a-f]{16}$/) });
    // The key reads back what it posted, as an administrator could.
    expect((await api('GET', `/notifications/${posted.json.notification.id}`, undefined, withNotify)).status).toBe(200);
    const refused = await api('POST', '/notifications', ok, withoutNotify);
    expect([refused.status, refused.json.error?.code]).toEqual([403, 'forbidden']);
    const bogus = await api('POST', '/notifications', ok, 'pk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect([bogus.status, bogus.json.error?.code]).toEqual([401, 'not-authorized']);
  });
});
