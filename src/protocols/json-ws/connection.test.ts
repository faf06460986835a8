/**
 * Connection against a fake socket: the paths that need a client that does not read, which a real socket
 * reaches only after tens of megabytes of kernel buffers have filled.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine.js';
import { Outbound } from '../../engine/outbound.js';
import { Connection, textFrame, type ConnectionOptions } from './connection.js';

/** The part of a ws WebSocket that Connection uses. */
class FakeWs extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  terminated = false;
  send(data: string): void {
    this.sent.push(data);
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = 2;
  }
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.readyState = 3;
    this.emit('close'); // as ws does once the socket is gone; the connection then clears its timers
  }
  ping(): void {}
}

const opts: ConnectionOptions = { maxFrameBytes: 4096, requestsPerSecond: 100, heartbeatMs: 1000, helloTimeoutMs: 60_000, maxBufferedBytes: 1000 };
const socket = { cork: () => undefined, uncork: () => undefined } as unknown as Socket;
const engine = { ctx: { log: { error: () => undefined } }, closeSession: async () => undefined } as unknown as Engine;
const observer = { opened: () => undefined, closed: () => undefined, flushed: () => undefined };

function connect(): { ws: FakeWs; conn: Connection } {
  const ws = new FakeWs();
  const conn = new Connection(ws as unknown as WebSocket, socket, engine, '192.0.2.1', opts, observer);
  return { ws, conn };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Connection', () => {
  it('drops a client that does not read its events, without recursing', async () => {
    const { ws, conn } = connect();
    ws.bufferedAmount = 10_000; // above maxBufferedBytes: the client stopped reading
    conn.send(new Outbound({ ev: 'presence', data: {} }));
    await nextTurn();
    expect(ws.closedWith).toBe(1008);
    expect(ws.terminated).toBe(true); // no close handshake to wait for
    expect(ws.sent).toEqual([]); // nothing more piled onto the unread buffer
    conn.send(new Outbound({ ev: 'presence', data: {} }));
    await nextTurn();
    expect(ws.sent).toEqual([]);
  });

  it('close() on a client that does not read returns (it used to overflow the stack)', () => {
    const { ws, conn } = connect();
    ws.bufferedAmount = 10_000;
    expect(() => conn.close('shutdown', 'bye')).not.toThrow();
    expect(ws.closedWith).toBe(1001);
    ws.terminate();
  });

  it('close() sends a final session.closing event once', () => {
    const { ws, conn } = connect();
    conn.close('policy-violation', 'why');
    conn.close('shutdown', 'again');
    expect(ws.sent.map((s) => JSON.parse(s) as unknown)).toEqual([{ ev: 'session.closing', data: { code: 'policy-violation', message: 'why' } }]);
    expect(ws.closedWith).toBe(1008);
    ws.terminate();
  });
});

describe('textFrame (RFC 6455 §5.2)', () => {
  it('writes FIN + text opcode, the 7-, 16- and 64-bit payload lengths, and the UTF-8 payload', () => {
    for (const [text, head] of [['é'.repeat(10), 2], ['x'.repeat(200), 4], ['ü'.repeat(40_000), 10]] as const) {
      const f = textFrame(text);
      const n = Buffer.byteLength(text, 'utf8');
      expect(f[0]).toBe(0x81);
      const len = head === 2 ? f[1] : head === 4 ? (expect(f[1]).toBe(126), f.readUInt16BE(2)) : (expect(f[1]).toBe(127), Number(f.readBigUInt64BE(2)));
      expect(len).toBe(n);
      expect(f.length).toBe(head + n);
      expect(f.subarray(head).toString('utf8')).toBe(text);
    }
  });
});
