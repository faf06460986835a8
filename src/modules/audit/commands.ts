/**
 * `parley audit list`: the audit log on the store without a server, newest first, one entry a line (tab
 * separated: id, time, actor, type, subject, data as JSON).
 */
import type { CliCommand } from '../api.js';
import type { AuditOptions } from './options.js';
import { MAX_PAGE } from './routes.js';
import type { AuditArea, AuditQuery } from './sqlite.js';

const USAGE = 'usage: parley audit list [--type T] [--actor A] [--subject S] [--since YYYY-MM-DD] [--limit N]\n';

/** The flags as a query; a string is the problem with them. */
export function parseListArgs(args: readonly string[]): AuditQuery | string {
  const q: AuditQuery = { limit: 100 };
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!;
    const v = args[i + 1];
    if (v === undefined) return `${flag} needs a value`;
    switch (flag) {
      case '--type':
        q.type = v;
        break;
      case '--actor':
        q.actor = v;
        break;
      case '--subject':
        q.subject = v;
        break;
      case '--since': {
        const at = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
        if (Number.isNaN(at)) return `--since: a date YYYY-MM-DD (UTC)`;
        q.from = at;
        break;
      }
      case '--limit': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) return `--limit: 1 to ${MAX_PAGE}`;
        q.limit = n;
        break;
      }
      default:
        return `unknown option ${flag}`;
    }
  }
  return q;
}

/** The audit module's commands. */
export function auditCommands(): CliCommand<AuditOptions>[] {
  return [
    {
      name: 'list',
      usage: '[--type T] [--actor A] [--subject S] [--since YYYY-MM-DD] [--limit N]',
      summary: 'the latest changes (100), newest first',
      async run(args, { store, out, err }) {
        const q = parseListArgs(args);
        if (typeof q === 'string') {
          err(`${q}\n${USAGE}`);
          return 2;
        }
        const page = await store.area<AuditArea>('audit').list(q);
        for (const e of page.entries) {
          out(`${e.id}\t${new Date(e.at).toISOString()}\t${e.actor ?? '-'}\t${e.type}\t${e.subject ?? '-'}\t${JSON.stringify(e.data)}\n`);
        }
        return 0;
      },
    },
  ];
}
