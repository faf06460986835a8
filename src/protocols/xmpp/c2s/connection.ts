/**
 * One client-to-server XMPP stream (RFC 6120): stream negotiation — TLS (§5), SASL (§6), resource binding
 * (§7) — and then the stanzas of the bound session, handed to the handlers in stanzas.ts. The connection is
 * the engine's Sink for its session: events come back through send() and are encoded for this session by
 * encode.ts.
 *
 * Every stanza is parsed once (xml/stream-parser.ts, hardened per §11.1 and §13.12) and re-serialised on the
 * way out; raw bytes are never forwarded. Stanzas from one stream are processed in order (§10.1): each waits
 * for the previous one's handler, except that a message only waits until it is queued in the engine (whose
 * per-session queue keeps send order), so a client can pipeline messages without waiting for each commit.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError } from '../../../core/errors.js';
import { parseAddress, type Address } from '../../../core/address.js';
import { validatePresence } from '../../../core/presence.js';
import type { Engine } from '../../../engine/engine.js';
import type { SaslExchange } from '../../../engine/auth-service.js';
import type { Outbound } from '../../../engine/outbound.js';
import { REPLAY_LOW_WATER, type Session, type Sink } from '../../../engine/session.js';
import type { ChannelBindingSupport, ScramMechanismName } from '../../../auth/scram.js';
import { el, type Element } from '../xml/element.js';
import { serialize, streamFooter, streamHeader } from '../xml/serialize.js';
import { StreamParser, PRE_AUTH_LIMITS, type StreamErrorCondition } from '../xml/stream-parser.js';
import { channelBindingData, channelBindingTypes, type ChannelBindingType } from '../tls/channel-binding.js';
import { encodeFor } from './encode.js';
import { conditionOf, errorElement, errorReply, StreamFailure, streamError } from './errors.js';
import { CAPS_NODE, CAPS_VER } from './iq-handlers.js';
import { NS } from './ns.js';
import { StanzaHandlers } from './stanzas.js';
import { StreamManagement, type SmConnection } from './stream-management.js';
import type { Transport } from './transport.js';
import type { XmppObserver, XmppOptions, XmppStream } from './types.js';

/** SASL failure conditions, RFC 6120 §6.5. */
type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'not-authorized'
  | 'temporary-auth-failure';

/** After this many failed authentications the stream is closed (§6.4.5 asks for at least 2, at most 5 retries). */
const MAX_SASL_FAILURES = 3;
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
  private sasl: { mech: string; exchange: SaslExchange | null; awaiting: 'first' | 'final' } | null = null;
  private saslFailures = 0;
  /** Framed mode: the parser was reset (SASL success) and gets its synthetic root before the next message. */
  private framedRootDue = false;
  /** An account was registered on this stream (one per connection). */
  private registered = false;
  /** A -PLUS mechanism was tried on this stream (see channelBinding()). */
  private plusTried = false;
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
  private writeNonza(text: string): void {
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
    // RFC 6120 §4.7.2: the stream is for the domain in `to`; it must be one this server serves.
    const to = attrs.to;
    let domain: string | null = null;
    if (to !== undefined) {
      try {
        const a = parseAddress(to);
        if (a.local === null && a.resource === null) domain = a.domain;
      } catch {
        domain = null;
      }
    }
    if (domain === null || !this.engine.ctx.directory.hostsDomain(domain)) {
      this.domain = this.opts.defaultDomain;
      this.streamError('host-unknown', `this server does not serve ${to ?? '(no "to" address)'}`);
      return;
    }
    if (this.domain !== '' && domain !== this.domain) {
      this.streamError('invalid-from', 'the stream was restarted for another domain');
      return;
    }
    this.domain = domain;
    // §4.8.2: the content namespace must be jabber:client on a client stream.
    if ((attrs.xmlns ?? NS.client) !== NS.client) {
      this.streamError('invalid-namespace', 'the content namespace of a client stream is jabber:client');
      return;
    }
    // §4.7.5: version 1.0 (a missing version means a pre-RFC stream, which has no stream features).
    const version = attrs.version;
    if (version === undefined || !/^1\.\d+$/.test(version)) {
      this.streamError('unsupported-version', 'this server speaks XMPP 1.0 streams');
      return;
    }
    this.sendHeader(domain);
    this.writeNonza(this.featuresXml());
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

  /** The stream features for the current stage (RFC 6120 §4.3.2). */
  private featuresXml(): string {
    const children: Element[] = [];
    if (this.session === null && this.authUser === null) {
      const tlsNow = this.transport.secure();
      if (!tlsNow && this.transport.canStartTls()) {
        const st = el('starttls', { xmlns: NS.tls });
        if (this.opts.requireTls) st.append(el('required', null));
        children.push(st);
      }
      // Mechanisms once TLS is up, or where the operator does not require it (WebSocket: TLS is the HTTP
      // listener's or a proxy's business, so that door never requires it here).
      if (tlsNow || !this.opts.requireTls) {
        const mechs = el('mechanisms', { xmlns: NS.sasl });
        for (const m of this.mechanisms()) mechs.append(el('mechanism', null, m));
        children.push(mechs);
        const cbTypes = this.cbTypes();
        if (cbTypes.length > 0) {
          // XEP-0440: which channel-binding types the -PLUS mechanisms accept here.
          children.push(el('sasl-channel-binding', { xmlns: NS.saslCb }, ...cbTypes.map((t) => el('channel-binding', { type: t }))));
        }
        if (this.registrationOpen()) children.push(el('register', { xmlns: NS.registerFeature }));
      }
    } else if (this.session === null) {
      children.push(el('bind', { xmlns: NS.bind }));
      children.push(el('session', { xmlns: NS.session }, el('optional', null)));
      children.push(el('sm', { xmlns: NS.sm }));
      children.push(el('csi', { xmlns: NS.csi }));
      children.push(el('ver', { xmlns: NS.rosterVer }));
    }
    // XEP-0115 §6.3: the server's own capabilities, so clients can cache its features.
    children.push(el('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: CAPS_VER }));
    const inner = children.map((c) => serialize(c, NS.client)).join('');
    return this.transport.framed ? `<stream:features xmlns:stream="${NS.streams}">${inner}</stream:features>` : `<stream:features>${inner}</stream:features>`;
  }

  /** SASL mechanisms offered now (RFC 6120 §6.3.3), strongest first. */
  private mechanisms(): string[] {
    const secure = this.transport.secure();
    const out: string[] = [];
    if (this.cbTypes().length > 0) out.push('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS');
    out.push('SCRAM-SHA-256', 'SCRAM-SHA-1');
    // PLAIN sends the password itself: only inside TLS (RFC 6120 §13.8), unless a benchmark switched that off.
    if (secure || this.opts.allowPlainWithoutTls) out.push('PLAIN');
    return out;
  }

  private cbTypes(): ChannelBindingType[] {
    const tls = this.transport.tlsSocket();
    return tls && this.transport.secure() ? channelBindingTypes(tls) : [];
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
    if (ns === NS.sasl && this.authUser === null) return this.onSasl(element);
    if (this.authUser === null && !this.transport.secure() && this.opts.requireTls && this.transport.canStartTls()) {
      this.streamError('policy-violation', 'STARTTLS is required before anything else');
      return;
    }
    if (ns === NS.client && element.name === 'iq') {
      if (this.authUser === null) {
        if (element.getChild('query', NS.register) && this.registrationOpen()) {
          return this.register(element);
        }
        this.streamError('not-authorized', 'authenticate first');
        return;
      }
      return this.onPreBindIq(element);
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

  private async onSasl(element: Element): Promise<void> {
    switch (element.name) {
      case 'auth':
        return this.saslAuth(element);
      case 'response':
        return this.saslResponse(element);
      case 'abort':
        this.sasl?.exchange?.abort();
        this.sasl = null;
        return this.saslFailure('aborted', 'authentication aborted', false);
      default:
        this.streamError('unsupported-stanza-type', `<${element.name}/> is not a SASL element`);
    }
  }

  private async saslAuth(element: Element): Promise<void> {
    if (this.sasl) {
      this.sasl.exchange?.abort();
      this.sasl = null;
    }
    const mech = element.attr('mechanism') ?? '';
    if (!this.transport.secure() && this.opts.requireTls) {
      return this.saslFailure('encryption-required', 'negotiate TLS first');
    }
    if (!this.mechanisms().includes(mech)) return this.saslFailure('invalid-mechanism', `mechanism ${mech || '(none)'} is not offered`);
    const initial = decodeSasl(element.text());
    if (initial === undefined) return this.saslFailure('incorrect-encoding', 'the initial response is not valid base64');
    if (mech === 'PLAIN') {
      if (initial === null) {
        this.sasl = { mech, exchange: null, awaiting: 'first' };
        this.writeNonza(serialize(el('challenge', { xmlns: NS.sasl })));
        return;
      }
      return this.plain(initial);
    }
    const channelBinding = this.channelBinding();
    const exchange = this.engine.auth.scram(mech as ScramMechanismName, this.domain, this.transport.remoteAddress, {
      ...(channelBinding ? { channelBinding } : {}),
      // The client sent its first message and went quiet: the exchange has failed (RFC 6120 §6.4.5 lets the
      // client retry); a temporary failure, since no password was judged.
      onTimeout: () => {
        if (this.sasl?.exchange !== exchange || this.closing) return;
        this.sasl = null;
        this.saslFailure('temporary-auth-failure', 'the authentication exchange took too long; start again');
      },
    });
    if (mech.endsWith('-PLUS')) this.plusTried = true;
    this.sasl = { mech, exchange, awaiting: 'first' };
    if (initial === null) {
      // §6.4.2: a mechanism needing a client-first message without an initial response gets an empty challenge.
      this.writeNonza(serialize(el('challenge', { xmlns: NS.sasl })));
      return;
    }
    await this.scramFirst(initial);
  }

  private async saslResponse(element: Element): Promise<void> {
    const s = this.sasl;
    if (!s) return this.saslFailure('malformed-request', 'no authentication in progress', false);
    const data = decodeSasl(element.text());
    if (data === undefined) {
      s.exchange?.abort();
      this.sasl = null;
      return this.saslFailure('incorrect-encoding', 'the response is not valid base64');
    }
    if (s.mech === 'PLAIN') {
      this.sasl = null;
      return this.plain(data ?? Buffer.alloc(0));
    }
    if (s.awaiting === 'first') return this.scramFirst(data ?? Buffer.alloc(0));
    this.sasl = null;
    try {
      const { user, credentials, serverFinal } = s.exchange!.finish((data ?? Buffer.alloc(0)).toString('utf8'));
      this.saslSuccess(user, credentials, Buffer.from(serverFinal, 'utf8'));
    } catch (e) {
      this.saslError(e);
    }
  }

  private async scramFirst(data: Buffer): Promise<void> {
    const s = this.sasl!;
    try {
      const serverFirst = await s.exchange!.start(data.toString('utf8'));
      // Gone, timed out or replaced while the server-first-message was prepared: nothing to answer.
      if (this.closing || this.sasl !== s) return s.exchange!.abort();
      s.awaiting = 'final';
      this.writeNonza(serialize(el('challenge', { xmlns: NS.sasl }, Buffer.from(serverFirst, 'utf8').toString('base64'))));
    } catch (e) {
      this.sasl = null;
      this.saslError(e);
    }
  }

  /** RFC 4616: [authzid] NUL authcid NUL passwd. */
  private async plain(data: Buffer): Promise<void> {
    const parts = data.toString('utf8').split('\u0000');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') return this.saslFailure('malformed-request', 'PLAIN wants authzid NUL authcid NUL password');
    const [authzid, authcid, password] = parts as [string, string, string];
    try {
      const address = authcid.includes('@') ? authcid : `${authcid}@${this.domain}`;
      const { user, credentials } = await this.engine.auth.authenticate(address, password, this.transport.remoteAddress);
      if (authzid !== '' && !sameBare(authzid, user)) return this.saslFailure('invalid-authzid', 'you may only act as yourself');
      this.saslSuccess(user, credentials, null);
    } catch (e) {
      this.saslError(e);
    }
  }

  private channelBinding(): ChannelBindingSupport | undefined {
    const tls = this.transport.tlsSocket();
    if (!tls || !this.transport.secure()) return undefined;
    const types = channelBindingTypes(tls);
    // RFC 5802 §6: a client flag "y" (it could bind but thinks we cannot) fails when we offered -PLUS: someone
    // may have stripped those mechanisms. A client that already tried -PLUS on this stream saw them, so its
    // "y" after that attempt failed (say, it knows only tls-unique, which TLS 1.3 lacks) is no downgrade.
    return {
      advertised: types.length > 0 && !this.plusTried,
      data: (name) => (types.includes(name as ChannelBindingType) ? channelBindingData(tls, name as ChannelBindingType) : null),
    };
  }

  private saslSuccess(user: string, credentials: string, additional: Buffer | null): void {
    if (this.closing) return;
    const domainOfUser = user.slice(user.indexOf('@') + 1);
    if (domainOfUser !== this.domain) {
      this.saslFailure('not-authorized', `the account is not in ${this.domain}`);
      return;
    }
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

  private saslError(e: unknown): void {
    if (e instanceof ParleyError) {
      if (e.code === 'account-locked' || e.code === 'rate-limited') return this.saslFailure('temporary-auth-failure', e.message);
      if (e.code === 'bad-request') return this.saslFailure('malformed-request', e.message);
      if (e.code === 'not-authorized') {
        const scram = e.details?.scramError;
        // Channel-binding refusals say why; a wrong password never says more than that.
        const text = typeof scram === 'string' && scram !== 'invalid-proof' && scram !== 'other-error' ? `${e.message} (${scram})` : 'wrong address or password';
        // A -PLUS attempt with a binding type this connection lacks checked no password: it does not count
        // towards the stream's failed attempts (clients try such mechanisms before falling back).
        const guess = scram !== 'unsupported-channel-binding-type' && scram !== 'channel-binding-not-supported';
        return this.saslFailure('not-authorized', text, guess);
      }
      if (e.code === 'unexpected-request') return this.saslFailure('malformed-request', e.message);
    }
    this.engine.ctx.log.error({ err: e }, 'sasl failed');
    this.saslFailure('temporary-auth-failure', 'authentication failed on the server; try again');
  }

  private saslFailure(condition: SaslCondition, text: string, counts = true): void {
    this.writeNonza(serialize(el('failure', { xmlns: NS.sasl }, el(condition, null), el('text', { 'xml:lang': 'en' }, text))));
    if (counts && ++this.saslFailures >= MAX_SASL_FAILURES) this.streamError('policy-violation', 'too many failed authentication attempts');
  }

  /** Registration sends a password like PLAIN does: only inside TLS (or where PLAIN is allowed without it). */
  private registrationOpen(): boolean {
    return this.opts.registration(this.domain) && (this.transport.secure() || this.opts.allowPlainWithoutTls);
  }

  /** XEP-0077 in-band registration before authentication, where the domain allows it (§3.1). */
  private async register(iq: Element): Promise<void> {
    const id = iq.attr('id');
    const query = iq.getChild('query', NS.register)!;
    const reply = (payload: Element | null): void => {
      const r = el('iq', { xmlns: NS.client, type: 'result', id });
      if (payload) r.append(payload);
      this.sendElement(r);
    };
    if (iq.attr('type') === 'get') {
      reply(el('query', { xmlns: NS.register }, el('instructions', null, 'Choose a user name and a password of at least 8 characters.'), el('username', null), el('password', null)));
      return;
    }
    if (iq.attr('type') !== 'set') return;
    try {
      if (this.registered) throw new ParleyError('not-allowed', 'one account per connection');
      if (query.getChild('remove')) throw new ParleyError('not-authorized', 'authenticate to cancel a registration');
      const username = query.getChild('username')?.text() ?? '';
      const password = query.getChild('password')?.text() ?? '';
      if (username === '' || password === '') throw new ParleyError('not-acceptable', 'a user name and a password are required');
      if (username.includes('@') || username.includes('/')) throw new ParleyError('jid-malformed', 'the user name is the part before @');
      await this.engine.auth.register(`${username}@${this.domain}`, password, this.transport.remoteAddress);
      this.registered = true;
      reply(null);
    } catch (e) {
      const { condition, text } = conditionOf(e);
      this.sendElement(errorReply(iq, errorElement(condition, text), undefined, this.domain));
    }
  }

  /** After SASL: resource binding (RFC 6120 §7) and the legacy session request (RFC 3921 §3). */
  private async onPreBindIq(iq: Element): Promise<void> {
    const type = iq.attr('type');
    const bind = iq.getChild('bind', NS.bind);
    if (type === 'set' && bind) return this.bind(iq, bind);
    if (type === 'set' && iq.getChild('session', NS.session)) {
      this.sendElement(el('iq', { xmlns: NS.client, type: 'result', id: iq.attr('id') }));
      return;
    }
    this.sendElement(errorReply(iq, errorElement('not-authorized', 'bind a resource first'), undefined, this.user));
  }

  private async bind(iq: Element, bind: Element): Promise<void> {
    const requested = bind.getChild('resource')?.text().trim() || null;
    const user = this.authUser!;
    try {
      const { session } = await this.engine.openSession(user, requested, this, validatePresence({}, this.engine.ctx.now()), {
        available: false,
        credentials: this.authCredentials,
      });
      if (this.closing) {
        await this.engine.closeSession(session);
        return;
      }
      this.session = session;
      if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
      this.negotiationTimer = null;
      this.sendElement(el('iq', { xmlns: NS.client, type: 'result', id: iq.attr('id') }, el('bind', { xmlns: NS.bind }, el('jid', null, session.full))));
      this.engine.goLive(session);
    } catch (e) {
      const err = e instanceof ParleyError ? e : null;
      // The password changed (or the account went) after SASL: what this stream proved is void (RFC 6120 §4.9.3.12).
      if (err?.code === 'not-authorized') return this.streamError('not-authorized', err.message);
      // §7.6.2.1 resource-constraint (too many sessions), §7.7.2.1 bad-request (a resource that fails the profile).
      const condition = err?.code === 'policy-violation' ? 'resource-constraint' : err?.code === 'jid-malformed' ? 'bad-request' : 'internal-server-error';
      if (!err) this.engine.ctx.log.error({ err: e }, 'bind failed');
      this.sendElement(errorReply(iq, errorElement(condition, err?.message), undefined, user));
    }
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
    this.sasl?.exchange?.abort();
    this.sasl = null;
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

/** SASL payload: absent → null, "=" → empty (RFC 6120 §6.4.2), else strict base64; undefined when invalid. */
function decodeSasl(text: string): Buffer | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}

function bare(a: string): string {
  const i = a.indexOf('/');
  return i < 0 ? a : a.slice(0, i);
}

function sameBare(a: string, user: string): boolean {
  try {
    const x: Address = parseAddress(a);
    return x.resource === null && `${x.local}@${x.domain}` === user;
  } catch {
    return false;
  }
}

/** Framed mode (RFC 7395): the root the parser is given, so that each message parses as a depth-1 element. */
const FRAMED_ROOT = `<stream:stream xmlns="${NS.client}" xmlns:stream="${NS.streams}">`;

/** RFC 7395 §3.6: a stream error on a WebSocket declares the stream prefix itself. */
function streamErrorFramed(err: Element): string {
  const inner = serialize(err, NS.streams).replace(/^<error[^>]*>/, '').replace(/<\/error>$/, '');
  return `<stream:error xmlns:stream="${NS.streams}">${inner}</stream:error>`;
}
