/**
 * One client-to-server XMPP stream (RFC 6120): stream negotiation — TLS (§5), SASL (§6, sasl.ts), in-band
 * registration (XEP-0077, registration.ts), resource binding (§7, bind.ts), features (features.ts) — and then
 * the stanzas of the bound session, handed to the handlers in stanzas.ts. The connection is the engine's Sink
 * for its session: events come back through send() and are encoded for this session by encode.ts.
 *
 * Every stanza is parsed once (xml/stream-parser.ts, hardened per §11.1 and §13.12) and re-serialised on the
 * way out; raw bytes are never forwarded. Stanzas from one stream are processed in order (§10.1): each waits
 * for the previous one's handler, except that a message only waits until it is queued in the engine (whose
 * per-session queue keeps send order), so a client can pipeline messages without waiting for each commit.
 */
import { randomBytes } from 'node:crypto';
import type { Engine } from '../../../engine/engine.js';
import type { Outbound } from '../../../engine/outbound.js';
import { REPLAY_LOW_WATER, type Session, type Sink } from '../../../engine/session.js';
import { el, type Element } from '../xml/element.js';
import { serialize, streamFooter, streamHeader } from '../xml/serialize.js';
import { StreamParser, PRE_AUTH_LIMITS, type StreamErrorCondition } from '../xml/stream-parser.js';
import { onPreBindIq } from './bind.js';
import { encodeFor } from './encode.js';
import { conditionOf, errorElement, errorReply, StreamFailure, streamError } from './errors.js';
import { checkStreamHeader, featuresXml } from './features.js';
import { NS } from './ns.js';
import { InBandRegistration, registrationOpen } from './registration.js';
import { SaslNegotiation } from './sasl.js';
import { StanzaHandlers } from './stanzas.js';
import { StreamManagement, type SmConnection } from './stream-management.js';
import type { Transport } from './transport.js';
import type { XmppObserver, XmppOptions, XmppStream } from './types.js';

/** Stanzas received and not yet processed before the server stops reading (back-pressure on a fast sender). */
const MAX_INFLIGHT = 256;

/** One XMPP client stream; after binding, the Sink of its session. */
export class XmppConnection implements Sink, XmppStream, SmConnection {
  readonly id = randomBytes(9).toString('base64url');
  private readonly parser: StreamParser;
  /** The served domain this stream is for (the `to` of the client's stream header). */
  domain = '';
  private headerSent = false;
  private closing = false;
  private authUser: string | null = null;
  /** Fingerprint of the credentials SASL proved (AuthService), so a password change in between refuses the bind. */
  private authCredentials: string | undefined;
  session: Session | null = null;
  /** SASL state (sasl.ts), made when the client starts authenticating. */
  private saslNeg: SaslNegotiation | null = null;
  /** Framed mode: the parser was reset (SASL success) and gets its synthetic root before the next message. */
  private framedRootDue = false;
  /** XEP-0077 registration state (registration.ts), made on the first registration request. */
  private registration: InBandRegistration | null = null;
  private negotiationTimer: NodeJS.Timeout | null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastHeard = Date.now();
  private pinged = false;
  private tokens: number;
  private lastRefill = Date.now();
  private throttled = false;
  /** Stanzas being processed, in arrival order. */
  private chain: Promise<void> = Promise.resolve();
  private inflight = 0;
  private paused = false;
  /** Highest record seq the client is known to have (confirmed()), and whether an acknowledgement is due. */
  private confirmedPos = 0;
  private confirmDue = false;
  /** Messages for this user that arrived while the stream was closing (see send()). */
  private late: number[] | null = null;
  readonly handlers: StanzaHandlers;
  readonly sm: StreamManagement;

  // XmppView state.
  carbons = false;
  rosterRequested = false;
  blocklistRequested = false;
  /**
   * Rooms this session joined in MUC, with its nick there (XEP-0045). Like `held`, made on first use: most
   * connections never need it, and an empty Map costs about 300 bytes.
   */
  private joined: Map<string, string> | null = null;
  /** XEP-0352: the client is inactive; presence waits in `held` and chat states are dropped. */
  inactive = false;
  private held: Map<string, string[]> | null = null;

  constructor(
    readonly transport: Transport,
    readonly engine: Engine,
    readonly opts: XmppOptions,
    private readonly observer: XmppObserver,
  ) {
    this.tokens = opts.stanzasPerSecond;
    this.handlers = new StanzaHandlers(this);
    this.sm = new StreamManagement(this);
    this.parser = new StreamParser(
      {
        // Framed (RFC 7395): the only root is the synthetic FRAMED_ROOT; <open/> starts the stream (onFramingElement).
        streamStart: (attrs) => (this.transport.framed ? undefined : this.onStreamStart(attrs)),
        stanza: (element) => this.onElement(element),
        streamEnd: () => this.onStreamEnd(),
        error: (condition, text) => this.streamError(condition, text),
      },
      PRE_AUTH_LIMITS,
    );
    if (transport.framed) this.parser.write(FRAMED_ROOT);
    transport.onData((chunk) => this.onData(chunk));
    transport.onClose(() => this.onTransportClose());
    this.negotiationTimer = setTimeout(() => {
      if (!this.session) this.streamError('connection-timeout', 'stream negotiation took too long');
    }, opts.negotiationTimeoutMs);
    this.negotiationTimer.unref?.();
    this.scheduleIdle();
    observer.opened();
  }

  // -------------------------------------------------------------------------------------------------------------
  // XmppView
  // -------------------------------------------------------------------------------------------------------------

  get user(): string {
    return this.session?.user ?? this.authUser ?? '';
  }
  get resource(): string {
    return this.session?.resource ?? '';
  }
  get full(): string {
    return this.session?.full ?? this.user;
  }
  get available(): boolean {
    return this.session?.available === true;
  }
  get takesBare(): boolean {
    return this.session?.takesBare === true;
  }
  roomNick(room: string): string | undefined {
    return this.joined?.get(room);
  }

  /** Records that this session is in `room` under `nick`; true if it was not in the room before. */
  enterRoom(room: string, nick: string): boolean {
    this.joined ??= new Map();
    const entering = !this.joined.has(room);
    this.joined.set(room, nick);
    return entering;
  }

  /** Records that this session left `room`; false if it was not in it. */
  leaveRoom(room: string): boolean {
    return this.joined?.delete(room) ?? false;
  }

  /** Leaves every room; returns those it was in. */
  leaveAllRooms(): string[] {
    const rooms = this.joined ? [...this.joined.keys()] : [];
    this.joined = null;
    return rooms;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------------------------------------------

  /** Sink: an engine event for this session, encoded for it (zero or more stanzas). */
  send(out: Outbound): void {
    const e = out.event;
    // A message record addressed to this user: if never acknowledged, it goes (back) to the offline queue.
    const seq = e.ev === 'message' && e.seq !== undefined && e.data.type === 'chat' && bare(String(e.data.to)) === this.user ? e.seq : null;
    if (this.closing && !this.sm.hibernating) {
      // The stream is ending but its session is not yet closed: such a message routed here now would be lost (it
      // went to no offline queue, since the user was online). It goes there when the session ends.
      if (seq !== null) (this.late ??= []).push(seq);
      return;
    }
    const stanzas = encodeFor(out, this);
    if (stanzas.length === 0) return;
    if (this.inactive) {
      // XEP-0352: while the client says it is inactive, chat states are dropped and presence waits (only the
      // latest per contact), until something that matters is sent or the client becomes active.
      if (e.ev === 'typing') return;
      if (e.ev === 'presence') {
        (this.held ??= new Map()).set(String(e.data.user), stanzas);
        return;
      }
    }
    if (this.held !== null && this.held.size > 0) this.releaseHeld();
    for (const stanza of stanzas) this.sendStanza(stanza, seq, e.seq ?? 0);
  }

  /**
   * Sink flow control for replays: wait while the transport holds more than REPLAY_LOW_WATER unsent bytes, or
   * (with stream management) while too much is unacknowledged; a closing stream makes the replay look again
   * shortly, by when its session has ended.
   */
  pressure(): Promise<void> | null {
    if (this.closing && !this.sm.hibernating) return new Promise((r) => setTimeout(r, 50));
    const sm = this.sm.pressure();
    if (sm) return sm;
    if (this.transport.backlog() <= REPLAY_LOW_WATER) return null;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.transport.onceDrained(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The client has the records up to `pos` (it acknowledged them, or, without stream management, they were
   * written to its socket): they may leave its offline queue. One engine call per turn, however many arrive.
   */
  confirmed(pos: number): void {
    if (pos <= this.confirmedPos) return;
    this.confirmedPos = pos;
    if (this.confirmDue) return;
    this.confirmDue = true;
    queueMicrotask(() => {
      this.confirmDue = false;
      const s = this.session;
      if (s) this.engine.ack(s, this.confirmedPos).catch((e: unknown) => this.engine.ctx.log.error({ err: e }, 'offline acknowledgement failed'));
    });
  }

  /** Sends the presence held back while the client was inactive (XEP-0352). */
  private releaseHeld(): void {
    const held = this.held ? [...this.held.values()] : [];
    this.held = null;
    for (const list of held) for (const stanza of list) this.sendStanza(stanza);
  }

  /**
   * Writes one stanza; stream management counts and keeps it until the client acknowledges it. `pos` is the
   * seq of the log record it carries (0 for none): once the client has it, confirmed(pos).
   */
  sendStanza(text: string, seq: number | null = null, pos = 0): void {
    if (this.sm.track(text, seq, pos)) return; // hibernating: kept for the resumed stream
    if (this.closing) return;
    this.transport.write(text);
    // Without stream management, being written to the socket is all the confirmation there will be.
    if (pos > 0 && !this.sm.enabled) this.transport.afterWrite(() => this.confirmed(pos));
    if (this.transport.backlog() > this.opts.maxBacklogBytes) this.streamError('policy-violation', 'the client is not reading');
  }

  /**
   * Serialises and sends a stanza element. Every stanza declares jabber:client itself (like encode.ts output):
   * on a WebSocket each message is parsed on its own (RFC 7395 §3.3.3), and a forwarded copy must too.
   */
  sendElement(stanza: Element): void {
    this.sendStanza(serialize(stanza));
  }

  /** Writes a stream-level element (features, SASL, TLS, SM); never counted by stream management. */
  writeNonza(text: string): void {
    if (!this.closing) this.transport.write(text);
  }

  /** An error reply to a stanza from this client. */
  replyError(stanza: Element, e: unknown): void {
    const { condition, text, code, blocked } = conditionOf(e);
    if (code === 'internal-server-error') this.engine.ctx.log.error({ err: e, user: this.user }, 'xmpp stanza failed');
    const from = stanza.attr('to') ?? undefined;
    this.sendElement(errorReply(stanza, errorElement(condition, text, undefined, blocked), from, this.full));
  }

  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  streamError(condition: StreamErrorCondition, text?: string): void {
    if (this.closing) return;
    if (!this.headerSent) this.sendHeader(this.domain || this.opts.defaultDomain);
    const err = streamError(condition, text);
    this.transport.write(this.transport.framed ? streamErrorFramed(err) : `<stream:error>${serialize(err, NS.streams).replace(/^<error[^>]*>/, '').replace(/<\/error>$/, '')}</stream:error>`);
    this.closeStream();
  }

  /** Ends the stream with the closing tag and closes the connection (RFC 6120 §4.4). */
  closeStream(): void {
    if (this.closing) return;
    this.closing = true;
    this.transport.write(this.transport.framed ? `<close xmlns="${NS.framing}"/>` : streamFooter());
    this.transport.end();
  }

  /** Sink: the engine closes this session (conflict, removed account, shutdown). */
  close(code: string, message: string): void {
    const condition: StreamErrorCondition =
      code === 'conflict' ? 'conflict' : code === 'shutdown' ? 'system-shutdown' : code === 'normal' ? 'reset' : code === 'not-authorized' ? 'not-authorized' : 'policy-violation';
    this.sm.discard();
    this.streamError(condition, message);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Input
  // -------------------------------------------------------------------------------------------------------------

  private onData(chunk: Buffer | string): void {
    if (this.closing) return;
    this.lastHeard = Date.now();
    this.pinged = false;
    if (this.framedRootDue) {
      this.framedRootDue = false;
      this.parser.write(FRAMED_ROOT);
    }
    this.parser.write(chunk);
  }

  private onStreamStart(attrs: Record<string, string>): void {
    const verdict = checkStreamHeader(attrs, this.domain, this.engine.ctx.directory, this.opts.defaultDomain);
    this.domain = verdict.domain;
    if (verdict.error) {
      this.streamError(verdict.error.condition, verdict.error.text);
      return;
    }
    this.sendHeader(verdict.domain);
    this.writeNonza(featuresXml(this, this.session === null && this.authUser === null ? 'authenticate' : this.session === null ? 'bind' : 'bound'));
  }

  private sendHeader(domain: string): void {
    this.headerSent = true;
    const id = randomBytes(12).toString('base64url');
    if (this.transport.framed) {
      this.transport.write(serialize(el('open', { xmlns: NS.framing, from: domain, id, version: '1.0', 'xml:lang': 'en' })));
    } else {
      this.transport.write(streamHeader({ from: domain, id, version: '1.0', lang: 'en', xmlns: 'jabber:client' }));
    }
  }

  private onStreamEnd(): void {
    // §4.4: the peer closed its stream; close ours. A stream-management session waits for resumption only
    // when the connection broke, not when the client said goodbye.
    this.sm.discard();
    this.closeStream();
  }

  /** Every depth-1 element: negotiation elements before binding, stanzas after. */
  private onElement(element: Element): void {
    if (this.closing) return;
    // Every element counts against the rate, negotiation elements and acknowledgements too.
    this.throttle();
    if (this.transport.framed && element.xmlns === NS.framing) {
      this.onFramingElement(element);
      return;
    }
    if (!this.headerSent) {
      this.streamError('not-authorized', 'open the stream first');
      return;
    }
    if (this.session === null) {
      this.negotiate(element).catch((e: unknown) => {
        this.engine.ctx.log.error({ err: e }, 'xmpp negotiation failed');
        this.streamError('internal-server-error');
      });
      return;
    }
    if (element.xmlns === NS.sm) {
      this.sm.onElement(element);
      return;
    }
    if (element.xmlns === NS.csi && (element.name === 'active' || element.name === 'inactive')) {
      this.inactive = element.name === 'inactive';
      if (!this.inactive) this.releaseHeld();
      return;
    }
    if (element.xmlns !== NS.client || (element.name !== 'message' && element.name !== 'presence' && element.name !== 'iq')) {
      this.streamError('unsupported-stanza-type', `<${element.name}/> in ${element.xmlns || 'no namespace'} is not a stanza this server knows`);
      return;
    }
    this.enqueueStanza(element);
  }

  /** RFC 7395 §3.3-3.6: <open/> starts (or restarts) the stream, <close/> ends it. */
  private onFramingElement(element: Element): void {
    if (element.name === 'open') {
      this.onStreamStart({ ...element.attrs, xmlns: NS.client });
      return;
    }
    if (element.name === 'close') {
      this.onStreamEnd();
      return;
    }
    this.streamError('unsupported-stanza-type', `<${element.name}/> is not a framing element`);
  }

  /** Queues a stanza behind the ones before it (§10.1 in-order processing), with rate limit and back-pressure. */
  private enqueueStanza(stanza: Element): void {
    const seq = this.sm.received();
    this.inflight++;
    if (this.inflight >= MAX_INFLIGHT && !this.paused) {
      this.paused = true;
      this.transport.pause(true);
    }
    const startedAt = Date.now();
    this.chain = this.chain.then(async () => {
      let done: Promise<unknown> = Promise.resolve();
      try {
        const pending = await this.handlers.handle(stanza, startedAt);
        if (pending) done = pending.done;
      } catch (e) {
        if (e instanceof StreamFailure) this.streamError(e.condition, e.message);
        else this.replyError(stanza, e);
      }
      // Stream management counts a stanza as handled once its effects are durable (a message: committed).
      done.then(
        () => this.sm.handled(seq),
        () => this.sm.handled(seq),
      );
      this.inflight--;
      if (this.paused && this.inflight < MAX_INFLIGHT / 2 && !this.throttled) {
        this.paused = false;
        this.transport.pause(false);
      }
    });
  }

  /** Token bucket over stanzas; when empty, reading stops until it refills (the sender slows, nobody else does). */
  private throttle(): void {
    const now = Date.now();
    const rate = this.opts.stanzasPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    this.tokens -= 1;
    if (this.tokens >= 0 || this.throttled) return;
    this.throttled = true;
    this.transport.pause(true);
    const wait = Math.ceil((-this.tokens * 1000) / rate);
    setTimeout(() => {
      this.throttled = false;
      if (!this.paused) this.transport.pause(false);
    }, wait).unref?.();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Negotiation: STARTTLS, SASL, bind
  // -------------------------------------------------------------------------------------------------------------

  private async negotiate(element: Element): Promise<void> {
    const ns = element.xmlns;
    if (ns === NS.tls && element.name === 'starttls') return this.startTls();
    if (ns === NS.sasl && this.authUser === null) {
      this.saslNeg ??= new SaslNegotiation(this, (user, credentials, additional) => this.authenticated(user, credentials, additional));
      return this.saslNeg.onElement(element);
    }
    if (this.authUser === null && !this.transport.secure() && this.opts.requireTls && this.transport.canStartTls()) {
      this.streamError('policy-violation', 'STARTTLS is required before anything else');
      return;
    }
    if (ns === NS.client && element.name === 'iq') {
      if (this.authUser === null) {
        if (element.getChild('query', NS.register) && registrationOpen(this)) {
          return (this.registration ??= new InBandRegistration(this)).register(element);
        }
        this.streamError('not-authorized', 'authenticate first');
        return;
      }
      return onPreBindIq(this, element, { user: this.authUser, credentials: this.authCredentials }, (session) => this.bound(session));
    }
    if (ns === NS.sm && element.name === 'resume' && this.authUser !== null) {
      await this.sm.resume(element);
      return;
    }
    if (ns === NS.sm && element.name === 'enable') {
      this.writeNonza(serialize(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors }))));
      return;
    }
    this.streamError('not-authorized', this.authUser === null ? 'authenticate first' : 'bind a resource first');
  }

  private async startTls(): Promise<void> {
    if (!this.transport.canStartTls() || this.authUser !== null) {
      this.writeNonza(serialize(el('failure', { xmlns: NS.tls })));
      this.closeStream();
      return;
    }
    this.writeNonza(serialize(el('proceed', { xmlns: NS.tls })));
    // §5.4.3.3: nothing sent before the handshake belongs to the new stream (the parser drops it).
    this.parser.reset();
    this.headerSent = false;
    try {
      await this.transport.startTls();
    } catch {
      this.transport.destroy();
    }
  }

  /**
   * SASL succeeded (sasl.ts checked the account's domain): the stream is authenticated and restarts.
   */
  private authenticated(user: string, credentials: string, additional: Buffer | null): void {
    this.authUser = user;
    this.authCredentials = credentials;
    this.writeNonza(serialize(el('success', { xmlns: NS.sasl }, additional ? additional.toString('base64') : '')));
    // §6.4.6: the stream restarts; from now on the larger stanza limit applies.
    this.parser.reset();
    this.parser.setLimits({ maxStanzaBytes: this.opts.maxStanzaBytes });
    this.headerSent = false;
    // Before the next message, not now: this can run inside the parser's write() (SCRAM's final step is
    // synchronous), and write() is not reentrant.
    if (this.transport.framed) this.framedRootDue = true;
  }

  /** Resource binding (bind.ts) opened `session`: it is this stream's now, and negotiation is over. */
  private bound(session: Session): void {
    this.session = session;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
  }

  /** Replaces this connection's session with a hibernated one (XEP-0198 resumption). */
  adopt(session: Session, from: XmppConnection): void {
    this.authUser = session.user;
    this.session = session;
    this.carbons = from.carbons;
    this.rosterRequested = from.rosterRequested;
    this.blocklistRequested = from.blocklistRequested;
    this.inactive = false;
    this.joined = from.joined === null ? null : new Map(from.joined);
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Liveness and teardown
  // -------------------------------------------------------------------------------------------------------------

  private scheduleIdle(): void {
    const every = Math.max(50, Math.floor(this.opts.idleMs / 2));
    this.idleTimer = setInterval(() => {
      const silent = Date.now() - this.lastHeard;
      if (silent < this.opts.idleMs) return;
      if (this.pinged && silent >= this.opts.idleMs * 2) {
        this.transport.destroy(); // broken connection: stream management may resume it
        return;
      }
      if (!this.pinged && this.session) {
        this.pinged = true;
        this.sendElement(el('iq', { xmlns: NS.client, type: 'get', id: `ping-${Date.now()}`, from: this.domain, to: this.full }, el('ping', { xmlns: NS.ping })));
      } else if (!this.session && silent >= this.opts.idleMs * 2) {
        this.transport.destroy();
      }
    }, every);
    this.idleTimer.unref?.();
  }

  /** Whether the connection is gone or going (handlers check before replying after an await). */
  get isClosing(): boolean {
    return this.closing;
  }

  private onTransportClose(): void {
    const wasClosing = this.closing;
    this.closing = true;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.saslNeg?.abort();
    this.observer.closed();
    const s = this.session;
    if (!s) return;
    // A broken connection with stream management enabled keeps its session for resumption (XEP-0198 §5).
    if (!wasClosing && this.sm.hibernate()) return;
    this.endSession();
  }

  /** Ends the engine session: unavailable presence to contacts (RFC 6121 §4.5.1), rooms left. */
  endSession(): void {
    const s = this.session;
    if (!s) return;
    this.session = null;
    this.sm.end(s.user);
    if (this.late) this.engine.requeueOffline(s.user, this.late).catch((e: unknown) => this.engine.ctx.log.error({ err: e }, 'requeue failed'));
    this.late = null;
    this.handlers.leaveRooms(s);
    this.engine.closeSession(s).catch((e: unknown) => this.engine.ctx.log.error({ err: e }, 'close failed'));
  }
}

function bare(a: string): string {
  const i = a.indexOf('/');
  return i < 0 ? a : a.slice(0, i);
}

/** Framed mode (RFC 7395): the root the parser is given, so that each message parses as a depth-1 element. */
const FRAMED_ROOT = `<stream:stream xmlns="${NS.client}" xmlns:stream="${NS.streams}">`;

/** RFC 7395 §3.6: a stream error on a WebSocket declares the stream prefix itself. */
function streamErrorFramed(err: Element): string {
  const inner = serialize(err, NS.streams).replace(/^<error[^>]*>/, '').replace(/<\/error>$/, '');
  return `<stream:error xmlns:stream="${NS.streams}">${inner}</stream:error>`;
}
