/**
 * XEP-0313 message archive management over Parley's message log: the same history the JSON API reads
 * (Engine.history), so an XMPP client and a JSON client of one user see one archive. Archive ids are the
 * server's message ids (the XEP-0359 stanza-id every delivered message carries). Paging is XEP-0059 result
 * set management (max, before, after; an empty <before/> asks for the newest page). Pages are bounded in bytes
 * as well as in count, and queries count against the user's heavy reads (Engine.history, Engine.archive).
 */
import { ParleyError } from '../../core/errors.js';
import { parseBare } from '../../core/address.js';
import type { MessageView } from '../../core/types.js';
import { nickOf, stamp } from '../../protocols/xmpp/c2s/encode.js';
import { NS } from '../../protocols/xmpp/c2s/ns.js';
import type { IqContext } from '../../protocols/xmpp/c2s/types.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { serialize } from '../../protocols/xmpp/xml/serialize.js';

/** The query form (XEP-0313 §5.1): the fields this archive filters on. */
export const MAM_FORM = el(
  'query',
  { xmlns: NS.mam },
  el(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', null, NS.mam)),
    el('field', { var: 'with', type: 'jid-single' }),
  ),
);

const DEFAULT_MAX = 50;

/** Runs a query: sends one <message/> per result, returns the <fin/> (XEP-0313 §4.1). */
export async function mamQuery({ conn, session, payload, target }: IqContext): Promise<Element> {
  const engine = conn.engine;
  const queryId = payload.attr('queryid');
  const fields = formFields(payload.getChild('x', NS.dataForms));
  for (const name of fields.keys()) {
    if (name !== 'FORM_TYPE' && name !== 'with') throw new ParleyError('feature-not-implemented', `filtering on "${name}" is not supported; filter by "with" and page with RSM`);
  }
  const set = payload.getChild('set', NS.rsm);
  const maxText = set?.getChild('max')?.text();
  const max = maxText !== undefined ? Number(maxText) : DEFAULT_MAX;
  if (!Number.isInteger(max) || max < 0) throw new ParleyError('bad-request', '<max/> must be a non-negative integer');
  const limit = Math.min(max, engine.historyPageMax);
  const beforeEl = set?.getChild('before');
  const afterEl = set?.getChild('after');
  const seqOf = async (id: string): Promise<number> => {
    const seq = await engine.messages.seqOf(id);
    if (seq === null) throw new ParleyError('item-not-found', `no archived message ${id}`);
    return seq;
  };
  const before = beforeEl && beforeEl.text() !== '' ? await seqOf(beforeEl.text()) : undefined;
  const after = afterEl && afterEl.text() !== '' ? await seqOf(afterEl.text()) : undefined;

  let withAddr: string;
  if (target.kind === 'room') {
    if (fields.has('with')) throw new ParleyError('bad-request', 'a room archive is queried without "with"');
    withAddr = target.bare;
  } else {
    const w = fields.get('with');
    if (w === undefined) {
      return allConversations(conn, session.user, queryId, limit, after, beforeEl !== undefined);
    }
    withAddr = parseBare(w);
  }
  // No RSM paging asked: the archive from its start (XEP-0313 §4.1.2); an empty <before/>: the newest page.
  // A page may hold fewer than <max/> messages when their bodies reach the byte bound (XEP-0059 §2.2 lets the
  // responder return fewer); `complete` comes from the store's look-ahead, so it is true only at the end.
  const page =
    limit === 0
      ? { messages: [], more: true }
      : await engine.history(session.user, {
          with: withAddr,
          before,
          after: before === undefined && after === undefined && beforeEl === undefined ? 0 : after,
          limit,
        });
  const isRoom = target.kind === 'room';
  for (const m of page.messages) sendResult(conn, m, queryId, isRoom ? target.bare : session.user, isRoom);
  return fin(page.messages, !page.more);
}

/**
 * Without "with": the user's 1:1 messages in log order, forward paging only. The page may hold fewer than
 * <max/> messages (the byte bound of Engine.archive); XEP-0059 §2.2 allows a shorter page, and <fin/> says
 * complete only when nothing follows.
 */
async function allConversations(
  conn: IqContext['conn'],
  user: string,
  queryId: string | undefined,
  limit: number,
  after: number | undefined,
  backwards: boolean,
): Promise<Element> {
  if (backwards) throw new ParleyError('feature-not-implemented', 'page backwards within one conversation ("with"); the whole archive pages forwards');
  const page = limit === 0 ? { messages: [], more: false } : await conn.engine.archive(user, { after, limit });
  for (const m of page.messages) sendResult(conn, m, queryId, user, false);
  return fin(page.messages, !page.more);
}

function sendResult(conn: IqContext['conn'], m: MessageView, queryId: string | undefined, archive: string, isRoom: boolean): void {
  if (m.retractedAt !== null || m.body === null) return;
  const from = isRoom ? `${m.to}/${nickOf(m.from)}` : m.fromResource ? `${m.from}/${m.fromResource}` : m.from;
  const original = el('message', { xmlns: NS.client, type: m.type, id: m.clientId ?? m.id, from, to: isRoom ? conn.full : m.to }, el('body', null, m.body));
  original.append(el('stanza-id', { xmlns: NS.sid, id: m.id, by: archive }));
  const forwarded = el('forwarded', { xmlns: NS.forward }, el('delay', { xmlns: NS.delay, stamp: stamp(m.ts) }), original);
  const wrapper = el('message', { xmlns: NS.client, to: conn.full, from: archive }, el('result', { xmlns: NS.mam, queryid: queryId, id: m.id }, forwarded));
  conn.sendStanza(serialize(wrapper));
}

function fin(list: MessageView[], complete: boolean): Element {
  const set = el('set', { xmlns: NS.rsm });
  const visible = list.filter((m) => m.retractedAt === null && m.body !== null);
  if (visible.length > 0) {
    set.append(el('first', null, visible[0]!.id));
    set.append(el('last', null, visible[visible.length - 1]!.id));
  }
  return el('fin', { xmlns: NS.mam, complete: complete ? 'true' : undefined }, set);
}

/** XEP-0004 submitted form fields (first value of each). */
function formFields(x: Element | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!x) return out;
  for (const f of x.getChildren('field')) {
    const name = f.attr('var');
    const value = f.getChild('value')?.text();
    if (name && value !== undefined && value !== '') out.set(name, value);
  }
  return out;
}
