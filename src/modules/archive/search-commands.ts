/**
 * `parley archive search` and `parley archive export` (docs/archive-search.md): eDiscovery from the operator's
 * shell, on the store without a server. The operator acts as `cli` in the audit entries. Both first index
 * what the server has not indexed yet (or everything, when it never ran), showing progress.
 */
import { ParleyError } from '../../core/errors.js';
import type { CliCommand, CliContext } from '../api.js';
import { optionalInt, parseArgs } from './cli-args.js';
import { writeBundle } from './export.js';
import type { ArchiveOptions } from './options.js';
import { parseTime, type SearchQuery } from './query.js';
import type { SearchHit } from './search.js';
import type { ArchiveArea } from './sqlite.js';

const FILTER_USAGE = '[--participant ADDR] [--room ROOM] [--domain DOMAIN] [--from ISO] [--to ISO] [--type T]...';

/** The filter flags every eDiscovery command takes. */
const FILTERS = ['--participant', '--room', '--domain', '--from', '--to', '--type'];

/** Parses the shared filter flags and the command's `extra` ones (given back in `flags`); the rest are keywords. */
export function parseSearchArgs(args: readonly string[], extra: readonly string[] = []): { query: SearchQuery; flags: Map<string, string>; keywords: string[] } {
  const a = parseArgs(args, { known: [...FILTERS, ...extra] });
  const query: SearchQuery = {};
  const participant = a.one('--participant');
  const room = a.one('--room');
  const domain = a.one('--domain');
  const from = a.one('--from');
  const to = a.one('--to');
  if (participant !== undefined) query.participant = participant;
  if (room !== undefined) query.room = room;
  if (domain !== undefined) query.domain = domain;
  if (from !== undefined) query.from = parseTime(from, 'from');
  if (to !== undefined) query.to = parseTime(to, 'to');
  if (a.has('--type')) query.types = a.all('--type');
  const keywords = a.positional;
  if (keywords.length > 0) query.keywords = keywords.join(' ');
  const flags = new Map<string, string>();
  for (const f of extra) if (a.has(f)) flags.set(f, a.one(f)!);
  return { query, flags, keywords };
}

/** Indexes whatever the server has not indexed yet, with progress. */
async function catchUp(a: ArchiveArea, progress: CliContext<ArchiveOptions>['progress']): Promise<void> {
  let done = 0;
  for (;;) {
    const { scanned, pending } = await a.indexPending();
    done += scanned;
    if (pending === 0) break;
    progress(`indexing: ${done} entries done, ${pending} to go`);
  }
  if (done > 0) progress('');
}

/** Fits text on one table cell: line breaks shown as ⏎, cut with … */
const cell = (s: string | null, width: number): string => {
  const t = (s ?? '').replace(/\r\n|\n|\r/g, '⏎');
  return t.length > width ? `${t.slice(0, width - 1)}…` : t.padEnd(width);
};

/** One hit as a table row, with its later versions beneath. */
function row(h: SearchHit): string {
  const time = new Date(h.ts).toISOString().replace('T', ' ').slice(0, 19);
  const body = h.body === null ? (h.type === 'retract' ? '(retraction)' : '(expired)') : h.body;
  let line = `${String(h.index).padStart(9)}  ${time}  ${cell(h.type, 7)}  ${cell(h.actor, 24)}  ${cell(h.conv, 32)}  ${cell(body, 60).trimEnd()}\n`;
  for (const l of h.later) {
    line += `${''.padStart(9)}  ${'└'.padEnd(19)}  ${cell(l.type, 7)}  #${l.index} ${l.body === null ? '' : cell(l.body, 60).trimEnd()}\n`;
  }
  return line;
}

/** The eDiscovery commands. */
export function searchCommands(): CliCommand<ArchiveOptions>[] {
  return [
    {
      name: 'search',
      usage: `${FILTER_USAGE} [--limit N] [--before INDEX] [keywords...]`,
      summary: 'search the archive (newest first); journaled as an archive.search entry',
      async run(args, { store, out, progress }) {
        const { query, flags } = parseSearchArgs(args, ['--limit', '--before']);
        query.limit = optionalInt(flags.get('--limit'), '--limit', 1000);
        query.before = optionalInt(flags.get('--before'), '--before');
        const a = store.area<ArchiveArea>('archive');
        await catchUp(a, progress);
        const page = await a.search(query, 'cli', Date.now());
        out(`${'INDEX'.padStart(9)}  ${'TIME (UTC)'.padEnd(19)}  ${'TYPE'.padEnd(7)}  ${'FROM'.padEnd(24)}  ${'CONVERSATION'.padEnd(32)}  BODY\n`);
        for (const h of page.hits) out(row(h));
        out(`${page.hits.length} hit${page.hits.length === 1 ? '' : 's'}${page.next !== null ? `; next page: --before ${page.next}` : ''}\n`);
        return 0;
      },
    },
    {
      name: 'export',
      usage: `--out DIR ${FILTER_USAGE} [keywords...]`,
      summary: 'export matching entries as a verifiable bundle (records, proofs, JSON Lines, CSV, EML)',
      async run(args, { options, store, out, progress }) {
        const { query, flags } = parseSearchArgs(args, ['--out']);
        const dir = flags.get('--out');
        if (dir === undefined) throw new ParleyError('bad-request', '--out DIR is required');
        const a = store.area<ArchiveArea>('archive');
        await catchUp(a, progress);
        const started = Date.now();
        const summary = await writeBundle(a, query, {
          dir,
          actor: 'cli',
          origin: options.origin,
          now: Date.now(),
          progress: (done, total) => progress(`exported ${done} of ${total} entries`),
        });
        progress('');
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        out(`exported ${summary.entries} entries (${summary.records} records with proofs) against checkpoint size ${summary.size} into ${dir} in ${secs} s\n`);
        out(`verify with: node tools/verify-bundle.mjs ${dir} "$(parley archive key)"\n`);
        return 0;
      },
    },
  ];
}
