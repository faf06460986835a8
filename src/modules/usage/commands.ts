/** `parley usage [--days N]`: the daily figures as a table, on the store without a server (what was flushed). */
import type { CliCommand } from '../api.js';
import { dayOf, PROTOCOLS } from './model.js';
import type { UsageOptions } from './options.js';
import { dailyReport, MAX_DAYS } from './report.js';
import type { UsageArea } from './sqlite.js';

const USAGE = `usage: parley usage [--days N]   (N: 1 to ${MAX_DAYS}, default 30)\n`;

/** The usage module's commands. */
export function usageCommands(): CliCommand<UsageOptions>[] {
  return [
    {
      name: 'show',
      usage: '[--days N]',
      summary: 'daily figures (messages, active users, sessions, peak, new accounts) as a table',
      default: true,
      async run(args, { store, out, err }) {
        let days = 30;
        if (args.length > 0) {
          const n = Number(args[1]);
          if (args.length !== 2 || args[0] !== '--days' || !Number.isInteger(n) || n < 1 || n > MAX_DAYS) {
            err(USAGE);
            return 2;
          }
          days = n;
        }
        const report = await dailyReport(store.area<UsageArea>('usage'), days, dayOf(Date.now()));
        const head = ['day', 'messages', 'room', 'active', 'bots', ...PROTOCOLS, 'peak', 'new'];
        const rows = report.map((d) => [d.day, d.messages, d.roomMessages, d.activeUsers, d.activeBots, ...PROTOCOLS.map((p) => d.sessions[p]), d.peakConnections, d.newAccounts].map(String));
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        const line = (cells: string[]): string => `${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`;
        out(line(head));
        for (const r of rows) out(line(r));
        return 0;
      },
    },
  ];
}
