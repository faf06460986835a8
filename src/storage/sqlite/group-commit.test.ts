import { describe, expect, it } from 'vitest';
import { createGroupCommit } from './group-commit.js';

/** A fake transaction runner: records which inputs each transaction wrote, and rolls back on a throw. */
function fakeDb() {
  const committed: string[][] = [];
  let open: string[] | null = null;
  const transact = <T>(fn: () => T): T => {
    open = [];
    try {
      const out = fn();
      committed.push(open);
      return out;
    } finally {
      open = null;
    }
  };
  const write = (input: string): string => {
    if (open === null) throw new Error('write outside a transaction');
    if (input.startsWith('bad')) throw new Error(`cannot write ${input}`);
    open.push(input);
    return input.toUpperCase();
  };
  return { committed, transact, write };
}

describe('group commit', () => {
  it('writes all calls of one event-loop turn in one transaction, in call order', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write);
    const outs = await Promise.all(['a', 'b', 'c'].map((x) => gc.submit(x)));
    expect(outs).toEqual(['A', 'B', 'C']);
    expect(db.committed).toEqual([['a', 'b', 'c']]);
    await gc.submit('d');
    expect(db.committed).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('does not write before the current turn ends', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write);
    const p = gc.submit('a');
    await Promise.resolve();
    expect(db.committed).toEqual([]);
    await p;
    expect(db.committed).toEqual([['a']]);
  });

  it('falls back to one transaction per call when the group fails', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write);
    const settled = await Promise.allSettled(['a', 'bad1', 'b'].map((x) => gc.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(settled[1]).toMatchObject({ reason: { message: 'cannot write bad1' } });
    expect(db.committed).toEqual([['a'], ['b']]);
  });

  it('stops retrying once a retry fails for a reason of the database, not of the input', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write, (e) => e instanceof Error && e.message.includes('bad-disk'));
    const settled = await Promise.allSettled(['a', 'bad-disk', 'b', 'c'].map((x) => gc.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(settled[3]).toMatchObject({ reason: { message: 'cannot write bad-disk' } });
    expect(db.committed).toEqual([['a']]);
  });

  it('rejects a lone failing call with its own error', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write);
    await expect(gc.submit('bad')).rejects.toThrow('cannot write bad');
    expect(db.committed).toEqual([]);
  });

  it('close flushes synchronously and refuses later input', async () => {
    const db = fakeDb();
    const gc = createGroupCommit(db.transact, db.write);
    const p = gc.submit('a');
    gc.close();
    expect(db.committed).toEqual([['a']]);
    await expect(p).resolves.toBe('A');
    await expect(gc.submit('b')).rejects.toMatchObject({ code: 'service-unavailable' });
  });
});
