/**
 * Server identity in certificates (RFC 6125 as profiled for XMPP by RFC 6120 §13.7.1.2 and XEP-0178): a peer's
 * certificate vouches for a domain when one of its DNS-IDs (subjectAltName dNSName entries) matches it. Parley
 * looks at DNS-IDs only: xmppAddr names are not needed for server certificates and some servers choke on them,
 * and a CN-ID is not consulted when DNS-IDs are present (RFC 6125 §6.4.4); certificates without any DNS-ID
 * match nothing.
 */

/** The dNSName entries of a certificate's subjectAltName text (`DNS:a.example, DNS:*.b.example, IP Address:...`), lowercase. */
export function dnsNamesOf(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === '') return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(',')) {
    const p = part.trim();
    if (p.startsWith('DNS:')) out.push(p.slice(4).toLowerCase().replace(/\.$/, ''));
  }
  return out;
}

/**
 * Whether the DNS-ID `name` matches `domain` (RFC 6125 §6.4.1-§6.4.3): compared case-insensitively label by
 * label; a wildcard only as the whole leftmost label (`*.example.com`, never `f*o.example.com` nor
 * `*.*.example.com`), standing for exactly one label, and never above two labels (`*.com` matches nothing).
 * Internationalised names are compared in their A-label form, as certificates carry them.
 */
export function dnsIdMatches(name: string, domain: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (n === '' || d === '') return false;
  if (!n.includes('*')) return n === d;
  const labels = n.split('.');
  if (labels[0] !== '*' || labels.slice(1).some((l) => l.includes('*') || l === '') || labels.length < 3) return false;
  const dot = d.indexOf('.');
  if (dot <= 0) return false;
  return d.slice(dot + 1) === labels.slice(1).join('.');
}

/** Whether any of a certificate's DNS-IDs matches `domain`. */
export function certificateNames(names: readonly string[], domain: string): boolean {
  return names.some((n) => dnsIdMatches(n, domain));
}
