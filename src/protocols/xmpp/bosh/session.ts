/**
 * One BOSH session (XEP-0124) carrying one XMPP client stream (XEP-0206): the Transport of an XmppConnection,
 * in its framed mode, like a WebSocket. Requests bring payload stanzas in; held requests take what the stream
 * writes out. This file knows nothing of HTTP: the front door (server.ts) hands it parsed bodies and a
 * Responder per request, which makes the rid window and the hold/wait timing testable with fake responders.
 *
 * - §14: requests are processed in rid order, at most `requests` (= hold + 1) outstanding; a rid seen again is
 *   answered with the response it got before; a rid outside the window ends the session with item-not-found.
 * - §7/§8: at most `hold` requests are held; a held request is answered with whatever the stream wrote, or
 *   empty when `wait` runs out. With no request held for `inactivity`, the session is gone.
 * - §11: more requests at once than `requests`, or empty polls more often than `polling` while nothing is
 *   held, end the session with policy-violation.
 * - XEP-0206 §5-§7: the stream's <open/> is the session's (stream features go in the response), <close/> and
 *   stream errors become a terminate body (remote-stream-error with the <stream:error/> inside).
 */
import type { TLSSocket } from 'node:tls';
import { WriteTracker, type Transport } from '../c2s/transport.js';
import { byteLength, responseBody, terminateBody, type BoshBody, type BoshCondition } from './body.js';

/** Where a request's response goes; send() is called once, `written` when the response left. */
export interface Responder {
  send(xml: string, written?: () => void): void;
}

/** The timing and size settings of one session, fixed at creation (§7). */
export interface BoshSessionParams {
  sid: string;
  /** The first request's rid (the creation request). */
  rid: number;
  /** Seconds a request may be held (the `wait` granted). */
  waitSeconds: number;
  /** Requests the server may hold at once (0 or 1). */
  hold: number;
  /** Seconds without any request after which the session is gone. */
  inactivitySeconds: number;
  /** Shortest interval between empty polls, in seconds, while nothing is held. */
  pollingSeconds: number;
  /** The peer's address (for the login throttle and logs). */
  remoteAddress: string;
  /** Whether the HTTP listener is HTTPS. */
  secure: boolean;
}

const FRAMING_NS = 'urn:ietf:params:xml:ns:xmpp-framing';
/**
 * Answered responses kept for retransmission beyond the window (§14.3). Few: a response may carry half a MiB of
 * replayed messages.
 */
const CACHE = 1;

interface Held {
  rid: number;
  responder: Responder;
  timer: NodeJS.Timeout;
}

/** A BOSH session; the Transport of the XMPP stream it carries. */
export class BoshSession implements Transport {
  readonly framed = true;
  readonly protocol = 'xmpp-bosh';
  readonly sid: string;
  readonly remoteAddress: string;
  readonly requests: number;
  /** Called once when the session is over (terminated or inactive), to drop it from the table. */
  onGone: (() => void) | null = null;
  private readonly params: BoshSessionParams;
  /** The last rid processed: every rid up to it was processed, in order. */
  private lastRid: number;
  /** Requests that arrived ahead of a missing rid (§14.1), waiting for it. */
  private readonly early = new Map<number, { body: BoshBody; responder: Responder }>();
  private held: Held[] = [];
  /** Answers already sent, by rid, for a retransmitted request (§14.3). */
  private readonly answered = new Map<number, string>();
  private out: string[] = [];
  private outBytes = 0;
  /** A <stream:error/> the stream wrote: the terminate response carries it (XEP-0206 §7). */
  private streamError: string | null = null;
  private condition: BoshCondition | null = null;
  private ending = false;
  private gone = false;
  private flushDue = false;
  private paused = false;
  private inbox: string[] = [];
  private lastEmptyAt = 0;
  /** The creation response's attributes, until it is sent. */
  private first: Record<string, string | number> | null = null;
  private inactivity: NodeJS.Timeout | null = null;
  private readonly writes = new WriteTracker();
  private dataFn: ((chunk: Buffer | string) => void) | null = null;
  private closeFn: (() => void) | null = null;

  constructor(params: BoshSessionParams) {
    this.params = params;
    this.sid = params.sid;
    this.remoteAddress = params.remoteAddress;
    this.requests = params.hold + 1;
    this.lastRid = params.rid - 1;
  }

  /** True once the session is over: every further request gets item-not-found. */
  get isGone(): boolean {
    return this.gone;
  }

  /**
   * The session creation request (§7.1): opens the XMPP stream for `domain`; the creation response (held
   * until the stream wrote its features) carries the session attributes.
   */
  open(body: BoshBody, domain: string, ver: string, responder: Responder): void {
    const p = this.params;
    const sessionAttrs = {
      sid: p.sid,
      wait: p.waitSeconds,
      requests: this.requests,
      hold: p.hold,
      inactivity: p.inactivitySeconds,
      polling: p.pollingSeconds,
      ver,
      from: domain,
      'xmlns:xmpp': 'urn:xmpp:xbosh',
      'xmpp:version': '1.0',
      // XEP-0206 §5: this server expects xmpp:restart after SASL.
      'xmpp:restartlogic': 'true',
      'xmlns:stream': 'http://etherx.jabber.org/streams',
    };
    this.lastRid = p.rid;
    this.first = sessionAttrs;
    this.feed([`<open xmlns="${FRAMING_NS}" to="${escapeXml(domain)}" version="1.0"/>`, ...body.payload]);
    this.hold(p.rid, responder);
  }

  /** A request of this session (sid already matched): the rid window, then processing in order. */
  request(rid: number, body: BoshBody, responder: Responder): void {
    if (this.gone) {
      responder.send(terminateBody('item-not-found'));
      return;
    }
    if (rid <= this.lastRid) {
      const before = this.answered.get(rid);
      if (before !== undefined) {
        responder.send(before);
        return;
      }
      const h = this.held.find((x) => x.rid === rid);
      if (h) {
        // §14.3: the client gave up on a held request and sent it again; the new one is answered instead.
        h.responder.send(responseBody({}));
        h.responder = responder;
        return;
      }
      this.terminate('item-not-found', responder);
      return;
    }
    if (rid > this.lastRid + this.requests) {
      this.terminate('item-not-found', responder);
      return;
    }
    const waiting = this.early.get(rid);
    if (waiting) {
      waiting.responder.send(responseBody({}));
      waiting.responder = responder;
      return;
    }
    // §11: no more than `requests` at once (held, waiting for an earlier rid, and this one).
    if (this.held.length + this.early.size + 1 > this.requests) {
      this.terminate('policy-violation', responder);
      return;
    }
    this.early.set(rid, { body, responder });
    for (let next = this.early.get(this.lastRid + 1); next; next = this.early.get(this.lastRid + 1)) {
      this.early.delete(this.lastRid + 1);
      this.process(this.lastRid + 1, next.body, next.responder);
      if (this.gone) return;
    }
  }

  private process(rid: number, body: BoshBody, responder: Responder): void {
    this.lastRid = rid;
    const terminate = body.attrs.type === 'terminate';
    const restart = body.attrs['xmpp:restart'] === 'true';
    if (!terminate && !restart && body.payload.length === 0 && this.held.length === 0) {
      // §11: a client that polls (nothing held) must leave `polling` seconds between empty requests.
      const now = Date.now();
      if (this.params.hold === 0 && now - this.lastEmptyAt < this.params.pollingSeconds * 1000) {
        this.terminate('policy-violation', responder);
        return;
      }
      this.lastEmptyAt = now;
    }
    const input = [...body.payload];
    // XEP-0206 §5: a restart after SASL success opens the stream anew (the stream checks `to` again).
    if (restart) input.unshift(`<open xmlns="${FRAMING_NS}" to="${escapeXml(body.attrs.to ?? '')}" version="1.0"/>`);
    // §13: the client says goodbye; its last stanzas (an unavailable presence) are processed first.
    if (terminate) input.push(`<close xmlns="${FRAMING_NS}"/>`);
    // An empty request still shows the client is there: a whitespace keepalive for the stream's idle check.
    if (input.length === 0) input.push(' ');
    this.hold(rid, responder);
    this.feed(input);
  }

  /** Holds a request until output or `wait`; past `hold`, the oldest is answered now (§8). */
  private hold(rid: number, responder: Responder): void {
    if (this.inactivity !== null) {
      clearTimeout(this.inactivity);
      this.inactivity = null;
    }
    const timer = setTimeout(() => this.answer(this.held.findIndex((h) => h.rid === rid)), this.params.waitSeconds * 1000);
    this.held.push({ rid, responder, timer });
    this.scheduleFlush();
  }

  private feed(input: string[]): void {
    for (const text of input) {
      if (this.gone || this.ending) return;
      if (this.paused) this.inbox.push(text);
      else this.dataFn?.(text);
    }
  }

  private scheduleFlush(): void {
    if (this.flushDue) return;
    this.flushDue = true;
    setImmediate(() => this.flush());
  }

  /** Answers held requests: the oldest takes all output; beyond `hold` they are answered empty. */
  private flush(): void {
    this.flushDue = false;
    if (this.gone) return;
    if (this.ending && this.held.length > 0) {
      this.finish();
      return;
    }
    // The creation response waits for the stream features (XEP-0206 §5), or for a stream error.
    if (this.first !== null && this.out.length === 0) return;
    if (this.out.length > 0 && this.held.length > 0) this.answer(0);
    while (this.held.length > this.params.hold) this.answer(0);
  }

  /** Answers held request `i` with what is queued (possibly nothing). */
  private answer(i: number): void {
    if (i < 0 || i >= this.held.length || this.gone) return;
    const [h] = this.held.splice(i, 1);
    clearTimeout(h!.timer);
    const attrs = this.first ?? {};
    this.first = null;
    const xml = responseBody(attrs, this.out);
    this.out = [];
    this.outBytes = 0;
    this.remember(h!.rid, xml);
    const n = this.writes.wrote();
    h!.responder.send(xml, () => this.writes.confirm(n));
    this.writes.drain();
    if (this.held.length === 0) this.watchInactivity();
  }

  private remember(rid: number, xml: string): void {
    this.answered.set(rid, xml);
    for (const old of this.answered.keys()) {
      if (old > this.lastRid - this.requests - CACHE) break;
      this.answered.delete(old);
    }
  }

  private watchInactivity(): void {
    if (this.inactivity !== null || this.gone) return;
    this.inactivity = setTimeout(() => this.finish(), this.params.inactivitySeconds * 1000);
    // A forgotten session must not keep the process alive at shutdown.
    this.inactivity.unref();
  }

  /** Ends the session with `condition` (§17.2), answering `responder` and every held request. */
  terminate(condition: BoshCondition, responder?: Responder): void {
    if (this.gone) {
      responder?.send(terminateBody('item-not-found'));
      return;
    }
    this.condition = condition;
    this.finish(responder);
  }

  /** The session is over: the oldest held request gets the output and the terminate, the others terminate too. */
  private finish(extra?: Responder): void {
    if (this.gone) return;
    this.gone = true;
    if (this.inactivity !== null) clearTimeout(this.inactivity);
    const condition = this.condition ?? (this.streamError !== null ? 'remote-stream-error' : null);
    const payload = this.streamError !== null ? [...this.out, this.streamError] : this.out;
    const attrs = this.first;
    this.first = null;
    const last = attrs !== null && condition === null ? responseBody({ ...attrs, type: 'terminate' }, payload) : terminateBody(condition, payload);
    const responders = [...this.held.map((h) => h.responder), ...(extra ? [extra] : [])];
    for (const h of this.held) clearTimeout(h.timer);
    for (const w of this.early.values()) responders.push(w.responder);
    this.held = [];
    this.early.clear();
    this.out = [];
    this.outBytes = 0;
    responders.forEach((r, i) => r.send(i === 0 ? last : terminateBody(condition)));
    this.writes.close();
    this.closeFn?.();
    this.onGone?.();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Transport
  // ------------------------------------------------------------------------------------------------------------

  secure(): boolean {
    return this.params.secure;
  }
  /** No channel binding: each request may come over another TLS connection (or through a proxy). */
  tlsSocket(): TLSSocket | null {
    return null;
  }
  canStartTls(): boolean {
    return false;
  }
  startTls(): Promise<void> {
    return Promise.reject(new Error('no STARTTLS over BOSH: TLS is the HTTP listener\'s (https)'));
  }

  /** The stream's output: its <open/> is the session's, <close/> and stream errors end the session. */
  write(text: string): void {
    if (this.gone) return;
    if (text.startsWith('<open ')) return;
    if (text.startsWith('<close ')) return;
    if (text.startsWith('<stream:error')) {
      this.streamError = text;
      return;
    }
    this.out.push(text);
    this.outBytes += byteLength(text);
    this.writes.wrote();
    this.scheduleFlush();
  }

  backlog(): number {
    return this.outBytes;
  }
  onceDrained(fn: () => void): void {
    if (this.gone) queueMicrotask(fn);
    else this.writes.onceDrained(fn);
  }
  afterWrite(fn: () => void): void {
    if (!this.gone) this.writes.after(fn);
  }

  /** The stream's rate limit: payloads of requests are kept until it reads again. */
  pause(paused: boolean): void {
    this.paused = paused;
    if (paused || this.inbox.length === 0) return;
    queueMicrotask(() => {
      const input = this.inbox;
      this.inbox = [];
      this.feed(input);
    });
  }

  /** The stream ends: what it wrote and the terminate go out with the next (or a held) request. */
  end(): void {
    if (this.gone || this.ending) return;
    this.ending = true;
    if (this.held.length > 0) this.scheduleFlush();
    else this.watchInactivity();
  }

  destroy(): void {
    this.terminate('remote-connection-failed');
  }

  onData(fn: (chunk: Buffer | string) => void): void {
    this.dataFn = fn;
  }
  onClose(fn: () => void): void {
    this.closeFn = fn;
  }
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}
