/**
 * The echo bot: answers every 1:1 message with the same text, and `ping` with `pong` (docs/bots.md).
 *
 *   npm run build
 *   PARLEY_URL=ws://localhost:5280/ws PARLEY_BOT_KEY=pk_… node dist/examples/echo-bot.js
 */
import { ParleyBot } from '../client/index.js';
import { runAsProgram } from './run.js';

/** Gives a bot the echo bot's behaviour. */
export function echoBot(bot: ParleyBot): ParleyBot {
  return bot.command('ping', (ctx) => ctx.reply('pong')).onMessage((ctx) => ctx.reply(ctx.body));
}

runAsProgram(import.meta.url, 'echo bot', 'I repeat what you say', echoBot);
