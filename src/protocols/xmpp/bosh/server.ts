/**
 * The BOSH front door (XEP-0124 with XEP-0206): the table of sessions by sid and the dispatch of each request
 * body to its session. Session creation (§7.1) checks the attributes, grants `wait` and `hold` within the
 * server's bounds and starts an XmppConnection over a new BoshSession, exactly as the WebSocket door does
 * over a WebSocket. Anything wrong with a request is answered with its §17 condition; a request can only ever
 * reach the session its sid names, and a bad one without a known sid touches no session at all.
 */
import { randomBytes } from 'node:crypto';
import type { Engine } from '../../../engine/engine.js';
import { sourceKey } from '../../../auth/source-key.js';
import { XmppConnection } from '../c2s/connection.js';
import { checkStreamHeader } from '../c2s/features.js';
import type { XmppObserver, XmppOptions } from '../c2s/types.js';
import { BodyError, parseBody, terminateBody, type BoshBody } from './body.js';
import { BoshSession, type Responder } from './session.js';

/** Settings of the BOSH front door (configuration: xmpp.bosh). */
export interface BoshOptions {
  /** Longest `wait` granted, in seconds; a client asking for more gets this (§7.1). */
  maxWaitSeconds: number;
  /** Seconds without a request after which a session is gone (§7.1 `inactivity`). */
  inactivitySeconds: number;
  /** Shortest interval between empty polls of a session holding nothing, in seconds (§7.1 `polling`). */
  pollingSeconds: number;
  /** Largest request body in bytes; the HTTP layer refuses bigger ones before reading them. */
  maxBodyBytes: number;
  /** Sessions one source address may hold before binding a resource (limits.unauthenticatedPerAddress). */
  unauthenticatedPerAddress: number;
  /** Sessions one source address may hold at all (limits.connectionsPerAddress). */
  perAddress: number;
  /** Stream settings, shared with the other XMPP front doors. */
  xmpp: XmppOptions;
}

/** What the HTTP layer knows of a request. */
export interface BoshRequestInfo {
  remoteAddress: string;
  /** The request came over HTTPS. */
  secure: boolean;
}

/** The largest rid (§14: rid must stay below 2^53). */
const MAX_RID = 9007199254740991;

/** The sessions of the BOSH front door. */
export class BoshFrontDoor {
  private readonly sessions = new Map<string, { session: BoshSession; conn: XmppConnection; key: string }>();
  private readonly perKey = new Map<string, number>();
  private readonly xmpp: XmppOptions;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly opts: BoshOptions,
    private readonly observer: XmppObserver,
  ) {
    // As on the WebSocket door: TLS is the HTTP listener's or a proxy's, never STARTTLS, so requireTls cannot
    // apply; PLAIN still waits for TLS the server can see (or allowPlainWithoutTls).
    this.xmpp = { ...opts.xmpp, requireTls: false };
  }

  /** Open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Handles one request body (text as received); the answer goes to `responder`. */
  handle(text: string, info: BoshRequestInfo, responder: Responder): void {
    let body: BoshBody;
    try {
      body = parseBody(text, this.opts.maxBodyBytes);
    } catch (e) {
      responder.send(terminateBody(e instanceof BodyError ? e.condition : 'bad-request'));
      return;
    }
    const sid = body.attrs.sid;
    const ridText = body.attrs.rid ?? '';
    const rid = /^[0-9]{1,16}$/.test(ridText) ? Number(ridText) : NaN;
    if (sid === undefined) {
      this.create(body, rid, info, responder);
      return;
    }
    const entry = this.sessions.get(sid);
    if (entry === undefined) {
      // §17.2 item-not-found: an unknown (or ended) session; nothing else is touched.
      responder.send(terminateBody('item-not-found'));
      return;
    }
    if (!(rid >= 1 && rid <= MAX_RID)) {
      entry.session.terminate('bad-request', responder);
      return;
    }
    entry.session.request(rid, body, responder);
  }

  /** Session creation (§7.1, XEP-0206 §5). */
  private create(body: BoshBody, rid: number, info: BoshRequestInfo, responder: Responder): void {
    const a = body.attrs;
    if (this.closed) {
      responder.send(terminateBody('system-shutdown'));
      return;
    }
    if (!(rid >= 1 && rid <= MAX_RID)) {
      responder.send(terminateBody('bad-request'));
      return;
    }
    if (a.to === undefined || a.to === '') {
      responder.send(terminateBody('improper-addressing'));
      return;
    }
    const verdict = checkStreamHeader({ to: a.to, version: '1.0' }, '', this.engine.ctx.directory, this.xmpp.defaultDomain);
    if (verdict.error) {
      responder.send(terminateBody('host-unknown'));
      return;
    }
    // XEP-0206 §5: an XMPP client says xmpp:version; without it this is plain BOSH to no XMPP server.
    if (a['xmpp:version'] === undefined || !/^1\.\d+$/.test(a['xmpp:version'])) {
      responder.send(terminateBody('bad-request'));
      return;
    }
    const wait = Number(a.wait ?? this.opts.maxWaitSeconds);
    const hold = Number(a.hold ?? 1);
    if (!Number.isInteger(wait) || wait < 0 || !Number.isInteger(hold) || hold < 0) {
      responder.send(terminateBody('bad-request'));
      return;
    }
    const key = sourceKey(info.remoteAddress);
    if (!this.admit(key)) {
      responder.send(terminateBody('policy-violation'));
      return;
    }
    const session = new BoshSession({
      sid: randomBytes(24).toString('base64url'),
      rid,
      waitSeconds: Math.min(wait, this.opts.maxWaitSeconds),
      // Modern servers hold at most one request: two held requests only add a second idle HTTP connection.
      hold: Math.min(hold, 1),
      inactivitySeconds: this.opts.inactivitySeconds,
      pollingSeconds: this.opts.pollingSeconds,
      remoteAddress: info.remoteAddress,
      secure: info.secure,
    });
    const conn = new XmppConnection(session, this.engine, this.xmpp, {
      opened: () => this.observer.opened(),
      closed: () => this.observer.closed(),
    });
    this.sessions.set(session.sid, { session, conn, key });
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    session.onGone = () => {
      this.sessions.delete(session.sid);
      const n = (this.perKey.get(key) ?? 1) - 1;
      if (n <= 0) this.perKey.delete(key);
      else this.perKey.set(key, n);
    };
    session.open(body, verdict.domain, versionFor(a.ver), responder);
  }

  /** Per-address caps: sessions in all, and sessions that have not bound a resource yet. */
  private admit(key: string): boolean {
    if ((this.perKey.get(key) ?? 0) >= this.opts.perAddress) return false;
    if ((this.perKey.get(key) ?? 0) < this.opts.unauthenticatedPerAddress) return true;
    let waiting = 0;
    for (const e of this.sessions.values()) if (e.key === key && e.conn.session === null) waiting++;
    return waiting < this.opts.unauthenticatedPerAddress;
  }

  /** Ends every session with system-shutdown; later requests get it too. */
  close(): void {
    this.closed = true;
    for (const e of [...this.sessions.values()]) e.conn.close('shutdown', 'the server is shutting down');
  }
}

/** The protocol version of this implementation (XEP-0124 §7.1: the highest one not above the client's). */
const VERSION: readonly [number, number] = [1, 11];

/** The `ver` of a creation response: ours, or the client's when it is lower. */
export function versionFor(client: string | undefined): string {
  const m = client === undefined ? null : /^(\d{1,4})\.(\d{1,4})$/.exec(client);
  if (m === null) return `${VERSION[0]}.${VERSION[1]}`;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const lower = major < VERSION[0] || (major === VERSION[0] && minor < VERSION[1]);
  return lower ? `${major}.${minor}` : `${VERSION[0]}.${VERSION[1]}`;
}
