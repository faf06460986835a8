/** A raw XMPP peer for tests that must send what no well-behaved client would: bytes in, text out. */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions } from 'node:tls';

/** One raw connection; everything received is kept in `text`. */
export class RawXmpp {
  text = '';
  closed = false;
  private iqs = 0;
  private constructor(private socket: Socket) {
    this.listen(socket);
  }

  private listen(s: Socket): void {
    s.setEncoding('utf8');
    s.on('data', (d: string) => (this.text += d));
    s.on('close', () => (this.closed = true));
    s.on('error', () => undefined);
  }

  /** The TLS socket, once TLS is up (for channel binding). */
  get tls(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }

  /**
   * Plain TCP (the STARTTLS port) or TLS from the first byte (the direct TLS port); `localAddress` picks the
   * source address (e.g. 127.0.0.2, to look like another client to the login throttle).
   */
  static async open(port: number, tls = false, tlsOptions: ConnectionOptions & { localAddress?: string } = {}): Promise<RawXmpp> {
    const socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...tlsOptions })
      : netConnect({ host: '127.0.0.1', port, ...(tlsOptions.localAddress ? { localAddress: tlsOptions.localAddress } : {}) });
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
   * full address bound. `domain` is the stream's `to` (a server hosting another domain than localhost).
   */
  async login(user: string, password: string, resource = 'raw', domain = 'localhost'): Promise<string> {
    await this.open(domain);
    const local = user.split('@')[0]!;
    let from = this.text.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${password}`).toString('base64')}</auth>`);
    await this.until(/<success[^>]*\/>|<success[^>]*>[^<]*<\/success>/, 5000, from);
    await this.open(domain);
    from = this.text.length;
    this.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const m = await this.until(/<jid>([^<]+)<\/jid>/, 5000, from);
    return m[1]!;
  }

  /**
   * Sends `<iq type to>body</iq>` with a fresh id and resolves with its reply stanza (result or error), once it
   * arrived; what came before it stays in `text`.
   */
  async iq(type: 'get' | 'set', body: string, to?: string, ms = 5000): Promise<string> {
    const id = `raw-iq-${++this.iqs}`;
    const from = this.text.length;
    this.write(`<iq type='${type}' id='${id}'${to === undefined ? '' : ` to='${to}'`}>${body}</iq>`);
    return (await this.until(new RegExp(`<iq[^>]*id="${id}"[^>]*(?:/>|>.*?</iq>)`, 's'), ms, from))[0];
  }

  /** STARTTLS (RFC 6120 §5.4) on an opened plain stream; the caller opens the stream again afterwards. */
  async starttls(): Promise<void> {
    const from = this.text.length;
    this.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await this.until(/<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>/, 5000, from);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /**
   * SASL SCRAM (RFC 5802) on an opened stream. `cb`: the gs2 channel-binding flag and data ('n' none, 'y' "I
   * could but you cannot", or a type name for -PLUS with its data). Resolves with the server's final answer
   * text (the <success/> or <failure/> element).
   */
  async scram(mech: string, user: string, password: string, cb: { flag: 'n' | 'y' } | { type: string; data: Buffer } = { flag: 'n' }): Promise<string> {
    const hash = mech.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
    const gs2 = 'flag' in cb ? `${cb.flag},,` : `p=${cb.type},,`;
    const cbind = Buffer.concat([Buffer.from(gs2), 'flag' in cb ? Buffer.alloc(0) : cb.data]);
    const nonce = randomBytes(18).toString('base64');
    const bare = `n=${user},r=${nonce}`;
    let from = this.text.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}'>${Buffer.from(gs2 + bare).toString('base64')}</auth>`);
    const ch = await this.until(/<challenge[^>]*>([^<]+)<\/challenge>|<failure[^>]*>.*?<\/failure>/s, 5000, from);
    if (ch[1] === undefined) return ch[0];
    const serverFirst = Buffer.from(ch[1], 'base64').toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)]));
    const hmac = (key: Buffer, text: string): Buffer => createHmac(hash, key).update(text).digest();
    const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), hash === 'sha256' ? 32 : 20, hash);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash(hash).update(clientKey).digest();
    const withoutProof = `c=${cbind.toString('base64')},r=${attrs.r}`;
    const signature = hmac(storedKey, `${bare},${serverFirst},${withoutProof}`);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    from = this.text.length;
    this.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    return (await this.until(/<success[^>]*>[^<]*<\/success>|<success[^>]*\/>|<failure[^>]*>.*?<\/failure>/s, 5000, from))[0];
  }

  /**
   * Sends only a SCRAM client-first-message for `user` on an opened stream (the start of an exchange a client
   * then abandons); resolves with the server's answer: the <challenge/> carrying the server-first-message, or
   * the <failure/>.
   */
  async scramFirst(mech: string, user: string): Promise<string> {
    const from = this.text.length;
    const first = `n,,n=${user},r=${randomBytes(18).toString('base64')}`;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}'>${Buffer.from(first).toString('base64')}</auth>`);
    return (await this.until(/<challenge[^>]*>[^<]+<\/challenge>|<failure[^>]*>.*?<\/failure>/s, 5000, from))[0];
  }

  /**
   * A logged-in session on the direct TLS port: `user` with the password test/harness.ts gives it
   * (`pw-<local part>`), `resource` bound, initial presence sent and answered; `domain` as for login.
   */
  static async online(port: number, user: string, resource: string, domain = 'localhost'): Promise<RawXmpp> {
    const x = await RawXmpp.open(port, true);
    await x.login(user, `pw-${user.split('@')[0]}`, resource, domain);
    x.write('<presence/>');
    await x.sync();
    return x;
  }

  /**
   * A ping round trip (XEP-0199): everything the server sent this stream before answering it has arrived, so
   * what has not arrived by then was not sent before.
   */
  async sync(): Promise<void> {
    await this.iq('get', "<ping xmlns='urn:xmpp:ping'/>");
  }

  close(): void {
    this.socket.destroy();
  }
}
