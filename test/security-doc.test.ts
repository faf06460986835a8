/**
 * docs/SECURITY.md lists every limit with its default and configuration key: each option of the sections that
 * bound what a client can make the server hold or do must appear there, so a new limit cannot go undocumented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { validateConfig } from '../src/app/config.js';

const DOC = readFileSync(join(import.meta.dirname, '..', 'docs', 'SECURITY.md'), 'utf8');

/** Keys that configure where or what the server serves, not how much a client may take. */
const NOT_LIMITS = new Set(['rooms.subdomain', 'xmpp.enabled', 'xmpp.host', 'xmpp.port', 'xmpp.directTlsPort', 'xmpp.certDir', 'xmpp.certificates', 'xmpp.websocketPath']);

it('documents every limit with its key in docs/SECURITY.md', () => {
  const defaults = validateConfig({});
  const keys = (['limits', 'auth', 'sessions', 'rooms', 'xmpp'] as const).flatMap((section) =>
    Object.keys(defaults[section]).map((k) => `${section}.${k}`),
  );
  const missing = [...keys, 'server.metricsToken', 'server.allowedOrigins'].filter((k) => !NOT_LIMITS.has(k) && !DOC.includes(`\`${k}\``));
  expect(missing).toEqual([]);
});

/** A default as the table writes it: "4 MiB", "10,000", "true", "none". */
function parseDefault(text: string): unknown {
  const t = text.trim();
  if (t === 'none') return null;
  if (t === 'true' || t === 'false') return t === 'true';
  const word = /^`([a-z]+)`$/.exec(t); // a setting whose values are words, e.g. `auto`
  if (word) return word[1];
  const mib = /^([\d,]+) MiB$/.exec(t);
  if (mib) return Number(mib[1]!.replace(/,/g, '')) * 1024 * 1024;
  return Number(t.replace(/,/g, ''));
}

it('gives each limit the default the configuration has', () => {
  const defaults = validateConfig({}) as unknown as Record<string, Record<string, unknown>>;
  const table = DOC.slice(DOC.indexOf('## Every limit'), DOC.indexOf('\n## ', DOC.indexOf('## Every limit') + 1));
  const rows = [...table.matchAll(/^\| `([a-z]+)\.(\w+)` \| ([^|]+) \|/gm)];
  expect(rows.length).toBeGreaterThan(30);
  const wrong = rows.flatMap(([, section, key, text]) => {
    let actual = defaults[section!]![key!];
    if (Array.isArray(actual) && actual.length === 0) actual = null;
    const documented = parseDefault(text!);
    return documented === actual ? [] : [`${section}.${key}: documented ${text!.trim()}, configured ${JSON.stringify(actual)}`];
  });
  expect(wrong).toEqual([]);
});
