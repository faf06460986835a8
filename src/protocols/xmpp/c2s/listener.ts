/**
 * The XMPP client listeners: TCP with STARTTLS (RFC 6120 §5, port 5222) and direct TLS (XEP-0368, port 5223).
 * Each accepted socket becomes one XmppConnection over a TcpTransport.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Engine } from '../../../engine/engine.js';
import type { CertificateStore } from '../tls/certs.js';
import { XmppConnection, type XmppObserver, type XmppOptions } from './connection.js';
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
  const tlsOptions = certs ? () => certs.serverOptions() : null;
  const accept = (socket: Socket): void => {
    const transport = new TcpTransport(socket, tlsOptions);
    const conn = new XmppConnection(transport, engine, opts.xmpp, {
      opened: () => observer.opened(),
      closed: () => {
        connections.delete(conn);
        observer.closed();
      },
    });
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
    servers.push(server);
    starttls = await listen(server, opts.port);
  }
  if (opts.directTlsPort !== null && certs) {
    const server = createTlsServer({ ...certs.serverOptions() }, (socket: TLSSocket) => accept(socket));
    // A failed handshake is the client's problem; it must not surface as a server error.
    server.on('tlsClientError', (_e, socket) => socket.destroy());
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
