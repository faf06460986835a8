/**
 * The Parley TypeScript client SDK for Node.js: the core of client/session.ts over the `ws` package. Used by
 * tests, bench and bots (the bot SDK, ParleyBot, is built on it: client/bot.ts), and the administration API's SDK
 * (client/admin.ts: AdminClient with a session token and the server's address as `base`). Browsers use client/session.ts
 * directly, over their own WebSocket (web/).
 */
import { WebSocket } from 'ws';
import { ClientSession, ParleyApiError, type SessionOptions } from './session.js';

export { ADMIN_CALLS, AdminApiError, AdminClient, type AdminCall, type AdminCallName, type AdminClientOptions } from './admin.js';
export {
  CONVERSATION_UPDATE_EVENT,
  conversationUpdateOf,
  listConversations,
  markConversationRead,
  type ConversationLast,
  type ConversationPage,
  type ConversationSummary,
  type ConversationUpdate,
} from './conversations.js';
export { ParleyBot, type BotOptions, type MessageContext, type CommandHandler, type MessageHandler } from './bot.js';
export { ClientSession, ParleyApiError, login, type HelloResult, type ParleyEvent, type SessionOptions, type SocketLike } from './session.js';

/** Options of ParleyClient.connect. */
export interface ConnectOptions extends SessionOptions {
  /** Extra WebSocket options (e.g. localAddress, headers). */
  wsOptions?: ConstructorParameters<typeof WebSocket>[2];
}

/** One JSON WebSocket session from Node.js. */
export class ParleyClient extends ClientSession<WebSocket> {
  /** Opens a socket, says hello and resolves once the server replied (replayed events follow). */
  static async connect(opts: ConnectOptions): Promise<ParleyClient> {
    const ws = new WebSocket(opts.url, opts.wsOptions);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new ParleyApiError('forbidden', `upgrade refused: HTTP ${res.statusCode}`)));
    });
    ws.on('error', () => undefined);
    const c = new ParleyClient(ws, opts);
    await c.start();
    return c;
  }

  /** Sends a raw frame (tests of bad input). */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }
}
