/**
 * The conversations of a user over the module's area: the list (its 1:1 conversations, its rooms now and those it
 * left), read positions moved by the user (never backwards), and the `conversations.update` event pushed to every
 * JSON session of the user whenever a position or a count changed, so reading on one device clears the count on
 * the others. What a user may see comes from the engine (Engine.readScope: the rooms it is a member of now).
 */
import { parseBare } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import { conversationKey } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import type { ConversationUpdate } from '../../../client/conversations.js';
import type { ConversationPage, ConversationsArea, Touched } from './sqlite.js';

/** The event the module pushes (module events carry the module's name: `conversations.update`). */
export const UPDATE_EVENT = 'update';

/** The data of a `conversations.update` event: one conversation now, and the position its counts are exact at. */
/** What the `conversations.update` event carries (the SDK's shape, client/conversations.ts). */
export type { ConversationUpdate } from '../../../client/conversations.js';

/** Pushes one event to every session of a user on every node (ModuleApi.pushToUser). */
export type Push = (user: string, event: string, data: Record<string, unknown>) => number;

/** The module's operations. */
export class ConversationsService {
  constructor(
    private readonly engine: Engine,
    private readonly area: ConversationsArea,
    private readonly pageSize: () => number,
    private readonly push: Push,
  ) {}

  /** JSON `conversations` and GET /api/v1/conversations: newest activity first. */
  async list(user: string, p: { limit?: number | undefined; before?: number | undefined }): Promise<ConversationPage> {
    const limit = Math.min(p.limit ?? this.pageSize(), this.pageSize());
    return this.engine.heavyRead(user, async () => {
      const scope = await this.engine.readScope(user);
      return this.area.list(user, [...scope.rooms.keys()], limit, p.before ?? null);
    });
  }

  /**
   * JSON `conversation.read`: the user has read `with` up to `upTo` (a seq; the newest message when absent). A
   * position never moves back (an older `upTo` changes nothing). A room must be one the user is a member of now.
   */
  async read(user: string, p: { with: string; upTo?: number | undefined }): Promise<ConversationUpdate> {
    const peer = parseBare(p.with);
    const scope = await this.engine.readScope(user);
    let kind: 'chat' | 'room';
    if (scope.rooms.has(peer)) kind = 'room';
    else if ((await this.area.kindOf(user, peer)) === 'room' || (await this.engine.rooms.get(peer)) !== null) {
      // A room the user left, or was never in: nothing to mark (history answers the same, RoomService.requireMember).
      throw new ParleyError('forbidden', `you are not a member of ${peer}`);
    } else kind = 'chat';
    const conv = conversationKey(kind === 'room' ? 'groupchat' : 'chat', user, peer);
    const r = await this.area.markRead(user, peer, kind, conv, p.upTo ?? null);
    const update: ConversationUpdate = { ...r.summary, position: r.position };
    if (r.moved) this.pushTo(user, update);
    return update;
  }

  /**
   * Tells the users whose conversations a batch of the log changed, those with a session on any node (the
   * cluster's directory: one node's consumer applies a batch, the user's devices may be on others).
   */
  async touched(list: readonly Touched[]): Promise<void> {
    for (const t of list) {
      if (!this.engine.isOnline(t.user)) continue;
      const { summary, position } = await this.area.summary(t.user, t.peer);
      if (summary !== null) this.pushTo(t.user, { ...summary, position });
    }
  }

  /** To every session of the user on every node, through the Router's cluster delivery. */
  private pushTo(user: string, update: ConversationUpdate): void {
    this.push(user, UPDATE_EVENT, { ...update });
  }
}
