import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionLimits } from './connection-limits.js';

/** Enough of a socket for the limits: an address and a 'close' event. */
function socket(remoteAddress: string, remotePort = 1): Socket & { close(): void } {
  const s = new EventEmitter() as unknown as Socket & { close(): void };
  Object.assign(s, { remoteAddress, remotePort, close: () => s.emit('close', false) });
  return s;
}

describe('ConnectionLimits', () => {
  it('caps connections per address until their sockets close; IPv6 addresses of one /64 share a count', () => {
    const limits = new ConnectionLimits({ perAddress: 2, unauthenticatedPerAddress: 2 });
    const a = socket('2001:db8:1:2::1');
    expect(limits.accept(a)).toBe(true);
    expect(limits.accept(socket('2001:db8:1:2:ffff::9'))).toBe(true);
    expect(limits.accept(socket('2001:db8:1:2::3'))).toBe(false);
    expect(limits.accept(socket('2001:db8:1:3::1'))).toBe(true);
    expect(limits.refused.total).toBe(1);
    a.close();
    expect(limits.accept(socket('2001:db8:1:2::4'))).toBe(true);
    // IPv4-mapped IPv6 is the IPv4 address.
    limits.accept(socket('10.0.0.1'));
    limits.accept(socket('::ffff:10.0.0.1'));
    expect(limits.accept(socket('10.0.0.1'))).toBe(false);
    expect(limits.countOf('10.0.0.1')).toEqual({ total: 2, unauthenticated: 0 });
  });

  it('caps unauthenticated connections; done() or close frees the place, and a probe is asked at the cap', () => {
    const limits = new ConnectionLimits({ perAddress: 100, unauthenticatedPerAddress: 2 });
    const s1 = socket('10.0.0.2', 1);
    const s2 = socket('10.0.0.2', 2);
    const u1 = limits.unauthenticated(s1)!;
    const u2 = limits.unauthenticated(s2)!;
    expect(limits.unauthenticated(socket('10.0.0.2', 3))).toBeNull();
    u1.done();
    u1.done(); // twice is once
    const s3 = socket('10.0.0.2', 3);
    expect(limits.unauthenticated(s3)).not.toBeNull();
    expect(limits.countOf('10.0.0.2').unauthenticated).toBe(2);
    s3.close();
    expect(limits.countOf('10.0.0.2').unauthenticated).toBe(1);
    let bound = false;
    u2.probe = () => bound;
    expect(limits.unauthenticated(socket('10.0.0.2', 4))).not.toBeNull();
    expect(limits.unauthenticated(socket('10.0.0.2', 5))).toBeNull();
    bound = true; // the connection has authenticated without saying so
    expect(limits.unauthenticated(socket('10.0.0.2', 5))).not.toBeNull();
    expect(limits.refused.unauthenticated).toBe(2);
    s1.close();
    s2.close();
  });

  it('forgets an address once nothing of it is counted', () => {
    const limits = new ConnectionLimits({ perAddress: 1, unauthenticatedPerAddress: 1 });
    const s = socket('10.0.0.3');
    limits.accept(s);
    limits.unauthenticated(s);
    expect(limits.countOf('10.0.0.3')).toEqual({ total: 1, unauthenticated: 1 });
    s.close();
    expect(limits.countOf('10.0.0.3')).toEqual({ total: 0, unauthenticated: 0 });
    expect((limits as unknown as { tallies: Map<string, unknown> }).tallies.size).toBe(0);
  });
});
