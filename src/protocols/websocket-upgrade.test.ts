import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { originAllowed, refuseOrigin } from './websocket-upgrade.js';

/** A socket that keeps what it was sent. */
function fakeSocket(): { socket: Socket; sent: string[] } {
  const sent: string[] = [];
  return { socket: { end: (s: string) => sent.push(s) } as unknown as Socket, sent };
}

describe('the Origin check', () => {
  it('allows no Origin, listed origins, "*" and the same origin; nothing else', () => {
    expect(originAllowed(undefined, 'h:1', [], false)).toBe(true);
    expect(originAllowed('https://a.example', 'h:1', ['https://a.example'], false)).toBe(true);
    expect(originAllowed('https://b.example', 'h:1', ['*'], false)).toBe(true);
    expect(originAllowed('http://h:1', 'h:1', [], false)).toBe(true);
    expect(originAllowed('https://h:1', 'h:1', [], false)).toBe(false);
    expect(originAllowed('https://a.example.evil', 'h:1', ['https://a.example'], true)).toBe(false);
  });

  it('a refusal answers 403 naming the setting, and tells the operator the origin once a minute', () => {
    const logged: Array<{ obj: object; msg: string }> = [];
    const log = { warn: (obj: object, msg: string) => logged.push({ obj, msg }) };
    const { socket, sent } = fakeSocket();
    const origin = `https://page-${Math.random()}.example`;
    refuseOrigin(socket, origin, '/ws', log, 1_000);
    refuseOrigin(socket, origin, '/ws', log, 2_000);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(sent[0]).toContain('server.allowedOrigins');
    expect(logged).toEqual([
      { obj: { origin, endpoint: '/ws', setting: 'server.allowedOrigins' }, msg: expect.stringContaining(`${origin}: add it to server.allowedOrigins`) },
    ]);
    refuseOrigin(socket, origin, '/ws', log, 61_000);
    expect(logged).toHaveLength(2);
  });
});
