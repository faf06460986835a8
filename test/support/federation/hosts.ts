/**
 * Names for the federation interop tests: a block of /etc/hosts lines between marker comments, added before the
 * peers start and removed afterwards. Every name needs its own line (`conference.<domain>` included), because
 * each of them is resolved on its own when a server opens an s2s stream to it (RFC 6120 §3.2: the domain's SRV
 * records, then the domain itself). No SRV records exist here, so every peer falls back to the A record on
 * port 5269, which is why each domain has its own loopback address.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** The file the block is written to (Prosody reads it through lua-unbound's hoststxt, ejabberd and Node directly). */
export const HOSTS_FILE = '/etc/hosts';
const BEGIN = '# parley-federation-test begin';
const END = '# parley-federation-test end';

/** The file's text without any marked block (also a stale one a crashed run left behind). */
export function withoutBlock(text: string): string {
  const out: string[] = [];
  let inside = false;
  for (const line of text.split('\n')) {
    if (line.trim() === BEGIN) inside = true;
    else if (line.trim() === END) inside = false;
    else if (!inside) out.push(line);
  }
  return out.join('\n').replace(/\n+$/, '\n');
}

/**
 * Writes the block mapping each name to its address (replacing a stale block), and returns the undo. The file is
 * rewritten in place (not renamed over), because in some containers /etc/hosts is a bind mount.
 */
export function addHostsBlock(names: Record<string, string>, file = HOSTS_FILE): () => void {
  const base = withoutBlock(readFileSync(file, 'utf8'));
  const lines = Object.entries(names).map(([name, addr]) => `${addr} ${name}`);
  writeFileSync(file, `${base}${BEGIN}\n${lines.join('\n')}\n${END}\n`);
  return () => removeHostsBlock(file);
}

/** Removes the marked block, if any. */
export function removeHostsBlock(file = HOSTS_FILE): void {
  const text = readFileSync(file, 'utf8');
  const cleaned = withoutBlock(text);
  if (cleaned !== text) writeFileSync(file, cleaned);
}
