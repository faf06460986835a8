/**
 * The s2s listeners: TCP on 5269 with STARTTLS required (RFC 6120 §5.3.1), and optionally direct TLS (XEP-0368,
 * ALPN `xmpp-server`). Connections per source address are capped like the front doors' (protocols/
 * connection-limits.ts); every accepted connection is an IncomingStream, handled concurrently.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { ConnectionLimits } from '../../protocols/connection-limits.js';
import { tlsProfile } from '../../protocols/tls-profile.js';
import { IncomingStream, type IncomingDeps } from './incoming.js';

/** Idle time before TCP keep-alive probes start. */
const KEEPALIVE_MS = 30_000;

/** A running listener. */
export interface S2sListener {
  readonly port: number;
  readonly directTlsPort: number | null;
  /** Open incoming streams. */
  readonly streams: ReadonlySet<IncomingStream>;
  close(): Promise<void>;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

/** Starts the listener(s); `deps.closed` is wrapped to keep the set of open streams. */
export async function startS2sListener(
  opts: { listen: { host: string; port: number }; directTls?: { host: string; port: number } | undefined; connectionsPerAddress: number },
  deps: IncomingDeps,
  defaultDomain: string,
): Promise<S2sListener> {
  const streams = new Set<IncomingStream>();
  const limits = new ConnectionLimits({ perAddress: opts.connectionsPerAddress, unauthenticatedPerAddress: opts.connectionsPerAddress });
  const d: IncomingDeps = {
    ...deps,
    isLocal: deps.isLocal,
    closed: (s) => {
      streams.delete(s);
      deps.closed(s);
    },
  };
  const accept = (socket: Socket, directTls: boolean): void => {
    if (socket.destroyed) return;
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.setNoDelay(true);
    streams.add(new IncomingStream(socket, d, directTls));
  };
  const server = createServer({ noDelay: true }, (s) => accept(s, false));
  limits.guard(server, false);
  const port = await listen(server, opts.listen.host, opts.listen.port);
  let tlsServer: Server | null = null;
  let directTlsPort: number | null = null;
  if (opts.directTls !== undefined) {
    const ctx = deps.tls.contextFor(defaultDomain);
    const t = createTlsServer({
      ...tlsProfile(),
      ...(ctx === null ? {} : { secureContext: ctx }),
      SNICallback: (name, cb) => cb(null, deps.tls.contextFor(name) ?? ctx ?? undefined),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['xmpp-server'],
    });
    t.on('secureConnection', (s: TLSSocket) => accept(s, true));
    t.on('tlsClientError', () => undefined);
    limits.guard(t, false);
    directTlsPort = await listen(t, opts.directTls.host, opts.directTls.port);
    tlsServer = t;
  }
  deps.log.info({ host: opts.listen.host, port, directTlsPort }, 'federation listener ready');
  return {
    port,
    directTlsPort,
    streams,
    async close() {
      const stopped = [new Promise<void>((r) => server.close(() => r()))];
      if (tlsServer !== null) stopped.push(new Promise<void>((r) => tlsServer!.close(() => r())));
      for (const s of [...streams]) s.fail('system-shutdown', 'the server is shutting down');
      await Promise.all(stopped);
    },
  };
}
