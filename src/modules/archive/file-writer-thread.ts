/**
 * The worker thread of FileBatchWriter (file-writer.ts): writes each batch of files it is sent synchronously, in
 * order, and answers once per batch, null when all were written or the first failure's code and message.
 */
import { writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { BatchReply, FileBatch } from './file-writer.js';

const port = parentPort;
if (port === null) throw new Error('file-writer-thread.js runs only as a worker thread');
port.on('message', (batch: FileBatch) => {
  let reply: BatchReply = null;
  try {
    for (const [path, data] of batch) writeFileSync(path, data);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reply = { code: err.code ?? 'EIO', message: err.message };
  }
  port.postMessage(reply);
});
