/**
 * The JSON protocol's operations: one table, name → parameter schema and handler. Each handler only
 * translates: it parses addresses, calls the engine and shapes the reply. docs/protocol.md documents each.
 */
import { z } from 'zod';
import { parseAddress, parseBare } from '../../core/address.js';
import { validatePresence } from '../../core/presence.js';
import type { Engine } from '../../engine/engine.js';
import type { Session } from '../../engine/session.js';
import { checkExtensionXml } from '../xmpp/extensions.js';

/** What a handler gets. */
export interface OpContext {
  engine: Engine;
  session: Session;
  /** Epoch ms the frame arrived (delivery latency starts here). */
  startedAt: number;
}

/** One operation: its parameter schema and handler. */
export interface OpDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  run(ctx: OpContext, p: z.infer<S>): Promise<unknown>;
}

/** Declares an operation (modules add theirs with it). */
export const op = <S extends z.ZodType>(schema: S, run: (ctx: OpContext, p: z.infer<S>) => Promise<unknown>): OpDef<S> => ({ schema, run });

const addr = z.string().min(1).max(3071);
const id = z.string().min(1).max(64);
const clientId = z.string().min(1).max(128).optional();
const xml = z.string().optional();
const contact = z.strictObject({ contact: addr });
const roomRef = z.strictObject({ room: addr });
const roomUser = z.strictObject({ room: addr, user: addr });

/** A client's extension text, checked and made canonical (bad-request with reason bad-xml when malformed). */
const extensions = (text: string | undefined): string | null => (text === undefined ? null : checkExtensionXml(text));

const subscription = (action: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed') =>
  op(contact, async ({ engine, session }, p) => ({ item: await engine.rosters.act(session.user, parseBare(p.contact), action) }));

/** Every operation a session may call after hello. */
export const OPS = {
  ping: op(z.strictObject({}), async () => ({})),
  'presence.set': op(z.record(z.string(), z.unknown()), async ({ engine, session, startedAt }, p) => {
    await engine.setPresence(session, validatePresence(p, engine.ctx.now()), startedAt);
    return {};
  }),
  'presence.get': op(z.strictObject({ user: addr }), async ({ engine, session }, p) => ({
    presence: await engine.presence.query(session.user, parseBare(p.user)),
  })),
  'presence.direct': op(z.strictObject({ to: addr }), async ({ engine, session }, p) => {
    await engine.presence.directed(session, parseBare(p.to));
    return {};
  }),
  'roster.get': op(z.strictObject({}), async ({ engine, session }) => ({ items: await engine.rosters.get(session.user) })),
  'roster.set': op(
    z.strictObject({ contact: addr, name: z.string().max(256).nullable().optional(), groups: z.array(z.string().max(256)).max(64).optional() }),
    async ({ engine, session }, p) => ({ item: await engine.rosters.set(session.user, parseBare(p.contact), p.name ?? null, p.groups ?? []) }),
  ),
  'roster.remove': op(contact, async ({ engine, session }, p) => {
    await engine.rosters.remove(session.user, parseBare(p.contact));
    return {};
  }),
  'roster.subscribe': subscription('subscribe'),
  'roster.approve': subscription('subscribed'),
  'roster.deny': subscription('unsubscribed'),
  'roster.cancel': subscription('unsubscribed'),
  'roster.unsubscribe': subscription('unsubscribe'),
  // `xml`: extension elements (a link, a reaction, an encrypted payload), checked as the XMPP front door checks a
  // stanza; with them the body may be left out.
  'message.send': op(z.strictObject({ to: addr, body: z.string().optional(), clientId, xml }), async ({ engine, session, startedAt }, p) =>
    engine.messages.send(session, parseAddress(p.to), p.body ?? null, p.clientId ?? null, startedAt, extensions(p.xml)),
  ),
  'message.edit': op(z.strictObject({ id, body: z.string(), clientId, xml }), async ({ engine, session, startedAt }, p) =>
    engine.messages.edit(session, p.id, p.body, p.clientId ?? null, startedAt, extensions(p.xml)),
  ),
  'message.retract': op(z.strictObject({ id, clientId }), async ({ engine, session, startedAt }, p) =>
    engine.messages.retract(session, p.id, p.clientId ?? null, startedAt),
  ),
  'message.receipt': op(z.strictObject({ id, kind: z.enum(['delivered', 'read']) }), async ({ engine, session, startedAt }, p) =>
    engine.messages.receipt(session, p.id, p.kind, startedAt),
  ),
  typing: op(z.strictObject({ to: addr, state: z.enum(['composing', 'paused', 'active', 'inactive', 'gone']) }), async ({ engine, session }, p) => {
    await engine.messages.typing(session, parseAddress(p.to), p.state);
    return {};
  }),
  history: op(
    z.strictObject({
      with: addr,
      before: z.number().int().min(0).optional(),
      after: z.number().int().min(0).optional(),
      start: z.number().int().min(0).optional(),
      end: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).optional(),
    }),
    async ({ engine, session }, p) => engine.history(session.user, p),
  ),
  'sync.ack': op(z.strictObject({ upTo: z.number().int().min(0) }), async ({ engine, session }, p) => {
    await engine.ack(session, p.upTo);
    return {};
  }),
  'room.create': op(
    z.strictObject({ name: z.string().min(1).max(256), local: z.string().min(1).max(1023).optional(), membersOnly: z.boolean().optional() }),
    async ({ engine, session }, p) => ({ room: await engine.rooms.create(session.user, p.name, p.local ?? null, p.membersOnly ?? true) }),
  ),
  'room.list': op(z.strictObject({ after: addr.optional() }), async ({ engine, session }, p) => engine.rooms.list(session.user, p.after ?? null)),
  'room.invite': op(roomUser, async ({ engine, session }, p) => {
    await engine.rooms.invite(parseBare(p.room), session.user, parseBare(p.user));
    return {};
  }),
  'room.join': op(roomRef, async ({ engine, session }, p) => ({ role: await engine.rooms.join(parseBare(p.room), session.user) })),
  'room.leave': op(roomRef, async ({ engine, session }, p) => {
    await engine.rooms.leave(parseBare(p.room), session.user);
    return {};
  }),
  'room.kick': op(z.strictObject({ room: addr, user: addr, reason: z.string().max(1024).optional() }), async ({ engine, session }, p) => {
    await engine.rooms.kick(parseBare(p.room), session.user, parseBare(p.user), p.reason ?? null);
    return {};
  }),
  'room.role': op(z.strictObject({ room: addr, user: addr, role: z.enum(['owner', 'admin', 'member']) }), async ({ engine, session }, p) => {
    await engine.rooms.setRole(parseBare(p.room), session.user, parseBare(p.user), p.role);
    return {};
  }),
  'room.destroy': op(roomRef, async ({ engine, session }, p) => {
    await engine.rooms.destroy(parseBare(p.room), session.user);
    return {};
  }),
  'room.ban': op(z.strictObject({ room: addr, target: addr, reason: z.string().max(1024).optional() }), async ({ engine, session }, p) => {
    await engine.rooms.moderation.ban(parseBare(p.room), session.user, parseBare(p.target), p.reason ?? null);
    return {};
  }),
  'room.unban': op(z.strictObject({ room: addr, target: addr }), async ({ engine, session }, p) => ({
    lifted: await engine.rooms.moderation.unban(parseBare(p.room), session.user, parseBare(p.target)),
  })),
  'room.bans': op(roomRef, async ({ engine, session }, p) => ({ bans: await engine.rooms.moderation.bans(parseBare(p.room), session.user) })),
  'room.voice': op(z.strictObject({ room: addr, user: addr, voice: z.boolean() }), async ({ engine, session }, p) => {
    await engine.rooms.moderation.setVoice(parseBare(p.room), session.user, parseBare(p.user), p.voice);
    return {};
  }),
  'room.configure': op(z.strictObject({ room: addr, moderated: z.boolean() }), async ({ engine, session }, p) => {
    await engine.rooms.moderation.setModerated(parseBare(p.room), session.user, p.moderated);
    return {};
  }),
  'room.private': op(z.strictObject({ room: addr, user: addr, body: z.string().min(1) }), async ({ engine, session }, p) => {
    await engine.rooms.privateMessage(session, parseBare(p.room), { user: parseBare(p.user) }, { body: p.body, type: 'chat', state: null, id: null, xml: null, noCopies: false });
    return {};
  }),
  'room.members': op(roomRef, async ({ engine, session }, p) => ({ members: await engine.rooms.memberList(parseBare(p.room), session.user) })),
  'room.occupants': op(roomRef, async ({ engine, session }, p) => ({ occupants: await engine.rooms.occupants(parseBare(p.room), session.user) })),
} satisfies Record<string, OpDef<z.ZodType>>;

/** Operation names. */
export type OpName = keyof typeof OPS;

/** The definition of operation `name`: the core's, else a module's (modules may not take the core's names). */
export function opOf(name: string, moduleOps?: ReadonlyMap<string, OpDef>): OpDef | undefined {
  return Object.hasOwn(OPS, name) ? OPS[name as OpName] : moduleOps?.get(name);
}
