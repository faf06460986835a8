/** A password change ends the account's other sessions, whether made through the engine or by another process. */
import { describe, expect, it } from 'vitest';
import { deriveCredentials } from '../auth/scram.js';
import { credentialsMark } from './auth-service.js';
import type { Engine } from './engine.js';
import { testEngine, testPresence } from './test-engine.js';
import type { Session, Sink } from './session.js';

const presence = testPresence;
const A = 'a@example.com';
const B = 'b@example.com';

class ClosingSink implements Sink {
  closed: { code: string; message: string } | null = null;
  send(): void {}
  close(code: string, message: string): void {
    this.closed = { code, message };
  }
}

async function setup(): Promise<Engine> {
  return (await testEngine([A, B], { password: 'old-password' })).engine;
}

async function open(engine: Engine, user: string, resource: string, credentials?: string): Promise<{ s: Session; sink: ClosingSink }> {
  const sink = new ClosingSink();
  const { session } = await engine.openSession(user, resource, sink, { ...presence }, credentials === undefined ? {} : { credentials });
  return { s: session, sink };
}

describe('password change', () => {
  it('through the engine: the other sessions end, the one that changed it stays, other users are untouched', async () => {
    const e = await setup();
    const { credentials } = await e.auth.authenticate(A, 'old-password', '192.0.2.1');
    const a1 = await open(e, A, 'one', credentials);
    const a2 = await open(e, A, 'two', credentials);
    const b1 = await open(e, B, 'x');
    await e.changePassword(A, 'new-password', a1.s);
    expect(a1.sink.closed).toBeNull();
    expect(a2.sink.closed).toEqual({ code: 'not-authorized', message: 'the password was changed' });
    expect(b1.sink.closed).toBeNull();
    expect([...e.sessions.of(A)]).toEqual([a1.s]);
    // The old password is refused, the new one opens sessions that the next change ends in turn.
    await expect(e.auth.verify(A, 'old-password', '192.0.2.1')).rejects.toMatchObject({ code: 'not-authorized' });
    const again = await e.auth.authenticate(A, 'new-password', '192.0.2.1');
    const a3 = await open(e, A, 'three', again.credentials);
    expect(a3.sink.closed).toBeNull();
    await e.changePassword(A, 'newer-password');
    expect(a1.sink.closed).not.toBeNull();
    expect(a3.sink.closed).not.toBeNull();
    expect(e.sessions.isOnline(A)).toBe(false);
  });

  it('a login judged before a change cannot open a session after it', async () => {
    const e = await setup();
    const before = await e.auth.authenticate(A, 'old-password', '192.0.2.1');
    await e.changePassword(A, 'new-password');
    await expect(open(e, A, 'late', before.credentials)).rejects.toMatchObject({ code: 'not-authorized' });
    expect(e.sessions.isOnline(A)).toBe(false);
  });

  it('by another process: the data-version sweep ends every session of the account, with no read per message', async () => {
    const e = await setup();
    const mark = credentialsMark((await e.ctx.store.accounts.get(A))!.credentials);
    const a1 = await open(e, A, 'one', mark);
    const b1 = await open(e, B, 'x');
    // What `parley user passwd` writes, as the server sees it after the poll noticed another process's commit.
    await e.ctx.store.accounts.setCredentials(A, await deriveCredentials('cli-password', 4096));
    await e.ctx.directory.refresh(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(a1.sink.closed).toEqual({ code: 'not-authorized', message: 'the password was changed' });
    expect(b1.sink.closed).toBeNull();
    expect(e.sessions.isOnline(A)).toBe(false);
  });

  it('a change the poll has not reported yet is noticed when the next session opens', async () => {
    const e = await setup();
    const a1 = await open(e, A, 'one');
    await e.ctx.store.accounts.setCredentials(A, await deriveCredentials('cli-password', 4096));
    const fresh = await e.auth.authenticate(A, 'cli-password', '192.0.2.1');
    const a2 = await open(e, A, 'two', fresh.credentials);
    expect(a1.sink.closed).toMatchObject({ code: 'not-authorized' });
    expect(a2.sink.closed).toBeNull();
    expect([...e.sessions.of(A)]).toEqual([a2.s]);
  });
});
