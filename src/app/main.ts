/** `npm start`: loads config, builds the server, listens, and shuts down gracefully on SIGTERM/SIGINT. */
import { buildServer, type ParleyServer } from './build.js';
import { ConfigError, loadConfig, resolveConfigPath } from './config.js';

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
  built.log.info({ url, config: source, storage: config.storage.adapter }, 'parley listening');
  if (users.length === 0) {
    const d = (await built.store.domains.list())[0] ?? config.server.defaultDomain;
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
