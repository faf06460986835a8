/**
 * What both example bots do when run as a program: read `PARLEY_URL` (default `ws://localhost:5280/ws`) and
 * `PARLEY_BOT_KEY`, start the bot with a status, give it its behaviour, and run it until SIGINT or SIGTERM.
 */
import { pathToFileURL } from 'node:url';
import { ParleyBot } from '../client/index.js';

/** Runs a bot named `name` with `behaviour` until SIGINT or SIGTERM, when `module` (import.meta.url) is the program. */
export function runAsProgram(module: string, name: string, status: string, behaviour: (bot: ParleyBot) => ParleyBot): void {
  if (process.argv[1] === undefined || module !== pathToFileURL(process.argv[1]).href) return;
  run(name, status, behaviour).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

async function run(name: string, status: string, behaviour: (bot: ParleyBot) => ParleyBot): Promise<void> {
  const url = process.env.PARLEY_URL ?? 'ws://localhost:5280/ws';
  const apiKey = process.env.PARLEY_BOT_KEY;
  if (!apiKey) throw new Error('set PARLEY_BOT_KEY to the bot\'s API key (scope bot)');
  const bot = behaviour(await ParleyBot.start({ url, apiKey, presence: { availability: 'available', status } }));
  console.log(`${name} online as ${bot.address}`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void bot.stop());
  const err = await bot.stopped;
  if (err) throw err;
}
