/**
 * A readable account of a message's extension elements (the journal member `xml`, LogRecord.xml) for the
 * exports: the links it shares (XEP-0066 out-of-band data, XEP-0385/XEP-0447 file sources) and one short note per
 * element (a XEP-0444 reaction, a XEP-0461 reply, an encrypted payload). The journal keeps the XML itself; this is
 * only what a reviewer reads.
 */
import { parseFragment } from '../../protocols/xmpp/xml/fragment.js';
import type { Element } from '../../protocols/xmpp/xml/element.js';

/** What an export shows of a message's extension elements. */
export interface ExtensionSummary {
  /** URLs shared by the message, in document order. */
  links: string[];
  /** One readable line per element. */
  notes: string[];
}

const ENCRYPTED: Record<string, string> = {
  'eu.siacs.conversations.axolotl': 'OMEMO',
  'urn:xmpp:omemo:2': 'OMEMO',
  'urn:xmpp:openpgp:0': 'OpenPGP',
  'jabber:x:encrypted': 'legacy OpenPGP',
};

/** Every <url/> text (XEP-0066) and url-data target (XEP-0447) below `e`. */
function urlsIn(e: Element, out: string[]): void {
  for (const c of e.children) {
    if (typeof c === 'string') continue;
    if (c.name === 'url' && c.text().trim() !== '') out.push(c.text().trim());
    const target = c.name === 'url-data' ? c.attr('target') : undefined;
    if (target !== undefined) out.push(target);
    urlsIn(c, out);
  }
}

/** A line for one element. */
function note(e: Element): string {
  const ns = e.xmlns ?? '';
  if (ns === 'jabber:x:oob') return 'link (XEP-0066)';
  if (ns === 'urn:xmpp:reactions:0') {
    const r = e.getChildren('reaction').map((x) => x.text()).join(' ');
    return `reaction to ${e.attr('id') ?? '?'}: ${r === '' ? '(removed)' : r}`;
  }
  if (ns === 'urn:xmpp:reply:0') return `reply to ${e.attr('id') ?? '?'}`;
  const scheme = ENCRYPTED[ns];
  if (scheme !== undefined) return `encrypted payload (${scheme}), not readable by the server`;
  if (ns === 'urn:xmpp:eme:0') return `encrypted with ${e.attr('name') ?? e.attr('namespace') ?? 'an end-to-end scheme'}`;
  if (ns === 'urn:xmpp:sfs:0' || ns === 'urn:xmpp:sims:1') return 'file share';
  return `<${e.name} xmlns="${ns}">`;
}

/** The summary of an extension text; null for none. Text that does not parse is shown as such, not thrown. */
export function summarizeExtensions(xml: string | null): ExtensionSummary | null {
  if (xml === null || xml === '') return null;
  let message: Element;
  try {
    message = parseFragment(`<message xmlns="jabber:client">${xml}</message>`);
  } catch {
    return { links: [], notes: ['extension elements that do not parse'] };
  }
  const links: string[] = [];
  const notes: string[] = [];
  for (const c of message.children) {
    if (typeof c === 'string') continue;
    notes.push(note(c));
    urlsIn(c, links);
  }
  return { links, notes };
}
