/**
 * Where a remote domain's server listens (RFC 6120 §3.2, XEP-0368): a static `resolve` override first (pinned
 * partners, tests); else the SRV records `_xmpps-server._tcp.<domain>` (direct TLS, XEP-0368 §3) and
 * `_xmpp-server._tcp.<domain>` (STARTTLS, RFC 6120 §3.2.1) asked together with a short timeout, combined and
 * ordered by priority, then weight (RFC 2782); a lone "." target says the service is not offered (§3.2.1 step
 * 3, RFC 2782); no records at all fall back to the domain itself on 5269 (§3.2.2), whose A/AAAA the connect
 * resolves.
 */
import { promises as dns } from 'node:dns';

/** One address to try. */
export interface Target {
  host: string;
  port: number;
  /** Direct TLS (XEP-0368) instead of STARTTLS. */
  directTls: boolean;
}

/** The SRV lookup used (node:dns by default; tests give their own). */
export type SrvLookup = (name: string) => Promise<Array<{ name: string; port: number; priority: number; weight: number }>>;

/** The RFC 6120 §3.2.2 fallback port. */
export const DEFAULT_S2S_PORT = 5269;

/** `host:port` (IPv6 in brackets) split. */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(s.slice(i + 1)) };
}

/** Records of one SRV name, [] when there are none or the lookup fails or takes too long. */
async function srv(lookup: SrvLookup, name: string, timeoutMs: number): Promise<Array<{ name: string; port: number; priority: number; weight: number }> | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  try {
    return await Promise.race([lookup(name).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The addresses to try for `domain`, in order. Empty when its SRV records say it offers no server-to-server
 * service (a single record with target ".").
 */
export async function resolveTargets(
  domain: string,
  overrides: Readonly<Record<string, string>>,
  opts: { timeoutMs: number; lookup?: SrvLookup },
): Promise<Target[]> {
  const pinned = overrides[domain];
  if (pinned !== undefined) return [{ ...parseHostPort(pinned), directTls: false }];
  const lookup = opts.lookup ?? ((n: string) => dns.resolveSrv(n));
  const [tls, plain] = await Promise.all([srv(lookup, `_xmpps-server._tcp.${domain}`, opts.timeoutMs), srv(lookup, `_xmpp-server._tcp.${domain}`, opts.timeoutMs)]);
  const records = [...(tls ?? []).map((r) => ({ ...r, directTls: true })), ...(plain ?? []).map((r) => ({ ...r, directTls: false }))];
  if (records.length === 0) return [{ host: domain, port: DEFAULT_S2S_PORT, directTls: false }];
  if (records.every((r) => r.name === '' || r.name === '.')) return [];
  // Lower priority first; among equals the heavier first, direct TLS before STARTTLS (XEP-0368 §3.1).
  records.sort((a, b) => a.priority - b.priority || b.weight - a.weight || Number(b.directTls) - Number(a.directTls));
  return records.filter((r) => r.name !== '' && r.name !== '.').map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port, directTls: r.directTls }));
}
