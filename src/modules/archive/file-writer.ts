/**
 * Writes many small files (an export's EML transcripts, one per conversation-day) from one worker thread, in
 * batches. `fs.promises.writeFile` hands each file to libuv's pool three times (open, write, close) and back, six
 * thread wake-ups a file; for the 61,229 files of an export of 100,000 records those hand-offs, not the file
 * system, were where the server thread's time went. Here a batch costs one message each way and the thread writes
 * its files back to back (measured in docs/PERFORMANCE.md, "The export's EML files on a thread of their own").
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compiledUrl } from '../../storage/sqlite/module-areas.js';

/** A batch sent to the writer thread: [path, content] of each file, written in order. */
export type FileBatch = Array<[string, string]>;
/** The thread's answer to a batch: null when every file was written, else the first failure. */
export type BatchReply = null | { code: string; message: string };

/** Options of FileBatchWriter (the defaults suit transcripts of a few kilobytes). */
export interface FileBatchWriterOptions {
  /** Files per batch. */
  files?: number;
  /** Characters per batch, whichever limit comes first. */
  chars?: number;
  /** Batches sent and not yet answered before write() waits. */
  inFlight?: number;
}

/** The compiled thread entry. Under the test runner this module is TypeScript source, so use the build. */
function entry(): string {
  return fileURLToPath(new URL('./file-writer-thread.js', compiledUrl(import.meta.url)));
}

/** Writes files in batches on a worker thread, started with the first batch (an export with no transcripts starts none). */
export class FileBatchWriter {
  private worker: Worker | null = null;
  private readonly maxFiles: number;
  private readonly maxChars: number;
  private readonly maxInFlight: number;
  private batch: FileBatch = [];
  private chars = 0;
  /** One per batch sent and not yet answered, in the order the thread answers them. */
  private readonly sent: Array<{ answered: Promise<void>; resolve: () => void }> = [];
  private failure: Error | null = null;
  /** Set once close() or abort() stops the thread. */
  private stopping = false;

  constructor(opts: FileBatchWriterOptions = {}) {
    this.maxFiles = opts.files ?? 256;
    this.maxChars = opts.chars ?? 1024 * 1024;
    this.maxInFlight = opts.inFlight ?? 2;
  }

  /** Queues a file; resolves once it may take more (fewer than `inFlight` batches unanswered). */
  async write(path: string, data: string): Promise<void> {
    this.check();
    this.batch.push([path, data]);
    this.chars += data.length;
    if (this.batch.length < this.maxFiles && this.chars < this.maxChars) return;
    this.post();
    while (this.sent.length >= this.maxInFlight) await this.sent[0]!.answered;
    this.check();
  }

  /** Writes what is queued and waits for every batch; throws the first failure. Stops the thread. */
  async close(): Promise<void> {
    try {
      this.check();
      if (this.batch.length > 0) this.post();
      while (this.sent.length > 0) await this.sent[0]!.answered;
      this.check();
    } finally {
      await this.abort();
    }
  }

  /** Stops the thread at once, whatever is queued (for an export that failed elsewhere). */
  async abort(): Promise<void> {
    this.stopping = true;
    await this.worker?.terminate();
  }

  /** Sends the queued batch to the thread, starting it first if need be. */
  private post(): void {
    this.worker ??= this.start();
    let resolve!: () => void;
    const answered = new Promise<void>((r) => (resolve = r));
    this.sent.push({ answered, resolve });
    this.worker.postMessage(this.batch);
    this.batch = [];
    this.chars = 0;
  }

  private start(): Worker {
    const worker = new Worker(entry());
    worker.on('message', (reply: BatchReply) => {
      if (reply !== null) this.failure ??= Object.assign(new Error(reply.message), { code: reply.code });
      this.sent.shift()?.resolve();
    });
    worker.on('error', (e: Error) => this.stopped(e));
    worker.on('exit', () => this.stopped(new Error('the file writer thread stopped')));
    return worker;
  }

  /**
   * The thread is gone: a failure unless it was asked to stop with every batch answered (a thread that could not
   * start fails the next write, rather than leave it waiting for an answer).
   */
  private stopped(e: Error): void {
    if (!this.stopping || this.sent.length > 0) this.failure ??= e;
    for (const s of this.sent.splice(0)) s.resolve();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }
}
