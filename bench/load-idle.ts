/**
 * Load process for the idle-connection scenario: opens its share of connections, says hello on each (token
 * login) and then holds them without sending anything until run.ts says {cmd:'exit'}.
 */
import { childMain, LeanClient, nextMessage, pool, send, sleep, sourceAddress } from './lib/lean-client.js';

interface Init {
  cmd: 'init';
  wsUrl: string;
  tokens: string[];
  sourceAddresses: number;
  connOffset: number;
  concurrency: number;
}

childMain(async () => {
  const init = await nextMessage<Init>((m) => m.cmd === 'init');
  const t0 = performance.now();
  let failed = 0;
  let lastError = '';
  const clients = await pool(init.tokens, init.concurrency, async (token, i) => {
    try {
      return await LeanClient.connect(init.wsUrl, token, { localAddress: sourceAddress(init.connOffset + i, init.sourceAddresses) });
    } catch (e) {
      failed++;
      lastError = (e as Error).message;
      return null;
    }
  });
  const open = clients.filter((c): c is LeanClient => c !== null);
  let dropped = 0;
  for (const c of open) void c.closed.then(() => dropped++);
  send({ type: 'ready', connected: open.length, failed, lastError, connectMs: Math.round(performance.now() - t0) });
  await nextMessage((m) => m.cmd === 'status' || m.cmd === 'exit').then(async function loop(m): Promise<void> {
    if (m.cmd === 'status') {
      send({ type: 'status', open: open.length - dropped, dropped });
      return nextMessage((x) => x.cmd === 'status' || x.cmd === 'exit').then(loop);
    }
  });
  for (const c of open) c.ws.terminate();
  await sleep(100);
  process.exit(0);
});
