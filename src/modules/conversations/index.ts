/**
 * The server-side conversation list: per user and conversation (a 1:1 peer or a room) the newest message, the
 * user's read position, unread and mention counts, kept in the module's own storage area and fed by a log
 * consumer with its own stored position (outside the delivery path, yielding to live traffic). Read positions
 * move with the user's own messages, its read receipts (JSON `message.receipt` read, XMPP XEP-0333 `displayed`),
 * and the JSON `conversation.read` operation. Served as JSON `conversations`, GET /api/v1/conversations, and the
 * `conversations.update` event to every JSON session of the user.
 */
import { z } from 'zod';
import type { LogRecord } from '../../core/types.js';
import type { Engine } from '../../engine/engine.js';
import { op } from '../../protocols/json-ws/ops.js';
import { parseParams } from '../../protocols/params.js';
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { mentioned } from './mentions.js';
import { conversationsOptions } from './options.js';
import { ConversationsService } from './service.js';
import { area, type AreaItem, type ConversationsArea } from './sqlite.js';

/** Characters of a message a list shows, at most. */
export const PREVIEW_CHARS = 120;

/** A body as a one-line preview: runs of white space as one space, cut at PREVIEW_CHARS (not inside a pair). */
export function previewOf(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat.length <= PREVIEW_CHARS) return flat;
  const cut = /[\uD800-\uDBFF]/.test(flat[PREVIEW_CHARS - 1]!) ? PREVIEW_CHARS - 1 : PREVIEW_CHARS;
  return `${flat.slice(0, cut)}…`;
}

/**
 * What the area takes of a batch of the log: messages with a body (a reaction or a bare payload is no unread
 * message), edits, retractions and read receipts. A 1:1 message is listed for each party that is an account
 * whose history it is part of (after the account's createdSeq: a removed account's records arriving late, or a
 * re-created account's predecessor's, list nothing for it). A room message's mentions are matched against the
 * room's members now.
 */
async function itemsOf(engine: Engine, records: readonly LogRecord[]): Promise<AreaItem[]> {
  const out: AreaItem[] = [];
  for (const r of records) {
    if (r.kind === 'receipt') {
      if (r.receipt === 'read' && r.ref !== null) out.push({ t: 'read', reader: r.from, ref: r.ref });
      continue;
    }
    if (r.kind === 'retract') {
      if (r.ref !== null) out.push({ t: 'retract', ref: r.ref });
      continue;
    }
    if (r.kind === 'edit') {
      if (r.ref !== null && r.body !== null) out.push({ t: 'edit', ref: r.ref, preview: previewOf(r.body) });
      continue;
    }
    if (r.body === null || r.body.trim() === '') continue;
    const base = { conv: r.conv, seq: r.seq, id: r.id, from: r.from, to: r.to, ts: r.ts, preview: previewOf(r.body) };
    if (r.type === 'groupchat') {
      const members = await engine.rooms.membersOf(r.to);
      // A room with no members now (destroyed) has no reader to list it for.
      if (members.length === 0) continue;
      out.push({ t: 'msg', kind: 'room', ...base, mentions: mentioned(r.body, r.xml, r.from, members), parties: [r.from] });
      continue;
    }
    const parties: string[] = [];
    for (const p of r.from === r.to ? [r.from] : [r.from, r.to]) {
      const floor = await engine.accountFloor(p);
      if (floor !== null && r.seq > floor) parties.push(p);
    }
    out.push({ t: 'msg', kind: 'chat', ...base, mentions: [], parties });
  }
  return out;
}

const addr = z.string().min(1).max(3071);
/** The parameters of a list, for the JSON operation (numbers) and the HTTP query string (coerced). */
const listParams = (num: z.ZodType<number | undefined>) => z.strictObject({ limit: num, before: num });
const jsonList = listParams(z.number().int().min(1).optional());
const httpList = listParams(z.coerce.number().int().min(1).optional());
const readParams = z.strictObject({ with: addr, upTo: z.number().int().min(1).optional() });
const removeParams = z.strictObject({ with: addr });

/** The conversations module. */
export const conversations = defineModule({
  name: 'conversations',
  summary: 'Conversation list with read positions, unread and mention counts: JSON `conversations`, `conversation.read`, GET /api/v1/conversations',
  options: conversationsOptions,
  storage: sqliteBeside(import.meta.url, area),
  setup(api) {
    const store = api.storage<ConversationsArea>();
    const service = new ConversationsService(api.engine, store, () => api.options.pageSize, (user, ev, data) => api.pushToUser(user, ev, data));
    api.consume(
      'log',
      async (records) => {
        // Applying a batch again (after a failure before its position was stored) changes nothing.
        const touched = await store.apply(records[records.length - 1]!.seq, await itemsOf(api.engine, records));
        await service.touched(touched);
      },
      { batch: 256, yieldToTraffic: true },
    );
    // Rooms: listed from joining, kept after leaving (its past readable, with how the user left: on its own, or
    // removed or banned by a moderator, XEP-0045 §8.2, §9.1), gone with the room (§10.9 destroy) or when removed.
    api.on('room.membership', async (e) => {
      if (e.role === null) {
        const how = e.banned === true ? 'banned' : e.by === e.user ? 'left' : 'removed';
        await store.left(e.user, e.room, { how, by: how === 'left' ? null : e.by, reason: e.reason ?? null }, await api.engine.logPosition());
      } else await store.joined(e.user, e.room);
      await service.membershipChanged(e.user, e.room);
    });
    // A former member reads (and searches) the room's history up to its leaving, until it removes the room from
    // its list.
    api.engine.readLeftRooms({ leftAt: (user, room) => store.leftAt(user, room), leftRooms: (user) => store.leftRooms(user) });
    api.on('room.destroyed', async (e) => store.dropRoom(e.room));
    api.on('account.removed', async (e) => store.dropAccount(e.address));
    api.jsonOp('conversations', op(jsonList, async ({ session }, p) => service.list(session.user, p)));
    api.jsonOp('conversation.read', op(readParams, async ({ session }, p) => service.read(session.user, p)));
    api.jsonOp('conversation.remove', op(removeParams, async ({ session }, p) => service.remove(session.user, p)));
    api.http((app, ctx) => {
      app.get('/', async (req) => service.list(await ctx.user(req), parseParams(httpList, req.query)));
    });
  },
});

export { ConversationsService };
