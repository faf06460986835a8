/**
 * The guard against server-side request forgery (SSRF) of webhook targets: a webhook makes Parley send requests
 * to an address its creator chose, so without a guard a user could reach what only the server can reach (the
 * loopback interface, the private network, a cloud's metadata service at 169.254.169.254).
 *
 * Only http and https URLs are taken. The host is resolved with dns.lookup (every address it has), and the
 * request is refused when any address is in a range that is not public:
 *
 * - unspecified and "this network": 0.0.0.0/8, ::/128 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.2)
 * - loopback: 127.0.0.0/8, ::1/128 (RFC 1122, RFC 4291 §2.5.3)
 * - private: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918), unique local fc00::/7 (RFC 4193), the
 *   deprecated site-local fec0::/10 (RFC 3879)
 * - shared address space (carrier-grade NAT): 100.64.0.0/10 (RFC 6598)
 * - link-local: 169.254.0.0/16 (RFC 3927), fe80::/10 (RFC 4291 §2.5.6)
 * - IETF protocol assignments 192.0.0.0/24 (RFC 6890), benchmarking 198.18.0.0/15 (RFC 2544)
 * - multicast 224.0.0.0/4, ff00::/8, and the reserved 240.0.0.0/4 with the broadcast address
 * - IPv4-mapped IPv6 (::ffff:0:0/96, RFC 4291 §2.5.5.2) and NAT64 (64:ff9b::/96, RFC 6052) forms of the above,
 *   judged by the IPv4 address they carry
 *
 * unless the operator allows it: `allowPrivateTargets` (everything), or `allowCidrs` (listed ranges only).
 *
 * The connection goes to the address that was checked: `lookup` is given to the HTTP client, so the host is
 * resolved once per connection by the guard itself and no second resolution can rebind it to another address.
 * An IP literal in the URL is never resolved, so it is checked here before the request (checkUrl).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ParleyError } from '../../core/errors.js';

/** Why a target was refused: a stable code and a sentence. */
export class TargetRefused extends Error {
  constructor(
    message: string,
    readonly address: string | null,
  ) {
    super(message);
    this.name = 'TargetRefused';
  }
}

/** The ranges that are not public, with the name a refusal gives. */
const DENIED: ReadonlyArray<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'ipv4', 'shared address space (RFC 6598)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (RFC 3927)'],
  ['172.16.0.0', 12, 'ipv4', 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments (RFC 6890)'],
  ['192.168.0.0', 16, 'ipv4', 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking (RFC 2544)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'unique local (RFC 4193)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const denied = DENIED.map(([net, prefix, family, name]) => {
  const b = new BlockList();
  b.addSubnet(net, prefix, family);
  return { b, family, name };
});

/** The 16 bytes of an IPv6 address (as net.isIP accepts it). */
function ipv6Bytes(a: string): number[] {
  let s = a;
  const out: number[] = [];
  // A trailing dotted IPv4 part becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = dotted[1]!.split('.').map(Number);
    s = `${s.slice(0, -dotted[1]!.length)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, null];
  const h = head === '' ? [] : head.split(':');
  const t = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  for (const g of groups) {
    const n = parseInt(g, 16);
    out.push(n >> 8, n & 0xff);
  }
  return out;
}

/**
 * The IPv4 address an IPv6 address carries when it is IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d),
 * else null.
 */
export function embeddedIpv4(a: string): string | null {
  if (isIP(a) !== 6) return null;
  const b = ipv6Bytes(a.replace(/%.*$/, ''));
  const zero = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  const mapped = zero(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12);
  return mapped || nat64 ? b.slice(12).join('.') : null;
}

/** What the operator allows besides public addresses. */
export interface GuardOptions {
  allowPrivateTargets: boolean;
  /** CIDR ranges allowed even when not public (`10.1.2.0/24`, `fd00::/8`, `127.0.0.1/32`). */
  allowCidrs: readonly string[];
}

/** Parses `a.b.c.d/n` or `x::y/n` into a BlockList entry; throws on anything else. */
function addCidr(list: BlockList, cidr: string): void {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  const family = m ? isIP(m[1]!) : 0;
  const prefix = m ? Number(m[2]) : -1;
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`${cidr} is not a CIDR range (address/prefix length)`);
  list.addSubnet(m[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether `cidr` is a valid CIDR range (for the options' schema). */
export function isCidr(cidr: string): boolean {
  try {
    addCidr(new BlockList(), cidr);
    return true;
  } catch {
    return false;
  }
}

/** The SSRF guard of one configuration. */
export class TargetGuard {
  private readonly allowed = new BlockList();

  constructor(
    private readonly opts: GuardOptions,
    private readonly resolve: typeof dnsLookup = dnsLookup,
  ) {
    for (const c of opts.allowCidrs) addCidr(this.allowed, c);
  }

  /** Why the IP address `a` may not be a target, or null when it may. */
  refusal(a: string): string | null {
    const family = isIP(a);
    if (family === 0) return `${a} is not an IP address`;
    if (this.opts.allowPrivateTargets) return null;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(a, type)) return null;
    const v4 = embeddedIpv4(a);
    if (v4 !== null) {
      if (this.allowed.check(v4, 'ipv4')) return null;
      const inner = this.refusal(v4);
      return inner === null ? null : `${a} embeds ${inner}`;
    }
    for (const d of denied) if (d.family === type && d.b.check(a, type)) return `${a} is ${d.name}`;
    return null;
  }

  /** Throws TargetRefused when the IP address `a` may not be a target. */
  private check(a: string): void {
    const why = this.refusal(a);
    if (why !== null) throw new TargetRefused(`the target ${why}; Parley does not send webhooks there (modules.webhooks.allowPrivateTargets, allowCidrs)`, a);
  }

  /**
   * Checks `host` when it is an IP literal (which no lookup sees: the socket connects to it directly); throws
   * TargetRefused when it may not be a target. Host names are left to `lookup`.
   */
  checkLiteral(host: string): void {
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) this.check(bare);
  }

  /** Every address of `host`, checked; throws TargetRefused when any of them may not be a target. */
  async addresses(host: string): Promise<LookupAddress[]> {
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) {
      this.check(bare);
      return [{ address: bare, family: isIP(bare) }];
    }
    const all = await new Promise<LookupAddress[]>((resolve, reject) => {
      this.resolve(bare, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs)));
    });
    if (all.length === 0) throw new Error(`${bare} has no address`);
    for (const a of all) this.check(a.address);
    return all;
  }

  /**
   * Checks a URL: http or https, no credentials, and a host whose every address may be a target. Refuses
   * with bad-request (field `url`) for the form and policy-violation for the target.
   */
  async checkUrl(input: string): Promise<URL> {
    const url = parseTargetUrl(input);
    try {
      await this.addresses(url.hostname);
    } catch (e) {
      if (e instanceof TargetRefused) throw new ParleyError('policy-violation', e.message, { field: 'url', address: e.address });
      throw new ParleyError('bad-request', `url: the host ${url.hostname} cannot be resolved (${(e as Error).message})`, { field: 'url', issue: 'unresolvable' });
    }
    return url;
  }

  /**
   * The `lookup` for the HTTP client: resolves with dns.lookup, refuses the connection when any address may
   * not be a target, and hands over only the checked addresses, so the socket connects to one of them.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.addresses(hostname).then(
      (all) => {
        const fam = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = fam === 0 ? all : all.filter((a) => a.family === fam);
        if (usable.length === 0) return callback(Object.assign(new Error(`${hostname} has no IPv${fam} address`), { code: 'ENOTFOUND' }), '', 0);
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (e: unknown) => callback(e as NodeJS.ErrnoException, '', 0),
    );
  };
}

/** A target URL's form: http or https, no user name or password; bad-request otherwise. */
export function parseTargetUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ParleyError('bad-request', 'url: not a URL', { field: 'url', issue: 'invalid_url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ParleyError('bad-request', `url: a webhook URL is http or https, not ${url.protocol.slice(0, -1)}`, { field: 'url', issue: 'invalid_scheme' });
  }
  if (url.username !== '' || url.password !== '') {
    throw new ParleyError('bad-request', 'url: a webhook URL carries no user name or password (deliveries are signed)', { field: 'url', issue: 'credentials' });
  }
  return url;
}
