/**
 * Parses one stored element (text this server serialised earlier, e.g. a vCard) back into an Element, through
 * the same hardened parser as live streams, so stored text gets no more trust than input.
 */
import { Buffer } from 'node:buffer';
import type { Element } from './element.js';
import { STREAMS_NS } from './serialize.js';
import { AUTHENTICATED_LIMITS, StreamParser, type StreamLimits } from './stream-parser.js';

/**
 * The top-level elements of `xml`, parsed inside a client stream (and inside `wrapper`'s open and close tags when
 * given: the elements are then that wrapper's), with the parser's first error. Every caller that takes XML which
 * is not a whole stream (stored text, a JSON field, a BOSH body) goes through here, so none gets more trust than
 * a live stream's input.
 */
export function parseElements(xml: string, limits: Readonly<StreamLimits>, wrapper?: { open: string; close: string }): { elements: Element[]; failure: string | null } {
  const elements: Element[] = [];
  let failure: string | null = null;
  const parser = new StreamParser(
    {
      streamStart: () => undefined,
      stanza: (e) => elements.push(e),
      streamEnd: () => undefined,
      error: (_condition, text) => (failure ??= text),
    },
    limits,
  );
  parser.write(`<stream:stream xmlns="jabber:client" xmlns:stream="${STREAMS_NS}">${wrapper?.open ?? ''}`);
  if (failure === null) parser.write(xml);
  if (failure === null) parser.write(`${wrapper?.close ?? ''}</stream:stream>`);
  return { elements, failure };
}

/** The single element in `xml`; throws when it is not exactly one well-formed element. */
export function parseFragment(xml: string): Element {
  const { elements, failure } = parseElements(xml, { ...AUTHENTICATED_LIMITS, maxStanzaBytes: Buffer.byteLength(xml, 'utf8') + 1 });
  if (failure !== null) throw new Error(`stored XML is not valid: ${failure}`);
  if (elements.length !== 1) throw new Error(`stored XML holds ${elements.length} elements, not one`);
  return elements[0]!;
}
