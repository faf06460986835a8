/**
 * `npm run bench:notify`: notification to IM. Starts the server (this build, a child process, SQLite with its
 * default durability) with the notify module on, a shared group of three of whom one is available (one offline,
 * one in do-not-disturb), and times each POST /api/v1/notify/notifications until the IM reaches the available
 * person's JSON WebSocket client: routing reads the three people's presence, stores the notification and its
 * history, and sends the IM through the message path. Posts go one at a time after a warm-up. Prints one JSON
 * line: the latency to the IM and to the POST's response, p50/p90/p99/max in ms.
 *
 *   npm run bench:notify              2,000 notifications (after 200 for warm-up)
 *   npm run bench:notify -- 500       fewer
 */
import { performance } from 'node:perf_hooks';
import { rmSync } from 'node:fs';
import { ParleyClient } from '../client/index.js';
import { issueToken } from '../src/auth/tokens.js';
import { addGroupMember } from '../src/engine/admin-service.js';
import { createSqliteStore } from '../src/storage/sqlite/index.js';
import { DOMAIN, seedDatabase, startServer } from './lib/server.js';
import { summary } from './lib/stats.js';

const COUNT = Number(process.argv[2] ?? 2000);
const WARMUP = Math.min(200, Math.ceil(COUNT / 10));

async function main(): Promise<void> {
  const { dir, dbPath, users } = await seedDatabase({ users: ['alice', 'bob', 'carol'], iterations: 4096 });
  // An administrator to post (the API's poster today) and the group.
  const store = createSqliteStore({ path: dbPath, synchronous: 'normal' });
  const adminAddress = `ops-bot@${DOMAIN}`;
  const alice = users.get('alice')!;
  let adminToken: string;
  try {
    await store.accounts.create({ address: adminAddress, credentials: (await store.accounts.get(alice.address))!.credentials, admin: true, createdAt: Date.now(), lastSeen: null, lastStatus: null });
    adminToken = (await issueToken(store.tokens, adminAddress, 3_600_000, Date.now())).token;
    for (const u of ['alice', 'bob', 'carol']) await addGroupMember(store, 'oncall', `${u}@${DOMAIN}`);
  } finally {
    await store.close();
  }
  const server = await startServer({ dir, dbPath, env: { PARLEY_MODULES__NOTIFY__ENABLED: 'true' } });
  const clients: ParleyClient[] = [];
  try {
    const a = await ParleyClient.connect({ url: server.wsUrl, token: alice.token, resource: 'desk' });
    clients.push(a);
    const c = await ParleyClient.connect({ url: server.wsUrl, token: users.get('carol')!.token, resource: 'desk', presence: { availability: 'dnd' } });
    clients.push(c);
    await a.waitFor('synced');
    await c.waitFor('synced');

    const waiting = new Map<string, (at: number) => void>();
    a.on('message', (e) => {
      const body = String(e.data.body ?? '');
      const m = /^\[INFO\] (bench-\d+) /.exec(body);
      if (m) waiting.get(m[1]!)?.(performance.now());
    });
    const im: number[] = [];
    const reply: number[] = [];
    for (let i = 0; i < WARMUP + COUNT; i++) {
      const title = `bench-${i}`;
      const arrived = new Promise<number>((resolve) => waiting.set(title, resolve));
      const t0 = performance.now();
      const res = await fetch(`${server.baseUrl}/api/v1/notify/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title, body: 'Replica lag above 30 s on db-1.', severity: 'info', dedupKey: `bench-${i}`, target: { type: 'group', group: 'oncall' } }),
      });
      const t1 = performance.now();
      if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
      const { notification } = (await res.json()) as { notification: { assignee: string } };
      if (notification.assignee !== alice.address) throw new Error(`routed to ${notification.assignee}`);
      const t2 = await arrived;
      waiting.delete(title);
      if (i >= WARMUP) {
        im.push(t2 - t0);
        reply.push(t1 - t0);
      }
    }
    console.log(JSON.stringify({ bench: 'notify', notifications: COUNT, warmup: WARMUP, postToIm: summary(im), postToResponse: summary(reply) }));
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
