/**
 * Types shared by the files of the XMPP client front door. This file imports no other file of c2s/, so the
 * handlers (stanzas.ts, iq-handlers.ts, muc.ts, and the modules' iq handlers) depend on the narrow XmppStream
 * below instead of the connection class, and the import graph of c2s/ is a one-way chain with connection.ts at
 * its top (checked by imports.test.ts).
 */
import type { Engine } from '../../../engine/engine.js';
import type { Session, Sink } from '../../../engine/session.js';
import type { Element } from '../xml/element.js';

/** Settings of the XMPP front door (from the `xmpp` configuration section). */
export interface XmppOptions {
  /** STARTTLS must be negotiated before authentication (RFC 6120 §5.3.1). */
  requireTls: boolean;
  /** Offer SASL PLAIN on unencrypted streams too (benchmarks only; never in production). */
  allowPlainWithoutTls: boolean;
  /** Largest stanza after authentication, in bytes (before it: PRE_AUTH_LIMITS). */
  maxStanzaBytes: number;
  /** Time to complete TLS, SASL and binding. */
  negotiationTimeoutMs: number;
  /** A stream silent this long gets a ping (XEP-0199); one silent for twice as long is closed. */
  idleMs: number;
  /** Stanzas per second a stream may send; above it the server stops reading for a while (§13.12). */
  stanzasPerSecond: number;
  /** Close a stream whose unsent output exceeds this (a client that does not read). */
  maxBacklogBytes: number;
  /**
   * XEP-0198: most bytes of stanzas sent and not yet acknowledged (or held for a hibernating session); past it
   * the stream ends and its unacknowledged messages go back to the offline queue.
   */
  maxUnackedBytes: number;
  /** How long a stream-management session waits for resumption after its connection dropped (XEP-0198). */
  resumeTimeoutMs: number;
  /** The domain named in stream errors sent before the client said which domain it wants. */
  defaultDomain: string;
  /** Domains where anyone may create an account (XEP-0077 in-band registration). */
  registration: (domain: string) => boolean;
  /** Software name and version for XEP-0092. */
  version: string;
  /** What the configured modules add (iq handlers, disco features). */
  extensions: XmppExtensions;
}

/** Connection-level counters for metrics. */
export interface XmppObserver {
  opened(): void;
  closed(): void;
}

/** What the encoder needs to know about the receiving session. */
export interface XmppView {
  readonly user: string;
  readonly resource: string;
  readonly full: string;
  /** The domain the stream is for (stamped as `from` on delays). */
  readonly domain: string;
  /** Sent initial presence (RFC 6121 §4.2) and not unavailable since. */
  readonly available: boolean;
  /** Takes messages addressed to the bare address (available, priority ≥ 0). */
  readonly takesBare: boolean;
  /** XEP-0280 carbons enabled. */
  readonly carbons: boolean;
  /** Asked for the roster (RFC 6121 §2.1.6 "interested resource"). */
  readonly rosterRequested: boolean;
  /** Asked for the block list (XEP-0191 §3.3: pushes go to such resources). */
  readonly blocklistRequested: boolean;
  /** The nick this session uses in a MUC room it joined, or undefined (XEP-0045). */
  roomNick(room: string): string | undefined;
}

/**
 * What the stanza handlers need from the stream of their session: the engine, the session, replies, and the
 * per-session state they change (carbons, interest in roster and block-list pushes, rooms joined). It is the
 * session's Sink too, so a handler can tell an XMPP session of the same user from a JSON one.
 */
export interface XmppStream extends XmppView, Sink {
  readonly engine: Engine;
  readonly opts: XmppOptions;
  /** The bound session (null before binding and after the session ended). */
  readonly session: Session | null;
  /** XEP-0198 state: a hibernating session still gets replies (they wait for the resumed stream). */
  readonly sm: { readonly hibernating: boolean };
  /** Whether the connection is gone or going (handlers check before replying after an await). */
  readonly isClosing: boolean;
  /** RFC 6121 §2.1.6: the resource asked for the roster, so it gets roster pushes. */
  rosterRequested: boolean;
  /** XEP-0191 §3.3: the resource asked for the block list, so it gets block-list pushes. */
  blocklistRequested: boolean;
  /** Writes one serialised stanza (counted by stream management). */
  sendStanza(text: string): void;
  /** Serialises and sends a stanza element. */
  sendElement(stanza: Element): void;
  /** An error reply to a stanza from this client (RFC 6120 §8.3). */
  replyError(stanza: Element, e: unknown): void;
  /** Records that this session is in `room` under `nick`; true if it was not in the room before. */
  enterRoom(room: string, nick: string): boolean;
  /** Records that this session left `room`; false if it was not in it. */
  leaveRoom(room: string): boolean;
  /** Leaves every room; returns those it was in. */
  leaveAllRooms(): string[];
}

/** Work a stanza started that finishes later (wrapped, so awaiting the handler does not wait for it). */
export interface Pending {
  done: Promise<unknown>;
}

/** Who an iq is for. */
export interface IqTarget {
  kind: 'self' | 'server' | 'account' | 'rooms' | 'room' | 'remote';
  /** The bare address (or domain) addressed. */
  bare: string;
}

/** What an iq payload handler receives. */
export interface IqContext {
  conn: XmppStream;
  session: Session;
  iq: Element;
  payload: Element;
  target: IqTarget;
}

/** Answers one iq: the result's payload (null: an empty result), or a thrown ParleyError (the stanza error). */
export type IqFn = (c: IqContext) => Promise<Element | null>;

/** A handler for one payload, per iq type, optionally limited to some targets. */
export interface IqHandler {
  get?: IqFn;
  set?: IqFn;
  targets?: IqTarget['kind'][];
}

/** What a module's message handler receives: a message to an account (not a room) with the payload it claims. */
export interface MessageContext {
  session: Session;
  stanza: Element;
  payload: Element;
  /** The bare address the message is for (the sender's own when it had no `to`). */
  to: string;
}

/**
 * Takes a message whose payload a module claims (XmppExtensions.messages), e.g. an XEP-0060 §8.6.2 authorization
 * form sent to one's own publish-subscribe service: true when it consumed the message, false to let it go on as
 * an ordinary message. A thrown ParleyError is the message's error.
 */
export type MessageHandler = (c: MessageContext) => Promise<boolean>;

/** An identity in disco#info (XEP-0030 §3.1): category and type from the XMPP registrar, an optional name. */
export interface DiscoIdentity {
  readonly category: string;
  readonly type: string;
  readonly name?: string;
}

/**
 * An XEP-0128 extended information form in disco#info: a `result` data form (XEP-0004) whose hidden FORM_TYPE
 * names it, with single- or multi-valued fields.
 */
export interface DiscoForm {
  readonly formType: string;
  readonly fields: Readonly<Record<string, string | readonly string[]>>;
}

/** A node on an account's bare address as disco#items lists it (XEP-0030 §4, XEP-0163 §9). */
export interface AccountNode {
  readonly node: string;
  readonly name?: string;
}

/** What disco#info says of one node (XEP-0060 §5.3): identities, features, and extended forms (meta-data). */
export interface NodeInfo {
  readonly identities: readonly DiscoIdentity[];
  readonly features: readonly string[];
  readonly forms: readonly DiscoForm[];
}

/**
 * Publish-subscribe nodes on accounts' bare addresses (a module's PEP service, XEP-0163): disco#items of an
 * account lists those the asker may see (§9), disco#info of one describes it, and the account shows the
 * identity pubsub/pep (§1).
 */
export interface AccountNodes {
  /** The nodes of `owner` that `viewer` may see. */
  items(owner: string, viewer: string): Promise<readonly AccountNode[]>;
  /** One node of `owner` as `viewer` may see it, or null (item-not-found). */
  info(owner: string, viewer: string, node: string): Promise<NodeInfo | null>;
}

/**
 * What modules add to the XMPP front door: iq handlers by `${namespace} ${element}`, and features announced in
 * disco#info of the server and of accounts (XEP-0030), with identities and extended forms (XEP-0128) of the
 * server; the server's entity capabilities (XEP-0115) follow.
 */
export interface XmppExtensions {
  readonly iq: ReadonlyMap<string, IqHandler>;
  /**
   * Message payload handlers by namespace, then element name (a child of a message to an account), so the
   * message path looks a child up without building a key; absent: none.
   */
  readonly messages?: ReadonlyMap<string, ReadonlyMap<string, MessageHandler>>;
  readonly serverFeatures: readonly string[];
  readonly accountFeatures: readonly string[];
  /** Features of every room (XEP-0045 §6.4 disco#info of a room). */
  readonly roomFeatures: readonly string[];
  /** The PEP nodes of accounts (XEP-0163 §9), when a module serves them. */
  readonly accountNodes?: AccountNodes;
  /** Features of presence entities (engine/entities.ts) in their disco#info, after the core's. */
  readonly entityFeatures?: readonly string[];
  /** Identities of the server besides its own `server/im` (e.g. XEP-0363 §2 `store/file`). */
  readonly serverIdentities: readonly DiscoIdentity[];
  /** XEP-0128 forms in the server's disco#info (e.g. XEP-0363 §2 `max-file-size`). */
  readonly serverForms: readonly DiscoForm[];
  /**
   * Changes whenever what the modules announce changed after start (a form's field following a live option):
   * disco#info and the caps hash are computed again. Absent: never changes.
   */
  readonly generation?: number;
}
