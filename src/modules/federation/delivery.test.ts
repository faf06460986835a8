/**
 * No stanza handed to the outgoing pool vanishes without a word: what a stream never wrote to its socket (the
 * peer's closing tag read first, RFC 6120 §4.4; a local close; a stream error; the socket lost before the turn's
 * write) goes back to the pair's queue for a new stream, and bounces to its sender when streams keep closing.
 * The stream side runs over a real socket pair; the pool side over streams that report what they were given.
 */
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import { OutgoingStream, type OutgoingDeps } from './outgoing.js';
import { MAX_RESENDS, Pool, type Queued } from './pool.js';
import { s2sHeader } from './stream.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
const limits = { maxQueued: 100, queueMs: 30_000, idleMs: 300_000, backoffMs: 200, backoffMaxMs: 1000 };
const open: Array<() => void> = [];
afterEach(() => {
  for (const f of open.splice(0)) f();
});

/** A connected socket pair: Parley's side and the peer's, with what the peer read. */
async function socketPair(): Promise<{ mine: Socket; theirs: Socket; read: () => string }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const mine = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => mine.once('connect', r));
  const theirs = await accepted;
  let text = '';
  theirs.setEncoding('utf8');
  theirs.on('data', (d: string) => (text += d));
  theirs.on('error', () => undefined);
  open.push(() => {
    mine.destroy();
    theirs.destroy();
    server.close();
  });
  return { mine, theirs, read: () => text };
}

/** An outgoing stream over `socket` whose header went out; the peer's header fed to it. */
function streamOver(socket: Socket): OutgoingStream {
  const deps = { log: quiet, maxStanzaBytes: 65536, negotiationMs: 30_000, connectMs: 1000, dialback: { enabled: true, secret: 's', allowUntrusted: true }, tls: {} } as unknown as OutgoingDeps;
  const s = new OutgoingStream(socket, deps, 'here.test', 'there.test', { kind: 'stanzas' });
  // Never authenticated here: its setup promise ends rejected when it closes, which these tests do not await.
  s.done.catch(() => undefined);
  s.start();
  feed(s, s2sHeader({ from: 'there.test', to: 'here.test', id: 'x' }));
  return s;
}

/** Hands the stream text as if its peer had sent it (same turn, no socket in between). */
function feed(s: OutgoingStream, text: string): void {
  (s as unknown as { parser: { write(b: Buffer): void } }).parser.write(Buffer.from(text));
}

const item = (text: string, bounced?: ParleyError[]): Queued => ({ text, at: Date.now(), bounce: bounced ? (e) => bounced.push(e) : null });
const settle = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('an outgoing stream that ends before writing a stanza gives it back', () => {
  it('the peer closes (RFC 6120 §4.4) in the turn a stanza was handed over: it is not written after the close, but given back', async () => {
    const { mine, read } = await socketPair();
    const s = streamOver(mine);
    let unsent: Queued[] | null = null;
    s.onClose = (u) => (unsent = u);
    const m = item('<message to="a@there.test"><body>late</body></message>');
    expect(s.sendStanza(m)).toBe(true);
    feed(s, '</stream:stream>');
    expect(unsent).toEqual([m]);
    expect(s.writable).toBe(false);
    // Nothing more is taken once closed: the caller keeps the stanza.
    expect(s.sendStanza(item('<message><body>after</body></message>'))).toBe(false);
    await settle();
    expect(read()).toMatch(/<\/stream:stream>$/);
    expect(read()).not.toContain('late');
  });

  it('an idle close racing a send: the stanza handed over in the closing turn is given back, not written behind the footer', async () => {
    const { mine, read } = await socketPair();
    const s = streamOver(mine);
    let unsent: Queued[] = [];
    s.onClose = (u) => (unsent = u);
    const before = item('<message><body>written</body></message>');
    s.sendStanza(before);
    await settle();
    const racing = item('<message><body>racing</body></message>');
    s.sendStanza(racing);
    s.close();
    expect(unsent).toEqual([racing]);
    await settle();
    expect(read()).toContain('written');
    expect(read()).not.toContain('racing');
  });

  it('a stream error, or a socket gone before the turn\'s write, gives back what waited', async () => {
    const a = await socketPair();
    const s = streamOver(a.mine);
    let unsent: Queued[] = [];
    s.onClose = (u) => (unsent = u);
    const m = item('<message><body>behind an error</body></message>');
    s.sendStanza(m);
    s.fail('internal-server-error', 'test');
    expect(unsent).toEqual([m]);
    await settle();
    expect(a.read()).toContain('<stream:error>');
    expect(a.read()).not.toContain('behind an error');

    const b = await socketPair();
    const t = streamOver(b.mine);
    let lost: Queued[] = [];
    t.onClose = (u) => (lost = u);
    const n = item('<message><body>socket gone</body></message>');
    t.sendStanza(n);
    b.mine.destroy();
    await settle();
    expect(lost).toEqual([n]);
  });
});

/** A stand-in for OutgoingStream as the pool uses it: it records stanzas and ends when told. */
class FakeStream {
  taken: Queued[] = [];
  writable = true;
  lastActive = Date.now();
  onClose: (unsent: Queued[]) => void = () => undefined;
  sendStanza(q: Queued): boolean {
    if (!this.writable) return false;
    this.taken.push(q);
    return true;
  }
  /** Ends the stream; `unsentCount` of the last stanzas taken are reported unwritten. */
  end(unsentCount = 0): void {
    this.writable = false;
    const unsent = unsentCount === 0 ? [] : this.taken.splice(-unsentCount);
    this.onClose(unsent);
  }
  close(): void {
    this.end();
  }
  fail(): void {
    this.end();
  }
}

function poolOf(make: () => FakeStream): { pool: Pool; streams: FakeStream[] } {
  const streams: FakeStream[] = [];
  const pool = new Pool({
    log: quiet,
    limits: () => limits,
    open: async () => {
      const s = make();
      streams.push(s);
      return { stream: s as unknown as OutgoingStream, established: { method: 'sasl-external', peer: null } };
    },
  });
  open.push(() => pool.close());
  return { pool, streams };
}

describe('the pool never drops a stanza a stream gave back', () => {
  it('a stream that closed right after authentication is not used: what waits goes to the next stream', async () => {
    let n = 0;
    const { pool, streams } = poolOf(() => {
      const s = new FakeStream();
      if (n++ === 0) s.writable = false;
      return s;
    });
    const bounced: ParleyError[] = [];
    pool.send('here.test', 'there.test', item('<message><body>one</body></message>', bounced));
    await settle();
    expect(streams).toHaveLength(2);
    expect(streams[0]!.taken).toEqual([]);
    expect(streams[1]!.taken.map((q) => q.text)).toEqual(['<message><body>one</body></message>']);
    expect(bounced).toEqual([]);
    expect(pool.all()[0]!.state).toBe('ready');
  });

  it('stanzas a ready stream gave back when it ended go to a new stream first, in order, before later ones', async () => {
    const { pool, streams } = poolOf(() => new FakeStream());
    for (const b of ['a', 'b', 'c']) pool.send('here.test', 'there.test', item(b));
    await settle();
    streams[0]!.end(2);
    pool.send('here.test', 'there.test', item('d'));
    await settle();
    expect(streams).toHaveLength(2);
    expect(streams[1]!.taken.map((q) => q.text)).toEqual(['b', 'c', 'd']);
  });

  it('a send to a ready link whose stream is closing waits for the next stream', async () => {
    const { pool, streams } = poolOf(() => new FakeStream());
    pool.send('here.test', 'there.test', item('a'));
    await settle();
    streams[0]!.writable = false;
    pool.send('here.test', 'there.test', item('b'));
    expect(pool.all()[0]!.queue.map((q) => q.text)).toEqual(['b']);
    streams[0]!.end();
    await settle();
    expect(streams[1]!.taken.map((q) => q.text)).toEqual(['b']);
  });

  it(`a stanza given back more than ${MAX_RESENDS} times bounces with remote-server-timeout; a shutdown bounces what streams give back`, async () => {
    const { pool, streams } = poolOf(() => new FakeStream());
    const bounced: ParleyError[] = [];
    pool.send('here.test', 'there.test', item('doomed', bounced));
    for (let i = 0; i <= MAX_RESENDS; i++) {
      await settle();
      streams[i]!.end(1);
    }
    await settle();
    expect(bounced.map((e) => e.code)).toEqual(['remote-server-timeout']);
    expect(bounced[0]!.message).toMatch(/kept closing/);

    const down: ParleyError[] = [];
    const other = poolOf(() => new FakeStream());
    other.pool.send('here.test', 'there.test', item('at shutdown', down));
    await settle();
    // The stream had not written it when the server stopped.
    const s0 = other.streams[0]!;
    s0.fail = () => s0.end(1);
    other.pool.close();
    expect(down.map((e) => e.code)).toEqual(['service-unavailable']);
  });
});
