/**
 * The XMPP client listeners: TCP with STARTTLS (RFC 6120 §5, port 5222) and direct TLS (XEP-0368, port 5223).
 * Each accepted socket becomes one XmppConnection over a TcpTransport. Both listeners apply the per-address
 * connection caps (protocols/connection-limits.ts) and a TLS handshake timeout.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Engine } from '../../../engine/engine.js';
import type { ConnectionLimits } from '../../connection-limits.js';
import type { CertificateStore } from '../tls/certs.js';
import { serialize, streamFooter, streamHeader } from '../xml/serialize.js';
import { streamError } from './errors.js';
import { NS } from './ns.js';
import { XmppConnection } from './connection.js';
import type { XmppObserver, XmppOptions } from './types.js';
import { TcpTransport } from './transport.js';

/** Where and how to listen. */
export interface XmppListenOptions {
  host: string;
  /** STARTTLS port (null: none). */
  port: number | null;
  /** Direct TLS port (null: none). */
  directTlsPort: number | null;
  certificates: CertificateStore | null;
  xmpp: XmppOptions;
  /** Per-address caps shared with the other front doors. */
  connections: ConnectionLimits;
  /** An unfinished TLS handshake (direct TLS or STARTTLS) is dropped after this long. */
  tlsHandshakeTimeoutMs: number;
}

/** Running XMPP listeners. */
export interface XmppFrontDoor {
  /** Bound ports (useful with port 0). */
  readonly ports: { starttls: number | null; directTls: number | null };
  /** Open connections. */
  readonly size: number;
  /** Stops accepting and closes every stream with system-shutdown. */
  close(): Promise<void>;
}

/** Starts the listeners configured in `opts`. */
export async function startXmppListeners(engine: Engine, opts: XmppListenOptions, observer: XmppObserver): Promise<XmppFrontDoor> {
  const connections = new Set<XmppConnection>();
  const certs = opts.certificates;
  const handshakeTimeout = opts.tlsHandshakeTimeoutMs;
  // TcpTransport.startTls() reads handshakeTimeout for its own timer (a TLSSocket made by hand has none).
  const tlsOptions = certs ? () => ({ ...certs.serverOptions(), handshakeTimeout }) : null;
  const accept = (socket: Socket): void => {
    // A stream counts as unauthenticated until it binds a resource (RFC 6120 §7): that is when it has a session.
    const waiting = opts.connections.unauthenticated(socket);
    if (waiting === null) {
      refuse(socket, opts.xmpp.defaultDomain);
      return;
    }
    const transport = new TcpTransport(socket, tlsOptions);
    const conn = new XmppConnection(transport, engine, opts.xmpp, {
      opened: () => observer.opened(),
      closed: () => {
        connections.delete(conn);
        observer.closed();
      },
    });
    waiting.probe = () => conn.session !== null;
    connections.add(conn);
  };
  const servers: Server[] = [];
  const listen = (server: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  let starttls: number | null = null;
  let directTls: number | null = null;
  if (opts.port !== null) {
    const server = createServer({ noDelay: true }, accept);
    opts.connections.guard(server, false);
    servers.push(server);
    starttls = await listen(server, opts.port);
  }
  if (opts.directTlsPort !== null && certs) {
    const server = createTlsServer({ ...certs.serverOptions(), handshakeTimeout }, (socket: TLSSocket) => accept(socket));
    // A failed (or timed-out) handshake is the client's problem; it must not surface as a server error.
    server.on('tlsClientError', (_e, socket) => socket.destroy());
    opts.connections.guard(server, true);
    servers.push(server);
    directTls = await listen(server, opts.directTlsPort);
  }
  return {
    ports: { starttls, directTls },
    get size() {
      return connections.size;
    },
    async close() {
      const stopped = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const c of [...connections]) c.close('shutdown', 'the server is shutting down');
      await stopped;
    },
  };
}

/**
 * Refuses a stream past the per-address cap of unauthenticated connections: a stream header and a
 * <policy-violation/> stream error (RFC 6120 §4.9.3.14), written at once without waiting for the client's
 * header (§4.9.1.1 asks for the header before the error), then the socket is closed once that is written.
 */
function refuse(socket: Socket, domain: string): void {
  const err = serialize(streamError('policy-violation', 'too many connections from your address are not authenticated yet; try again later'), NS.streams)
    .replace(/^<error[^>]*>/, '')
    .replace(/<\/error>$/, '');
  socket.on('error', () => socket.destroy());
  socket.end(`${streamHeader({ from: domain, id: 'refused', version: '1.0', lang: 'en', xmlns: 'jabber:client' })}<stream:error>${err}</stream:error>${streamFooter()}`);
  socket.destroySoon();
}
