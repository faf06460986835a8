/**
 * The 1:1 and room message path: validate → message.check (events.ts) → durable append (group commit) →
 * message.recorded → deliver → acknowledge. A resend with the same client id is stored and delivered once.
 */
import { ParleyError } from '../core/errors.js';
import { conversationKey, type LogRecord, type MessageType, type MessageView, type NewRecord, type ReceiptKind } from '../core/types.js';
import { limitOf, type Ctx } from './context.js';
import { KeyedQueue } from './keyed-queue.js';
import { recordEvent } from './outbound.js';
import type { OfflineTracker } from './offline-tracker.js';
import type { BlockService } from './block-service.js';
import type { RoomService } from './room-service.js';
import type { RemoteSession } from './cluster.js';
import type { Session } from './session.js';
import type { Address } from '../core/address.js';
import type { AppendResult } from '../ports/store.js';
import { domainPart, type DomainRoute, type RoutedStanza } from './domain-routes.js';

/**
 * Who sends a message: a session of this server, or an address on a routed domain (a component's user, later a
 * federated one) whose message a route handed in (Engine.routeInbound). `id` keys the per-sender order and the
 * bound on pending sends.
 */
interface Sender {
  id: string;
  full: string;
  session: Session | null;
}

/** A message from a routed domain to a local user (RemoteService hands it in after its checks). */
export interface RemoteMessage {
  /** The sender's address on the routed domain, bare or full. */
  from: { bare: string; resource: string | null };
  /** The local recipient. */
  to: { bare: string; resource: string | null };
  body: string | null;
  clientId: string | null;
  /** Extension elements to keep, as canonical XML (as a front door gives them). */
  xml: string | null;
}

/** A groupchat message from an occupant on a routed domain to a room of this server (remote-rooms.ts). */
export interface RemoteRoomMessage {
  from: { bare: string; resource: string };
  room: string;
  body: string | null;
  clientId: string | null;
  xml: string | null;
}

/** What the sender gets back once the message is durably stored. */
export interface SendAck {
  id: string;
  seq: number;
  ts: number;
  duplicate: boolean;
}

const MAX_CLIENT_ID = 128;
/**
 * The largest extension text (NewRecord.xml) the engine takes: the front doors check it is well-formed and
 * within their own bounds (the XMPP stanza limit); this is the engine's own bound on what it stores.
 */
export const MAX_XML_BYTES = 262_144;
/**
 * What one message waiting to be stored costs besides its body (record, promises, closures), for the bound on
 * a session's pending messages; measured at well under 1 KiB.
 */
const PENDING_OVERHEAD = 1024;

/** Sends, edits, retracts and acknowledges messages. */
export class MessageService {
  constructor(
    private readonly ctx: Ctx,
    private readonly rooms: RoomService,
    private readonly offline: OfflineTracker,
    private readonly blocks: BlockService,
    /** Where the session's account incarnation begins: older records are a removed predecessor's (Account.createdSeq). */
    private readonly createdSeqOf: (session: Session) => Promise<number>,
  ) {}

  /** A session's messages are prepared and handed to storage one at a time, in the order sent. */
  private readonly perSession = new KeyedQueue();
  /** message.recorded handlers and delivery run one record at a time, in log order (a single key). */
  private readonly logOrder = new KeyedQueue();
  /** Bytes of each session's messages accepted and not yet stored (see admit()). */
  private readonly pendingBytes = new Map<string, number>();
  /** Where each delivered room message also goes: the room's occupants on routed domains (remote-rooms.ts). */
  roomFanout: ((r: LogRecord) => void) | null = null;
  /** Where each live-only room message also goes (MessageService.live): the room's occupants on routed domains. */
  roomLiveFanout: ((room: string, from: string, id: string | null, xml: string) => void) | null = null;

  /**
   * Sends a 1:1 message (to a person, or to one session via a full address) or a room message. `xml` is the
   * message's extension elements as canonical XML (checked by the front door; opaque here); a message may have
   * no body when it has them (a reaction, an encrypted payload).
   */
  send(session: Session, to: Address, body: string | null, clientId: string | null, startedAt: number, xml: string | null = null): Promise<SendAck> {
    return this.ordered(senderOf(session), () => this.prepareSend(session, to, body, clientId, xml), startedAt, (body?.length ?? 0) + (xml?.length ?? 0));
  }

  private async prepareSend(session: Session, to: Address, body: string | null, clientId: string | null, xml: string | null): Promise<NewRecord> {
    if (body !== null || xml === null) this.checkBody(body ?? '');
    if (xml !== null) this.checkXml(xml);
    if (clientId !== null && (clientId.length === 0 || clientId.length > MAX_CLIENT_ID)) {
      throw new ParleyError('bad-request', `clientId must be 1..${MAX_CLIENT_ID} characters`);
    }
    const route = this.routeOf(to.domain);
    if (to.local === null && route === null) throw new ParleyError('jid-malformed', 'the recipient address has no localpart');
    // A routed domain's own address (a component, `svc.example.com`) may be written to as well.
    const bare = to.local === null ? to.domain : `${to.local}@${to.domain}`;
    const type: MessageType = this.ctx.directory.isRoomDomain(to.domain) ? 'groupchat' : 'chat';
    if (type === 'groupchat') await this.rooms.moderation.requireVoice(bare, session.user); // XEP-0045 §7.4: not visitors
    else if (route !== null) {
      // Nothing is stored for a route that cannot take it now (a component not connected: service-unavailable).
      await route.check?.(to.resource === null ? bare : `${bare}/${to.resource}`, session.user);
      if (await this.blocks.blocks(session.user, bare)) throw new ParleyError('not-acceptable', `you have blocked ${bare}; unblock to write`, { blocked: true });
    } else {
      await this.ctx.directory.requireUser(bare, to.domain);
      // A flood to a full queue is refused here, before the block check reads the recipient's list. A resend
      // (client id) waits for reserveOffline(), which still answers it as a duplicate.
      if (clientId === null && !this.ctx.cluster.reachable(bare)) this.offline.check(bare);
      await this.blocks.check(session.user, bare);
    }
    const toResource = type === 'chat' ? to.resource : null;
    const offline = type === 'chat' && route === null && !this.ctx.cluster.reachable(bare);
    return {
      kind: 'message',
      type,
      conv: conversationKey(type, session.user, bare),
      from: session.user,
      fromResource: session.resource,
      to: bare,
      toResource,
      clientId,
      body,
      ref: null,
      receipt: null,
      ts: this.ctx.now(),
      xml,
      offlineFor: offline ? [bare] : [],
    };
  }

  /** Replaces the body of one's own message; the log keeps both versions. */
  edit(session: Session, id: string, body: string, clientId: string | null, startedAt: number, xml: string | null = null): Promise<SendAck> {
    return this.ordered(senderOf(session), async () => {
      this.checkBody(body);
      if (xml !== null) this.checkXml(xml);
      const orig = await this.ownMessage(session, id);
      return { ...this.follow(session, orig, 'edit', body, clientId, null), xml };
    }, startedAt, body.length + (xml?.length ?? 0));
  }

  /** Retracts one's own message: readers see it gone; the log keeps it. */
  retract(session: Session, id: string, clientId: string | null, startedAt: number): Promise<SendAck> {
    return this.ordered(senderOf(session), async () => this.follow(session, await this.ownMessage(session, id), 'retract', null, clientId, null), startedAt);
  }

  /** A delivery or read receipt for a message the user received; it goes to the sender's sessions. */
  receipt(session: Session, id: string, kind: ReceiptKind, startedAt: number): Promise<SendAck> {
    return this.ordered(senderOf(session), () => this.prepareReceipt(session, id, kind), startedAt);
  }

  private async prepareReceipt(session: Session, id: string, kind: ReceiptKind): Promise<NewRecord> {
    const orig = await this.visibleMessage(session, id);
    if (orig.type === 'chat' ? orig.to !== session.user : !(await this.rooms.isMember(orig.to, session.user))) {
      throw new ParleyError('forbidden', 'receipts are for messages you received');
    }
    if (orig.from === session.user) throw new ParleyError('bad-request', 'no receipts for your own messages');
    await this.blocks.check(session.user, orig.from);
    // A receipt is between its sender and the message's author, even for a room message: it is kept in their
    // 1:1 conversation so a room's replay does not hand it to every member.
    return {
      ...this.follow(session, orig, 'receipt', null, null, kind),
      to: orig.from,
      type: 'chat',
      conv: conversationKey('chat', session.user, orig.from),
      offlineFor: [],
    };
  }

  /** Typing notification (XEP-0085 states); never stored. */
  async typing(session: Session, to: Address, state: string): Promise<void> {
    const route = this.routeOf(to.domain);
    if (to.local === null && route === null) throw new ParleyError('jid-malformed', 'the recipient address has no localpart');
    const bare = to.local === null ? to.domain : `${to.local}@${to.domain}`;
    if (route !== null) {
      // XEP-0085 over the route: the chat state element alone, never stored.
      const target = to.resource === null ? bare : `${bare}/${to.resource}`;
      await route.check?.(target, session.user);
      const xml = `<${state} xmlns="http://jabber.org/protocol/chatstates"/>`;
      await route.send({ kind: 'message', from: session.full, to: target, type: 'chat', id: null, body: null, xml });
      return;
    }
    const { router } = this.ctx;
    const out = router.outbound({ ev: 'typing', data: { from: session.full, to: bare, state } });
    if (this.ctx.directory.isRoomDomain(to.domain)) {
      const members = await this.rooms.memberUsers(bare, session.user);
      router.toUsers(members, out, session);
      return;
    }
    await this.ctx.directory.requireUser(bare, to.domain);
    await this.blocks.check(session.user, bare);
    router.toUsers([bare], out);
  }

  /**
   * A body-less message whose sender asked that it not be stored (XEP-0334 §4: `<no-store/>`, or
   * `<no-permanent-store/>`, which Parley reads the same way) but that carries a payload (a reaction, a marker of
   * its own kind): delivered live, like a chat state, and kept nowhere (not in history, MAM or the offline
   * queue: a recipient with no session gets nothing). `xml` is its extension elements (canonical XML, checked by
   * the front door); `type` the XMPP message type. To a person (a full address: that session first, RFC 6121
   * §8.5.3, or the bare address when it is gone), with the block lists applied as for stored messages and the
   * sender's other sessions told (carbons, XEP-0280); to a room, to every member's sessions, the sender's own
   * included (the room's reflection, XEP-0045 §7.4), and only from a member with voice.
   */
  async live(session: Session, to: Address, xml: string, type: string, id: string | null): Promise<void> {
    this.checkXml(xml);
    if (to.local === null) throw new ParleyError('jid-malformed', 'the recipient address has no localpart');
    const bare = `${to.local}@${to.domain}`;
    if (this.ctx.directory.isRoomDomain(to.domain)) return this.liveToRoom(bare, session.user, session.full, xml, id);
    const { router, sessions, cluster } = this.ctx;
    const data: Record<string, unknown> = { from: session.full, to: bare, type, xml };
    if (id !== null) data.id = id;
    await this.ctx.directory.requireUser(bare, to.domain);
    await this.blocks.check(session.user, bare);
    // RFC 6121 §8.5.3.2.1: a full address whose session is gone is treated as the bare address.
    if (to.resource !== null && (sessions.get(bare, to.resource) !== undefined || (cluster.remoteCount > 0 && cluster.remoteSession(bare, to.resource) !== undefined))) {
      data.to = `${bare}/${to.resource}`;
    }
    router.toUsers(bare === session.user ? [bare] : [bare, session.user], router.outbound({ ev: 'message.live', data }), session);
  }

  /**
   * A room occupant's body-less no-store payload (XEP-0334 §4) that a routed domain handed in (remote-rooms.ts):
   * checked as a session's, then delivered live as a local occupant's is (liveToRoom). `from` is the occupant's
   * bare address and resource.
   */
  async liveFromRemote(from: { bare: string; resource: string }, room: string, xml: string, id: string | null): Promise<void> {
    this.checkXml(xml);
    await this.liveToRoom(room, from.bare, `${from.bare}/${from.resource}`, xml, id);
  }

  /**
   * A live-only payload to a room: from a member with voice (XEP-0045 §7.4: not a visitor in a moderated room), to
   * every member's sessions, the sender's own included (the room's reflection), and to the remote occupants
   * through their routes (roomLiveFanout), the sender too when it is one of them. Nothing is stored.
   */
  private async liveToRoom(room: string, user: string, full: string, xml: string, id: string | null): Promise<void> {
    await this.rooms.moderation.requireVoice(room, user);
    const { router } = this.ctx;
    const data: Record<string, unknown> = { from: full, to: room, type: 'groupchat', xml };
    if (id !== null) data.id = id;
    router.toUsers(await this.rooms.membersOf(room), router.outbound({ ev: 'message.live', data }));
    this.roomLiveFanout?.(room, user, id, xml);
  }

  /**
   * The server id of one of `user`'s own messages, named by the id its client knows: the client's own id
   * (XEP-0359 origin-id) when it names one, else taken as the server's id (XEP-0308 and XEP-0424 references).
   */
  async ownId(user: string, id: string): Promise<string> {
    const mine = await this.ctx.store.messages.byClientId(user, id);
    return mine ? mine.id : id;
  }

  /**
   * The server id of a message `sender` sent, named by the id the recipient's client saw (the sender's client
   * id, else the server's), or null when no such message exists (a receipt for it is ignored).
   */
  async receivedId(sender: string, id: string): Promise<string | null> {
    const store = this.ctx.store.messages;
    const theirs = await store.byClientId(sender, id);
    if (theirs) return theirs.id;
    return (await store.view(id)) ? id : null;
  }

  /** The log position (seq) of the record with server id `id`, or null when there is none (MAM paging). */
  async seqOf(id: string): Promise<number | null> {
    return (await this.ctx.store.messages.getById(id))?.seq ?? null;
  }

  private checkBody(body: string): void {
    if (body.length === 0) throw new ParleyError('bad-request', 'the message body is empty');
    const bytes = body.length * 3 <= this.ctx.opts.maxBodyBytes ? body.length : Buffer.byteLength(body, 'utf8');
    if (bytes > this.ctx.opts.maxBodyBytes) {
      throw new ParleyError('message-too-large', `the body has ${bytes} bytes; the limit is ${this.ctx.opts.maxBodyBytes}`);
    }
  }

  private checkXml(xml: string): void {
    if (xml.length === 0) throw new ParleyError('bad-request', 'the extension text is empty');
    const bytes = xml.length * 3 <= MAX_XML_BYTES ? xml.length : Buffer.byteLength(xml, 'utf8');
    if (bytes > MAX_XML_BYTES) throw new ParleyError('message-too-large', `the extension elements have ${bytes} bytes; the limit is ${MAX_XML_BYTES}`);
  }

  /** The message as readers see it now (one storage read gives both its addressing and its state). */
  private async message(id: string): Promise<MessageView> {
    const m = await this.ctx.store.messages.view(id);
    if (!m) throw new ParleyError('item-not-found', `no message ${id}`);
    return m;
  }

  /**
   * The message, unless it predates the session's account: an address removed and created again is a new
   * identity, which can neither change nor acknowledge its predecessor's messages (nor learn they exist).
   */
  private async visibleMessage(session: Session, id: string): Promise<MessageView> {
    const m = await this.message(id);
    if (m.seq <= (await this.createdSeqOf(session))) throw new ParleyError('item-not-found', `no message ${id}`);
    return m;
  }

  private async ownMessage(session: Session, id: string): Promise<MessageView> {
    const orig = await this.visibleMessage(session, id);
    if (orig.from !== session.user) throw new ParleyError('forbidden', 'you can only change your own messages');
    if (orig.type === 'groupchat') await this.rooms.requireMember(orig.to, session.user);
    if (orig.retractedAt !== null) throw new ParleyError('not-allowed', `message ${id} was retracted`);
    return orig;
  }

  private follow(session: Session, orig: MessageView, kind: 'edit' | 'retract' | 'receipt', body: string | null, clientId: string | null, receipt: ReceiptKind | null): NewRecord {
    return {
      kind,
      type: orig.type,
      conv: orig.conv,
      from: session.user,
      fromResource: session.resource,
      to: orig.to,
      toResource: null,
      clientId,
      body,
      ref: orig.id,
      receipt,
      ts: this.ctx.now(),
      offlineFor: orig.type === 'chat' && !this.ctx.cluster.reachable(orig.to) ? [orig.to] : [],
    };
  }

  /**
   * Check → store → record → deliver. Preparation and the call to append run one at a time per session, so a
   * session's messages are stored (and so ordered and delivered) in the order it sent them, while the commits
   * themselves still group with everyone else's. A record for the offline queue reserves its entry after the
   * message.check handlers and before the append, so a full queue stores nothing (RFC 6121 §8.5.2.2.1).
   */
  private ordered(sender: Sender, prepare: () => Promise<NewRecord>, startedAt: number, bodyLength = 0): Promise<SendAck> {
    const { ctx } = this;
    const charge = bodyLength + PENDING_OVERHEAD;
    try {
      this.admit(sender.id, charge);
    } catch (e) {
      return Promise.reject(e);
    }
    const enqueued = this.perSession.run(sender.id, async () => {
      const rec = await prepare();
      try {
        await ctx.events.emit('message.check', { record: rec, sender: sender.full });
      } catch (e) {
        ctx.metrics.message(rec.type, 'refused');
        throw e;
      }
      const queued = await this.reserveOffline(rec);
      return { rec, queued, appended: ctx.metrics.storage('append', ctx.store.messages.append([rec])) };
    });
    const done = enqueued.then(({ rec, queued, appended }) => this.finish(sender.session, rec, queued, appended, startedAt));
    void done.then(
      () => this.release(sender.id, charge),
      () => this.release(sender.id, charge),
    );
    return done;
  }

  /**
   * Bounds what one session can make the server hold: messages it sent that are not stored yet. A client that
   * sends faster than the store commits (pipelining without waiting for acknowledgements) would otherwise
   * queue them here without limit; past the bound it is refused with rate-limited until some are stored. A
   * session with nothing pending may always send one message, whatever its size.
   */
  private admit(id: string, charge: number): void {
    const held = this.pendingBytes.get(id) ?? 0;
    const max = limitOf(this.ctx.opts, 'maxPendingSendBytes');
    if (held > 0 && held + charge > max) {
      this.ctx.metrics.refused('pending-sends');
      throw new ParleyError('rate-limited', `too many messages of this session are waiting to be stored (${held} bytes; the limit is ${max}); wait for their acknowledgements`, {
        reason: 'pending-sends',
        maxPendingBytes: max,
      });
    }
    this.pendingBytes.set(id, held + charge);
  }

  private release(id: string, charge: number): void {
    const held = (this.pendingBytes.get(id) ?? 0) - charge;
    if (held > 0) this.pendingBytes.set(id, held);
    else this.pendingBytes.delete(id);
  }

  /** Reserves the offline-queue entries of `rec`; returns its body size for settling them (null: none queued). */
  private async reserveOffline(rec: NewRecord): Promise<number | null> {
    if (rec.offlineFor.length === 0) return null;
    const bytes = (rec.body === null ? 0 : Buffer.byteLength(rec.body, 'utf8')) + (rec.xml ? Buffer.byteLength(rec.xml, 'utf8') : 0);
    const done: string[] = [];
    try {
      for (const user of rec.offlineFor) {
        await this.offline.reserve(user, bytes, () => this.ctx.store.messages.offlineSize(user));
        done.push(user);
      }
    } catch (e) {
      for (const user of done) this.offline.settle(user, bytes, false);
      // A resend of a record stored before the queue filled up is answered with the first version, as always.
      if (rec.clientId !== null && (await this.ctx.store.messages.byClientId(rec.from, rec.clientId)) !== null) return null;
      this.ctx.metrics.message(rec.type, 'refused');
      throw e;
    }
    return bytes;
  }

  private settleOffline(rec: NewRecord, bytes: number | null, stored: boolean): void {
    if (bytes === null) return;
    for (const user of rec.offlineFor) this.offline.settle(user, bytes, stored);
  }

  private async finish(session: Session | null, rec: NewRecord, queued: number | null, appended: Promise<AppendResult[]>, startedAt: number): Promise<SendAck> {
    const { ctx } = this;
    let res: AppendResult;
    try {
      [res] = (await appended) as [AppendResult];
    } catch (e) {
      this.settleOffline(rec, queued, false);
      throw e;
    }
    const stored = res.record;
    // A resend (duplicate) wrote no new queue entry.
    this.settleOffline(rec, queued, !res.duplicate);
    for (const user of rec.offlineFor) this.offline.note(user, stored.seq);
    if (res.duplicate) {
      // The first attempt may have failed in a message.recorded handler after storing; handlers are idempotent, so run them
      // again. It is not delivered again: recipients that missed it get it by replay.
      await ctx.events.emit('message.recorded', stored);
      ctx.metrics.message(rec.type, 'duplicate');
      return { id: stored.id, seq: stored.seq, ts: stored.ts, duplicate: true };
    }
    // message.recorded handlers and delivery run in log order, so every session sees live records in seq order even when a
    // handler is slow; catch-up relies on this (Router.toSession).
    let handed: { routed: Promise<void> } | undefined;
    await this.logOrder.run('', async () => {
      await this.recorded(stored);
      ctx.metrics.message(rec.type, 'stored');
      handed = await this.deliver(session, stored, startedAt);
    });
    // A route's answer (another node's, in a cluster: a bus round trip) is awaited outside the log order, so no
    // other message waits for it; the sender's own order holds (it was handed over in the log order).
    if (handed !== undefined) await handed.routed;
    // The recipient was online when the message was prepared and went away before it was delivered: no session
    // got it, so it goes to the offline queue now (one storage call, only in that race).
    if (rec.type === 'chat' && rec.offlineFor.length === 0 && this.routeOf(domainPart(stored.to)) === null && !ctx.cluster.reachable(stored.to)) {
      await this.requeueOffline(stored.to, [stored.seq]);
    }
    return { id: stored.id, seq: stored.seq, ts: stored.ts, duplicate: false };
  }

  /** The recorded gate, then the notification of the record's kind (events.ts). */
  private async recorded(r: LogRecord): Promise<void> {
    const { events } = this.ctx;
    // Each emit is a turn of the event loop even with no handler: on the message path, only where one listens.
    if (events.has('message.recorded')) await events.emit('message.recorded', r);
    const kind = r.kind === 'edit' ? 'message.edited' : r.kind === 'retract' ? 'message.retracted' : r.kind === 'receipt' ? 'message.receipt' : null;
    if (kind !== null && events.has(kind)) await events.emit(kind, r);
  }

  /**
   * Puts records already in the log (back) into the user's offline queue: a message whose recipient left before
   * it was delivered, or messages sent to a session that ended before the client confirmed them (XEP-0198 §5).
   * Later acknowledgements clear them again.
   */
  async requeueOffline(user: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.ctx.store.messages.queueOffline(user, seqs);
    this.offline.requeued(user, Math.max(...seqs));
  }

  /** Routing rules: chat → the recipient's sessions (or the one addressed, RFC 6121 §8.5.3) plus the sender's
   * other sessions (carbons, XEP-0280); groupchat → every member's sessions except the sending one. */
  private async deliver(session: Session | null, r: LogRecord, startedAt: number): Promise<{ routed: Promise<void> } | undefined> {
    const { router, sessions, cluster } = this.ctx;
    const out = router.outbound(recordEvent(r), startedAt);
    const route = r.type === 'chat' ? this.routeOf(domainPart(r.to)) : null;
    if (route !== null) {
      // To a routed domain: the sender's other sessions get their copy (XEP-0280 §7), the route the message.
      router.toUsers([r.from], out, session ?? undefined);
      if (r.kind !== 'message') return;
      const routed = Promise.resolve(route.send(routedOf(r)));
      routed.catch(() => undefined); // awaited by the caller once out of the log order
      return { routed };
    }
    if (r.type === 'groupchat') {
      // Members now, without re-checking the sender: one removed after storing still had the right to post.
      router.toUsers(await this.rooms.membersOf(r.to), out, session ?? undefined);
      this.roomFanout?.(r);
      return;
    }
    if (r.toResource !== null) {
      const target = sessions.get(r.to, r.toResource);
      // The addressed session may be on another node (RFC 6121 §8.5.3.1); then the copies below go there too.
      const remoteTarget = target === undefined && cluster.remoteCount > 0 ? cluster.remoteSession(r.to, r.toResource) : undefined;
      if (target || remoteTarget) {
        if (target) router.toSession(target, out);
        // Carbons; when writing to one's own other session, that session already has it and must not get it twice.
        for (const s of sessions.of(r.from)) if (s !== session && s !== target) router.toSession(s, out);
        // XEP-0280 §6: the recipient's other sessions that asked for carbons get a copy too.
        if (r.to !== r.from) for (const s of sessions.of(r.to)) if (s !== target && s.carbons) router.toSession(s, out);
        if (cluster.remoteCount > 0) {
          const remote: RemoteSession[] = remoteTarget ? [remoteTarget] : [];
          for (const x of cluster.remoteOf(r.from)) if (x !== remoteTarget) remote.push(x);
          if (r.to !== r.from) for (const x of cluster.remoteOf(r.to)) if (x !== remoteTarget && x.carbons) remote.push(x);
          if (remote.length > 0) router.toRemote(remote, out);
        }
        return;
      }
    }
    router.toUsers(r.to === r.from ? [r.to] : [r.to, r.from], out, session ?? undefined);
  }

  /**
   * A message from a routed domain to a local user (RemoteService checked both addresses): stored like any chat
   * message (history, MAM, the offline queue when the user has no session that takes it, RFC 6121 §8.5.2.1.1 and
   * §8.5.2.2.1) and delivered through the Router. Each remote sender has its own order.
   */
  receiveRemote(m: RemoteMessage, startedAt: number): Promise<SendAck> {
    return this.fromRemote(m.from.resource === null ? m.from.bare : `${m.from.bare}/${m.from.resource}`, m, startedAt, async () => {
      const to = m.to.bare;
      const offline = !this.ctx.cluster.reachable(to);
      if (offline) this.offline.check(to);
      return {
        kind: 'message',
        type: 'chat',
        conv: conversationKey('chat', m.from.bare, to),
        from: m.from.bare,
        fromResource: m.from.resource,
        to,
        toResource: m.to.resource,
        clientId: m.clientId,
        body: m.body,
        ref: null,
        receipt: null,
        ts: this.ctx.now(),
        xml: m.xml,
        offlineFor: offline ? [to] : [],
      };
    });
  }

  /**
   * A groupchat message from a remote occupant (remote-rooms.ts checked that it is in the room): stored as any
   * room message from its bare address (XEP-0045 §7.4: a visitor of a moderated room has no voice) and delivered
   * to the members and, through roomFanout, to the remote occupants, its sender included.
   */
  receiveRemoteGroupchat(m: RemoteRoomMessage, startedAt = 0): Promise<SendAck> {
    return this.fromRemote(`${m.from.bare}/${m.from.resource}`, m, startedAt, async () => {
      await this.rooms.moderation.requireVoice(m.room, m.from.bare);
      return {
        kind: 'message',
        type: 'groupchat',
        conv: conversationKey('groupchat', m.from.bare, m.room),
        from: m.from.bare,
        fromResource: m.from.resource,
        to: m.room,
        toResource: null,
        clientId: m.clientId,
        body: m.body,
        ref: null,
        receipt: null,
        ts: this.ctx.now(),
        xml: m.xml,
        offlineFor: [],
      };
    });
  }

  /**
   * A message a routed domain hands in, in the order of its sender (`full`, each remote sender its own): the
   * body, extensions and id checked as a session's are, then `record` builds what is stored.
   */
  private fromRemote(full: string, m: { body: string | null; xml: string | null; clientId: string | null }, startedAt: number, record: () => Promise<NewRecord>): Promise<SendAck> {
    const sender: Sender = { id: `remote:${full}`, full, session: null };
    return this.ordered(sender, async () => {
      if (m.body !== null || m.xml === null) this.checkBody(m.body ?? '');
      if (m.xml !== null) this.checkXml(m.xml);
      if (m.clientId !== null && (m.clientId.length === 0 || m.clientId.length > MAX_CLIENT_ID)) throw new ParleyError('bad-request', `the id must be 1..${MAX_CLIENT_ID} characters`);
      return record();
    }, startedAt, (m.body?.length ?? 0) + (m.xml?.length ?? 0));
  }

  /** The route serving `domain` when it is not this server's own (DomainRoutes), else null. */
  private routeOf(domain: string): DomainRoute | null {
    return this.ctx.routes.routeOf(domain);
  }
}

/** A session as the sender of its messages. */
function senderOf(session: Session): Sender {
  return { id: session.id, full: session.full, session };
}

/** A stored message to a routed domain as the stanza the route hands over (RFC 6120 §8.1.2.1: from stamped here). */
function routedOf(r: LogRecord): RoutedStanza {
  return {
    kind: 'message',
    from: r.fromResource ? `${r.from}/${r.fromResource}` : r.from,
    to: r.toResource ? `${r.to}/${r.toResource}` : r.to,
    type: 'chat',
    // RFC 6120 §8.1.3: the sender's id goes through; without one, the server's.
    id: r.clientId ?? r.id,
    body: r.body,
    xml: r.xml,
  };
}
