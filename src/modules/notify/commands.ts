/**
 * `parley notify ...`: the operator's view of notifications, on the store without a server (the storage area is
 * the same one the server writes).
 */
import type { CliCommand } from '../api.js';
import type { NotifyOptions } from './options.js';
import type { NotifyArea } from './sqlite.js';

const STATES = new Set(['open', 'triggered', 'acknowledged', 'resolved']);

/** The notify module's commands. */
export function notifyCommands(): CliCommand<NotifyOptions>[] {
  return [
    {
      name: 'list',
      usage: '[open|triggered|acknowledged|resolved]',
      summary: 'list the latest notifications (100), newest first',
      async run(args, { store, out, err }) {
        const state = args[0];
        if (args.length > 1 || (state !== undefined && !STATES.has(state))) {
          err('usage: parley notify list [open|triggered|acknowledged|resolved]\n');
          return 2;
        }
        const list = await store.area<NotifyArea>('notify').list({ state: state as 'open' | undefined, limit: 100 });
        for (const n of list) {
          out(`${n.id}\t#${n.short}\t${n.state}${n.exhausted ? ' (exhausted)' : ''}\t${n.severity}\t${n.assignee ?? '-'}\t${n.title}\n`);
        }
        return 0;
      },
    },
    {
      name: 'show',
      usage: '<id>',
      summary: 'one notification with its deliveries, acknowledgements and history, as JSON',
      async run(args, { store, out, err }) {
        const id = Number(args[0]);
        if (args.length !== 1 || !Number.isSafeInteger(id) || id < 1) {
          err('usage: parley notify show <id>\n');
          return 2;
        }
        const d = await store.area<NotifyArea>('notify').detail(id);
        if (!d) {
          err(`no notification ${id}\n`);
          return 1;
        }
        out(`${JSON.stringify(d, null, 2)}\n`);
        return 0;
      },
    },
  ];
}
