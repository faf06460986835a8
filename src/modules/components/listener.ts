/**
 * The component listener (XEP-0114): a plain TCP port, loopback by default. The protocol has no TLS and its
 * handshake proves only that the peer knows the secret, so a listener on another address needs the operator's
 * explicit `allowInsecureRemote: true` (the start fails otherwise). Connections per source address are capped
 * like the front doors' (protocols/connection-limits.ts, with this port's own counts), and a connection
 * counts as unauthenticated until its handshake.
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import { ConnectionLimits } from '../../protocols/connection-limits.js';
import type { InboundStanza } from '../../engine/remote-service.js';
import type { ComponentsOptions } from './options.js';
import { ComponentStream, type Component } from './stream.js';

/** Idle time before TCP keep-alive probes start (the kernel then gives up after its probe count). */
const KEEPALIVE_MS = 30_000;

/** A running component listener. */
export interface ComponentListener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Open connections (handshaken or not). */
  readonly size: number;
  /** Connections refused by the per-address caps so far. */
  readonly refused: { total: number; unauthenticated: number };
  /** Stops accepting and ends every stream with system-shutdown. */
  close(): Promise<void>;
}

/** Whether `host` only reaches this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '[::1]') return true;
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Refuses, at start, a listener that would speak the unencrypted protocol beyond this machine unasked. */
export function checkExposure(opts: Pick<ComponentsOptions, 'host' | 'allowInsecureRemote'>): void {
  if (!isLoopback(opts.host) && !opts.allowInsecureRemote) {
    throw new ParleyError(
      'bad-request',
      `modules.components.host ${opts.host} is not a loopback address: XEP-0114 has no encryption, so its stanzas and handshake would cross the network in clear; ` +
        'listen on 127.0.0.1 (and tunnel), or set modules.components.allowInsecureRemote: true for a link you trust',
      { field: 'modules.components.host' },
    );
  }
}

/** Starts listening for the configured components. */
export async function startComponentListener(
  opts: ComponentsOptions,
  components: ReadonlyMap<string, Component>,
  deps: { hostsDomain: (domain: string) => boolean; deliver: (stanza: InboundStanza) => Promise<void>; log: Logger; now?: () => number; liveChanged?: () => void },
): Promise<ComponentListener> {
  checkExposure(opts);
  const limits = new ConnectionLimits({ perAddress: opts.connectionsPerAddress, unauthenticatedPerAddress: opts.unauthenticatedPerAddress });
  const streams = new Set<ComponentStream>();
  const now = deps.now ?? Date.now;
  const accept = (socket: Socket): void => {
    if (socket.destroyed) return; // refused by the per-address cap (guard)
    // A component that vanished without closing (a dead host, a dropped link) must not hold its domain forever:
    // the newer connection is refused while the older one counts as live, so TCP keep-alive finds dead peers.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const waiting = limits.unauthenticated(socket);
    if (waiting === null) {
      socket.destroy();
      return;
    }
    const s = new ComponentStream(socket, {
      components,
      hostsDomain: deps.hostsDomain,
      deliver: deps.deliver,
      handshakeTimeoutMs: opts.handshakeTimeoutSeconds * 1000,
      stanzasPerSecond: opts.stanzasPerSecond,
      maxStanzaBytes: opts.maxStanzaBytes,
      log: deps.log,
      now,
      waiting,
      closed: (x) => streams.delete(x),
      ...(deps.liveChanged ? { liveChanged: deps.liveChanged } : {}),
    });
    streams.add(s);
  };
  const server: Server = createServer({ noDelay: true }, accept);
  limits.guard(server, false);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : opts.port);
    });
  });
  deps.log.info({ host: opts.host, port, components: [...components.keys()] }, 'component listener ready');
  return {
    port,
    get size() {
      return streams.size;
    },
    refused: limits.refused,
    async close() {
      const stopped = new Promise<void>((r) => server.close(() => r()));
      for (const s of [...streams]) s.shutdown();
      await stopped;
    },
  };
}
