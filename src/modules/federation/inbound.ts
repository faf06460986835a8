/**
 * Stanzas between the federation streams and the engine's domain route (engine/domain-routes.ts). Inbound, an
 * authenticated stanza (incoming.ts checked its `from` and `to` domains): a ping of the server's own domain is
 * answered here (XEP-0199 §4.1), other stanzas pass the outsider policy for the local recipient and go to the
 * route handle's `accept` (the engine answers iq gets to the server's addresses as a local client's, XEP-0030
 * §3.1, and to an account's bare address for the account); a refusal, the policy's or the engine's ParleyError,
 * goes back to the remote server as a stanza error (RFC 6120 §8.3) over Parley's outgoing stream to it. Stanzas
 * of a stream are handled in order (RFC 6120 §10.1). Outbound, a bounce: a stanza that could not be sent
 * comes back to its local sender as an error from the address it was for.
 */
import { ERRORS, ParleyError } from '../../core/errors.js';
import type { RoutedStanza } from '../../engine/domain-routes.js';
import type { Accepted, InboundStanza } from '../../engine/remote-service.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { escapeText, serialize } from '../../protocols/xmpp/xml/serialize.js';
import { inboundOf, namesUser } from '../components/routed.js';
import type { Decision } from './policy.js';
import { SERVER_NS, STANZA_ERRORS_NS } from './stream.js';

const PING = 'urn:xmpp:ping';

/** The stanza error type of a condition (RFC 6120 §8.3.2). */
const ERROR_TYPE: Record<string, string> = {
  'bad-request': 'modify',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'policy-violation': 'cancel',
  'resource-constraint': 'wait',
  'remote-server-timeout': 'wait',
  'not-authorized': 'auth',
  forbidden: 'auth',
};

/** `<error>` of a stanza error (RFC 6120 §8.3.2), as XML text in the stanza's default namespace. */
export function errorXml(condition: string, text: string): string {
  return `<error type="${ERROR_TYPE[condition] ?? 'cancel'}"><${condition} xmlns="${STANZA_ERRORS_NS}"/><text xmlns="${STANZA_ERRORS_NS}" xml:lang="en">${escapeText(text)}</text></error>`;
}

/** The stanza error answering `e` (RFC 6120 §8.3.1: same kind and id, addresses swapped), as s2s stream text. */
export function errorReply(e: Element, condition: string, text: string): string {
  const attrs = { from: e.attr('to'), to: e.attr('from'), type: 'error', id: e.attr('id') };
  const open = serialize(el(e.name, attrs), SERVER_NS).replace(/\/>$/, '>');
  return `${open}${errorXml(condition, text)}</${e.name}>`;
}

/** What the inbound path needs. */
export interface InboundDeps {
  /** Sends stream text from `local` to `remote` (the pool's outgoing stream). */
  reply(local: string, remote: string, text: string): void;
  /** The outsider policy for (remote domain, local address); the refusal is audited by it. */
  decide(local: string, localAddress: string | null, remote: string, direction: 'in' | 'out'): Promise<Decision>;
  /** Hands a stanza to the engine (RouteHandle.accept): resolves once it has its place in order, `done` when handled. */
  accept(s: InboundStanza): Promise<Accepted>;
  /** Whether `domain` is a hosted user domain (not a room domain). */
  hosted(domain: string): boolean;
  logError(err: unknown, remote: string): void;
}

/**
 * Handles one authenticated inbound stanza in two steps, as RouteHandle.accept: the promise resolves when the
 * stanza has its place in order (the stream's next stanza may start, RFC 6120 §10.1), with a `done` when its
 * handling goes on after that (a message being committed); a refusal at either step is answered to the remote
 * server, so neither rejects.
 */
export async function handleInbound(deps: InboundDeps, e: Element, remote: string, local: string): Promise<Accepted | void> {
  const type = e.attr('type');
  const answerable = type !== 'error' && type !== 'result';
  const refuse = (condition: string, text: string): void => {
    if (answerable) deps.reply(local, remote, errorReply(e, condition, text));
  };
  const to = e.attr('to') ?? '';
  if (!namesUser(to)) {
    // The server's own domain (or a room domain's): no messages or presence; pings answered here.
    if (e.name !== 'iq') {
      if (e.name === 'message' && answerable) refuse('service-unavailable', 'this server takes no messages itself');
      return;
    }
    if (!answerable) return;
    const payload = e.children.find((n): n is Element => typeof n !== 'string');
    const result = (child?: Element): void => {
      deps.reply(local, remote, serialize(el('iq', { type: 'result', id: e.attr('id'), from: to, to: e.attr('from') }, ...(child ? [child] : [])), SERVER_NS));
    };
    if (type === 'get' && payload?.name === 'ping' && payload.xmlns === PING) return result();
    // Other gets (disco#info, disco#items, version...) are answered by the engine as a local client's are, with the
    // server's features and services (RFC 6120 §10.5.3.1); sets change nothing at another server's request.
    if (type !== 'get') return refuse('service-unavailable', 'this server takes no iq set from other servers (RFC 6120 §8.4)');
  }
  const bare = to.slice(0, to.indexOf('/') === -1 ? undefined : to.indexOf('/')).toLowerCase();
  const decision = await deps.decide(local, deps.hosted(local) && namesUser(to) ? bare : null, remote, 'in');
  if (!decision.allowed) return refuse('policy-violation', decision.reason);
  const failed = (err: unknown): void => {
    if (err instanceof ParleyError) return refuse(ERRORS[err.code].xmpp, err.message);
    deps.logError(err, remote);
    refuse('internal-server-error', 'the server failed on that stanza');
  };
  try {
    const { done } = await deps.accept(inboundOf(e, SERVER_NS));
    return { done: done.catch(failed) };
  } catch (err) {
    failed(err);
  }
}

/** A local sender's stanza that could not be sent, back to that sender as an error (RFC 6120 §8.3.1). */
export function bounceOf(s: RoutedStanza, err: ParleyError): InboundStanza {
  const xml = errorXml(ERRORS[err.code].xmpp, err.message);
  const attrs = { xmlns: 'jabber:client', from: s.to, to: s.from, type: 'error', id: s.id ?? undefined };
  const stanza = serialize(el(s.kind, attrs), null).replace(/\/>$/, '>') + xml + `</${s.kind}>`;
  return { kind: s.kind, from: s.to, to: s.from, type: 'error', id: s.id, body: null, xml, stanza, keep: null, originId: null };
}
