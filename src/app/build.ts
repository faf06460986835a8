/**
 * The composition root: builds a Parley server from a validated config. Every module and adapter is listed
 * here explicitly (storage adapters in store.ts); nothing registers itself by being imported.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { pino, type Logger as Pino } from 'pino';
import { Engine } from '../engine/engine.js';
import { LocalBus } from '../engine/local-bus.js';
import { ModuleHost, storageSpecs, type AnyModule, type ModuleOptions } from '../modules/host.js';
import type { Store } from '../ports/store.js';
import { ConnectionLimits } from '../protocols/connection-limits.js';
import { attachJsonWs, type JsonWsFrontDoor } from '../protocols/json-ws/server.js';
import { authenticators, registerRoutes } from '../protocols/http/routes.js';
import { registerWebSession } from '../protocols/http/web-session.js';
import { registerWebApps } from '../protocols/http/web-static.js';
import { accountIqAnswerer } from '../protocols/xmpp/c2s/account-iq.js';
import type { XmppOptions } from '../protocols/xmpp/c2s/types.js';
import { startXmppListeners, type XmppFrontDoor } from '../protocols/xmpp/c2s/listener.js';
import { streamManagementStats } from '../protocols/xmpp/c2s/stream-management.js';
import { attachXmppWebSocket, type XmppWebSocketFrontDoor } from '../protocols/xmpp/c2s/websocket.js';
import { registerBoshRoutes } from '../protocols/xmpp/bosh/http.js';
import { BoshFrontDoor } from '../protocols/xmpp/bosh/server.js';
import { CertificateStore } from '../protocols/xmpp/tls/certs.js';
import { tlsProfile } from '../protocols/tls-profile.js';
import type { Config } from './config.js';
import { Metrics } from './metrics.js';
import { MODULES } from './modules.js';
import { openStoreReady } from './store.js';

/** The version announced to XMPP clients (XEP-0092). */
const PARLEY_VERSION = '0.1.0';

/** A built, not yet listening, server. */
export interface ParleyServer {
  readonly config: Config;
  readonly engine: Engine;
  readonly store: Store;
  readonly http: FastifyInstance;
  readonly log: Pino;
  /** The running modules and what they added. */
  readonly modules: ModuleHost;
  /** The XMPP listeners once listening (null when XMPP is off). */
  readonly xmpp: XmppFrontDoor | null;
  /** Starts listening; resolves with the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Graceful stop: stop accepting, close sessions, flush storage, close. */
  close(): Promise<void>;
}

export { openStore } from './store.js';

/**
 * Builds the server with the modules of app/modules.ts (or `opts.modules`: tests add their own) that the
 * configuration enables.
 */
export async function buildServer(config: Config, opts: { log?: Pino; modules?: readonly AnyModule[] } = {}): Promise<ParleyServer> {
  const log = opts.log ?? pino({ level: config.log.level, base: { service: 'parley' } });
  const modules = opts.modules ?? MODULES;
  const moduleOptions = config.modules as ModuleOptions;
  const store = await openStoreReady(config, {
    modules: storageSpecs(modules, moduleOptions),
    thread: true,
    // Every acknowledged message is already durable, so the safe answer to a lost storage thread is to stop
    // and let the supervisor restart the server, rather than refuse every request from now on.
    onFatal: (e) => {
      log.fatal({ err: e }, 'the storage thread failed; exiting');
      process.exit(70);
    },
  });
  // Normalised like every domain an operator adds (Example.COM → example.com), or no address could name it.
  const metrics = new Metrics();
  metrics.gaugeGroup(
    {
      xmpp_sm_resumable: 'XMPP sessions that may be resumed (XEP-0198)',
      xmpp_sm_hibernating: 'XMPP sessions whose connection broke, waiting to be resumed',
      xmpp_sm_unacked_bytes: 'Bytes of stanzas XMPP sessions hold until the client acknowledges them',
    },
    () => {
      const s = streamManagementStats();
      return { xmpp_sm_resumable: s.resumable, xmpp_sm_hibernating: s.hibernating, xmpp_sm_unacked_bytes: s.unackedBytes };
    },
  );
  const bus = new LocalBus(log);
  const engine = new Engine({
    store,
    log,
    bus,
    metrics: metrics.engine(),
    options: {
      maxBodyBytes: config.limits.maxBodyBytes,
      maxSessionsPerUser: config.limits.maxSessionsPerUser,
      historyPageMax: config.limits.historyPageMax,
      historyPageMaxBytes: config.limits.historyPageMaxBytes,
      readsInFlightPerUser: config.limits.readsInFlightPerUser,
      readsQueuedPerUser: config.limits.readsQueuedPerUser,
      roomSubdomain: config.rooms.subdomain,
      roomMaxMembers: config.rooms.maxMembers,
      scramIterations: config.auth.scramIterations,
      tokenTtlMs: config.auth.tokenTtlHours * 3_600_000,
      limits: {
        maxOfflineMessages: config.limits.maxOfflineMessages,
        maxOfflineBytes: config.limits.maxOfflineBytes,
        maxPendingSendBytes: config.limits.maxPendingSendBytes,
        maxRoomsOwned: config.rooms.maxOwnedPerUser,
        maxRoomMemberships: config.rooms.maxMembershipsPerUser,
        roomListPage: config.rooms.listPageSize,
      },
    },
    auth: {
      freeFailures: config.auth.freeFailures,
      lockAfter: config.auth.lockAfter,
      ipLockAfter: config.auth.ipLockAfter,
      ipMaxInFlight: config.auth.ipMaxInFlight,
      ipAccountMaxInFlight: config.auth.ipAccountMaxInFlight,
      exchangeTimeoutMs: config.auth.loginExchangeSeconds * 1000,
      // Whole milliseconds, at least 1: the throttle rejects a shorter lock.
      lockMs: Math.max(1, Math.ceil(config.auth.lockMinutes * 60_000)),
    },
  });
  const moduleHost = await ModuleHost.setup(modules, moduleOptions, { engine, store, bus, log });
  await engine.start();
  moduleHost.start();

  const tls = config.server.tls;
  const tlsHandshakeTimeoutMs = config.limits.tlsHandshakeTimeoutSeconds * 1000;
  const http = Fastify({
    loggerInstance: log.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.limits.maxFrameBytes,
    // The same TLS profile as the XMPP listeners (src/protocols/tls-profile.ts).
    ...(tls ? { https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key), ...tlsProfile(), handshakeTimeout: tlsHandshakeTimeoutMs } } : {}),
  }) as unknown as FastifyInstance;
  // One set of per-address caps for every listener: HTTP(S) with both WebSocket doors, and the XMPP ports.
  const connections = new ConnectionLimits({ perAddress: config.limits.connectionsPerAddress, unauthenticatedPerAddress: config.limits.unauthenticatedPerAddress });
  connections.guard(http.server, tls !== null);
  metrics.countedElsewhere('connections_refused_total', 'Connections refused by a per-address cap (limits.<cap>)', 'cap', () => ({
    connectionsPerAddress: connections.refused.total,
    unauthenticatedPerAddress: connections.refused.unauthenticated,
  }));
  const startedAt = Date.now();
  let ws: JsonWsFrontDoor | null = null;
  let xmpp: XmppFrontDoor | null = null;
  let xmppWs: XmppWebSocketFrontDoor | null = null;
  let bosh: BoshFrontDoor | null = null;
  const connectionCount = (): number => (ws?.size ?? 0) + (xmpp?.size ?? 0) + (xmppWs?.size ?? 0) + (bosh?.size ?? 0);
  // Slack above the stanza limit, so that the stream parser (not the transport) refuses a big stanza, with a stream error.
  const maxXmppMessageBytes = config.xmpp.maxStanzaBytes + 16_384;
  if (config.xmpp.enabled) {
    registerBoshRoutes(http, {
      path: config.xmpp.bosh.path,
      websocketPath: config.xmpp.websocketPath,
      allowedOrigins: config.server.allowedOrigins,
      tls: tls !== null,
      maxBodyBytes: maxXmppMessageBytes,
      door: () => bosh,
      log,
    });
  }
  registerRoutes(http, {
    engine,
    metricsToken: config.server.metricsToken,
    roles: (user) => moduleHost.rolesOf(user),
    metrics: async () => {
      metrics.connections.set(connectionCount());
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
    health: () => {
      const { checks, degraded } = moduleHost.health();
      return {
        status: degraded.length === 0 ? 'ok' : 'degraded',
        ...(degraded.length === 0 ? {} : { degraded }),
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        sessions: engine.sessions.size,
        connections: connectionCount(),
        modules: moduleHost.names,
        checks,
      };
    },
  });
  registerWebSession(http, engine, { secureCookies: config.server.secureCookies, notices: () => moduleHost.notices.map((n) => n.text) });
  await registerWebApps(http);
  await moduleHost.registerHttp(http, authenticators(engine));

  let closed = false;
  return {
    config,
    engine,
    store,
    http,
    log,
    modules: moduleHost,
    get xmpp() {
      return xmpp;
    },
    async listen() {
      await http.listen({ host: config.server.host, port: config.server.port });
      const a = http.server.address();
      const port = typeof a === 'object' && a ? a.port : config.server.port;
      const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
      const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
      // Before any front door opens, so links a module hands out (file slots) name the listener.
      moduleHost.listening(url);
      ws = attachJsonWs(
        http.server,
        engine,
        {
          path: '/ws',
          allowedOrigins: config.server.allowedOrigins,
          maxFrameBytes: config.limits.maxFrameBytes,
          requestsPerSecond: config.limits.requestsPerSecond,
          heartbeatMs: config.sessions.heartbeatSeconds * 1000,
          helloTimeoutMs: config.sessions.helloTimeoutSeconds * 1000,
          maxBufferedBytes: 16 << 20,
          moduleOps: moduleHost.jsonOps,
          connections,
        },
        {
          opened: () => metrics.connections.inc(),
          closed: () => metrics.connections.dec(),
          flushed: (out) => metrics.flushed(out),
        },
      );
      if (config.xmpp.enabled) {
        const domains = await store.domains.list();
        const xmppOpts = xmppOptions(config, domains, moduleHost);
        // RFC 6121 §8.5.1: iq gets routed domains send to accounts' bare addresses get the XMPP handlers' answers.
        engine.answerAccountIqs(accountIqAnswerer(engine, xmppOpts));
        xmpp = await listenXmpp(config, domains, engine, xmppOpts, log, metrics, connections);
        if (config.xmpp.websocketPath !== null) {
          xmppWs = attachXmppWebSocket(
            http.server,
            engine,
            {
              path: config.xmpp.websocketPath,
              allowedOrigins: config.server.allowedOrigins,
              xmpp: xmppOpts,
              maxMessageBytes: maxXmppMessageBytes,
              connections,
            },
            { opened: () => metrics.connections.inc(), closed: () => metrics.connections.dec() },
          );
          log.info({ path: config.xmpp.websocketPath }, 'xmpp websocket listening');
        }
        if (config.xmpp.bosh.path !== null) {
          const b = config.xmpp.bosh;
          bosh = new BoshFrontDoor(
            engine,
            {
              maxWaitSeconds: b.maxWaitSeconds,
              inactivitySeconds: b.inactivitySeconds,
              pollingSeconds: b.pollingSeconds,
              maxBodyBytes: maxXmppMessageBytes,
              perAddress: config.limits.connectionsPerAddress,
              unauthenticatedPerAddress: config.limits.unauthenticatedPerAddress,
              xmpp: xmppOpts,
            },
            { opened: () => metrics.connections.inc(), closed: () => metrics.connections.dec() },
          );
          log.info({ path: b.path }, 'xmpp bosh listening');
        }
      }
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      ws?.close();
      xmppWs?.close();
      bosh?.close();
      await xmpp?.close();
      await engine.closeAll('the server is shutting down');
      await http.close();
      await moduleHost.close();
      await bus.close();
      await store.close();
    },
  };
}

/** Stream settings of every XMPP front door (TCP listeners and WebSocket), from the `xmpp` section. */
function xmppOptions(config: Config, domains: string[], host: ModuleHost): XmppOptions {
  const x = config.xmpp;
  return {
    requireTls: x.requireTls,
    allowPlainWithoutTls: x.allowPlainWithoutTls,
    maxStanzaBytes: x.maxStanzaBytes,
    negotiationTimeoutMs: x.negotiationTimeoutSeconds * 1000,
    idleMs: x.idleSeconds * 1000,
    stanzasPerSecond: x.stanzasPerSecond,
    maxBacklogBytes: 16 << 20,
    maxUnackedBytes: x.smMaxUnackedBytes,
    resumeTimeoutMs: x.resumeSeconds * 1000,
    defaultDomain: domains[0] ?? config.server.defaultDomain,
    registration: (domain) => x.registration.includes(domain),
    version: PARLEY_VERSION,
    extensions: host.xmpp,
  };
}

/** Loads (or generates) the certificates of every served domain and starts the XMPP listeners. */
async function listenXmpp(
  config: Config,
  domains: string[],
  engine: Engine,
  xmpp: XmppOptions,
  log: Pino,
  metrics: Metrics,
  connections: ConnectionLimits,
): Promise<XmppFrontDoor> {
  const x = config.xmpp;
  const certificates =
    domains.length > 0 || Object.keys(x.certificates).length > 0
      ? await CertificateStore.load({ domains, configured: x.certificates, dir: x.certDir, log: log.child({ component: 'tls' }) })
      : null;
  for (const c of certificates?.list() ?? []) {
    // What a client's trust dialog shows: the file to import, and both fingerprints (README, "Trusting the certificate").
    log.info(
      { domain: c.domain, source: c.source, file: c.file, sha256: c.fingerprintSha256, sha1: c.fingerprintSha1, notAfter: c.notAfter.toISOString() },
      'xmpp certificate',
    );
  }
  const door = await startXmppListeners(
    engine,
    {
      host: x.host,
      port: x.port,
      directTlsPort: x.directTlsPort,
      certificates,
      xmpp,
      connections,
      tlsHandshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
    },
    { opened: () => metrics.connections.inc(), closed: () => metrics.connections.dec() },
  );
  log.info({ host: x.host, starttls: door.ports.starttls, directTls: door.ports.directTls }, 'xmpp listening');
  return door;
}
