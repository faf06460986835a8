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
import { withExtensions } from '../../protocols/xmpp/extensions.js';
import type { SearchServiceApi } from '../search/service.js';
import type { IndexedMessage } from '../search/sqlite.js';

/** XEP-0431 §4: the full-text search field of the query form, present when the search module runs. */
export const FULLTEXT_FIELD = '{urn:xmpp:fulltext:0}fulltext';

/** The query form (XEP-0313 §5.1): the fields this archive filters on, with XEP-0431's when search is on. */
export function mamForm(fulltext: boolean): Element {
  return el(
    'query',
    { xmlns: NS.mam },
    el(
      'x',
      { xmlns: NS.dataForms, type: 'form' },
      el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', null, NS.mam)),
      el('field', { var: 'with', type: 'jid-single' }),
      el('field', { var: 'start', type: 'text-single' }),
      el('field', { var: 'end', type: 'text-single' }),
      ...(fulltext ? [el('field', { var: FULLTEXT_FIELD, type: 'text-single', label: 'Search for' })] : []),
    ),
  );
}

/** XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD being Z or ±hh:mm. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A form's start or end as epoch ms; bad-request naming the field when it is not an XEP-0082 DateTime. */
function timeField(fields: Map<string, string>, name: 'start' | 'end'): number | undefined {
  const v = fields.get(name);
  if (v === undefined) return undefined;
  const t = DATETIME.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new ParleyError('bad-request', `"${name}" must be an XEP-0082 date and time, e.g. 2026-12-05T09:30:00Z`);
  // An end with a fraction finer than a millisecond still covers that whole millisecond.
  return name === 'end' ? Math.floor(t) : Math.ceil(t);
}

const DEFAULT_MAX = 50;
/** The form fields a query may fill in (XEP-0313 §4.1.1). */
const FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end']);

/**
 * Runs a query: sends one <message/> per result, returns the <fin/> (XEP-0313 §4.1). With `search` (the search
 * module's service), the XEP-0431 full-text field narrows the results to the messages that match it.
 */
export async function mamQuery({ conn, session, payload, target }: IqContext, search?: SearchServiceApi): Promise<Element> {
  const engine = conn.engine;
  const queryId = payload.attr('queryid');
  const fields = formFields(payload.getChild('x', NS.dataForms));
  for (const name of fields.keys()) {
    if (!FIELDS.has(name) && !(search && name === FULLTEXT_FIELD)) {
      throw new ParleyError('feature-not-implemented', `filtering on "${name}" is not supported; filter by "with", "start" and "end"${search ? ` and "${FULLTEXT_FIELD}"` : ''}, and page with RSM`);
    }
  }
  const start = timeField(fields, 'start');
  const end = timeField(fields, 'end');
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

  const text = fields.get(FULLTEXT_FIELD);
  if (search && text !== undefined) {
    if (target.kind === 'room' && fields.has('with')) throw new ParleyError('bad-request', 'a room archive is queried without "with"');
    // XEP-0431 §5: the other filters and RSM paging apply as without it; no paging asked: from the start.
    const page =
      limit === 0
        ? { messages: [], more: true }
        : await search.archive(session.user, {
            text,
            with: target.kind === 'room' ? undefined : fields.get('with'),
            room: target.kind === 'room' ? target.bare : undefined,
            start,
            end,
            before,
            after: before === undefined && after === undefined && beforeEl === undefined ? 0 : after,
            limit,
          });
    const isRoom = target.kind === 'room';
    const views = page.messages.map(asView);
    for (const m of views) sendResult(conn, m, queryId, isRoom ? target.bare : session.user, isRoom);
    return fin(views, !page.more);
  }

  let withAddr: string;
  if (target.kind === 'room') {
    if (fields.has('with')) throw new ParleyError('bad-request', 'a room archive is queried without "with"');
    withAddr = target.bare;
  } else {
    const w = fields.get('with');
    if (w === undefined) {
      return allConversations(conn, session.user, queryId, limit, { before, after, start, end, backwards: beforeEl !== undefined });
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
          start,
          end,
          limit,
        });
  const isRoom = target.kind === 'room';
  for (const m of page.messages) sendResult(conn, m, queryId, isRoom ? target.bare : session.user, isRoom);
  return fin(page.messages, !page.more);
}

/**
 * Without "with": the user's 1:1 messages of every conversation, in log order, paged as within one (forwards
 * from the start, or backwards with <before/>), narrowed by start and end. The page may hold fewer than <max/>
 * messages (the byte bound); XEP-0059 §2.2 allows a shorter page, and <fin/> says complete only at the end.
 */
async function allConversations(
  conn: IqContext['conn'],
  user: string,
  queryId: string | undefined,
  limit: number,
  p: { before: number | undefined; after: number | undefined; start: number | undefined; end: number | undefined; backwards: boolean },
): Promise<Element> {
  const after = p.before === undefined && p.after === undefined && !p.backwards ? 0 : p.after;
  const page = limit === 0 ? { messages: [], more: true } : await conn.engine.archive(user, { before: p.before, after, start: p.start, end: p.end, limit });
  for (const m of page.messages) sendResult(conn, m, queryId, user, false);
  return fin(page.messages, !page.more);
}

/** A search hit as an archived message: its current text, no extension elements (the index keeps none). */
const asView = (m: IndexedMessage): MessageView => ({
  seq: m.seq,
  id: m.id,
  type: m.type,
  conv: '',
  from: m.from,
  fromResource: m.fromResource,
  to: m.to,
  clientId: m.clientId,
  body: m.body,
  xml: null,
  ts: m.ts,
  editedAt: null,
  retractedAt: null,
});

/** Whether an archived message is shown: not retracted, and with a body or extension elements (a reaction). */
const visible = (m: MessageView): boolean => m.retractedAt === null && (m.body !== null || m.xml !== null);

function sendResult(conn: IqContext['conn'], m: MessageView, queryId: string | undefined, archive: string, isRoom: boolean): void {
  if (!visible(m)) return;
  const from = isRoom ? `${m.to}/${nickOf(m.from)}` : m.fromResource ? `${m.from}/${m.fromResource}` : m.from;
  const original = el('message', { xmlns: NS.client, type: m.type, id: m.clientId ?? m.id, from, to: isRoom ? conn.full : m.to });
  if (m.body !== null) original.append(el('body', null, m.body));
  original.append(el('stanza-id', { xmlns: NS.sid, id: m.id, by: archive }));
  // The stored extension elements go into the archived message as they are (never parsed again).
  const inner = withExtensions(serialize(original), m.xml);
  const forwarded = el('forwarded', { xmlns: NS.forward }, el('delay', { xmlns: NS.delay, stamp: stamp(m.ts) }));
  const wrapper = el('message', { xmlns: NS.client, to: conn.full, from: archive }, el('result', { xmlns: NS.mam, queryid: queryId, id: m.id }, forwarded));
  const text = serialize(wrapper);
  // XEP-0297 §3: the forwarded stanza follows the delay, inside <forwarded/> (the last one in the text).
  const at = text.lastIndexOf('</forwarded>');
  conn.sendStanza(text.slice(0, at) + inner + text.slice(at));
}

function fin(list: MessageView[], complete: boolean): Element {
  const set = el('set', { xmlns: NS.rsm });
  const shown = list.filter(visible);
  if (shown.length > 0) {
    set.append(el('first', null, shown[0]!.id));
    set.append(el('last', null, shown[shown.length - 1]!.id));
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
