/**
 * One component connection (XEP-0114 §3, the `jabber:component:accept` stream) over a TCP socket:
 *
 * 1. The component opens a stream with `to` = its domain; the server answers with its own header carrying a
 *    fresh stream id (an unknown domain: `host-unknown`, XEP-0114 §3.1).
 * 2. The component sends `<handshake>` = lowercase hex SHA-1(stream id + secret) (§3); the server compares it
 *    in constant time and answers `<handshake/>`, or `not-authorized` and closes (§3.1).
 * 3. A domain has one live connection. XEP-0114 does not say which of two wins; like the common servers, the
 *    newer one is refused with `conflict` once its handshake succeeded, so a leaked secret cannot knock the
 *    live component off and a component reconnecting too early retries.
 * 4. Then presences of `node@domain` without a user `to` become updates of those things (presence.ts,
 *    reporter.ts); iqs to the server get disco#info/#items (XEP-0030) and ping (XEP-0199) answered. Messages,
 *    presence and iqs to a user's address go through the engine's domain route (routed.ts), which delivers
 *    them; users' stanzas to the component's domain arrive the same way (sendRouted). A `from` outside the
 *    component's domain ends the stream with `invalid-from` (RFC 6120 §4.9.3.9).
 *
 * Input goes through the hardened stream parser (pre-authentication limits until the handshake); each stanza
 * costs a token from the connection's bucket, and over the rate the socket is not read until the debt is paid
 * (as the XMPP client door does). Replies of one turn leave in one corked write.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { ERRORS, ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { Unauthenticated } from '../../protocols/connection-limits.js';
import { TokenBucket } from '../../protocols/token-bucket.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { escapeAttr, serialize, STREAMS_NS } from '../../protocols/xmpp/xml/serialize.js';
import { StreamParser, type StreamErrorCondition } from '../../protocols/xmpp/xml/stream-parser.js';
import type { RoutedStanza } from '../../engine/domain-routes.js';
import type { InboundStanza } from '../../engine/remote-service.js';
import { checkFrom, InvalidFrom, reportOf, thingOf } from './presence.js';
import type { ThingReporter } from './reporter.js';
import { inboundOf, namesUser, outboundText } from './routed.js';

/** XEP-0114 §3: the content namespace of a component stream. */
export const COMPONENT_NS = 'jabber:component:accept';
const STREAM_ERRORS_NS = 'urn:ietf:params:xml:ns:xmpp-streams';
const STANZA_ERRORS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const PING = 'urn:xmpp:ping';
/** Reports queued for one component past which its connection is not read until they are applied. */
const MAX_BACKLOG = 4096;
/** A closing stream gets this long to flush its error before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** A configured component as the listener knows it. */
export interface Component {
  readonly domain: string;
  readonly secret: string;
  readonly reporter: ThingReporter;
  /** Its live (handshaken) connection, or null. */
  live: ComponentStream | null;
}

/** What a stream needs from the listener. */
export interface StreamDeps {
  readonly components: ReadonlyMap<string, Component>;
  readonly hostsDomain: (domain: string) => boolean;
  readonly handshakeTimeoutMs: number;
  readonly stanzasPerSecond: number;
  readonly maxStanzaBytes: number;
  readonly log: Logger;
  readonly now: () => number;
  /** Hands a stanza for a local user to the engine (the components' domain route, RouteHandle.deliver). */
  readonly deliver: (stanza: InboundStanza) => Promise<void>;
  /** The connection counted as unauthenticated until its handshake, or null. */
  readonly waiting: Unauthenticated | null;
  readonly closed: (s: ComponentStream) => void;
  /** A component connected or left (Component.live changed): the domain route tells the other nodes. */
  readonly liveChanged?: () => void;
}

/** The stanza error type of each condition used here (RFC 6120 §8.3.3). */
const ERROR_TYPE: Record<string, string> = { 'bad-request': 'modify', 'jid-malformed': 'modify', 'not-acceptable': 'modify', 'resource-constraint': 'wait', 'policy-violation': 'modify' };

/** One component connection. */
export class ComponentStream {
  private readonly parser: StreamParser;
  private readonly bucket: TokenBucket;
  private readonly id = randomBytes(12).toString('hex');
  private component: Component | null = null;
  private state: 'header' | 'handshake' | 'ready' | 'closed' = 'header';
  private headerSent = false;
  private out: string[] = [];
  private flushing: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null;
  /** Milliseconds of rate-limit debt run up by the current read. */
  private debtMs = 0;
  private paused = { rate: false, backlog: false };
  private tornDown = false;

  constructor(
    private readonly socket: Socket,
    private readonly deps: StreamDeps,
  ) {
    this.bucket = new TokenBucket(deps.stanzasPerSecond, deps.now());
    this.parser = new StreamParser({
      streamStart: (attrs) => this.streamStart(attrs),
      stanza: (e) => this.stanza(e),
      streamEnd: () => this.close(),
      error: (condition, text) => this.fail(condition, text),
    });
    this.timer = setTimeout(() => this.fail('connection-timeout', 'the handshake took too long'), deps.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.teardown());
  }

  /** Ends the stream with a stream error (system-shutdown at server stop). */
  shutdown(): void {
    this.fail('system-shutdown', 'the server is shutting down');
  }

  private read(chunk: Buffer): void {
    this.debtMs = 0;
    this.parser.write(chunk);
    if (this.debtMs > 0 && this.state === 'ready' && !this.paused.rate) {
      // RFC 6120 §13.12: over the rate, stop reading until the bucket has paid the debt back.
      this.paused.rate = true;
      this.socket.pause();
      setTimeout(() => {
        this.paused.rate = false;
        this.resume();
      }, this.debtMs).unref();
    }
  }

  private resume(): void {
    if (!this.paused.rate && !this.paused.backlog && this.state === 'ready') this.socket.resume();
  }

  private streamStart(attrs: Record<string, string>): void {
    if (attrs.xmlns !== COMPONENT_NS) return this.fail('invalid-namespace', `a component stream is in ${COMPONENT_NS} (XEP-0114 §3)`);
    const to = (attrs.to ?? '').toLowerCase();
    const c = this.deps.components.get(to);
    this.header(c ? to : undefined);
    if (!c) return this.fail('host-unknown', 'no component is configured for that domain');
    this.component = c;
    this.state = 'handshake';
  }

  private header(from: string | undefined): void {
    this.headerSent = true;
    const f = from === undefined ? '' : ` from="${escapeAttr(from)}"`;
    this.send(`<?xml version='1.0'?><stream:stream xmlns:stream="${STREAMS_NS}" xmlns="${COMPONENT_NS}"${f} id="${this.id}">`);
  }

  private stanza(e: Element): void {
    if (this.state === 'handshake') return this.handshake(e);
    if (this.state !== 'ready') return;
    const wait = this.bucket.charge(this.deps.now());
    if (wait > this.debtMs) this.debtMs = wait;
    if (e.xmlns !== COMPONENT_NS) return this.fail('invalid-namespace', 'stanzas of a component stream are in jabber:component:accept');
    try {
      if (e.name === 'presence') this.presence(e);
      else if (e.name === 'iq') this.iq(e);
      else if (e.name === 'message') this.message(e);
      else this.fail('unsupported-stanza-type', `<${e.name}/> is not a stanza`);
    } catch (err) {
      if (err instanceof InvalidFrom) this.fail('invalid-from', err.message);
      else if (err instanceof ParleyError) {
        if (e.attr('type') !== 'error') this.error(e, ERRORS[err.code].xmpp, err.message);
      } else {
        this.deps.log.error({ err, component: this.component?.domain }, 'a component stanza failed');
        this.fail('internal-server-error', 'the server failed on that stanza');
      }
    }
  }

  private handshake(e: Element): void {
    const c = this.component!;
    if (e.name !== 'handshake' || e.xmlns !== COMPONENT_NS) return this.fail('not-authorized', 'the first element is the handshake (XEP-0114 §3)');
    const expected = Buffer.from(createHash('sha1').update(this.id + c.secret, 'utf8').digest('hex'));
    const given = Buffer.from(e.text().trim().toLowerCase());
    // Same length first (a digest's length is public); then a comparison whose time does not depend on where they differ.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return this.fail('not-authorized', 'the handshake does not match the secret');
    if (c.live !== null) return this.fail('conflict', 'this component is already connected; the live connection stays');
    c.live = this;
    this.deps.liveChanged?.();
    this.state = 'ready';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deps.waiting?.done();
    this.parser.setLimits({ maxStanzaBytes: this.deps.maxStanzaBytes });
    c.reporter.onProgress = () => {
      if (this.paused.backlog && c.reporter.backlog < MAX_BACKLOG / 2) {
        this.paused.backlog = false;
        this.resume();
      }
    };
    c.reporter.connected();
    this.deps.log.info({ component: c.domain }, 'component connected');
    this.send('<handshake/>');
  }

  /** A user's stanza routed to this component (the engine stamped its `from`). */
  sendRouted(s: RoutedStanza): void {
    this.send(outboundText(s, COMPONENT_NS));
  }

  /**
   * A stanza for a local user, handed to the engine after the `from` check; a refusal (a user that does not
   * exist or has nobody to take it, a from the engine does not accept) comes back as a stanza error.
   */
  private route(e: Element): void {
    const c = this.component!;
    checkFrom(e.attr('from'), c.domain);
    const type = e.attr('type');
    this.deps.deliver(inboundOf(e, COMPONENT_NS)).catch((err: unknown) => {
      if (type === 'error' || type === 'result') return;
      if (err instanceof ParleyError) this.error(e, ERRORS[err.code].xmpp, err.message);
      else this.deps.log.error({ err, component: c.domain }, 'a component stanza could not be delivered');
    });
  }

  private presence(e: Element): void {
    const c = this.component!;
    const type = e.attr('type');
    if (namesUser(e.attr('to'))) return this.route(e);
    if (type === 'error') return;
    const address = thingOf(e.attr('from'), c.domain);
    if (type !== undefined && type !== 'unavailable') {
      return this.error(e, 'feature-not-implemented', `presence of type ${type} is not handled: components report things' presence only`);
    }
    const to = e.attr('to');
    if (to !== undefined && to !== '' && !this.deps.hostsDomain(to.toLowerCase())) {
      return this.error(e, 'service-unavailable', 'presence goes to users (user@domain) or, without to, reports a thing');
    }
    const report = reportOf(e, c.reporter.options.fields === 'infer' ? null : c.reporter.options.fields);
    c.reporter.submit(address, report, e.attr('id'), (_a, id, pe) => this.error(e, ERRORS[pe.code].xmpp, pe.message, id));
    if (c.reporter.backlog >= MAX_BACKLOG && !this.paused.backlog) {
      this.paused.backlog = true;
      this.socket.pause();
    }
  }

  private iq(e: Element): void {
    const c = this.component!;
    const type = e.attr('type');
    // An iq may come from the component itself (its domain) or one of its things.
    const from = checkFrom(e.attr('from'), c.domain);
    if (namesUser(e.attr('to'))) return this.route(e);
    if (type === 'result' || type === 'error') return;
    if (type !== 'get' && type !== 'set') return this.error(e, 'bad-request', 'an iq is get, set, result or error (RFC 6120 §8.2.3)');
    const to = (e.attr('to') ?? '').toLowerCase();
    if (!this.deps.hostsDomain(to)) return this.error(e, 'service-unavailable', 'a component reaches this server and its users, nothing else');
    const payload = e.children.find((n): n is Element => typeof n !== 'string');
    const reply = (child?: Element): void => this.sendElement(el('iq', { type: 'result', id: e.attr('id'), from: to, to: from }, ...(child ? [child] : [])));
    if (type === 'get' && payload?.name === 'ping' && payload.xmlns === PING) return reply();
    if (type === 'get' && payload?.name === 'query' && payload.xmlns === DISCO_INFO && payload.attr('node') === undefined) {
      return reply(
        el('query', { xmlns: DISCO_INFO }, el('identity', { category: 'server', type: 'im', name: 'Parley' }), ...[DISCO_INFO, DISCO_ITEMS, PING].map((v) => el('feature', { var: v }))),
      );
    }
    if (type === 'get' && payload?.name === 'query' && payload.xmlns === DISCO_ITEMS && payload.attr('node') === undefined) return reply(el('query', { xmlns: DISCO_ITEMS }));
    this.error(e, 'service-unavailable', 'this server answers disco#info, disco#items and ping from components, nothing else (RFC 6120 §8.4)');
  }

  private message(e: Element): void {
    const c = this.component!;
    checkFrom(e.attr('from'), c.domain);
    if (namesUser(e.attr('to'))) return this.route(e);
    if (e.attr('type') === 'error') return;
    this.error(e, 'service-unavailable', 'messages go to users (user@domain); the server itself takes none');
  }

  /** A stanza error reply (RFC 6120 §8.3.1): same name and id, addresses swapped, payload left out. */
  private error(e: Element, condition: string, text: string, id = e.attr('id')): void {
    const err = el('error', { type: ERROR_TYPE[condition] ?? 'cancel' }, el(condition, { xmlns: STANZA_ERRORS_NS }), el('text', { xmlns: STANZA_ERRORS_NS, 'xml:lang': 'en' }, text));
    this.sendElement(el(e.name, { type: 'error', id, from: e.attr('to') ?? this.component?.domain, to: e.attr('from') }, err));
  }

  private sendElement(e: Element): void {
    this.send(serialize(e, COMPONENT_NS));
  }

  /** Queues output; everything of one turn leaves in one corked write. */
  private send(text: string): void {
    if (this.state === 'closed') return;
    this.out.push(text);
    this.flushing ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = null;
    if (this.out.length === 0 || this.socket.destroyed) return;
    const text = this.out.length === 1 ? this.out[0]! : this.out.join('');
    this.out = [];
    this.socket.write(text);
  }

  /** Ends the stream with a stream error (RFC 6120 §4.9.1.1: header first if none was sent, then close). */
  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.state === 'closed') return;
    if (!this.headerSent) this.header(undefined);
    const err = el('error', { xmlns: STREAMS_NS }, el(condition, { xmlns: STREAM_ERRORS_NS }), el('text', { xmlns: STREAM_ERRORS_NS, 'xml:lang': 'en' }, text));
    this.send(serialize(err, COMPONENT_NS).replace(/^<error xmlns="[^"]*"/, '<stream:error').replace(/<\/error>$/, '</stream:error>'));
    if (condition !== 'system-shutdown' && condition !== 'connection-timeout') {
      this.deps.log.info({ component: this.component?.domain ?? null, condition }, 'component stream ended with an error');
    }
    this.close();
  }

  /** Sends the stream footer (RFC 6120 §4.4) and closes the socket. */
  private close(): void {
    if (this.state === 'closed') return;
    this.send('</stream:stream>');
    if (this.flushing) clearImmediate(this.flushing);
    this.flush();
    this.state = 'closed';
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    this.teardown();
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.component;
    if (c && c.live === this) {
      c.live = null;
      this.deps.liveChanged?.();
      c.reporter.onProgress = () => undefined;
      this.deps.log.info({ component: c.domain }, 'component disconnected; its things show as unknown');
      c.reporter.disconnected().catch((e: unknown) => this.deps.log.warn({ err: e, component: c.domain }, 'marking a component\'s things unknown failed'));
    }
    this.deps.closed(this);
  }
}
