/**
 * The "who is available" bot: `who <group>` lists the people of a shared group who are online, with their
 * activity and status, using the presentities query (JSON operation `presentities.query`, docs/presence.md).
 * Available people come first; people who set do-not-disturb, and those away, are listed apart so nobody
 * disturbs them by mistake; offline people are left out. The bot sees the people whose presence it may see:
 * make it a member of the shared groups it answers about (`parley group add <group> <bot>`). See docs/bots.md.
 *
 *   npm run build
 *   PARLEY_URL=ws://localhost:5280/ws PARLEY_BOT_KEY=pk_… node dist/examples/who-bot.js
 */
import { ParleyBot, type MessageContext } from '../client/index.js';
import { runAsProgram } from './run.js';

/** What the bot reads of a presentity (docs/presence.md). */
interface Presentity {
  address: string;
  kind: string;
  availability: string;
  activity: string | null;
  status: string | null;
}

/** One person's line: `alice@example.com (in-meeting: until 3)`. */
function line(p: Presentity): string {
  const detail = [p.activity, p.status].filter((x): x is string => x !== null && x !== '').join(': ');
  return detail === '' ? p.address : `${p.address} (${detail})`;
}

/** The answer to `who <group>`, from the group's people (the bot itself left out). */
export function whoAnswer(group: string, people: readonly Presentity[], self: string): string {
  const of = (...states: string[]): Presentity[] =>
    people.filter((p) => p.kind === 'person' && p.address !== self && states.includes(p.availability)).sort((a, b) => (a.address < b.address ? -1 : 1));
  const available = of('available', 'chat');
  const dnd = of('dnd');
  const away = of('away', 'xa');
  const out = [available.length === 0 ? `Nobody in ${group} is available.` : `Available in ${group}:`, ...available.map((p) => `- ${line(p)}`)];
  if (dnd.length > 0) out.push('Do not disturb:', ...dnd.map((p) => `- ${line(p)}`));
  if (away.length > 0) out.push('Away:', ...away.map((p) => `- ${line(p)}`));
  return out.join('\n');
}

/** Gives a bot the who bot's behaviour. */
export function whoBot(bot: ParleyBot): ParleyBot {
  const who = async (ctx: MessageContext, args: string[]): Promise<void> => {
    const group = args[0];
    if (group === undefined) {
      await ctx.reply('usage: who <group>');
      return;
    }
    try {
      const r = await bot.request<{ presentities: Presentity[] }>('presentities.query', { group, where: { kind: ['person'] } });
      await ctx.reply(whoAnswer(group, r.presentities, bot.address));
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A bad group name is the asker's mistake; anything else (the connection dropped) is handled again later.
      if (code !== 'bad-request') throw e;
      await ctx.reply(`${group} is not a group name`);
    }
  };
  return bot.command('who', who).onMessage((ctx) => ctx.reply('ask me: who <group>'));
}

runAsProgram(import.meta.url, 'who bot', 'ask me: who <group>', whoBot);
