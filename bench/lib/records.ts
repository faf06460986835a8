/** Messages for the benchmarks that append to the store's log directly (no server, no sockets). */
import { conversationKey, type NewRecord } from '../../src/core/types.js';

/** The `n`th 1:1 chat message from `s<pair>@localhost` to `r<pair>@localhost`, with `body`, stamped now. */
export function chatRecord(pair: number, n: number, body: string): NewRecord {
  const from = `s${pair}@localhost`;
  const to = `r${pair}@localhost`;
  return {
    kind: 'message',
    type: 'chat',
    conv: conversationKey('chat', from, to),
    from,
    fromResource: 'res',
    to,
    toResource: null,
    clientId: `c-${n}`,
    body,
    ref: null,
    receipt: null,
    ts: Date.now(),
    offlineFor: [],
  };
}

/** Sender–recipient pairs the archive benchmarks' messages rotate over. */
const ARCHIVE_PAIRS = 200;

/** The archive benchmarks' `n`th message: a 1:1 message of about 100 characters, one of 200 pairs. */
export const archiveMessage = (n: number): NewRecord => chatRecord(n % ARCHIVE_PAIRS, n, `${n} ${'x'.repeat(96)}`);

/**
 * Appends the archive benchmarks' messages to `store`'s log, `batch` appends per turn (one group commit): each
 * call appends `count` more, numbered on from the last call's.
 */
export function archiveAppender(store: { messages: { append(records: NewRecord[]): Promise<unknown> } }, batch: number): (count: number) => Promise<void> {
  let n = 0;
  return async (count) => {
    for (let done = 0; done < count; done += batch) {
      const ps: Array<Promise<unknown>> = [];
      for (let i = 0; i < batch; i++) ps.push(store.messages.append([archiveMessage(n++)]));
      await Promise.all(ps);
    }
  };
}
