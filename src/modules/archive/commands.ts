/** `parley archive ...`: the archive's operator commands, run on the store without a server. */
import { ParleyError } from '../../core/errors.js';
import { normaliseUser } from '../../engine/admin-service.js';
import type { CliCommand } from '../api.js';
import { eventDraft } from './entry.js';
import type { Hold } from './holds.js';
import type { ArchiveOptions } from './options.js';
import { runRetention, type RetentionPolicy } from './retention.js';
import type { Lexicon, ReviewItem, ReviewState } from './review.js';
import { ROLE_NAMES, type ArchiveRole } from './roles.js';
import type { ArchiveArea } from './sqlite.js';
import { searchCommands } from './search-commands.js';
import { int, parseArgs, type Args } from './cli-args.js';

/** Flags that take no value. */
const SWITCHES = ['--dry-run', '--all'];
/** The commands' arguments (any flag; the area checks the values). */
const parse = (args: readonly string[]): Args => parseArgs(args, { switches: SWITCHES });

/** The actor the CLI's actions are journaled under (the operator at the console). */
const CLI = 'cli';

const policyLine = (p: RetentionPolicy): string => `${p.kind} ${p.scope}: min ${p.minDays} days, max ${p.maxDays === null ? 'forever' : `${p.maxDays} days`} (set by ${p.setBy ?? 'system'})\n`;
const holdLine = (h: Hold): string => {
  const scope = h.scope.kind === 'person' ? `person ${h.scope.address}` : h.scope.kind === 'room' ? `room ${h.scope.room}` : `search ${JSON.stringify(h.scope.search)}`;
  const state = h.releasedAt === null ? 'active' : `released ${new Date(h.releasedAt).toISOString()} by ${h.releasedBy ?? 'system'}`;
  return `${h.id}\t${state}\t${scope}\t${h.reason}\n`;
};
const lexiconLine = (l: Lexicon): string => {
  const scope = l.scope.kind === 'all' ? 'all' : l.scope.kind === 'domain' ? `domain ${l.scope.domain}` : `group ${l.scope.group}`;
  return `${l.id}\t${l.name}\t${scope}\twords ${JSON.stringify(l.terms.words)} phrases ${JSON.stringify(l.terms.phrases)} patterns ${JSON.stringify(l.terms.patterns)}\n`;
};
const itemLine = (r: ReviewItem): string => {
  const why = r.reasons.map((x) => (x.kind === 'sample' ? 'sample' : `${x.name}:${x.term}`)).join(', ');
  const decided = r.decidedAt === null ? '' : `\t${r.reviewer ?? ''} ${new Date(r.decidedAt).toISOString()}: ${r.comment ?? ''}`;
  return `${r.id}\t${r.state}\tentry ${r.index}\t${why}${decided}\n${r.entry === null ? '  (content expired)' : `  ${r.entry}`}\n`;
};
const STATES: readonly ReviewState[] = ['new', 'reviewed', 'escalated'];

/** `parley archive officer|reviewer add|remove|list`: grants and revocations are journaled with them. */
function roleCommand(role: ArchiveRole, summary: string): CliCommand<ArchiveOptions> {
  return {
    name: role,
    usage: 'add|remove|list [local@domain]',
    summary,
    async run(args, { store, out, err }) {
      const a = store.area<ArchiveArea>('archive');
      const [action, who] = args;
      if (action === 'list') {
        for (const o of await a.roleHolders(role)) out(`${o}\n`);
        return 0;
      }
      if ((action !== 'add' && action !== 'remove') || who === undefined) {
        err(`usage: parley archive ${role} add|remove|list [local@domain]\n`);
        return 2;
      }
      const address = normaliseUser(who);
      if (action === 'add' && !(await store.accounts.get(address))) throw new ParleyError('item-not-found', `no such user ${address}`);
      const changed = await a.setRole(address, role, action === 'add', CLI, Date.now());
      out(changed ? `${action === 'add' ? 'granted' : 'revoked'} the ${ROLE_NAMES[role]} role ${action === 'add' ? 'to' : 'of'} ${address}\n` : `nothing changed for ${address}\n`);
      return 0;
    },
  };
}

/** The commands, in the order `parley --help` lists them. */
export function archiveCommands(): CliCommand<ArchiveOptions>[] {
  return [
    {
      name: 'verify',
      usage: '[--key VERIFIER-KEY]',
      summary: 'recompute the journal and check every signed checkpoint',
      async run(args, { options, store, out, err, progress }) {
        const key = parseArgs(args, { known: ['--key'] }).one('--key');
        const started = Date.now();
        const report = await store.area<ArchiveArea>('archive').verify({
          origin: options.origin,
          ...(key !== undefined ? { verifierKey: key } : {}),
          onProgress: (done, total) => progress(`verified ${done} of ${total} entries`),
        });
        progress('');
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        if (report.ok) {
          out(`ok: ${report.entries} entries (${report.expired} expired), ${report.checkpoints} checkpoints, in ${secs} s\n`);
          return 0;
        }
        const p = report.problem!;
        err(`FAILED (${p.code})${p.index !== undefined ? ` at entry ${p.index}` : ''}${p.size !== undefined ? ` [checkpoint ${p.size}]` : ''}: ${p.message}\n`);
        return 1;
      },
    },
    {
      name: 'checkpoint',
      usage: '',
      summary: 'sign a checkpoint of everything journaled now and print it',
      async run(_args, { options, store, out }) {
        const a = store.area<ArchiveArea>('archive');
        const cp = await a.checkpoint(options.origin, Date.now());
        await a.journal([eventDraft('archive.checkpoint', Date.now(), { actor: 'cli', data: { size: cp.size } })]);
        out(cp.note);
        return 0;
      },
    },
    {
      name: 'key',
      usage: '',
      summary: 'print the verifier key auditors check checkpoints with',
      async run(_args, { options, store, out }) {
        out(`${await store.area<ArchiveArea>('archive').verifierKey(options.origin, Date.now())}\n`);
        return 0;
      },
    },
    roleCommand('officer', 'grant or revoke the compliance-officer role (eDiscovery, retention, holds, lexicons)'),
    roleCommand('reviewer', 'grant or revoke the supervision-reviewer role (the review queue)'),
    ...searchCommands(),
    {
      name: 'retention',
      usage: 'set --domain D|--room R --min-days N --max-days N|never | list | remove --domain D|--room R | run [--dry-run]',
      summary: 'manage retention policies and expire content past them',
      async run(args, { options, store, out, err, progress }) {
        const a = store.area<ArchiveArea>('archive');
        const f = parse(args.slice(1));
        const scope = { ...(f.has('--domain') ? { domain: f.one('--domain')! } : {}), ...(f.has('--room') ? { room: f.one('--room')! } : {}) };
        switch (args[0]) {
          case 'list':
            for (const p of await a.retentionList()) out(policyLine(p));
            return 0;
          case 'set': {
            const max = f.one('--max-days');
            const p = await a.retentionSet(
              { ...scope, minDays: f.has('--min-days') ? int(f.one('--min-days'), '--min-days') : 0, maxDays: max === 'never' ? null : int(max, '--max-days') },
              options.retention,
              CLI,
              Date.now(),
            );
            out(policyLine(p));
            return 0;
          }
          case 'remove':
            out(`removed ${policyLine(await a.retentionRemove(scope, CLI, Date.now()))}`);
            return 0;
          case 'run': {
            const dryRun = f.has('--dry-run');
            const t = await runRetention(a, {
              now: Date.now(),
              dryRun,
              limits: options.retention,
              actor: CLI,
              onStep: (p) => progress(`examined entries up to ${p.after} of ${p.total}: ${p.totals.expired} ${dryRun ? 'to expire' : 'expired'}, ${p.totals.held} held`),
            });
            progress('');
            out(`${dryRun ? 'dry run: would expire' : 'expired'} ${t.expired} entries; ${t.held} kept by holds (${t.examined} past their policy)\n`);
            return 0;
          }
          default:
            err(`usage: parley archive retention ${this.usage}\n`);
            return 2;
        }
      },
    },
    {
      name: 'hold',
      usage: "add --person A|--room R|--search '<json filters>' --reason TEXT | list [--all] | release <id>",
      summary: 'place, list and release legal holds (they override retention)',
      async run(args, { store, out, err }) {
        const a = store.area<ArchiveArea>('archive');
        const f = parse(args.slice(1));
        switch (args[0]) {
          case 'add': {
            let search: unknown;
            const json = f.one('--search');
            if (json !== undefined) {
              try {
                search = JSON.parse(json) as unknown;
              } catch {
                throw new ParleyError('bad-request', '--search is a JSON object of filters');
              }
            }
            const person = f.one('--person');
            const room = f.one('--room');
            const h = await a.holdAdd(
              { ...(person !== undefined ? { person } : {}), ...(room !== undefined ? { room } : {}), ...(json !== undefined ? { search } : {}), reason: f.one('--reason') ?? '' },
              CLI,
              Date.now(),
            );
            out(holdLine(h));
            return 0;
          }
          case 'list':
            for (const h of await a.holdList(f.has('--all'))) out(holdLine(h));
            return 0;
          case 'release':
            out(holdLine(await a.holdRelease(int(f.positional[0], 'the hold id'), CLI, Date.now())));
            return 0;
          default:
            err(`usage: parley archive hold ${this.usage}\n`);
            return 2;
        }
      },
    },
    {
      name: 'review',
      usage:
        'list [--state new|reviewed|escalated] [--after ID] [--limit N] | mark <id> reviewed|escalated --comment TEXT | lexicon add --name N [--domain D|--group G] [--word W]... [--phrase P]... [--pattern RE]... | lexicon list | lexicon remove <id>',
      summary: 'supervision: the review queue and its lexicon policies',
      async run(args, { store, out, err }) {
        const a = store.area<ArchiveArea>('archive');
        const usage = (): number => {
          err(`usage: parley archive review ${this.usage}\n`);
          return 2;
        };
        if (args[0] === 'lexicon') {
          const f = parse(args.slice(2));
          switch (args[1]) {
            case 'add': {
              const domain = f.one('--domain');
              const group = f.one('--group');
              if (domain !== undefined && group !== undefined) throw new ParleyError('bad-request', 'a lexicon applies to a domain or a group, not both');
              const scope = domain !== undefined ? { kind: 'domain' as const, domain } : group !== undefined ? { kind: 'group' as const, group } : { kind: 'all' as const };
              const l = await a.lexiconAdd(
                { name: f.one('--name') ?? '', scope, terms: { words: f.all('--word'), phrases: f.all('--phrase'), patterns: f.all('--pattern') } },
                CLI,
                Date.now(),
              );
              out(lexiconLine(l));
              return 0;
            }
            case 'list':
              for (const l of await a.lexiconList()) out(lexiconLine(l));
              return 0;
            case 'remove':
              out(`removed ${lexiconLine(await a.lexiconRemove(int(f.positional[0], 'the lexicon id'), CLI, Date.now()))}`);
              return 0;
            default:
              return usage();
          }
        }
        const f = parse(args.slice(1));
        switch (args[0]) {
          case 'list': {
            const state = f.one('--state');
            if (state !== undefined && !STATES.includes(state as ReviewState)) throw new ParleyError('bad-request', `--state is one of ${STATES.join(', ')}`);
            const items = await a.reviewList(
              {
                ...(state !== undefined ? { state: state as ReviewState } : {}),
                ...(f.has('--after') ? { after: int(f.one('--after'), '--after') } : {}),
                ...(f.has('--limit') ? { limit: int(f.one('--limit'), '--limit') } : {}),
              },
              CLI,
              Date.now(),
            );
            for (const r of items) out(itemLine(r));
            return 0;
          }
          case 'mark': {
            const [id, state] = f.positional;
            if (state !== 'reviewed' && state !== 'escalated') return usage();
            out(itemLine(await a.reviewMark(int(id, 'the review item id'), state, f.one('--comment') ?? '', CLI, Date.now())));
            return 0;
          }
          default:
            return usage();
        }
      },
    },
  ];
}
