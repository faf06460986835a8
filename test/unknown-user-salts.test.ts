/**
 * SCRAM salts of unknown users (RFC 5802 §9: the server should not reveal whether a user exists) come from a
 * secret kept in the database: two server processes started one after the other on the same database announce
 * the same salt for a name nobody has, and that salt and iteration count look like a real user's.
 */
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { killAll, prepareDb, startProcess, type ServerProcess } from './process.js';
import { RawXmpp } from './xmpp-raw.js';

afterAll(killAll);

/** The direct-TLS port the server process printed. */
async function tlsPort(p: ServerProcess): Promise<number> {
  const end = Date.now() + 10_000;
  for (;;) {
    const m = /"directTls":(\d+)/.exec(p.output());
    if (m) return Number(m[1]);
    if (Date.now() > end) throw new Error(`no XMPP port in: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** salt (base64) and iterations of the server-first-message for `user`. */
async function serverFirst(port: number, user: string): Promise<{ salt: string; iterations: number }> {
  const c = await RawXmpp.open(port, true);
  try {
    await c.open();
    const challenge = await c.scramFirst('SCRAM-SHA-256', user);
    const text = Buffer.from(/>([^<]+)</.exec(challenge)![1]!, 'base64').toString();
    const attrs = Object.fromEntries(text.split(',').map((kv) => [kv[0], kv.slice(2)]));
    return { salt: attrs.s!, iterations: Number(attrs.i) };
  } finally {
    c.close();
  }
}

it('two server starts on one database give an unknown user the same salt, shaped like a real one', async () => {
  const { dir, dbPath } = await prepareDb('parley-salts-', ['alice']);
  try {
    const seen: Array<{ nobody: { salt: string; iterations: number }; Nobody: string; alice: { salt: string; iterations: number } }> = [];
    for (let run = 0; run < 2; run++) {
      const p = await startProcess(dbPath);
      const port = await tlsPort(p);
      seen.push({
        nobody: await serverFirst(port, 'nobody'),
        Nobody: (await serverFirst(port, 'NoBody')).salt,
        alice: await serverFirst(port, 'alice'),
      });
      p.proc.kill('SIGTERM');
      await p.exited;
    }
    const [first, second] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(second.nobody).toEqual(first.nobody);
    expect(first.Nobody).toBe(first.nobody.salt);
    expect(second.alice).toEqual(first.alice);
    // Nothing tells the unknown name from the real account: same salt length and encoding, same iterations.
    expect(first.nobody.salt).not.toBe(first.alice.salt);
    expect(first.nobody.salt).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(first.alice.salt).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(first.nobody.iterations).toBe(first.alice.iterations);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
