/** An in-memory Transport and stream settings for the unit tests of the XMPP front door and of modules that serve XMPP. */
import type { TLSSocket } from 'node:tls';
import type { Transport } from './transport.js';
import type { XmppExtensions, XmppOptions } from './types.js';

/**
 * A Transport in memory for tests: records what the server writes; the test pushes client bytes and plays the
 * socket. By default the test confirms writes and drains by hand (flushWrites, drain); with `auto` every write
 * is confirmed on the next microtask and the socket never holds a backlog, like a fast reader.
 */
export class MemoryTransport implements Transport {
  readonly remoteAddress = '192.0.2.1';
  readonly framed = false;
  readonly protocol = 'xmpp-tcp';
  /** Everything written, in order. */
  readonly out: string[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  /** Unsent bytes the socket reports (set by the test). */
  pending = 0;
  private data: ((chunk: Buffer | string) => void) | null = null;
  private closers: Array<() => void> = [];
  private written: Array<() => void> = [];
  private drains: Array<() => void> = [];

  constructor(private readonly auto = false) {}

  secure(): boolean {
    return false;
  }
  tlsSocket(): TLSSocket | null {
    return null;
  }
  canStartTls(): boolean {
    return false;
  }
  async startTls(): Promise<void> {
    throw new Error('no TLS in memory');
  }
  write(text: string): void {
    this.out.push(text);
  }
  backlog(): number {
    return this.pending;
  }
  onceDrained(fn: () => void): void {
    if (this.auto) fn();
    else this.drains.push(fn);
  }
  afterWrite(fn: () => void): void {
    if (this.auto) queueMicrotask(fn);
    else this.written.push(fn);
  }
  pause(paused: boolean): void {
    this.paused = paused;
  }
  end(): void {
    this.ended = true;
    this.close();
  }
  destroy(): void {
    this.destroyed = true;
    this.close();
  }
  onData(fn: (chunk: Buffer | string) => void): void {
    this.data = fn;
  }
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  /** The client sends `text`. */
  push(text: string): void {
    this.data?.(text);
  }
  /** The socket has written everything so far: afterWrite callbacks run. */
  flushWrites(): number {
    const due = this.written;
    this.written = [];
    for (const fn of due) fn();
    return due.length;
  }
  /** The backlog drained. */
  drain(): void {
    this.pending = 0;
    const due = this.drains;
    this.drains = [];
    for (const fn of due) fn();
  }
  /** The connection closed (drains wake, pending write confirmations are dropped). */
  close(): void {
    if (this.closers.length === 0) return;
    const fns = this.closers;
    this.closers = [];
    this.written = [];
    this.drain();
    for (const fn of fns) fn();
  }
  /** Output since index `from`, joined. */
  text(from = 0): string {
    return this.out.slice(from).join('');
  }
}

/** Stream settings for a test connection serving `extensions`. */
export function testXmppOptions(extensions: XmppExtensions): XmppOptions {
  return {
    requireTls: false,
    allowPlainWithoutTls: true,
    maxStanzaBytes: 65_536,
    negotiationTimeoutMs: 10_000,
    idleMs: 60_000,
    stanzasPerSecond: 1000,
    maxBacklogBytes: 1 << 20,
    maxUnackedBytes: 1 << 20,
    resumeTimeoutMs: 1000,
    defaultDomain: 'example.com',
    registration: () => false,
    version: 'test',
    extensions,
  };
}
