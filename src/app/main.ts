/** `npm start`: loads config, builds the server, listens, and shuts down gracefully on SIGTERM/SIGINT. */
import { buildServer } from './build.js';
import { ConfigError, loadConfig, resolveConfigPath } from './config.js';

async function main(): Promise<void> {
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
  const server = await buildServer(config);
  const url = await server.listen();
  const users = await server.store.accounts.list();
  server.log.info({ url, config: source, storage: config.storage.adapter }, 'parley listening');
  if (users.length === 0) {
    const d = (await server.store.domains.list())[0] ?? config.server.defaultDomain;
    process.stderr.write(
      `\nParley is running at ${url} (WebSocket ${url.replace(/^http/, 'ws')}/ws).\n` +
        `No users yet. Create the first one (it asks for the password):\n` +
        `  npx parley user add admin@${d} --admin\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.server.shutdownGraceMs + 5000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        server.log.error({ err: e }, 'shutdown failed');
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
