/**
 * An XMPP client for the hostile suite that reads when the test says so: it logs in over direct TLS (SASL
 * PLAIN), optionally enables stream management (XEP-0198) and answers <r/> (or never does), and counts the
 * message bodies it receives without keeping the whole stream in memory.
 */
import { connect, type TLSSocket } from 'node:tls';

/** How the client treats stream management. */
export type SmMode = 'off' | 'ack' | 'never-ack';

/** A logged-in, bound XMPP session. */
export class SlowXmpp {
  /** Distinct body markers received (the text before the first "-" run of padding). */
  readonly bodies = new Set<string>();
  /** Stanzas received after <enable/> (XEP-0198 h). */
  private h = 0;
  private smOn = false;
  private buf = '';
  /** Until bound, the negotiation's until() reads the text itself. */
  private negotiating = true;
  closed = false;
  /** A stream error the server sent, if any. */
  streamError: string | null = null;

  private constructor(
    private readonly socket: TLSSocket,
    private readonly mode: SmMode,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** Connects, authenticates, binds and (per mode) enables stream management; no presence yet. */
  static async login(port: number, user: string, password: string, mode: SmMode, opts: { resume?: boolean; localAddress?: string } = {}): Promise<SlowXmpp> {
    const { localAddress } = opts;
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    const c = new SlowXmpp(socket, mode);
    const open = `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
    c.write(open);
    await c.until(/<\/stream:features>/);
    const local = user.split('@')[0]!;
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${password}`).toString('base64')}</auth>`);
    await c.until(/<success/);
    c.write(open);
    await c.until(/<\/stream:features>/);
    c.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>slow</resource></bind></iq>`);
    await c.until(/<\/jid>/);
    if (mode !== 'off') {
      c.write(opts.resume ? `<enable xmlns='urn:xmpp:sm:3' resume='true'/>` : `<enable xmlns='urn:xmpp:sm:3'/>`);
      await c.until(/<enabled/);
      c.smOn = true;
    }
    c.negotiating = false;
    return c;
  }

  write(s: string): void {
    if (!this.closed) this.socket.write(s);
  }

  /** Stops (true) or resumes reading from the socket. */
  pause(paused: boolean): void {
    if (paused) this.socket.pause();
    else this.socket.resume();
  }

  /** Waits until the unprocessed text matches `re` (negotiation only, before messages flow). */
  private async until(re: RegExp, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.buf)) {
      if (this.closed || Date.now() > end) throw new Error(`timed out waiting for ${re}: ${this.buf.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    this.buf = '';
  }

  /** Waits until `n` distinct bodies arrived (or the stream closed, or the time ran out); returns the count. */
  async waitBodies(n: number, ms: number): Promise<number> {
    const end = Date.now() + ms;
    while (this.bodies.size < n && !this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.bodies.size;
  }

  /** Acknowledges everything received so far (XEP-0198 §4), as a client does before it goes. */
  ackNow(): void {
    if (this.smOn) this.write(`<a xmlns='urn:xmpp:sm:3' h='${this.h}'/>`);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    if (this.negotiating) return;
    // Everything before the last "<" is looked at: no tag, and no body's start, is cut in two.
    const cut = Math.max(0, this.buf.lastIndexOf('<'));
    const region = this.buf.slice(0, cut);
    this.buf = this.buf.slice(cut);
    for (const m of region.matchAll(/<body>([^-<]+-\d+)-/g)) this.bodies.add(m[1]!);
    const err = /<stream:error>(.*?)<\/stream:error>/s.exec(region);
    if (err) this.streamError = err[1]!;
    if (!this.smOn) return;
    // Stanzas: Parley declares jabber:client on each one (its own presence extension nests a <presence> of
    // another namespace, and this test has no carbons or forwards).
    this.h += region.match(/<(message|presence|iq) xmlns="jabber:client"/g)?.length ?? 0;
    if (this.mode === 'ack' && /<r xmlns=["']urn:xmpp:sm:3["']\/>/.test(region)) this.write(`<a xmlns='urn:xmpp:sm:3' h='${this.h}'/>`);
  }
}
