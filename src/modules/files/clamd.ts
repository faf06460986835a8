/**
 * A client of the ClamAV daemon's socket protocol (clamd(8), "COMMANDS"): the `z`-prefixed form of each command,
 * whose reply ends with a NUL byte, so a reply is complete exactly when its terminator arrives and anything else
 * (a closed connection, a reply without it, an unknown reply) is a failure, never a clean file.
 *
 * INSTREAM sends the file as chunks, each a 4-byte unsigned length in network byte order followed by that many
 * bytes, ended by a zero length; clamd answers `stream: OK`, `stream: <signature> FOUND`, or an error such as
 * `INSTREAM size limit exceeded. ERROR` (past its StreamMaxLength, after which it closes the connection).
 */
import { connect, type Socket } from 'node:net';

/** Where clamd listens: its LocalSocket, or its TCPAddr and TCPSocket. */
export type ClamdTarget = { socket: string } | { host: string; port: number };

/**
 * What a scan concluded. Only `clean` lets a file be stored. A failure is `down` when clamd could not be reached
 * or stopped answering (not when it answered with an error).
 */
export type Verdict = { kind: 'clean' } | { kind: 'infected'; signature: string } | { kind: 'failed'; reason: string; down?: boolean };

/** Bytes per INSTREAM chunk: small frames keep the memory held per upload small. */
const CHUNK_BYTES = 64 * 1024;
/** A longer reply is not clamd's (a signature name is at most a few hundred bytes). */
const MAX_REPLY_BYTES = 4096;

const describe = (t: ClamdTarget): string => ('socket' in t ? t.socket : `${t.host}:${t.port}`);

/** A timer as a promise that rejects with `what`, and its cancel. */
function deadline(ms: number, what: string): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
    // A check in flight must not hold a stopping process (an upload's own sockets keep it alive while it runs).
    timer.unref();
  });
  promise.catch(() => undefined);
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Connects to clamd within `timeoutMs`. */
async function dial(target: ClamdTarget, timeoutMs: number): Promise<Socket> {
  const socket = 'socket' in target ? connect({ path: target.socket }) : connect({ host: target.host, port: target.port });
  const timer = deadline(timeoutMs, `clamd at ${describe(target)} did not accept a connection within ${timeoutMs} ms`);
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', (e) => reject(new Error(`clamd at ${describe(target)} is unreachable: ${e.message}`)));
      }),
      timer.promise,
    ]);
    return socket;
  } catch (e) {
    socket.destroy();
    throw e;
  } finally {
    timer.cancel();
  }
}

/** Reads one NUL-terminated reply from `socket` (rejects when the connection ends or errs first). */
function readReply(socket: Socket): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (fn: () => void): void => {
      socket.removeAllListeners('data');
      fn();
    };
    socket.on('data', (b: Buffer) => {
      const nul = b.indexOf(0);
      chunks.push(nul < 0 ? b : b.subarray(0, nul));
      size += nul < 0 ? b.length : nul;
      if (size > MAX_REPLY_BYTES) done(() => reject(new Error(`clamd's reply exceeds ${MAX_REPLY_BYTES} bytes without ending`)));
      else if (nul >= 0) done(() => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(`clamd connection failed: ${e.message}`), { code: e.code })));
    socket.once('close', () => reject(new Error('clamd closed the connection without a complete reply')));
  });
}

/** The verdict of an INSTREAM reply, parsed strictly: anything not understood is a failure. */
export function parseInstreamReply(reply: string): Verdict {
  if (reply === 'stream: OK') return { kind: 'clean' };
  const found = /^stream: (\S(?:.*\S)?) FOUND$/.exec(reply);
  if (found) {
    const signature = found[1]!;
    // With AlertExceedsMax, a file past MaxFileSize, MaxScanSize and the like is reported as this heuristic
    // rather than as OK: the file was not fully scanned, so it is refused as unscanned, not as malware.
    if (signature.startsWith('Heuristics.Limits.Exceeded')) return { kind: 'failed', reason: `clamd did not scan the whole file (${signature}): it exceeds one of clamd's scan limits` };
    return { kind: 'infected', signature };
  }
  if (reply === 'INSTREAM size limit exceeded. ERROR') return { kind: 'failed', reason: "the file exceeds clamd's StreamMaxLength, so it was not scanned" };
  if (reply.endsWith(' ERROR')) return { kind: 'failed', reason: `clamd reported an error: ${reply.slice(0, 200)}` };
  return { kind: 'failed', reason: `clamd answered something unexpected: ${JSON.stringify(reply.slice(0, 200))}` };
}

/**
 * One INSTREAM scan in progress: chunks are written as the upload arrives, then `finish` sends the terminator
 * and waits for the verdict. A failure on the way (clamd closed the connection, answered early, timed out) is
 * remembered; later writes are skipped and `finish` reports it.
 */
export class InstreamScan {
  private failure: string | null = null;
  private early: string | null = null;
  /** Bytes of the file sent so far. */
  private sent = 0;
  /** clamd hung up while the file was being sent. */
  private hungUp = false;
  private readonly reply: Promise<string>;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.reply = readReply(socket);
    // clamd answers before the terminator only to refuse (StreamMaxLength): keep the answer, stop writing.
    this.reply.then(
      (r) => {
        this.early = r;
      },
      (e: unknown) => {
        const code = (e as { code?: string }).code;
        this.hungUp = this.sent > 0 && (code === 'EPIPE' || code === 'ECONNRESET');
        this.failure ??= this.hungUp
          ? `clamd closed the connection after ${this.sent} bytes without a verdict (the file probably exceeds clamd's StreamMaxLength)`
          : e instanceof Error
            ? e.message
            : String(e);
      },
    );
    socket.on('error', () => undefined);
  }

  /** Opens a connection and starts INSTREAM. */
  static async open(target: ClamdTarget, timeoutMs: number): Promise<InstreamScan> {
    const socket = await dial(target, timeoutMs);
    const scan = new InstreamScan(socket, timeoutMs);
    socket.write('zINSTREAM\0');
    return scan;
  }

  private get stopped(): boolean {
    return this.failure !== null || this.early !== null;
  }

  /** Sends `data` as INSTREAM chunks; waits while clamd is slow to read (at most timeoutMs per wait). */
  async write(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length && !this.stopped; at += CHUNK_BYTES) {
      const part = data.subarray(at, Math.min(data.length, at + CHUNK_BYTES));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(part.length, 0);
      this.socket.write(header);
      this.sent += part.length;
      if (!this.socket.write(part)) await this.drained();
    }
  }

  private async drained(): Promise<void> {
    const timer = deadline(this.timeoutMs, `clamd did not read the upload for ${this.timeoutMs} ms`);
    try {
      await Promise.race([new Promise((resolve) => this.socket.once('drain', resolve)), this.reply, timer.promise]);
    } catch (e) {
      this.failure ??= e instanceof Error ? e.message : String(e);
    } finally {
      timer.cancel();
    }
  }

  /** Ends the stream and waits (at most timeoutMs) for the verdict; always closes the connection. */
  async finish(): Promise<Verdict> {
    const timer = deadline(this.timeoutMs, `clamd gave no verdict within ${this.timeoutMs} ms`);
    try {
      if (!this.stopped) this.socket.write(Buffer.alloc(4));
      const reply = this.early ?? (this.failure === null ? await Promise.race([this.reply, timer.promise]) : null);
      // A hang-up mid-file is clamd refusing the stream (it answers and closes; the answer can be lost with the
      // write that failed): it is reachable, so not down.
      return reply === null ? { kind: 'failed', reason: this.failure ?? 'clamd failed', down: !this.hungUp } : parseInstreamReply(reply);
    } catch (e) {
      return { kind: 'failed', reason: this.failure ?? (e instanceof Error ? e.message : String(e)), down: true };
    } finally {
      timer.cancel();
      this.socket.destroy();
    }
  }

  /** Drops the scan (the upload failed on its own side). */
  abort(): void {
    this.socket.destroy();
  }
}

/** Sends a simple command (`PING`, `VERSION`) and returns its reply, within `timeoutMs` in all. */
export async function clamdCommand(target: ClamdTarget, command: 'PING' | 'VERSION', timeoutMs: number): Promise<string> {
  const timer = deadline(timeoutMs, `clamd did not answer ${command} within ${timeoutMs} ms`);
  let socket: Socket | null = null;
  try {
    socket = await Promise.race([dial(target, timeoutMs), timer.promise]);
    const reply = readReply(socket);
    socket.write(`z${command}\0`);
    return await Promise.race([reply, timer.promise]);
  } finally {
    timer.cancel();
    socket?.destroy();
  }
}
