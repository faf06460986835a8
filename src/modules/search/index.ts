/**
 * Search of one's own history: a full-text index of message bodies in the module's own storage area, fed by a
 * log consumer with its own stored position (outside the delivery path), and searches that show a user only
 * what history would (service.ts). Served as the JSON `search` operation, GET /api/v1/search, and the `search`
 * service the mam module answers XEP-0431 full-text queries with.
 */
import { z } from 'zod';
import type { LogRecord } from '../../core/types.js';
import { op } from '../../protocols/json-ws/ops.js';
import { parseParams } from '../../protocols/params.js';
import { defineModule } from '../api.js';
import { sqliteBeside } from '../sqlite-memory.js';
import { searchOptions } from './options.js';
import { QUERY_MAX_CHARS } from './query.js';
import { SearchService, type SearchServiceApi } from './service.js';
import { area, type IndexRecord, type SearchArea } from './sqlite.js';

declare module '../api.js' {
  interface ModuleServices {
    /** Full-text search of a user's own history (the search module). */
    search: SearchServiceApi;
  }
}

const addr = z.string().min(1).max(3071);
/** The parameters of a search, for the JSON operation (numbers) and the HTTP query string (coerced). */
const params = (num: z.ZodType<number | undefined>) =>
  z.strictObject({ q: z.string().min(1).max(QUERY_MAX_CHARS), with: addr.optional(), room: addr.optional(), before: num, limit: num });
const jsonParams = params(z.number().int().min(1).optional());
const httpParams = params(z.coerce.number().int().min(1).optional());

/** What the index takes of the log: message bodies, edits and retractions (receipts carry no text). */
function indexRecords(records: readonly LogRecord[]): IndexRecord[] {
  const out: IndexRecord[] = [];
  for (const r of records) {
    if (r.kind === 'receipt') continue;
    out.push({ kind: r.kind, type: r.type, seq: r.seq, id: r.id, conv: r.conv, from: r.from, fromResource: r.fromResource, to: r.to, clientId: r.clientId, body: r.body, ref: r.ref, ts: r.ts });
  }
  return out;
}

/**
 * Text handed to the store's thread in one indexing call, at most: that thread also commits every message, so a
 * batch of large bodies is indexed in several short calls, between which commits go on (a control message's
 * latency while 40 big history pages were read and indexed, test/hostile/requests.test.ts).
 */
const INDEX_CALL_CHARS = 256 * 1024;

/** Splits records into calls of at most INDEX_CALL_CHARS characters of text (a larger body alone in its call). */
function indexCalls(records: IndexRecord[]): IndexRecord[][] {
  const calls: IndexRecord[][] = [];
  let call: IndexRecord[] = [];
  let chars = 0;
  for (const r of records) {
    const n = r.body?.length ?? 0;
    if (call.length > 0 && chars + n > INDEX_CALL_CHARS) {
      calls.push(call);
      call = [];
      chars = 0;
    }
    call.push(r);
    chars += n;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/** The search module. */
export const search = defineModule({
  name: 'search',
  summary: 'Full-text search of one\'s own history: JSON `search`, GET /api/v1/search, XEP-0431 in MAM',
  options: searchOptions,
  storage: sqliteBeside(import.meta.url, area),
  setup(api) {
    const store = api.storage<SearchArea>();
    const service = new SearchService(api.engine, store, api.options.maxResults);
    api.consume('index', async (records) => {
      // In order: an edit or a retraction follows the message it changes. Applying a batch again is harmless.
      for (const call of indexCalls(indexRecords(records))) await store.index(call);
    }, { batch: 256, yieldToTraffic: true });
    api.provide('search', service);
    api.jsonOp('search', op(jsonParams, async ({ session }, p) => service.search(session.user, p)));
    api.http((app, ctx) => {
      app.get('/', async (req) => service.search(await ctx.user(req), parseParams(httpParams, req.query)));
    });
  },
});

export { SearchService };
