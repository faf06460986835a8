/**
 * An attacker takes over addresses that were given up, hoping to inherit what they held. Mallory re-creates a
 * destroyed members-only room (over JSON, and by a directed presence over XMPP) and asks for its history every way
 * there is; an operator removes an account with the `parley` CLI from another process and creates it again at
 * once, while the old account's session is still connected. Nothing of the predecessors may show, the old
 * session must end, and the control pair keeps chatting throughout.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ParleyClient, login } from '../../client/index.js';
import { RawXmpp } from '../xmpp-raw.js';
import { expectControlHeld, killHostile, startControlPair, startHostile, type HostileServer } from './lib.js';

afterAll(killHostile);

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'parley.js');
const SECRET = 'the merger closes on friday';

/** `parley <args>` against the server's database, from its own process, as an operator would run it. */
function parley(srv: HostileServer, args: string[], input = ''): Promise<{ code: number | null; err: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, { PARLEY_STORAGE__SQLITE__PATH: srv.dbPath, PARLEY_AUTH__SCRAM_ITERATIONS: '4096' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, err }));
    child.stdin.end(input);
  });
}

async function json(srv: HostileServer, user: string, opts: { resource?: string; since?: number } = {}): Promise<ParleyClient> {
  const { token } = await login(srv.url, `${user}@localhost`, `pw-${user}`);
  const c = await ParleyClient.connect({ url: `${srv.url.replace(/^http/, 'ws')}/ws`, token, resource: opts.resource ?? 'r', ...(opts.since !== undefined ? { since: opts.since } : {}) });
  await c.waitFor('synced');
  return c;
}

async function xmpp(srv: HostileServer, user: string): Promise<RawXmpp> {
  const x = await RawXmpp.open(srv.xmppTlsPort, true);
  await x.login(`${user}@localhost`, `pw-${user}`, 'x');
  return x;
}

/** Everything one can ask for about `with`: history both ways, HTTP history, MAM; returns all text received. */
async function everything(srv: HostileServer, user: string, withAddr: string, room: boolean): Promise<string> {
  const c = await json(srv, user, { resource: 'look', since: 0 });
  const texts: string[] = [JSON.stringify(c.received('message'))];
  texts.push(JSON.stringify(await c.request('history', { with: withAddr, limit: 500 })));
  texts.push(JSON.stringify(await c.request('history', { with: withAddr, after: 0, limit: 500 })));
  const { token } = await login(srv.url, `${user}@localhost`, `pw-${user}`);
  const res = await fetch(`${srv.url}/api/v1/history?with=${encodeURIComponent(withAddr)}&limit=500`, { headers: { authorization: `Bearer ${token}` } });
  texts.push(await res.text());
  await c.close();
  const x = await xmpp(srv, user);
  const form = room
    ? ''
    : `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>${withAddr}</value></field></x>`;
  x.write(`<iq type='set' id='m1'${room ? ` to='${withAddr}'` : ''}><query xmlns='urn:xmpp:mam:2'>${form}</query></iq>`);
  x.write(`<iq type='set' id='m2'><query xmlns='urn:xmpp:mam:2'/></iq>`);
  await x.until(/<iq[^>]*id="m2"/);
  await x.until(/<iq[^>]*id="m1"/);
  texts.push(x.text);
  x.close();
  return texts.join('\n');
}

it('re-created rooms and accounts inherit nothing, and the old session of a re-created account ends', async () => {
  const srv = await startHostile(['alice', 'mallory', 'rm2']);
  try {
    const ctl = await startControlPair(srv.url);
    const alice = await json(srv, 'alice');

    // A members-only room, written to and destroyed; Mallory creates the address again over JSON.
    const board = (await alice.request<{ room: { address: string } }>('room.create', { name: 'Board', local: 'board' })).room.address;
    await alice.send(board, `${SECRET} (board)`);
    await alice.request('room.destroy', { room: board });
    const mallory = await json(srv, 'mallory');
    expect((await mallory.request<{ room: { address: string } }>('room.create', { name: 'Board', local: 'board' })).room.address).toBe(board);
    expect(await everything(srv, 'mallory', board, true)).not.toContain(SECRET);

    // Another one, re-created by entering it over XMPP (XEP-0045 §10.1.2 instant room), which sends history.
    const lounge = (await alice.request<{ room: { address: string } }>('room.create', { name: 'Lounge', local: 'lounge', membersOnly: false })).room.address;
    await alice.send(lounge, `${SECRET} (lounge)`);
    await alice.request('room.destroy', { room: lounge });
    const mx = await xmpp(srv, 'mallory');
    mx.write(`<presence to='${lounge}/mallory'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='500'/></x></presence>`);
    await mx.until(/<subject>/);
    expect(mx.text).toContain('<status code="201"/>');
    expect(mx.text).not.toContain(SECRET);
    mx.close();

    // rm2 talks with alice, then the operator removes the account and creates it again while its session lives.
    const old = await json(srv, 'rm2');
    await old.send('alice@localhost', `${SECRET} (from rm2)`);
    await alice.send('rm2@localhost', `${SECRET} (to rm2)`);
    await old.waitFor('message', (d) => String(d.body).includes('to rm2'));
    expect(await parley(srv, ['user', 'remove', 'rm2@localhost'])).toMatchObject({ code: 0 });
    expect(await parley(srv, ['user', 'add', 'rm2@localhost'], 'pw-rm2\n')).toMatchObject({ code: 0 });
    const ended = await Promise.race([old.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(ended).not.toBeNull();
    expect(await everything(srv, 'rm2', 'alice@localhost', false)).not.toContain(SECRET);
    // Alice's own replay still has what she sent and received: the log keeps everything.
    const aliceAll = await json(srv, 'alice', { resource: 'all', since: 0 });
    expect(JSON.stringify(aliceAll.received('message'))).toContain(`${SECRET} (from rm2)`);

    await Promise.all([alice.close(), mallory.close(), aliceAll.close()]);
    expectControlHeld(await ctl.stop());
    expect(srv.peakRssMiB()).toBeLessThan(200);
  } finally {
    await srv.stop();
  }
});
