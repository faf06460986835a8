/**
 * What both directions of a server-to-server stream share (RFC 6120 §4, content namespace `jabber:server`):
 * the socket (TCP, then TLS after STARTTLS, §5.4.3.3), the hardened stream parser with the pre-authentication
 * limits until the stream is authenticated (§13.12), output gathered per turn into one write, stream errors
 * (§4.9) and the close (§4.4). Incoming and outgoing streams (incoming.ts, outgoing.ts) add their negotiation.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, type SecureContext } from 'node:tls';
import type { Logger } from '../../engine/context.js';
import { tlsProfile } from '../../protocols/tls-profile.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { escapeAttr, serialize, STREAMS_NS } from '../../protocols/xmpp/xml/serialize.js';
import { StreamParser, type StreamErrorCondition } from '../../protocols/xmpp/xml/stream-parser.js';

/** RFC 6120 §4.8.2: the content namespace of server-to-server streams. */
export const SERVER_NS = 'jabber:server';
/** XEP-0220 §2: the dialback namespace (declared as `db` on every stream header). */
export const DIALBACK_NS = 'jabber:server:dialback';
/** XEP-0220 §2.1: the stream feature that announces dialback (with error support, XEP-0220 §2.4). */
export const DIALBACK_FEATURE_NS = 'urn:xmpp:features:dialback';
export const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const STREAM_ERRORS_NS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const STANZA_ERRORS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** A closing stream gets this long to flush its error before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** The stream header of a server-to-server stream (RFC 6120 §4.7), dialback's prefix declared (XEP-0220 §2.1.1). */
export function s2sHeader(attrs: { from?: string; to?: string; id?: string }): string {
  let a = '';
  for (const k of ['from', 'to', 'id'] as const) if (attrs[k] !== undefined) a += ` ${k}="${escapeAttr(attrs[k])}"`;
  return `<?xml version='1.0'?><stream:stream xmlns="${SERVER_NS}" xmlns:stream="${STREAMS_NS}" xmlns:db="${DIALBACK_NS}"${a} version="1.0">`;
}

/** A dialback element `db:<name>` (XEP-0220 §2.1.1, §2.3). */
export function dbElement(name: 'result' | 'verify', attrs: Record<string, string | undefined>, text = '', child = ''): string {
  let a = '';
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a += ` ${k}="${escapeAttr(v)}"`;
  return `<db:${name}${a}>${text === '' ? '' : escapeAttr(text)}${child}</db:${name}>`;
}

/** What a stream needs from its owner. */
export interface StreamBase {
  readonly log: Logger;
  /** Parser limits once authenticated (maxStanzaBytes). */
  readonly maxStanzaBytes: number;
}

/** One server-to-server stream over a socket. */
export abstract class S2sStream {
  protected socket: Socket;
  protected readonly parser: StreamParser;
  /** The TLS socket once encrypted. */
  protected tls: TLSSocket | null = null;
  protected closedState = false;
  /** What waits for this turn's write; `stanza` marks a stanza's text (given back if never written). */
  private out: Array<{ text: string; stanza: object | null }> = [];
  private flushing: NodeJS.Immediate | null = null;
  private tornDown = false;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);
  /** A short id for logs and the links listing. */
  readonly tag = randomBytes(6).toString('hex');

  constructor(socket: Socket, protected readonly base: StreamBase) {
    this.socket = socket;
    this.parser = new StreamParser({
      streamStart: (attrs) => this.onHeader(attrs),
      stanza: (e) => this.onElement(e),
      // RFC 6120 §4.4: after the peer's closing tag nothing more is sent on this stream, so close() keeps back
      // the stanzas not yet written and the footer alone answers.
      streamEnd: () => this.close(),
      error: (condition, text) => this.fail(condition, text),
    });
    this.attach(socket);
    if (socket instanceof TLSSocket) this.tls = socket;
  }

  /** The peer's stream header (each restart's too). */
  protected abstract onHeader(attrs: Record<string, string>): void;
  /** One depth-1 element. */
  protected abstract onElement(e: Element): void;
  /** The socket is gone (after close or fail, or the peer's). */
  protected abstract onTeardown(): void;

  /** Whether the stream is encrypted. */
  get encrypted(): boolean {
    return this.tls !== null;
  }

  /** The TLS version and cipher, for the audit trail. */
  tlsInfo(): { version: string | null; cipher: string | null } {
    if (this.tls === null) return { version: null, cipher: null };
    return { version: this.tls.getProtocol() ?? null, cipher: this.tls.getCipher()?.name ?? null };
  }

  /** The peer's address. */
  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('error', () => s.destroy());
    s.on('close', () => this.teardown());
  }

  /** Reads a chunk; subclasses wrap it to charge rate limits. */
  protected read(chunk: Buffer): void {
    this.parser.write(chunk);
  }

  /** Pauses or resumes reading (rate limit). */
  protected pauseReading(paused: boolean): void {
    if (paused) this.socket.pause();
    else if (!this.closedState) this.socket.resume();
  }

  /**
   * Replaces the TCP socket by TLS over it (RFC 6120 §5.4.3.3) and restarts the stream parser (§5.4.3.3: both
   * sides consider the old stream gone). `server`: the TLS server side (incoming), else the client side.
   */
  protected upgrade(role: { server: SecureContext; sni: (name: string) => SecureContext | null } | { client: SecureContext | null; servername: string; ca: string | undefined }): Promise<TLSSocket> {
    const raw = this.socket;
    this.flushNow();
    raw.off('data', this.onData);
    raw.removeAllListeners('close');
    let t: TLSSocket;
    if ('server' in role) {
      t = new TLSSocket(raw, {
        isServer: true,
        secureContext: role.server,
        SNICallback: (name, cb) => cb(null, role.sni(name) ?? role.server),
        // Ask for the peer's certificate, validate it ourselves after the handshake (SASL EXTERNAL, dialback).
        requestCert: true,
        rejectUnauthorized: false,
      });
    } else {
      t = tlsConnect({ socket: raw, servername: role.servername, secureContext: role.client ?? undefined, ca: role.client === null ? role.ca : undefined, rejectUnauthorized: false, ...tlsProfile(), checkServerIdentity: () => undefined });
    }
    this.socket = t;
    this.tls = t;
    this.parser.reset();
    this.attach(t);
    return new Promise((resolve, reject) => {
      const ok = (): void => {
        t.off('error', bad);
        resolve(t);
      };
      const bad = (e: Error): void => reject(e);
      t.once(role && 'server' in role ? 'secure' : 'secureConnect', ok);
      t.once('error', bad);
    });
  }

  /**
   * Queues text; one write per turn. `stanza`: the text is a stanza handed in by the owner, which gets it back
   * from `takeUnsent` if the stream ends before it is written. Returns false when the stream is closed or
   * closing: nothing is queued then, and the caller still holds the stanza.
   */
  send(text: string, stanza: object | null = null): boolean {
    if (this.closedState || (stanza !== null && !this.writable)) return false;
    this.out.push({ text, stanza });
    this.flushing ??= setImmediate(() => this.flushNow());
    return true;
  }

  /**
   * Whether text handed to `send` can still be written: the stream is not closed, the peer has not closed its
   * side (RFC 6120 §4.4: nothing more is sent on a stream after the peer's closing tag) and the socket is alive.
   */
  get writable(): boolean {
    return !this.closedState && !this.socket.destroyed && this.socket.writable;
  }

  /** The stanzas handed to `send` and never written to the socket, in order; they leave the stream. */
  protected takeUnsent(): object[] {
    const stanzas: object[] = [];
    const rest: Array<{ text: string; stanza: object | null }> = [];
    for (const o of this.out) {
      if (o.stanza !== null) stanzas.push(o.stanza);
      else rest.push(o);
    }
    this.out = rest;
    return stanzas;
  }

  /** Sends an element in the stream's namespace. */
  sendElement(e: Element): void {
    this.send(serialize(e, SERVER_NS));
  }

  protected flushNow(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    // A destroyed socket writes nothing: what waits stays in `out`, where `takeUnsent` finds its stanzas.
    if (this.out.length === 0 || this.socket.destroyed) return;
    const text = this.out.map((o) => o.text).join('');
    this.out = [];
    this.socket.write(text);
  }

  /** Stanzas kept back when the stream ended (close, stream error, lost socket), for `onTeardown`. */
  protected unsentOnClose: object[] = [];

  /** Whether the header was sent (a stream error needs one first, RFC 6120 §4.9.1.1). */
  protected abstract headerSent(): boolean;
  /** Sends a header for a stream error when none was sent. */
  protected abstract sendErrorHeader(): void;

  /** Ends the stream with a stream error (RFC 6120 §4.9.1.1) and closes it. */
  fail(condition: StreamErrorCondition, text: string): void {
    if (this.closedState) return;
    // Stanzas waiting behind a stream error would never be read (RFC 6120 §4.9.1.1: the stream is then closed).
    this.unsentOnClose.push(...this.takeUnsent());
    if (!this.headerSent()) this.sendErrorHeader();
    const err = el('error', { xmlns: STREAMS_NS }, el(condition, { xmlns: STREAM_ERRORS_NS }), el('text', { xmlns: STREAM_ERRORS_NS, 'xml:lang': 'en' }, text));
    this.send(serialize(err, SERVER_NS).replace(/^<error xmlns="[^"]*"/, '<stream:error').replace(/<\/error>$/, '</stream:error>'));
    if (condition !== 'system-shutdown' && condition !== 'connection-timeout') this.base.log.info({ stream: this.tag, condition, text }, 's2s stream ended with an error');
    this.failed(condition, text);
    this.close();
  }

  /** Told when the stream fails with an error (before close). */
  protected failed(_condition: StreamErrorCondition, _text: string): void {}

  /** Sends the footer (RFC 6120 §4.4) and closes. */
  close(): void {
    if (this.closedState) return;
    // A closing stream writes no more stanzas (RFC 6120 §4.4): those not yet written go back to the owner.
    this.unsentOnClose.push(...this.takeUnsent());
    this.send('</stream:stream>');
    this.flushNow();
    this.closedState = true;
    this.socket.end();
    const s = this.socket;
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
    this.teardown();
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closedState = true;
    // What the socket never took (it closed before the turn's write) is given back too.
    this.unsentOnClose.push(...this.takeUnsent());
    this.onTeardown();
  }
}
