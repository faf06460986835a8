/**
 * The extdisco module through the seam (XEP-0215): the services with time-limited TURN credentials that a TURN
 * server sharing the secret recomputes, one type, credentials for one host, the JSON operation, refusals; and
 * options checked with the configuration.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../app/config.js';
import { moduleFixture, runOp, TestXmppClient } from '../testing.js';
import { turnCredentials } from './credentials.js';
import { extdisco } from './index.js';

const SECRET = 'a-shared-secret-of-some-length';
const OPTIONS = {
  extdisco: {
    enabled: true,
    services: [
      { type: 'stun', host: 'stun.example.com', port: 3478, transport: 'udp' },
      { type: 'turn', host: 'turn.example.com', port: 3478, transport: 'udp', secret: SECRET, credentialSeconds: 3600 },
      { type: 'turns', host: 'turn.example.com', port: 5349, transport: 'tcp', secret: SECRET, name: 'Relay over TLS' },
    ],
  },
};

describe('extdisco module (XEP-0215)', () => {
  it('lists the services; TURN ones with credentials the TURN server can recompute', async () => {
    const { engine, host } = await moduleFixture([extdisco], { options: OPTIONS });
    const a = await TestXmppClient.login(engine, host.xmpp, 'a');
    const before = Math.floor(Date.now() / 1000);
    const reply = (await a.iq('get', `<services xmlns='urn:xmpp:extdisco:2'/>`, 'example.com')).reply;
    expect(reply).toContain('<service type="stun" host="stun.example.com" port="3478" transport="udp"/>');
    const turn = /<service type="turn" host="turn.example.com" port="3478" transport="udp" username="(\d+):a@example.com" password="([^"]+)" expires="([^"]+)" restricted="1"\/>/.exec(reply);
    expect(turn).not.toBeNull();
    const [, expiry, password, expires] = turn!;
    // What coturn does with use-auth-secret: the same HMAC, and an expiry in the future (credentialSeconds).
    expect(password).toBe(createHmac('sha1', SECRET).update(`${expiry}:a@example.com`).digest('base64'));
    expect(Number(expiry) - before).toBeGreaterThanOrEqual(3599);
    expect(Number(expiry) - before).toBeLessThanOrEqual(3601);
    expect(Date.parse(expires!) / 1000).toBe(Number(expiry));
    expect(reply).toContain('name="Relay over TLS"');

    // §3.1 one type; §3.3 credentials for one host.
    const stunOnly = (await a.iq('get', `<services xmlns='urn:xmpp:extdisco:2' type='stun'/>`, 'example.com')).reply;
    expect(stunOnly).toContain('stun.example.com');
    expect(stunOnly).not.toContain('turn.example.com');
    const creds = (await a.iq('get', `<credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.example.com' type='turn'/></credentials>`, 'example.com')).reply;
    expect(creds).toMatch(/<credentials xmlns="urn:xmpp:extdisco:2"><service type="turn" host="turn.example.com"[^>]*username="\d+:a@example.com"/);
    expect((await a.iq('get', `<credentials xmlns='urn:xmpp:extdisco:2'><service host='stun.example.com'/></credentials>`, 'example.com')).reply).toContain('<item-not-found');
    expect((await a.iq('get', `<credentials xmlns='urn:xmpp:extdisco:2'/>`, 'example.com')).reply).toContain('<bad-request');
    // The feature on the server's disco#info.
    expect((await a.iq('get', `<query xmlns='http://jabber.org/protocol/disco#info'/>`, 'example.com')).reply).toContain('<feature var="urn:xmpp:extdisco:2"/>');
    a.close();

    // JSON clients (WebRTC ICE servers).
    const json = (await runOp(host, engine, 'b@example.com', 'extdisco.services', { type: 'turn' })) as { services: Array<Record<string, unknown>> };
    expect(json.services).toEqual([
      expect.objectContaining({ type: 'turn', host: 'turn.example.com', port: 3478, restricted: true, username: expect.stringMatching(/^\d+:b@example.com$/) }),
    ]);
  });

  it('credentials are the TURN REST scheme and expire when asked', () => {
    const c = turnCredentials(SECRET, 'a@example.com', 1_700_000_000_500, 600);
    expect(c).toEqual({ username: '1700000600:a@example.com', expires: 1_700_000_600, password: createHmac('sha1', SECRET).update('1700000600:a@example.com').digest('base64') });
  });

  it('its options are checked with the configuration', () => {
    expect(validateConfig({}).modules.extdisco).toEqual({ enabled: false, services: [] });
    expect(() => validateConfig({ modules: { extdisco: { services: [{ type: 'stun', host: 'h', port: 3478, secret: SECRET }] } } })).toThrow(/only TURN servers take a secret/);
    expect(() => validateConfig({ modules: { extdisco: { services: [{ type: 'turn', host: 'h', port: 0 }] } } })).toThrow(/modules\.extdisco\.services\.0\.port/);
  });
});
