/** `npm start`: loads config, builds the server, listens, and shuts down gracefully on SIGTERM/SIGINT. */
import { buildServer, type ParleyServer } from './build.js';
import { ConfigError, loadConfig, resolveConfigPath, type Config } from './config.js';

async function main(): Promise<void> {
  // A write past a file-size limit (RLIMIT_FSIZE) raises SIGXFSZ, whose default action ends the process. Handled
  // (from the start: opening the store writes too), the write fails with EFBIG instead, the store refuses it
  // (service-unavailable, reason storage-full) and the server carries on. Logged once: the refusals say the rest.
  let server: ParleyServer | null = null;
  let fileSizeWarned = false;
  process.on('SIGXFSZ', () => {
    if (fileSizeWarned) return;
    fileSizeWarned = true;
    const what = 'a file reached the file-size limit (RLIMIT_FSIZE); writes that would grow it are refused';
    if (server) server.log.error({ signal: 'SIGXFSZ' }, what);
    else process.stderr.write(`${what}\n`);
  });
  let loaded;
  try {
    loaded = loadConfig(resolveConfigPath(process.argv[2], process.env));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const { config, source } = loaded;
  const built = await buildServer(config);
  server = built;
  const url = await built.listen();
  const users = await built.store.accounts.list();
  const doors = frontDoors(url, config, built.xmpp?.ports ?? null);
  built.log.info({ url, config: source, storage: config.storage.adapter, ...doors }, 'parley listening');
  // The banner: where each front door listens, and the config keys that move it (docs/xmpp.md).
  const xmppLine = doors.xmpp
    ? `  XMPP       ${config.xmpp.host}: ${doors.xmpp.starttls ?? 'off'} (STARTTLS, PARLEY_XMPP__PORT), ` +
      `${doors.xmpp.directTls ?? 'off'} (direct TLS, PARLEY_XMPP__DIRECT_TLS_PORT)\n`
    : '  XMPP       off (xmpp.enabled)\n';
  process.stderr.write(
    `\nParley is running.\n` +
      `  Web client ${url}/\n` +
      `  HTTP API   ${url}/api/v1\n` +
      `  JSON API   ${doors.websocket} (WebSocket)\n` +
      (doors.xmppWebsocket ? `  XMPP       ${doors.xmppWebsocket} (XMPP over WebSocket, RFC 7395)\n` : '') +
      (doors.bosh ? `  XMPP       ${doors.bosh} (XMPP over BOSH, XEP-0206)\n` : '') +
      xmppLine +
      `  Web pages served from another origin must be listed in server.allowedOrigins.\n`,
  );
  if (users.length === 0) {
    const d = (await built.store.domains.list())[0] ?? config.server.defaultDomain;
    process.stderr.write(
      `No users yet. Create the first one (it asks for the password):\n` +
        `  npx parley user add admin@${d} --admin\n`,
    );
  }
  process.stderr.write('\n');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    built.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.server.shutdownGraceMs + 5000);
    force.unref();
    built.close().then(
      () => process.exit(0),
      (e: unknown) => {
        built.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`parley failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

/** Where the front doors listen: the WebSocket URLs and the XMPP ports (null when XMPP is off). */
function frontDoors(
  url: string,
  config: Config,
  ports: { starttls: number | null; directTls: number | null } | null,
): { websocket: string; xmppWebsocket: string | null; bosh: string | null; xmpp: { starttls: number | null; directTls: number | null } | null } {
  const ws = url.replace(/^http/, 'ws');
  return {
    websocket: `${ws}/ws`,
    xmppWebsocket: ports !== null && config.xmpp.websocketPath !== null ? `${ws}${config.xmpp.websocketPath}` : null,
    bosh: ports !== null && config.xmpp.bosh.path !== null ? `${url}${config.xmpp.bosh.path}` : null,
    xmpp: ports,
  };
}
