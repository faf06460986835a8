/**
 * Parses one stored element (text this server serialised earlier, e.g. a vCard) back into an Element, through
 * the same hardened parser as live streams, so stored text gets no more trust than input.
 */
import { Buffer } from 'node:buffer';
import type { Element } from './element.js';
import { STREAMS_NS } from './serialize.js';
import { AUTHENTICATED_LIMITS, StreamParser } from './stream-parser.js';

/** The single element in `xml`; throws when it is not exactly one well-formed element. */
export function parseFragment(xml: string): Element {
  const found: Element[] = [];
  let failure: string | null = null;
  const parser = new StreamParser(
    {
      streamStart: () => undefined,
      stanza: (e) => found.push(e),
      streamEnd: () => undefined,
      error: (_condition, text) => (failure = text),
    },
    { ...AUTHENTICATED_LIMITS, maxStanzaBytes: Buffer.byteLength(xml, 'utf8') + 1 },
  );
  parser.write(`<stream:stream xmlns="jabber:client" xmlns:stream="${STREAMS_NS}">`);
  parser.write(xml);
  parser.write('</stream:stream>');
  if (failure !== null) throw new Error(`stored XML is not valid: ${failure}`);
  if (found.length !== 1) throw new Error(`stored XML holds ${found.length} elements, not one`);
  return found[0]!;
}
