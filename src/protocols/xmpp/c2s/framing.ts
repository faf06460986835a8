/**
 * The stream-level markup of both framings: a TCP stream's <stream:stream> header, footer and errors (RFC 6120
 * §4.2, §4.4, §4.9), and their WebSocket counterparts <open/>, <close/> and a self-declaring <stream:error/>
 * (RFC 7395 §3.3-3.6).
 */
import { randomBytes } from 'node:crypto';
import { el, type Element } from '../xml/element.js';
import { serialize, streamFooter, streamHeader } from '../xml/serialize.js';
import { NS } from './ns.js';

/** Framed mode (RFC 7395): the root the parser is given, so that each message parses as a depth-1 element. */
export const FRAMED_ROOT = `<stream:stream xmlns="${NS.client}" xmlns:stream="${NS.streams}">`;

/** The server's stream header for `domain`, with a fresh stream id (§4.7.3). */
export function streamOpen(domain: string, framed: boolean): string {
  const id = randomBytes(12).toString('base64url');
  if (framed) return serialize(el('open', { xmlns: NS.framing, from: domain, id, version: '1.0', 'xml:lang': 'en' }));
  return streamHeader({ from: domain, id, version: '1.0', lang: 'en', xmlns: 'jabber:client' });
}

/** The end of the server's stream (§4.4): the footer, or <close/> on a WebSocket. */
export function streamClose(framed: boolean): string {
  return framed ? `<close xmlns="${NS.framing}"/>` : streamFooter();
}

/** A stream error as sent: in the stream prefix, which a WebSocket message declares itself (RFC 7395 §3.6). */
export function streamErrorXml(err: Element, framed: boolean): string {
  const inner = serialize(err, NS.streams).replace(/^<error[^>]*>/, '').replace(/<\/error>$/, '');
  return framed ? `<stream:error xmlns:stream="${NS.streams}">${inner}</stream:error>` : `<stream:error>${inner}</stream:error>`;
}
