/**
 * The federated links as administrators see them (GET /api/v1/federation/links, `parley federation links`, the
 * health page): per remote domain and direction, the state, how it authenticated, since when, and stanzas in
 * and out.
 */
import type { FederationLink } from '../../../client/admin-types.js';
import type { CliCommand } from '../api.js';
import type { AuthMethod, IncomingStream } from './incoming.js';
import type { FederationOptions } from './options.js';
import type { Link } from './pool.js';

/** One row of the listing: the SDK's FederationLink (client/admin-types.ts), the shape the console reads. */
export type LinkView = FederationLink;

/** The rows of the pool's links and the open incoming streams (an unauthenticated one shows as negotiating). */
export function linksOf(out: readonly Link[], incoming: ReadonlySet<IncomingStream>, methodOf: (s: IncomingStream, remote: string) => AuthMethod | null): LinkView[] {
  const rows: LinkView[] = [];
  for (const l of out) {
    rows.push({
      direction: 'out',
      local: l.local,
      remote: l.remote,
      state: l.state,
      auth: l.established?.method ?? null,
      since: new Date(l.since).toISOString(),
      address: l.stream?.remoteAddress ?? null,
      stanzasIn: 0,
      stanzasOut: l.stream?.stanzasOut ?? 0,
      queued: l.queue.length,
      lastError: l.lastError,
    });
  }
  for (const s of incoming) {
    const remotes = s.remotes();
    const base = { direction: 'in' as const, local: s.local, since: new Date(s.since).toISOString(), address: s.remoteAddress, stanzasIn: s.stanzasIn, stanzasOut: 0, queued: 0, lastError: null };
    if (remotes.length === 0) rows.push({ ...base, remote: '', state: 'negotiating', auth: null });
    for (const r of remotes) rows.push({ ...base, remote: r, state: 'ready', auth: methodOf(s, r) });
  }
  return rows;
}

/**
 * `parley federation links --url <server> [--token <admin token>]`: the links of a running server, read from its
 * HTTP API (the links live in the server's memory, not in the store). The token may come from PARLEY_TOKEN.
 */
export const linksCommand: CliCommand<FederationOptions> = {
  name: 'links',
  usage: '--url <http(s)://host:port> [--token <administrator token>]',
  summary: 'The federated links of a running server: remote domain, direction, state, authentication, since, stanzas',
  async run(args, ctx) {
    const arg = (name: string): string | undefined => {
      const i = args.indexOf(name);
      return i === -1 ? undefined : args[i + 1];
    };
    const url = arg('--url');
    const token = arg('--token') ?? process.env.PARLEY_TOKEN;
    if (url === undefined || token === undefined) {
      ctx.err('usage: parley federation links --url <http(s)://host:port> [--token <administrator token>] (or PARLEY_TOKEN)');
      return 2;
    }
    const res = await fetch(`${url.replace(/\/$/, '')}/api/v1/federation/links`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) {
      ctx.err(`the server answered ${res.status}: ${await res.text()}`);
      return 1;
    }
    const body = (await res.json()) as { links: LinkView[] };
    if (body.links.length === 0) ctx.out('no federated links');
    for (const l of body.links) {
      ctx.out(`${l.direction.padEnd(3)} ${l.local} ${l.direction === 'out' ? '->' : '<-'} ${l.remote || '?'}  ${l.state}  ${l.auth ?? '-'}  since ${l.since}  in ${l.stanzasIn} out ${l.stanzasOut}${l.lastError ? `  (${l.lastError})` : ''}`);
    }
    return 0;
  },
};
