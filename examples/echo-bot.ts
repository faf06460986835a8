/**
 * The echo bot: answers every 1:1 message with the same text, and `ping` with `pong` (docs/bots.md).
 *
 *   npm run build
 *   PARLEY_URL=ws://localhost:8080/ws PARLEY_BOT_KEY=pk_… node dist/examples/echo-bot.js
 */
import { pathToFileURL } from 'node:url';
import { ParleyBot } from '../client/index.js';

/** Gives a bot the echo bot's behaviour. */
export function echoBot(bot: ParleyBot): ParleyBot {
  return bot.command('ping', (ctx) => ctx.reply('pong')).onMessage((ctx) => ctx.reply(ctx.body));
}

/** Runs the echo bot until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const url = process.env.PARLEY_URL ?? 'ws://localhost:8080/ws';
  const apiKey = process.env.PARLEY_BOT_KEY;
  if (!apiKey) throw new Error('set PARLEY_BOT_KEY to the bot\'s API key (scope bot)');
  const bot = echoBot(await ParleyBot.start({ url, apiKey, presence: { availability: 'available', status: 'I repeat what you say' } }));
  console.log(`echo bot online as ${bot.address}`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void bot.stop());
  const err = await bot.stopped;
  if (err) throw err;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
