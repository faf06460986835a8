/**
 * Group commit: every write call made in the same event-loop turn joins one transaction, flushed on
 * setImmediate. With synchronous=FULL each commit costs an fsync, so batching turns N fsyncs into one.
 */
import { ParleyError } from '../../core/errors.js';

interface Pending<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (e: unknown) => void;
}

/** A queue of writes that commit together. */
export interface GroupCommit<In, Out> {
  /** Queues `input`; settles after the transaction holding it commits (or with its own error). */
  submit(input: In): Promise<Out>;
  /** Writes everything queued now, synchronously. */
  flush(): void;
  /** Flushes, then refuses further input. */
  close(): void;
}

/**
 * Creates a group-commit queue. `transact` runs a function in one write transaction; `write` writes one input.
 * If the shared transaction fails, each input is retried in its own transaction, so one bad input only fails
 * its own caller. Inputs are written in submission order. `isFatal` marks errors of the database rather than
 * of an input (lock timeout, full disk): once a retry fails that way the rest fail with it untried, because
 * each retry would block the event loop for another busy_timeout.
 */
export function createGroupCommit<In, Out>(
  transact: <T>(fn: () => T) => T,
  write: (input: In) => Out,
  isFatal: (e: unknown) => boolean = () => false,
): GroupCommit<In, Out> {
  let queue: Array<Pending<In, Out>> = [];
  let timer: NodeJS.Immediate | null = null;
  let closed = false;

  const flush = (): void => {
    if (timer !== null) clearImmediate(timer);
    timer = null;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    let outs: Out[] | null = null;
    let groupError: unknown = null;
    try {
      outs = transact(() => batch.map((p) => write(p.input)));
    } catch (e) {
      groupError = e;
    }
    if (outs !== null) {
      const results = outs;
      batch.forEach((p, i) => p.resolve(results[i]!));
      return;
    }
    if (batch.length === 1) {
      batch[0]!.reject(groupError);
      return;
    }
    let fatal: { error: unknown } | null = null;
    for (const p of batch) {
      if (fatal !== null) {
        p.reject(fatal.error);
        continue;
      }
      try {
        p.resolve(transact(() => write(p.input)));
      } catch (e) {
        p.reject(e);
        if (isFatal(e)) fatal = { error: e };
      }
    }
  };

  return {
    submit(input) {
      if (closed) return Promise.reject(new ParleyError('service-unavailable', 'the store is closed'));
      return new Promise<Out>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        timer ??= setImmediate(flush);
      });
    },
    flush,
    close() {
      flush();
      closed = true;
    },
  };
}
