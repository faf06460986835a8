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
import type { ConversationPage, ConversationsArea, ConversationSummary, Touched } from './sqlite.js';

/** The event the module pushes (module events carry the module's name: `conversations.update`). */
export const UPDATE_EVENT = 'update';
/** The event telling the user's sessions a conversation left the list (`conversations.removed`). */
export const REMOVED_EVENT = 'removed';

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
      const scope = await this.engine.readScope(user, false);
      const page = await this.area.list(user, [...scope.rooms.keys()], limit, p.before ?? null);
      for (const c of page.conversations) await this.withRejoin(user, c);
      return page;
    });
  }

  /**
   * A room the user left says whether it may join again now (RoomService.mayJoin: open or invited, not banned),
   * and its name (the user's room list no longer has it).
   */
  private async withRejoin(user: string, c: ConversationSummary): Promise<ConversationSummary> {
    if (!c.left) return c;
    c.rejoin = await this.engine.rooms.mayJoin(c.with, user);
    const room = await this.engine.rooms.get(c.with);
    if (room !== null) c.name = room.name;
    return c;
  }

  /**
   * JSON `conversation.remove`: takes a room the user left off its list, on every device; its history is no longer
   * readable to the user. A conversation that is not a room left is not removed (not-allowed): a room the user
   * is in is left first, and a 1:1 conversation would come back with the next message.
   */
  async remove(user: string, p: { with: string }): Promise<{ removed: string }> {
    const peer = parseBare(p.with);
    if (!(await this.area.forget(user, peer))) {
      const kind = await this.area.kindOf(user, peer);
      if (kind === null) throw new ParleyError('item-not-found', `no conversation with ${peer}`);
      throw new ParleyError('not-allowed', kind === 'room' ? `leave ${peer} before removing it from the list` : `only rooms you left can be removed from the list`);
    }
    this.push(user, REMOVED_EVENT, { with: peer });
    return { removed: peer };
  }

  /** A room the user joined or left: every device hears the conversation as it is now (left, why, rejoin). */
  async membershipChanged(user: string, room: string): Promise<void> {
    if (!this.engine.isOnline(user)) return;
    const { summary, position } = await this.area.summary(user, room);
    if (summary !== null) this.pushTo(user, { ...(await this.withRejoin(user, summary)), position });
  }

  /**
   * JSON `conversation.read`: the user has read `with` up to `upTo` (a seq; the newest message when absent). A
   * position never moves back (an older `upTo` changes nothing). A room must be one the user is a member of now.
   */
  async read(user: string, p: { with: string; upTo?: number | undefined }): Promise<ConversationUpdate> {
    const peer = parseBare(p.with);
    const scope = await this.engine.readScope(user, false);
    let kind: 'chat' | 'room';
    if (scope.rooms.has(peer)) kind = 'room';
    else if ((await this.area.kindOf(user, peer)) === 'room' || (await this.engine.rooms.get(peer)) !== null) {
      // A room the user left, or was never in: nothing to mark (history answers the same, RoomService.requireMember).
      throw new ParleyError('forbidden', `you are not a member of ${peer}`);
    } else kind = 'chat';
    const conv = conversationKey(kind === 'room' ? 'groupchat' : 'chat', user, peer);
    const r = await this.area.markRead(user, peer, kind, conv, p.upTo ?? null);
    const update: ConversationUpdate = { ...(await this.withRejoin(user, r.summary)), position: r.position };
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
      if (summary !== null) this.pushTo(t.user, { ...(await this.withRejoin(t.user, summary)), position });
    }
  }

  /** To every session of the user on every node, through the Router's cluster delivery. */
  private pushTo(user: string, update: ConversationUpdate): void {
    this.push(user, UPDATE_EVENT, { ...update });
  }
}
