/**
 * An outgoing server-to-server stream (RFC 6120: Parley is the initiating entity) for one domain pair, or a
 * short-lived one that only asks the authoritative server to verify a dialback key (XEP-0220 §2.1.3, §2.3):
 *
 * 1. TCP to the resolved address (resolver.ts), stream header from the local domain to the remote one; or
 *    direct TLS first (XEP-0368).
 * 2. STARTTLS is mandatory (RFC 6120 §5.3.1): a peer that does not offer it is never sent a stanza.
 * 3. The peer's certificate is checked against the trust anchors and the remote domain (RFC 6125); where it does
 *    not validate, the stream goes on only if dialback with unvalidated certificates is allowed.
 * 4. SASL EXTERNAL when offered (XEP-0178 §3: authzid = the local domain), the stream restarted on success; on a
 *    SASL failure, or when EXTERNAL is not offered, dialback: `<db:result>` with the key (XEP-0220 §2.1.2)
 *    until the peer answers valid (§2.1.4).
 */
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Element } from '../../protocols/xmpp/xml/element.js';
import { tlsProfile } from '../../protocols/tls-profile.js';
import type { StreamErrorCondition } from '../../protocols/xmpp/xml/stream-parser.js';
import { STREAMS_NS } from '../../protocols/xmpp/xml/serialize.js';
import { dialbackKey } from './dialback.js';
import type { AuthMethod } from './incoming.js';
import type { Queued } from './pool.js';
import type { Target } from './resolver.js';
import { dbElement, DIALBACK_FEATURE_NS, DIALBACK_NS, S2sStream, s2sHeader, SASL_NS, STREAM_ERRORS_NS, TLS_NS, type StreamBase } from './stream.js';
import { peerIdentity, type FederationTls, type PeerIdentity } from './tls.js';

/** What an outgoing stream needs. */
export interface OutgoingDeps extends StreamBase {
  readonly tls: FederationTls;
  readonly dialback: { enabled: boolean; secret: string; allowUntrusted: boolean };
  readonly negotiationMs: number;
  readonly connectMs: number;
}

/** How the stream came to be authenticated. */
export interface Established {
  method: AuthMethod;
  peer: PeerIdentity | null;
}

/** What the stream is for. */
export type Purpose = { kind: 'stanzas' } | { kind: 'verify'; id: string; key: string };

/** One outgoing stream. */
export class OutgoingStream extends S2sStream {
  private streamId = '';
  private sentHeader = false;
  private triedExternal = false;
  private authenticated: AuthMethod | null = null;
  private peer: PeerIdentity | null = null;
  private timer: NodeJS.Timeout;
  private settle: { ok: (v: Established | boolean) => void; bad: (e: Error) => void } | null = null;
  /** Resolves when the stream can carry stanzas (purpose stanzas), or with the verdict (purpose verify). */
  readonly done: Promise<Established | boolean>;
  /** Stanzas sent, for the links listing. */
  stanzasOut = 0;
  lastActive = Date.now();
  readonly since = Date.now();
  /**
   * Told when the stream closes, with the stanzas handed to `sendStanza` that were never written to the socket
   * (the peer closed first, a stream error, the socket lost before the turn's write), in order.
   */
  onClose: (unsent: Queued[]) => void = () => undefined;

  constructor(
    socket: Socket,
    private readonly deps: OutgoingDeps,
    readonly local: string,
    readonly remote: string,
    private readonly purpose: Purpose,
  ) {
    super(socket, deps);
    this.done = new Promise((ok, bad) => {
      this.settle = { ok, bad };
    });
    this.timer = setTimeout(() => this.fail('connection-timeout', 'the stream was not set up in time'), deps.negotiationMs);
    this.timer.unref();
  }

  /** The authentication method once authenticated. */
  get method(): AuthMethod | null {
    return this.authenticated;
  }

  /** Opens the stream (the socket is connected, or its TLS handshake done for direct TLS). */
  start(): void {
    if (this.tls !== null) this.checkPeer();
    this.header();
  }

  private header(): void {
    this.sentHeader = true;
    this.send(s2sHeader({ from: this.local, to: this.remote }));
  }

  protected headerSent(): boolean {
    return this.sentHeader;
  }

  protected sendErrorHeader(): void {
    this.header();
  }

  protected onHeader(attrs: Record<string, string>): void {
    this.streamId = attrs.id ?? '';
  }

  protected onElement(e: Element): void {
    if (e.name === 'features' && e.xmlns === STREAMS_NS) return this.features(e);
    if (e.name === 'error' && e.xmlns === STREAMS_NS) {
      const cond = e.children.find((c): c is Element => typeof c !== 'string' && c.xmlns === STREAM_ERRORS_NS && c.name !== 'text');
      const text = e.getChild('text', STREAM_ERRORS_NS)?.text();
      this.reject(`${this.remote} ended the stream: ${cond?.name ?? 'error'}${text ? ` (${text})` : ''}`);
      return this.close();
    }
    if (e.name === 'proceed' && e.xmlns === TLS_NS) return this.startTls();
    if (e.name === 'success' && e.xmlns === SASL_NS) {
      this.authenticated = 'sasl-external';
      // RFC 6120 §6.4.6: restart; the features after it say the stream is ready.
      this.parser.reset();
      return this.header();
    }
    if (e.name === 'failure' && e.xmlns === SASL_NS) {
      if (this.deps.dialback.enabled) return this.dialback();
      this.reject(`${this.remote} refused SASL EXTERNAL and dialback is off`);
      return this.close();
    }
    if (e.name === 'result' && e.xmlns === DIALBACK_NS) return this.dbResult(e);
    if (e.name === 'verify' && e.xmlns === DIALBACK_NS && this.purpose.kind === 'verify') {
      const valid = e.attr('type') === 'valid' && e.attr('id') === this.purpose.id;
      this.resolve(valid);
      return this.close();
    }
    // Stanzas are not expected on an outgoing stream (no XEP-0288 bidirectionality): ignored.
  }

  private features(e: Element): void {
    if (this.tls === null) {
      if (e.getChild('starttls', TLS_NS) === undefined) {
        this.reject(`${this.remote} does not offer STARTTLS; Parley never federates unencrypted (RFC 6120 §5.3.1)`);
        return this.fail('policy-violation', 'STARTTLS is required');
      }
      this.send(`<starttls xmlns="${TLS_NS}"/>`);
      return;
    }
    if (this.authenticated !== null) return this.ready();
    if (this.purpose.kind === 'verify') {
      this.send(dbElement('verify', { from: this.local, to: this.remote, id: this.purpose.id }, this.purpose.key));
      return;
    }
    const mechs = e.getChild('mechanisms', SASL_NS);
    const external = mechs?.getChildren('mechanism', SASL_NS).some((m) => m.text().trim() === 'EXTERNAL') ?? false;
    if (external && !this.triedExternal) {
      this.triedExternal = true;
      this.send(`<auth xmlns="${SASL_NS}" mechanism="EXTERNAL">${Buffer.from(this.local, 'utf8').toString('base64')}</auth>`);
      return;
    }
    if (this.deps.dialback.enabled && (e.getChild('dialback', DIALBACK_FEATURE_NS) !== undefined || mechs === undefined)) return this.dialback();
    this.reject(`${this.remote} offers no authentication Parley can use (EXTERNAL${this.deps.dialback.enabled ? ' or dialback' : ''})`);
    this.close();
  }

  private dialback(): void {
    this.send(dbElement('result', { from: this.local, to: this.remote }, dialbackKey(this.deps.dialback.secret, this.remote, this.local, this.streamId)));
  }

  private dbResult(e: Element): void {
    const type = e.attr('type');
    if (type === 'valid') {
      this.authenticated = this.peer?.trusted === true && this.peer.names ? 'dialback-certificate' : 'dialback';
      return this.ready();
    }
    const cond = e.getChild('error')?.children.find((c): c is Element => typeof c !== 'string' && c.name !== 'text');
    this.reject(`${this.remote} refused dialback for ${this.local}: ${type === 'invalid' ? 'invalid key' : (cond?.name ?? type ?? 'error')}`, cond?.name === 'policy-violation');
    this.close();
  }

  private startTls(): void {
    this.upgrade({ client: this.deps.tls.contextFor(this.local), servername: this.remote, ca: this.deps.tls.ca })
      .then(() => {
        if (!this.checkPeer()) return;
        this.header();
      })
      .catch((err: unknown) => {
        this.reject(`TLS with ${this.remote} failed: ${err instanceof Error ? err.message : 'error'}`);
        this.socket.destroy();
      });
  }

  /** RFC 6120 §13.7.2: the receiving server's certificate; unvalidated ones only where dialback allows them. */
  private checkPeer(): boolean {
    this.peer = peerIdentity(this.tls as TLSSocket, this.remote);
    if ((!this.peer.trusted || !this.peer.names) && !this.deps.dialback.allowUntrusted) {
      this.reject(`${this.remote}'s certificate does not prove it: ${this.peer.problem ?? ''}`);
      this.close();
      return false;
    }
    return true;
  }

  private ready(): void {
    clearTimeout(this.timer);
    this.parser.setLimits({ maxStanzaBytes: this.deps.maxStanzaBytes });
    this.resolve({ method: this.authenticated!, peer: this.peer });
  }

  /**
   * Sends a stanza (the stream is ready). False when the stream can no longer take it (closed, the peer's
   * closing tag read, the socket ending): the caller keeps it for another stream.
   */
  sendStanza(item: Queued): boolean {
    if (!this.send(item.text, item)) return false;
    this.stanzasOut++;
    this.lastActive = Date.now();
    return true;
  }

  private resolve(v: Established | boolean): void {
    const s = this.settle;
    this.settle = null;
    s?.ok(v);
  }

  private reject(reason: string, policy = false): void {
    const s = this.settle;
    this.settle = null;
    s?.bad(new OutgoingFailure(reason, policy));
  }

  protected override failed(_c: StreamErrorCondition, text: string): void {
    this.reject(text);
  }

  protected onTeardown(): void {
    clearTimeout(this.timer);
    this.reject(`the connection to ${this.remote} closed`);
    const unsent = this.unsentOnClose as Queued[];
    this.unsentOnClose = [];
    this.onClose(unsent);
  }
}

/** Why an outgoing stream could not be set up; `policy` when the peer's policy refused. */
export class OutgoingFailure extends Error {
  constructor(
    message: string,
    readonly policy: boolean,
  ) {
    super(message);
  }
}

/** Connects to one target and starts a stream over it (direct TLS: after the handshake, XEP-0368 §3). */
export function connectTarget(target: Target, deps: OutgoingDeps, local: string, remote: string, purpose: Purpose): Promise<OutgoingStream> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OutgoingFailure(`connecting to ${target.host}:${target.port} timed out`, false));
    }, deps.connectMs);
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(new OutgoingFailure(`cannot connect to ${target.host}:${target.port} (${(e as NodeJS.ErrnoException).code ?? e.message})`, false));
    };
    const started = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      const s = new OutgoingStream(socket, deps, local, remote, purpose);
      s.start();
      resolve(s);
    };
    if (target.directTls) {
      socket = tlsConnect({
        host: target.host,
        port: target.port,
        servername: remote,
        ALPNProtocols: ['xmpp-server'],
        secureContext: deps.tls.contextFor(local) ?? undefined,
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        ...tlsProfile(),
      });
      socket.once('secureConnect', started);
    } else {
      socket = createConnection({ host: target.host, port: target.port, noDelay: true });
      socket.once('connect', started);
    }
    socket.once('error', onError);
  });
}
