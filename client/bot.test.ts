/** The bot SDK's delivery logic over a fake connection: dedupe by message id, resume after a lost connection. */
import { describe, expect, it } from 'vitest';
import { ParleyBot, RecentIds, type BotConnection } from './bot.js';
import { ParleyApiError, type ConnectOptions, type ParleyEvent } from './index.js';

/** A scripted connection: the test pushes events and closes it; requests are recorded. */
class FakeConnection implements BotConnection {
  readonly hello = { address: 'bot@example.com', resource: 'bot', position: 0 };
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly requests: Array<{ op: string; params: Record<string, unknown> }> = [];
  private readonly handlers = new Map<string, Array<(e: ParleyEvent) => void>>();
  private resolveClosed!: (v: { code: number; reason: string }) => void;
  isClosed = false;
  /** Replies of message.send wait for this when set (a reply in flight when the connection drops). */
  hold: Promise<void> | null = null;

  constructor(readonly opts: ConnectOptions) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }
  on(ev: string, h: (e: ParleyEvent) => void): () => void {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), h]);
    return () => undefined;
  }
  async request<T>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.isClosed) throw new ParleyApiError('service-unavailable', 'the connection closed');
    this.requests.push({ op, params });
    if (op === 'message.send' && this.hold) {
      await this.hold;
      if (this.isClosed) throw new ParleyApiError('service-unavailable', 'the connection closed');
    }
    return { id: `r${this.requests.length}`, seq: 0, duplicate: false } as T;
  }
  async close(): Promise<void> {
    this.drop();
  }
  /** Delivers an event as the server would. */
  emit(ev: string, data: Record<string, unknown>): void {
    for (const h of [...(this.handlers.get(ev) ?? []), ...(this.handlers.get('*') ?? [])]) h({ ev, data });
  }
  message(seq: number, body: string, from = 'alice@example.com/r', id = `m${seq}`): void {
    this.emit('message', { id, seq, type: 'chat', from, to: 'bot@example.com', body, ts: 1 });
  }
  drop(closing?: { code: string; message: string }): void {
    if (this.isClosed) return;
    if (closing) this.emit('session.closing', closing);
    this.isClosed = true;
    this.resolveClosed({ code: 1006, reason: '' });
  }
  replies(): string[] {
    return this.requests.filter((r) => r.op === 'message.send').map((r) => String(r.params.body));
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

/** A bot over fake connections; `conns` are the connections it opened. */
async function fakeBot(extra: Partial<Parameters<typeof ParleyBot.start>[0]> = {}): Promise<{ bot: ParleyBot; conns: FakeConnection[]; errors: unknown[] }> {
  const conns: FakeConnection[] = [];
  const errors: unknown[] = [];
  const bot = await ParleyBot.start({
    url: 'ws://fake',
    apiKey: 'pk_x',
    minReconnectMs: 1,
    onError: (e) => errors.push(e),
    connect: async (o) => {
      const c = new FakeConnection(o);
      conns.push(c);
      return c;
    },
    ...extra,
  });
  bot.onMessage((ctx) => ctx.reply(`echo ${ctx.body}`));
  return { bot, conns, errors };
}

describe('ParleyBot', () => {
  it('handles a message once however often it arrives, and ignores its own', async () => {
    const { bot, conns } = await fakeBot();
    const c = conns[0]!;
    c.message(5, 'hi');
    c.message(6, 'hi again', 'alice@example.com/r', 'm5'); // the same id again (offline queue and log)
    c.message(7, 'mine', 'bot@example.com/other');
    await settle();
    expect(c.replies()).toEqual(['echo hi']);
    expect(c.requests.find((r) => r.op === 'message.send')?.params).toMatchObject({ to: 'alice@example.com', clientId: 're:m5:1' });
    expect(bot.position).toBe(7);
    // Handled messages are acknowledged (the offline queue drops them).
    expect(c.requests.filter((r) => r.op === 'sync.ack').map((r) => r.params.upTo)).toEqual([5, 6, 7]);
    await bot.stop();
  });

  it('takes the offline queue first, then resumes from the log position after a lost connection', async () => {
    const { bot, conns } = await fakeBot();
    expect(conns[0]!.opts.since).toBeNull();
    conns[0]!.message(3, 'a');
    conns[0]!.emit('synced', { position: 10 });
    await settle();
    expect(bot.position).toBe(10);
    conns[0]!.drop();
    await until(() => conns.length === 2);
    expect(conns[1]!.opts.since).toBe(10);
    // The replay repeats a message handled before (id m3) and brings a new one.
    conns[1]!.message(3, 'a');
    conns[1]!.message(11, 'b');
    await settle();
    expect(conns[1]!.replies()).toEqual(['echo b']);
    await bot.stop();
  });

  it('handles again a message whose reply was cut off by the lost connection', async () => {
    const { bot, conns } = await fakeBot({ since: 20 });
    expect(conns[0]!.opts.since).toBe(20);
    let release!: () => void;
    conns[0]!.hold = new Promise((r) => (release = r));
    conns[0]!.message(21, 'x');
    conns[0]!.message(22, 'y');
    await settle();
    conns[0]!.drop();
    release();
    await until(() => conns.length === 2);
    // Nothing after 20 counts as handled: both come again, and each is answered once on the new connection.
    expect(conns[1]!.opts.since).toBe(20);
    conns[1]!.message(21, 'x');
    conns[1]!.message(22, 'y');
    await settle();
    expect(conns[1]!.replies()).toEqual(['echo x', 'echo y']);
    expect(bot.position).toBe(22);
    await bot.stop();
  });

  it('runs commands instead of the message handlers, in rooms only with a slash', async () => {
    const { bot, conns } = await fakeBot();
    bot.command('who', (ctx, args) => ctx.reply(`who ${args.join(',')}`));
    const rooms: string[] = [];
    bot.onRoomMessage((ctx) => void rooms.push(`${ctx.room}:${ctx.body}`));
    const c = conns[0]!;
    c.message(1, 'WHO team now');
    c.emit('message', { id: 'g1', seq: 2, type: 'groupchat', from: 'alice@example.com/r', to: 'room@rooms.example.com', body: 'who is here?', ts: 1 });
    c.emit('message', { id: 'g2', seq: 3, type: 'groupchat', from: 'alice@example.com/r', to: 'room@rooms.example.com', body: '/who team', ts: 1 });
    await settle();
    expect(c.replies()).toEqual(['who team,now', 'who team']);
    expect(c.requests.filter((r) => r.op === 'message.send')[1]!.params.to).toBe('room@rooms.example.com');
    expect(rooms).toEqual(['room@rooms.example.com:who is here?']);
    await bot.stop();
  });

  it('stops on a refusal that reconnecting cannot cure, and after stop() it does not reconnect', async () => {
    const { bot, conns } = await fakeBot();
    conns[0]!.drop({ code: 'not-authorized', message: 'the API key was revoked' });
    expect(await bot.stopped).toMatchObject({ code: 'not-authorized' });
    await settle();
    expect(conns).toHaveLength(1);

    const other = await fakeBot();
    await other.bot.stop();
    expect(await other.bot.stopped).toBeNull();
    await settle();
    expect(other.conns).toHaveLength(1);
  });

  it('keeps its presence across reconnections', async () => {
    const { bot, conns } = await fakeBot({ presence: { availability: 'away' } });
    await bot.setPresence({ availability: 'dnd', status: 'busy' });
    expect(conns[0]!.requests.at(-1)).toMatchObject({ op: 'presence.set', params: { availability: 'dnd' } });
    conns[0]!.drop();
    await until(() => conns.length === 2);
    expect(conns[1]!.opts.presence).toEqual({ availability: 'dnd', status: 'busy' });
    await bot.stop();
  });

  it('remembers a bounded number of ids, forgetting the oldest', () => {
    const r = new RecentIds(2);
    r.add('a');
    r.add('b');
    r.add('c');
    expect([r.has('a'), r.has('b'), r.has('c')]).toEqual([false, true, true]);
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}
