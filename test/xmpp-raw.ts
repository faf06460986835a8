/** A raw XMPP peer for tests that must send what no well-behaved client would: bytes in, text out. */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** One raw connection; everything received is kept in `text`. */
export class RawXmpp {
  text = '';
  closed = false;
  private constructor(private socket: Socket) {
    this.listen(socket);
  }

  private listen(s: Socket): void {
    s.setEncoding('utf8');
    s.on('data', (d: string) => (this.text += d));
    s.on('close', () => (this.closed = true));
    s.on('error', () => undefined);
  }

  /** Plain TCP (the STARTTLS port) or TLS from the first byte (the direct TLS port). */
  static async open(port: number, tls = false): Promise<RawXmpp> {
    const socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawXmpp(socket);
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Waits until the received text matches `re` (searching from `from`); returns the match. */
  async until(re: RegExp, ms = 5000, from = 0): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m;
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; received:\n${this.text.slice(-2000)}`);
      if (this.closed) {
        const again = re.exec(this.text.slice(from));
        if (again) return again;
        throw new Error(`connection closed while waiting for ${re}; received:\n${this.text.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Waits for the server to close the connection. */
  async untilClosed(ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > end) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Opens a stream to `domain` and waits for the features. */
  async open(domain = 'localhost'): Promise<void> {
    const from = this.text.length;
    this.write(`<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    await this.until(/<\/stream:features>|<stream:features\/>/, 5000, from);
  }

  /**
   * On a TLS connection: authenticates with SASL PLAIN, restarts the stream and binds `resource`; returns the
   * full address bound.
   */
  async login(user: string, password: string, resource = 'raw'): Promise<string> {
    await this.open();
    const local = user.split('@')[0]!;
    let from = this.text.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${password}`).toString('base64')}</auth>`);
    await this.until(/<success[^>]*\/>|<success[^>]*>[^<]*<\/success>/, 5000, from);
    await this.open();
    from = this.text.length;
    this.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const m = await this.until(/<jid>([^<]+)<\/jid>/, 5000, from);
    return m[1]!;
  }

  close(): void {
    this.socket.destroy();
  }
}
