/**
 * The Parley bot SDK (docs/bots.md): a bot account logs in with its API key over the JSON WebSocket, answers
 * 1:1 and room messages, runs commands, sets its presence, and survives lost connections.
 *
 * Delivery: messages are handled one at a time, in log order. The bot remembers the log position up to which
 * every message was handled (`position`); after a lost connection it reconnects with `since` = that position,
 * so the server replays everything after it (docs/protocol.md §3, "Replay"): nothing is skipped. What comes
 * twice (a message whose handler finished just as the connection dropped, or one replayed from both the offline
 * queue and the log) is recognised by its message id and handled once. Replies carry an idempotency key derived
 * from the message id (`clientId`, docs/protocol.md §6), so a reply sent again after a reconnect is not stored
 * twice either.
 *
 * ```ts
 * const bot = await ParleyBot.start({ url: 'ws://localhost:5280/ws', apiKey: process.env.PARLEY_BOT_KEY! });
 * bot.onMessage((ctx) => ctx.reply(`you said: ${ctx.body}`));
 * bot.command('ping', (ctx) => ctx.reply('pong'));
 * ```
 */
import { ParleyApiError, ParleyClient, type ConnectOptions, type ParleyEvent } from './index.js';

/** What a handler gets for one message. */
export interface MessageContext {
  /** The message's server id. */
  id: string;
  /** Its log position. */
  seq: number;
  /** `chat` (1:1) or `groupchat` (a room). */
  type: 'chat' | 'groupchat';
  /** The sender's bare address. */
  sender: string;
  /** The sending session's full address. */
  from: string;
  /** The room's address for a room message; null for 1:1. */
  room: string | null;
  body: string;
  /** Server timestamp, epoch ms. */
  ts: number;
  /** The bot. */
  bot: ParleyBot;
  /**
   * Answers where the message came from: the sender (1:1) or the room. Each reply has an idempotency key made of
   * the message id and the reply's number, so replaying the message after a reconnect stores no second copy.
   */
  reply(text: string): Promise<{ id: string; seq: number; duplicate: boolean }>;
}

/** Handles a message; may be async (the next message waits for it). */
export type MessageHandler = (ctx: MessageContext) => unknown;

/** Handles a command: `args` are the words after the command's name. */
export type CommandHandler = (ctx: MessageContext, args: string[]) => unknown;

/** The connection the bot drives: what it uses of ParleyClient (tests give a fake one). */
export interface BotConnection {
  readonly hello: { address: string; resource: string; position: number };
  readonly closed: Promise<{ code: number; reason: string }>;
  on(ev: string, h: (e: ParleyEvent) => void): () => void;
  request<T = Record<string, unknown>>(op: string, params?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** Options of a bot. */
export interface BotOptions {
  /** ws://host:port/ws */
  url: string;
  /** The bot's API key (with the `bot` scope). */
  apiKey: string;
  /** The session's resource (default `bot`): a second instance with the same resource replaces the first. */
  resource?: string;
  /** The bot's presence (as presence.set), kept across reconnects. Default: available. */
  presence?: Record<string, unknown>;
  /**
   * Where to start: a log position to resume from (the `position` of an earlier run), or null (the default) for
   * the offline queue: what was sent to the bot while it had no session.
   */
  since?: number | null;
  /** First pause before reconnecting (default 250 ms); it doubles up to `maxReconnectMs`, with jitter. */
  minReconnectMs?: number;
  /** Longest pause between reconnection attempts (default 30 s). */
  maxReconnectMs?: number;
  /** Message ids remembered for recognising repeats (default 10,000; the oldest are forgotten first). */
  rememberIds?: number;
  /** Called with errors: a handler that threw, a failed reconnection attempt. Default: console.error. */
  onError?: (e: unknown) => void;
  /** Opens a connection (default ParleyClient.connect); tests pass a fake. */
  connect?: (opts: ConnectOptions) => Promise<BotConnection>;
}

/** Refusals after which reconnecting cannot help: the key was revoked, or another instance took over. */
const FATAL = new Set(['not-authorized', 'forbidden', 'conflict']);

/** A message event's data as the server sends it. */
interface MessageData {
  id: string;
  seq: number;
  type: 'chat' | 'groupchat';
  from: string;
  to: string;
  body?: string;
  ts: number;
}

const bareOf = (address: string): string => {
  const i = address.indexOf('/');
  return i < 0 ? address : address.slice(0, i);
};

/** The message ids seen, oldest forgotten first. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
  }
}

/** A running bot. */
export class ParleyBot {
  /** The bot's bare address (known once connected). */
  address = '';
  /**
   * The log position up to which every message was handled: pass it as `since` to a later run to go on where
   * this one stopped.
   */
  position = 0;
  /** Resolves when the bot stopped: null after stop(), the error when it could not go on (e.g. a revoked key). */
  readonly stopped: Promise<Error | null>;
  private resolveStopped!: (e: Error | null) => void;
  private conn: BotConnection | null = null;
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly roomHandlers: MessageHandler[] = [];
  private readonly commands = new Map<string, CommandHandler>();
  private readonly seen: RecentIds;
  /** Events of the current connection waiting to be handled, in arrival (log) order. */
  private queue: Array<{ gen: number; e: ParleyEvent }> = [];
  /** Counts connections: events of an old connection are dropped (the next one replays them). */
  private gen = 0;
  private draining = false;
  private paused = true;
  private stopping = false;
  private presence: Record<string, unknown>;
  /** Whether the next connection resumes from `position` (else it takes the offline queue). */
  private resumeFromLog: boolean;
  private readonly opts: Required<Omit<BotOptions, 'since' | 'presence' | 'resource'>> & { resource: string };
  /** Connections opened so far (1 after start; more after reconnects). */
  connections = 0;

  private constructor(opts: BotOptions) {
    this.opts = {
      url: opts.url,
      apiKey: opts.apiKey,
      resource: opts.resource ?? 'bot',
      minReconnectMs: opts.minReconnectMs ?? 250,
      maxReconnectMs: opts.maxReconnectMs ?? 30_000,
      rememberIds: opts.rememberIds ?? 10_000,
      onError: opts.onError ?? ((e: unknown) => console.error(e)),
      connect: opts.connect ?? ((o) => ParleyClient.connect(o)),
    };
    this.presence = opts.presence ?? {};
    this.position = opts.since ?? 0;
    this.resumeFromLog = opts.since !== undefined && opts.since !== null;
    this.seen = new RecentIds(this.opts.rememberIds);
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /**
   * Connects and returns the running bot. Handling starts on the next turn of the event loop, so handlers added
   * right after `await ParleyBot.start(...)` see every message, replayed ones included. Refusals of the first
   * connection (a wrong or revoked key: not-authorized; a key without the `bot` scope: forbidden) are thrown.
   */
  static async start(opts: BotOptions): Promise<ParleyBot> {
    const bot = new ParleyBot(opts);
    await bot.connect();
    setImmediate(() => {
      bot.paused = false;
      void bot.drain();
    });
    return bot;
  }

  /** Handles 1:1 messages that are not commands. */
  onMessage(h: MessageHandler): this {
    this.messageHandlers.push(h);
    return this;
  }

  /** Handles room messages that are not commands (the bot must be a member of the room). */
  onRoomMessage(h: MessageHandler): this {
    this.roomHandlers.push(h);
    return this;
  }

  /**
   * Handles a command: a 1:1 message whose first word is `name` (optionally written `/name`), or a room message
   * starting with `/name`. Matching ignores case. A message that is a command goes to its handler only.
   */
  command(name: string, h: CommandHandler): this {
    this.commands.set(name.toLowerCase(), h);
    return this;
  }

  /** Sets the bot's presence (as presence.set); kept for reconnections. */
  async setPresence(p: Record<string, unknown>): Promise<void> {
    this.presence = p;
    if (this.conn) await this.conn.request('presence.set', p);
  }

  /** Sends a message to a user or a room. */
  send(to: string, body: string, clientId?: string): Promise<{ id: string; seq: number; duplicate: boolean }> {
    return this.live().request('message.send', clientId ? { to, body, clientId } : { to, body });
  }

  /** Any JSON operation (docs/protocol.md), e.g. `presentities.query`, on the current connection. */
  request<T = Record<string, unknown>>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.live().request<T>(op, params);
  }

  /** Stops: no more reconnecting; waits for the message being handled, then closes the connection. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.queue = [];
    while (this.draining) await new Promise((r) => setTimeout(r, 10));
    await this.conn?.close();
    this.conn = null;
    this.resolveStopped(null);
  }

  private live(): BotConnection {
    if (!this.conn) throw new ParleyApiError('service-unavailable', 'the bot is not connected (it is reconnecting)');
    return this.conn;
  }

  private async connect(): Promise<void> {
    const gen = ++this.gen;
    const since = this.resumeFromLog ? this.position : null;
    const conn = await this.opts.connect({
      url: this.opts.url,
      apiKey: this.opts.apiKey,
      resource: this.opts.resource,
      since,
      presence: this.presence,
      autoAck: false,
      keepEvents: false,
    });
    // Subscribed before any replayed event is read: hello's reply is dispatched before them.
    conn.on('*', (e) => this.enqueue(gen, e));
    let closing: { code: string; message: string } | null = null;
    conn.on('session.closing', (e) => (closing = e.data as { code: string; message: string }));
    this.conn = conn;
    this.connections++;
    this.address = conn.hello.address;
    void conn.closed.then(() => this.lost(gen, closing));
  }

  private enqueue(gen: number, e: ParleyEvent): void {
    if (gen !== this.gen || this.stopping) return;
    this.queue.push({ gen, e });
    void this.drain();
  }

  /** Handles queued events one at a time. */
  private async drain(): Promise<void> {
    if (this.draining || this.paused) return;
    this.draining = true;
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        if (item.gen !== this.gen) continue;
        const ok = await this.handle(item.e);
        if (!ok) {
          // The connection went away mid-handling: drop the rest; the next connection replays from `position`.
          this.queue = [];
          break;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Handles one event; false when it could not be finished because the connection was lost. */
  private async handle(e: ParleyEvent): Promise<boolean> {
    if (e.ev === 'synced') {
      // Everything up to here was replayed and handled (the queue is in order). From now on the log is the
      // record: a reconnection resumes after `position` (before this, it takes the offline queue again, whose
      // handled entries were acknowledged and are gone).
      const p = e.data.position;
      if (typeof p === 'number' && p > this.position) this.position = p;
      this.resumeFromLog = true;
      return true;
    }
    const seq = e.data.seq;
    if (typeof seq !== 'number') return true;
    if (e.ev === 'message') {
      const d = e.data as unknown as MessageData;
      if (!this.seen.has(d.id)) {
        try {
          await this.dispatch(d);
        } catch (err) {
          if (this.lostDuring(err)) return false;
          this.opts.onError(err);
        }
        this.seen.add(d.id);
      }
    }
    if (seq > this.position) {
      this.position = seq;
      this.conn?.request('sync.ack', { upTo: seq }).catch(() => undefined);
    }
    return true;
  }

  /** Whether an error means the connection was lost (so the message is handled again after reconnecting). */
  private lostDuring(err: unknown): boolean {
    return err instanceof ParleyApiError && err.code === 'service-unavailable' && /connection closed|not connected/.test(err.message);
  }

  private async dispatch(d: MessageData): Promise<void> {
    const sender = bareOf(d.from);
    // The bot's own messages come back in replays and as copies of its other sessions: not for handling.
    if (sender === this.address || d.body === undefined) return;
    const room = d.type === 'groupchat' ? bareOf(d.to) : null;
    let replies = 0;
    const conn = this.conn;
    const ctx: MessageContext = {
      id: d.id,
      seq: d.seq,
      type: d.type,
      sender,
      from: d.from,
      room,
      body: d.body,
      ts: d.ts,
      bot: this,
      reply: (text) => {
        if (conn !== this.conn || !conn) throw new ParleyApiError('service-unavailable', 'the bot is not connected (it is reconnecting)');
        return conn.request('message.send', { to: room ?? sender, body: text, clientId: `re:${d.id}:${++replies}` });
      },
    };
    const cmd = this.commandOf(d.body, room !== null);
    if (cmd) {
      await cmd.handler(ctx, cmd.args);
      return;
    }
    for (const h of room === null ? this.messageHandlers : this.roomHandlers) await h(ctx);
  }

  private commandOf(body: string, inRoom: boolean): { handler: CommandHandler; args: string[] } | null {
    const words = body.trim().split(/\s+/);
    let first = words[0] ?? '';
    if (first.startsWith('/')) first = first.slice(1);
    else if (inRoom) return null;
    const handler = this.commands.get(first.toLowerCase());
    return handler ? { handler, args: words.slice(1) } : null;
  }

  /** The connection of generation `gen` closed: reconnect with a growing pause, unless stopping or refused. */
  private async lost(gen: number, closing: { code: string; message: string } | null): Promise<void> {
    if (gen !== this.gen || this.stopping) return;
    this.conn = null;
    this.gen++; // events still queued from the lost connection are dropped
    if (closing && FATAL.has(closing.code)) return this.fail(new ParleyApiError(closing.code, closing.message));
    let pause = this.opts.minReconnectMs;
    while (!this.stopping) {
      await new Promise((r) => setTimeout(r, pause * (0.75 + Math.random() / 2)));
      if (this.stopping) return;
      // Wait for a handler still running for the lost connection: `position` must be final before resuming.
      while (this.draining) await new Promise((r) => setTimeout(r, 10));
      try {
        await this.connect();
        void this.drain();
        return;
      } catch (e) {
        if (e instanceof ParleyApiError && FATAL.has(e.code)) return this.fail(e);
        this.opts.onError(e);
        pause = Math.min(pause * 2, this.opts.maxReconnectMs);
      }
    }
  }

  private fail(e: Error): void {
    this.stopping = true;
    this.opts.onError(e);
    this.resolveStopped(e);
  }
}
