/** The key a login's source address is throttled under (see throttle.ts). */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a source address is counted under: IPv4 as is, IPv4-mapped IPv6 as IPv4 (RFC 4291 §2.5.5.2), other
 * IPv6 as its /64 prefix; anything else (e.g. a Unix socket name) verbatim.
 */
export function sourceKey(ip: string): string {
  let s = ip.trim().toLowerCase();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%'); // RFC 4007 §11 zone index
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return s;
  if (!isIPv6(s)) return ip;
  const groups = expandIPv6(s);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] ?? 0;
    const lo = groups[7] ?? 0;
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (RFC 4291 §2.2 text forms, incl. "::" and a dotted tail). */
function expandIPv6(s: string): number[] {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined ? null : rest === '' ? [] : rest.split(':');
  const parts = r === null ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  return parts.map((g) => parseInt(g, 16));
}
