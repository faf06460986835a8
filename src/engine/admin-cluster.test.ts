/**
 * The administrators' view and actions across nodes: an account's sessions and the cluster's overview list the
 * sessions every node holds (with their node and protocol), and ending one resource, all of a user's sessions or
 * a disabled account's reaches the node that holds them, which tells the client why.
 */
import { describe, expect, it } from 'vitest';
import type { Sink } from './session.js';
import { clusterPerTest, settle } from './test-cluster.js';
import { testPresence } from './test-engine.js';

const A = 'a@example.com';
const B = 'b@example.com';

const newCluster = clusterPerTest();

/** A sink that records how it was closed. */
function sink(protocol: Sink['protocol']): Sink & { closedWith: Array<[string, string]> } {
  const closedWith: Array<[string, string]> = [];
  return { send: () => undefined, close: (code, message) => closedWith.push([code, message]), protocol, closedWith };
}

describe('administration across nodes', () => {
  it('lists sessions of every node and ends one resource, then all, on the node that holds them', async () => {
    const [one, two] = await newCluster([A, B]).pair();
    const phone = sink('json');
    const desk = sink('xmpp-websocket');
    await two.engine.openSession(A, 'phone', phone, { ...testPresence });
    await two.engine.openSession(A, 'desk', desk, { ...testPresence });
    await one.engine.openSession(B, 'web', sink('json'), { ...testPresence });
    await settle();

    const detail = await one.engine.admin.views.userDetail(A);
    expect(detail.online).toBe(2);
    expect(detail.sessions.map((s) => [s.resource, s.protocol, s.node === one.engine.ctx.cluster.node]).sort()).toEqual([
      ['desk', 'xmpp-websocket', false],
      ['phone', 'json', false],
    ]);
    const overview = one.engine.admin.views.sessions();
    expect(overview).toMatchObject({ total: 3, users: 2, byProtocol: { json: 2, 'xmpp-websocket': 1 } });

    await one.engine.admin.endUserSession(A, 'phone');
    await settle();
    expect(phone.closedWith).toEqual([['policy-violation', 'an administrator ended this session']]);
    expect(desk.closedWith).toEqual([]);
    expect(two.engine.sessions.countOf(A)).toBe(1);
    await expect(one.engine.admin.endUserSession(A, 'phone')).rejects.toMatchObject({ code: 'item-not-found' });

    expect(await one.engine.admin.endUserSessions(A)).toBe(1);
    await settle();
    expect(desk.closedWith).toEqual([['policy-violation', 'an administrator ended this session']]);
    expect(one.engine.admin.views.sessions()).toMatchObject({ total: 1, users: 1 });
  });

  it('disabling an account on one node ends its sessions on the other with account-disabled', async () => {
    const [one, two] = await newCluster([A, B]).pair();
    const s = sink('xmpp-tcp');
    await two.engine.openSession(A, 'r', s, { ...testPresence });
    await settle();
    await one.engine.admin.setDisabled(A, true, B);
    await settle();
    expect(s.closedWith).toEqual([['account-disabled', 'the account was disabled by an administrator']]);
    await expect(two.engine.openSession(A, 'r2', sink('json'), { ...testPresence })).rejects.toMatchObject({ code: 'account-disabled' });
    await one.engine.admin.setDisabled(A, false, B);
    await two.engine.openSession(A, 'r2', sink('json'), { ...testPresence });
  });
});
