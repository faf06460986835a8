/**
 * One client-to-server XMPP stream (RFC 6120): its lifecycle (stream headers and restarts, stream errors,
 * teardown), the routing of each depth-1 element — to negotiation before binding (negotiation.ts: TLS §5, SASL
 * §6, registration, binding §7), to stream management, client state or the stanza handlers (stanzas.ts) after —
 * and the output of the bound session: the connection is the engine's Sink for it, and events come back through
 * send(), encoded for this session by encode.ts.
 *
 * Every stanza is parsed once (xml/stream-parser.ts, hardened per §11.1 and §13.12) and re-serialised on the
 * way out; raw bytes are never forwarded. The other parts of a stream have their own files: in-order processing
 * with back-pressure and the rate limit (input-queue.ts: §10.1, §13.12), the idle ping (idle.ts), the MUC rooms
 * joined (room-view.ts), client state indication (client-state.ts), the per-turn confirmation of offline
 * records (offline-ack.ts), and the stream markup of both framings (framing.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Engine } from '../../../engine/engine.js';
import type { Outbound } from '../../../engine/outbound.js';
import { REPLAY_LOW_WATER, type ClientProtocol, type Session, type Sink } from '../../../engine/session.js';
import type { Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { StreamParser, PRE_AUTH_LIMITS, type StreamErrorCondition } from '../xml/stream-parser.js';
import { ClientState } from './client-state.js';
import { encodeFor } from './encode.js';
import { conditionOf, errorElement, errorReply, streamError } from './errors.js';
import { checkStreamHeader, featuresXml } from './features.js';
import { FRAMED_ROOT, streamClose, streamErrorXml, streamOpen } from './framing.js';
import { IdleTimer } from './idle.js';
import { InputQueue } from './input-queue.js';
import { Negotiation } from './negotiation.js';
import { NS } from './ns.js';
import { OfflineAck } from './offline-ack.js';
import { RoomView } from './room-view.js';
import { StanzaHandlers } from './stanzas.js';
import { StreamManagement, type SmConnection } from './stream-management.js';
import type { Transport } from './transport.js';
import type { XmppObserver, XmppOptions, XmppStream } from './types.js';

/** One XMPP client stream; after binding, the Sink of its session. */
export class XmppConnection implements Sink, XmppStream, SmConnection {
  readonly id = randomBytes(9).toString('base64url');
  /** Sink: ready stanzas relayed from another XMPP session (RFC 6121 §8.5.3.1) are for this connection. */
  readonly relaysStanzas = true;
  private readonly parser: StreamParser;
  /** Sink: the XMPP transport under this stream (TCP, WebSocket or BOSH). */
  get protocol(): ClientProtocol {
    return this.transport.protocol;
  }
  /** The served domain this stream is for (the `to` of the client's stream header). */
  domain = '';
  private headerSent = false;
  private closing = false;
  session: Session | null = null;
  /** Framed mode: the parser was reset (SASL success) and gets its synthetic root before the next message. */
  private framedRootDue = false;
  /** TLS, SASL, registration and binding, until a session is bound or resumed. */
  private readonly negotiation: Negotiation;
  /** XEP-0199 ping of a silent stream, and the drop of one that stays silent. */
  private readonly idle: IdleTimer;
  /** Bound stanzas in order, with back-pressure and the rate limit every element counts against. */
  private readonly input: InputQueue;
  /** Confirmed records leave the offline queue in one engine call per turn. */
  private readonly offlineAck = new OfflineAck(this);
  /** Messages for this user that arrived while the stream was closing (see send()). */
  private late: number[] | null = null;
  readonly handlers: StanzaHandlers;
  readonly sm: StreamManagement;

  // XmppView state.
  rosterRequested = false;
  blocklistRequested = false;
  /**
   * The MUC rooms this session joined, with its nick in each (XEP-0045), and its XEP-0352 client state. Both
   * made on first use: most connections never need them, and an idle connection's memory is what bounds how
   * many a server holds.
   */
  private rooms: RoomView | null = null;
  private csi: ClientState | null = null;

  constructor(
    readonly transport: Transport,
    readonly engine: Engine,
    readonly opts: XmppOptions,
    private readonly observer: XmppObserver,
  ) {
    this.handlers = new StanzaHandlers(this);
    this.sm = new StreamManagement(this);
    this.input = new InputQueue(this, opts.stanzasPerSecond);
    this.negotiation = new Negotiation(this);
    this.idle = new IdleTimer(this, opts.idleMs);
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
    observer.opened();
  }

  // -------------------------------------------------------------------------------------------------------------
  // XmppView
  // -------------------------------------------------------------------------------------------------------------

  get user(): string {
    return this.session?.user ?? this.negotiation.user ?? '';
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
    return this.rooms?.nick(room);
  }
  /** Records that this session is in `room` under `nick`; true if it was not in the room before. */
  enterRoom(room: string, nick: string): boolean {
    return (this.rooms ??= new RoomView()).enter(room, nick);
  }
  /** Records that this session left `room`; false if it was not in it. */
  leaveRoom(room: string): boolean {
    return this.rooms?.leave(room) ?? false;
  }
  /** Leaves every room; returns those it was in. */
  leaveAllRooms(): string[] {
    return this.rooms?.leaveAll() ?? [];
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
    if (this.csi !== null) {
      if (this.csi.hold(e, stanzas)) return;
      // Something that matters goes out: the presence held before it goes first.
      if (this.csi.holding) this.releaseHeld();
    }
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
    this.offlineAck.confirmed(pos);
  }

  /** Sends the presence held back while the client was inactive (XEP-0352). */
  private releaseHeld(): void {
    for (const stanza of this.csi?.release() ?? []) this.sendStanza(stanza);
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
    const { condition, text, code, blocked, app } = conditionOf(e);
    if (code === 'internal-server-error') this.engine.ctx.log.error({ err: e, user: this.user }, 'xmpp stanza failed');
    const from = stanza.attr('to') ?? undefined;
    this.sendElement(errorReply(stanza, errorElement(condition, text, undefined, blocked, app), from, this.full));
  }

  /** Sends a stream error and closes the stream (RFC 6120 §4.9.1.1). */
  streamError(condition: StreamErrorCondition, text?: string): void {
    if (this.closing) return;
    if (!this.headerSent) this.sendHeader(this.domain || this.opts.defaultDomain);
    this.transport.write(streamErrorXml(streamError(condition, text), this.transport.framed));
    this.closeStream();
  }

  /** Ends the stream with the closing tag and closes the connection (RFC 6120 §4.4). */
  closeStream(): void {
    if (this.closing) return;
    this.closing = true;
    this.transport.write(streamClose(this.transport.framed));
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
    this.idle.heard();
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
    const stage = this.session !== null ? 'bound' : this.negotiation.user !== null ? 'bind' : 'authenticate';
    this.writeNonza(featuresXml(this, stage));
  }

  private sendHeader(domain: string): void {
    this.headerSent = true;
    this.transport.write(streamOpen(domain, this.transport.framed));
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
    this.input.throttle();
    if (this.transport.framed && element.xmlns === NS.framing) {
      this.onFramingElement(element);
      return;
    }
    if (!this.headerSent) {
      this.streamError('not-authorized', 'open the stream first');
      return;
    }
    if (this.session === null) {
      this.negotiation.onElement(element).catch((e: unknown) => {
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
      (this.csi ??= new ClientState()).inactive = element.name === 'inactive';
      this.engine.devices.set(this.session, this.csi.inactive ? 'inactive' : 'live');
      if (!this.csi.inactive) this.releaseHeld();
      return;
    }
    if (element.xmlns !== NS.client || (element.name !== 'message' && element.name !== 'presence' && element.name !== 'iq')) {
      this.streamError('unsupported-stanza-type', `<${element.name}/> in ${element.xmlns || 'no namespace'} is not a stanza this server knows`);
      return;
    }
    this.input.enqueue(element);
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

  /**
   * The stream restarts (RFC 6120 §5.4.3.3 after TLS, §6.4.6 after SASL): the parser drops what it read, a new
   * header is due, and once authenticated the larger stanza limit applies.
   */
  restart(authenticated: boolean): void {
    this.parser.reset();
    if (authenticated) this.parser.setLimits({ maxStanzaBytes: this.opts.maxStanzaBytes });
    this.headerSent = false;
    // Before the next message, not now: this can run inside the parser's write() (SCRAM's final step is
    // synchronous), and write() is not reentrant.
    if (authenticated && this.transport.framed) this.framedRootDue = true;
  }

  /** XEP-0280: the session's own flag (it survives resumption with the session). */
  get carbons(): boolean {
    return this.session?.carbons ?? false;
  }

  /** Replaces this connection's session with a hibernated one (XEP-0198 resumption). */
  adopt(session: Session, from: XmppConnection): void {
    this.negotiation.resumed(session.user);
    this.session = session;
    this.rosterRequested = from.rosterRequested;
    this.blocklistRequested = from.blocklistRequested;
    if (this.csi !== null) this.csi.inactive = false;
    this.engine.devices.set(session, 'live');
    this.rooms = from.rooms?.copy() ?? null;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Liveness and teardown
  // -------------------------------------------------------------------------------------------------------------

  /** Whether the connection is gone or going (handlers check before replying after an await). */
  get isClosing(): boolean {
    return this.closing;
  }

  private onTransportClose(): void {
    const wasClosing = this.closing;
    this.closing = true;
    this.negotiation.abort();
    this.idle.stop();
    this.observer.closed();
    const s = this.session;
    if (!s) return;
    // A broken connection with stream management enabled keeps its session for resumption (XEP-0198 §5).
    if (!wasClosing && this.sm.hibernate()) {
      this.engine.devices.set(s, 'hibernating');
      return;
    }
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

/** The bare part of an address as the engine wrote it (already normalised: no parsing needed). */
function bare(a: string): string {
  const i = a.indexOf('/');
  return i < 0 ? a : a.slice(0, i);
}
