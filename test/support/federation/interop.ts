/**
 * The vitest set-up the federation tests share: why they cannot run here (said loudly), and the hooks that start
 * the peers (and Parley on parley.test) before the file's tests, print the peers' logs after a failed test, end
 * the slixmpp clients after each test, and stop everything after the file.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { MODULES } from '../../../src/app/modules.js';
import { SlixClient, slixmppUnavailable } from '../../xmpp/slix.js';
import { federationPeersUnavailable, startPeers, type Peers, type PeersOptions } from './index.js';
import { PARLEY, startInteropParley, type InteropParley } from './parley.js';

/**
 * Why `file` cannot run here (the peers cannot run, no slixmpp, or, with `parley`, no federation module in this
 * build), warned on the console; null when it can.
 */
export function federationTestUnavailable(file: string, o: { parley: boolean }): string | null {
  const hasFederation = MODULES.some((m) => m.name === 'federation');
  const why = federationPeersUnavailable() ?? slixmppUnavailable() ?? (!o.parley || hasFederation ? null : 'this build has no federation module (src/modules/federation)');
  if (why !== null) console.warn(`\n*** SKIPPED: ${file} (${why}).\n`);
  return why;
}

/**
 * After each test: the peers' logs when it failed, and every slixmpp client killed. After the file: the clients
 * killed, then `close` (Parley, if any) and the peers stopped. `current` gives the peers running at that time.
 */
export function peerHooks(current: () => Peers | undefined, close: () => Promise<void> = async () => undefined): void {
  afterEach(async (ctx) => {
    const peers = current();
    if (ctx.task.result?.state === 'fail' && peers) console.error(peers.logs());
    await SlixClient.killAll();
  });
  afterAll(async () => {
    await SlixClient.killAll();
    await close();
    await current()?.stop();
  }, 60_000);
}

/**
 * Starts the peers with `peers`, then Parley with the accounts `users` (and root, an administrator) and the
 * certificate the mode calls for (the test CA's for EXTERNAL, a self-signed one for dialback), before the file's
 * tests, unless `why` says they cannot run; `ready` receives them. Registers peerHooks() to stop them.
 */
export function interopServers(why: string | null, o: { peers: PeersOptions; users: readonly string[] }, ready: (peers: Peers, parley: InteropParley) => void): void {
  let peers: Peers | undefined;
  let parley: InteropParley | undefined;
  beforeAll(async () => {
    if (why) return;
    peers = await startPeers(o.peers);
    const cert = o.peers.mode === 'external' ? peers.pki.issued[PARLEY]! : peers.pki.selfSigned[PARLEY]!;
    parley = await startInteropParley(o.users, cert, peers.pki.caFile);
    ready(peers, parley);
  }, 240_000);
  peerHooks(
    () => peers,
    async () => {
      await parley?.close();
    },
  );
}
