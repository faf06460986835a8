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
