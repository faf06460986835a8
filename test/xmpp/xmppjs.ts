/**
 * @xmpp/client (xmpp.js 0.14) sessions for the interop tests: a client that records what it sent and received,
 * waiting for a stanza, stopping every client a file started, and entity capabilities (XEP-0115) so a session can
 * declare `+notify` interests (XEP-0163 §4) the way a real client does: its presence carries the caps hash and
 * it answers the server's disco#info for `node#ver`.
 *
 * A file that uses it also calls trustServerCertificate (test/harness.ts) so STARTTLS to "localhost" verifies
 * the test server's own certificate.
 */
import { createHash } from 'node:crypto';
import { client, xml, type XmlElement, type XmppClient } from '@xmpp/client';
import type { TestServer } from '../harness.js';

export const XMPPJS_DOMAIN = 'localhost';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_CAPS = 'http://jabber.org/protocol/caps';
const CAPS_NODE = 'https://github.com/xmppjs/xmpp.js';
const IDENTITY = { category: 'client', type: 'pc', name: 'xmpp.js' };

/** A client that records what it sent and received; errors are collected, not thrown. */
export interface Recorded {
  x: XmppClient;
  sent: XmlElement[];
  received: XmlElement[];
  errors: Error[];
}

const clients = new Set<XmppClient>();

/** A new (not yet started) @xmpp/client session of `address` (password `pw-<local part>`, as freshUsers makes). */
export function xmppjs(t: TestServer, address: string, resource: string): Recorded {
  const local = address.split('@')[0]!;
  const x = client({
    service: `xmpp://127.0.0.1:${t.server.xmpp!.ports.starttls}`,
    domain: XMPPJS_DOMAIN,
    resource,
    username: local,
    password: `pw-${local}`,
    timeout: 10_000,
  });
  const r: Recorded = { x, sent: [], received: [], errors: [] };
  x.on('send', (el: XmlElement) => r.sent.push(el));
  x.on('element', (el: XmlElement) => r.received.push(el));
  x.on('error', (e: Error) => r.errors.push(e));
  clients.add(x);
  return r;
}

export async function stopXmppjs(x: XmppClient): Promise<void> {
  clients.delete(x);
  x.reconnect.stop();
  if (x.status === 'offline') return;
  await x.stop().catch(() => undefined);
}

/** Stops every client xmppjs() made and that is still running (for afterEach). */
export async function stopAllXmppjs(): Promise<void> {
  await Promise.all([...clients].map((c) => stopXmppjs(c)));
}

/** Resolves with the first received stanza matching `pred` (already received or future). */
export function waitStanza(r: Recorded, pred: (el: XmlElement) => boolean, timeoutMs = 10_000): Promise<XmlElement> {
  const seen = r.received.find(pred);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const on = (el: XmlElement): void => {
      if (!pred(el)) return;
      clearTimeout(timer);
      r.x.off('element', on);
      resolve(el);
    };
    const timer = setTimeout(() => {
      r.x.off('element', on);
      reject(new Error(`timed out waiting for a stanza; received:\n${r.received.slice(-10).map(String).join('\n')}\nerrors: ${r.errors.map(String).join('; ')}`));
    }, timeoutMs);
    r.x.on('element', on);
  });
}

/**
 * The XEP-0115 §5.1 verification string's SHA-1, base64: one identity, then the features sorted (no forms).
 */
function capsVer(features: string[]): string {
  const s = `${IDENTITY.category}/${IDENTITY.type}//${IDENTITY.name}<${[...features].sort().map((f) => `${f}<`).join('')}`;
  return createHash('sha1').update(s).digest('base64');
}

/**
 * Makes the session announce `features` (with `<node>+notify` for each of `notify`) through entity capabilities:
 * it answers disco#info (XEP-0030 §3.1, for `node#ver` as XEP-0115 §6.2 asks) and returns the `<c/>` element
 * to put in its presence (§4).
 */
export function withCaps(r: Recorded, notify: string[]): XmlElement {
  const features = [NS_DISCO_INFO, NS_CAPS, ...notify.map((n) => `${n}+notify`)];
  const ver = capsVer(features);
  r.x.iqCallee.get(NS_DISCO_INFO, 'query', (ctx) =>
    xml(
      'query',
      { xmlns: NS_DISCO_INFO, node: ctx.element.attrs.node },
      xml('identity', IDENTITY),
      ...features.map((v) => xml('feature', { var: v })),
    ),
  );
  return xml('c', { xmlns: NS_CAPS, hash: 'sha-1', node: CAPS_NODE, ver });
}

/** The error an iqCaller request was refused with (XEP-0086 condition, type, and the <error/> element). */
export interface StanzaErrorLike extends Error {
  condition: string;
  type: string;
  element: XmlElement;
}

/** The request's StanzaError; fails when it was answered with a result. */
export async function refusal(p: Promise<XmlElement>): Promise<StanzaErrorLike> {
  const e = await p.then(
    (res) => {
      throw new Error(`expected an error, got ${String(res)}`);
    },
    (err: unknown) => err,
  );
  if (!(e instanceof Error) || (e as { name?: string }).name !== 'StanzaError') throw e;
  return e as StanzaErrorLike;
}
