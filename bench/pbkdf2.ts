/**
 * `npm run bench:pbkdf2`: the cost of one PBKDF2-HMAC-SHA256 derivation (what the server pays per password
 * login, per unknown-user attempt and twice per password change) at several iteration counts, measured the way
 * the server runs it (node:crypto's pbkdf2 on the libuv pool, one at a time). Prints one JSON line per count:
 * the median, min and max of the runs, in ms.
 *
 *   npm run bench:pbkdf2                       4096, 10000, 100000, 210000, 600000, 1300000
 *   npm run bench:pbkdf2 -- 10000,600000       chosen counts
 */
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);
const counts = (process.argv[2] ?? '4096,10000,100000,210000,600000,1300000').split(',').map(Number);

for (const iterations of counts) {
  // Fewer runs for the slow counts; one warm-up run first.
  const runs = iterations >= 600_000 ? 5 : 20;
  await derive('correct horse battery staple', 'salt-of-sixteen!', iterations, 32, 'sha256');
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await derive('correct horse battery staple', 'salt-of-sixteen!', iterations, 32, 'sha256');
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 100) / 100;
  process.stdout.write(JSON.stringify({ iterations, runs, medianMs: r(ms[Math.floor(runs / 2)]!), minMs: r(ms[0]!), maxMs: r(ms[runs - 1]!) }) + '\n');
}
