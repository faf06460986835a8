/**
 * Retention and legal holds (docs/archive-retention.md), the archive's part on the store's thread. A policy
 * per domain or per room says how long message content is kept (maxDays) and how long it must be kept at least
 * (minDays, a floor later policies of that scope cannot undercut); a retention run expires content past its
 * policy unless an active hold covers it. Expiry empties the entry's bytes and keeps its leaf hash, so the tree,
 * every checkpoint and every proof stay valid (verify.ts accepts a NULL entry that has expired_at).
 *
 * Only log records (messages, edits, retractions, receipts: entries with a seq) expire. The archive's own
 * entries (membership, accounts, officers' actions, retention runs and holds) are the audit trail of the
 * archive and are kept.
 */
import type Database from 'better-sqlite3';
import { parseBare } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { eventDraft } from './entry.js';
import { dmPair, holdCovers, normaliseDomain, normaliseHoldScope, roomOf, type HeldEntry, type Hold, type HoldScope } from './holds.js';
import { ENTRY_COLUMNS, entryFields, leafSealer, readAhead, withParties, type AppendEntry, type LeafRow } from './journal.js';
import { hourOf, indexPosition } from './search.js';

/** Retention policies and legal holds: the archive's migration 3 (after the search index's). */
export const RETENTION_MIGRATION: ModuleMigration = {
  version: 3,
  name: 'retention policies and legal holds',
  sql: `
    CREATE TABLE archive_retention (
      kind     TEXT NOT NULL CHECK (kind IN ('domain', 'room')),
      scope    TEXT NOT NULL,            -- the domain or the room's address
      min_days INTEGER NOT NULL,
      max_days INTEGER,                  -- NULL: keep forever
      set_at   INTEGER NOT NULL,
      set_by   TEXT,
      PRIMARY KEY (kind, scope)
    ) WITHOUT ROWID;
    CREATE TABLE archive_holds (
      id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a released id keeps naming its hold
      reason      TEXT NOT NULL,
      scope       TEXT NOT NULL,         -- HoldScope as JSON
      created_by  TEXT,
      created_at  INTEGER NOT NULL,
      released_at INTEGER,
      released_by TEXT
    );
    CREATE INDEX archive_holds_active ON archive_holds (id) WHERE released_at IS NULL;
  `,
};

const DAY_MS = 86_400_000;
/** Rows examined per transaction: small enough that the store's thread is never held long. */
export const RETENTION_CHUNK = 2000;

/** A retention policy. */
export interface RetentionPolicy {
  kind: 'domain' | 'room';
  scope: string;
  minDays: number;
  /** Null: kept forever. */
  maxDays: number | null;
  setAt: number;
  setBy: string | null;
}

/** The configured limits a policy and a run respect (modules.archive.retention). */
export interface RetentionLimits {
  /** The global floor in days (e.g. 2190, six years). */
  minimumDays: number;
  /** The max age of content no policy covers (null: forever). */
  defaultMaxDays: number | null;
}

/** One step of a retention run (the caller loops until done, reporting progress between steps). */
export interface RetentionStep {
  /** The run's id (its start time is fine): it ties the run's journal entries together. */
  run: string;
  /** The run's clock: every step compares ages with it. */
  now: number;
  /** The last journal idx examined (0 to start). */
  after: number;
  dryRun: boolean;
  limits: RetentionLimits;
  actor: string;
  /** Counts so far. */
  totals: RetentionTotals;
}

/** Counts of a retention run. */
export interface RetentionTotals {
  /** Entries past their policy examined. */
  examined: number;
  /** Expired (or, in a dry run, that would be). */
  expired: number;
  /** Past their policy but kept by a hold. */
  held: number;
}

/** What a step returns. */
export interface RetentionProgress {
  after: number;
  done: boolean;
  totals: RetentionTotals;
  /** The journal's size, for progress. */
  total: number;
}

/** The retention part of the archive's storage area. */
export interface RetentionArea {
  /** Sets the policy of a domain or room (journaled `archive.retention.set`); not-acceptable below a floor. */
  retentionSet(p: { domain?: string; room?: string; minDays: number; maxDays: number | null }, limits: RetentionLimits, actor: string, now: number): Promise<RetentionPolicy>;
  retentionList(): Promise<RetentionPolicy[]>;
  /** Removes a policy (journaled `archive.retention.remove`); item-not-found when there is none. */
  retentionRemove(p: { domain?: string; room?: string }, actor: string, now: number): Promise<RetentionPolicy>;
  /** Runs one chunk of a retention run; the last one journals the run's summary in its own transaction. */
  retentionStep(step: RetentionStep): Promise<RetentionProgress>;
  /** Places a legal hold (journaled `archive.hold.add`). */
  holdAdd(p: { person?: string; room?: string; search?: unknown; reason: string }, actor: string, now: number): Promise<Hold>;
  /** Holds, active first; released ones too when `all`. */
  holdList(all: boolean): Promise<Hold[]>;
  /** Releases a hold (journaled `archive.hold.release`); item-not-found for an unknown id, not-allowed twice. */
  holdRelease(id: number, actor: string, now: number): Promise<Hold>;
}

type PolicyRow = { kind: 'domain' | 'room'; scope: string; minDays: number; maxDays: number | null; setAt: number; setBy: string | null };
type HoldRow = { id: number; reason: string; scope: string; createdBy: string; createdAt: number; releasedAt: number | null; releasedBy: string | null };
type Candidate = LeafRow & { conv: string | null; actor: string | null; subject: string | null; ts: number };

const toHold = (r: HoldRow): Hold => ({ ...r, scope: JSON.parse(r.scope) as HoldScope });

/** Which policy scope the input names (exactly one of domain and room). */
function scopeOf(p: { domain?: string | undefined; room?: string | undefined }): { kind: 'domain' | 'room'; scope: string } {
  if ((p.domain === undefined) === (p.room === undefined)) throw new ParleyError('bad-request', 'a retention policy names exactly one of a domain or a room');
  return p.domain !== undefined ? { kind: 'domain', scope: normaliseDomain(p.domain) } : { kind: 'room', scope: parseBare(p.room!) };
}

/**
 * How refusals name a policy's two numbers: in the words an officer reads on the console's retention form (and in
 * docs/archive-retention.md), not by their JSON keys; the key is in the error's `path`.
 */
export const RETENTION_WORDS = { minDays: 'Keep at least', maxDays: 'Keep at most' } as const;

const days = (n: unknown, what: keyof typeof RETENTION_WORDS): void => {
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new ParleyError('bad-request', `"${RETENTION_WORDS[what]}" must be a whole number of days, 0 or more`, { path: what });
};

/**
 * The domain policy for an address: its domain's, else the nearest parent domain's, so a room on a room
 * subdomain (desk@conference.example.com) falls under its host domain's policy (example.com).
 */
function domainPolicy(address: string, policies: ReadonlyMap<string, PolicyRow>): PolicyRow | undefined {
  const labels = address.slice(address.lastIndexOf('@') + 1).split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const p = policies.get(`domain ${labels.slice(i).join('.')}`);
    if (p) return p;
  }
  return undefined;
}

/**
 * The max age in days of an entry's content: the room's policy, else the domain's (for a 1:1 conversation the
 * longer of both participants' domains, null meaning forever: keeping longer is the safe side), else the
 * default; never below the global floor.
 */
export function maxDaysFor(conv: string | null, policies: ReadonlyMap<string, PolicyRow>, limits: RetentionLimits): number | null {
  const floor = (d: number | null): number | null => (d === null ? null : Math.max(d, limits.minimumDays));
  const room = roomOf(conv);
  if (room !== null) {
    const p = policies.get(`room ${room}`) ?? domainPolicy(room, policies);
    return floor(p !== undefined ? p.maxDays : limits.defaultMaxDays);
  }
  // A side whose domain has no policy falls back to the default for that side; the longest side wins.
  const sides = dmPair(conv).map((a) => {
    const p = domainPolicy(a, policies);
    return p !== undefined ? p.maxDays : limits.defaultMaxDays;
  });
  if (sides.length === 0) return floor(limits.defaultMaxDays);
  return floor(sides.some((d) => d === null) ? null : Math.max(...(sides as number[])));
}

/** Opens the retention part; `append` journals inside the caller's write transaction. */
export function openRetention(db: Database.Database, ctx: SqliteAreaContext, append: AppendEntry): RetentionArea {
  const policyAll = db.prepare<[], PolicyRow>('SELECT kind, scope, min_days AS minDays, max_days AS maxDays, set_at AS setAt, set_by AS setBy FROM archive_retention ORDER BY kind, scope');
  const policyGet = db.prepare<[string, string], PolicyRow>('SELECT kind, scope, min_days AS minDays, max_days AS maxDays, set_at AS setAt, set_by AS setBy FROM archive_retention WHERE kind = ? AND scope = ?');
  const policyPut = db.prepare<[string, string, number, number | null, number, string]>(
    `INSERT INTO archive_retention (kind, scope, min_days, max_days, set_at, set_by) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (kind, scope) DO UPDATE SET min_days = excluded.min_days, max_days = excluded.max_days, set_at = excluded.set_at, set_by = excluded.set_by`,
  );
  const policyDel = db.prepare<[string, string]>('DELETE FROM archive_retention WHERE kind = ? AND scope = ?');
  const holdCols = 'id, reason, scope, created_by AS createdBy, created_at AS createdAt, released_at AS releasedAt, released_by AS releasedBy';
  const holdsActive = db.prepare<[], HoldRow>(`SELECT ${holdCols} FROM archive_holds WHERE released_at IS NULL ORDER BY id`);
  const holdsAll = db.prepare<[], HoldRow>(`SELECT ${holdCols} FROM archive_holds ORDER BY released_at IS NOT NULL, id`);
  const holdGet = db.prepare<[number], HoldRow>(`SELECT ${holdCols} FROM archive_holds WHERE id = ?`);
  const holdPut = db.prepare<[string, string, string, number]>('INSERT INTO archive_holds (reason, scope, created_by, created_at) VALUES (?, ?, ?, ?)');
  const holdEnd = db.prepare<[number, string, number]>('UPDATE archive_holds SET released_at = ?, released_by = ? WHERE id = ?');
  // Entries older than the cutoff lie at positions up to the last one of the hours before it (archive_hours, which
  // the search index fills; migration 6) or beyond the search index's position (their hours are not known yet):
  // two ranges of positions, read in order, so a run does not walk the younger entries between them.
  const candidates = db.prepare<{ after: number; bound: number; indexed: number; cutoff: number; limit: number }, Candidate>(
    `SELECT ${ENTRY_COLUMNS}, j.conv, j.actor, j.subject, j.ts, j.leaf FROM archive_journal j
     WHERE j.idx > :after AND j.idx <= :bound AND j.ts < :cutoff AND j.seq IS NOT NULL AND j.expired_at IS NULL
     UNION ALL
     SELECT ${ENTRY_COLUMNS}, j.conv, j.actor, j.subject, j.ts, j.leaf FROM archive_journal j
     WHERE j.idx > MAX(:after, :indexed) AND j.ts < :cutoff AND j.seq IS NOT NULL AND j.expired_at IS NULL
     ORDER BY idx LIMIT :limit`,
  );
  const position = indexPosition(db);
  const seal = leafSealer(db);
  // A log record's entry keeps no bytes of its own (journal.ts): expiring it marks it, and its content is then
  // neither searched, exported nor re-created from the log.
  const expire = db.prepare<[number, number]>('UPDATE archive_journal SET entry = NULL, expired_at = ? WHERE idx = ? AND expired_at IS NULL');
  // The search index (migration 2, before this part's) is keyed by journal idx: expired content leaves it too.
  const ftsDelete = db.prepare<[number]>('DELETE FROM archive_fts WHERE rowid = ?');
  const unindex = (idx: number): void => {
    ftsDelete.run(idx);
  };

  const policyMap = (): Map<string, PolicyRow> => new Map(policyAll.all().map((p) => [`${p.kind} ${p.scope}`, p]));

  return {
    async retentionSet(p, limits, actor, now) {
      const { kind, scope } = scopeOf(p);
      days(p.minDays, 'minDays');
      if (p.maxDays !== null) days(p.maxDays, 'maxDays');
      if (p.maxDays !== null && p.minDays > p.maxDays) {
        throw new ParleyError('bad-request', `"Keep at most" (${p.maxDays} days) is less than "Keep at least" (${p.minDays} days)`, { path: 'maxDays' });
      }
      return ctx.write(() => {
        // Floors: the configured minimum, the scope's own minDays, and for a room its domain's.
        const floors: Array<[number, string]> = [[limits.minimumDays, 'the shortest retention this server allows']];
        const own = policyGet.get(kind, scope);
        if (own) floors.push([own.minDays, `"Keep at least" already set for the ${kind} ${scope}`]);
        if (kind === 'room') {
          const d = domainPolicy(scope, policyMap());
          if (d) floors.push([d.minDays, `"Keep at least" of the domain ${d.scope}`]);
        }
        for (const [floor, what] of floors) {
          if (p.maxDays !== null && p.maxDays < floor) {
            throw new ParleyError('not-acceptable', `"Keep at most" (${p.maxDays} days) is below ${what} (${floor} days)`, { path: 'maxDays' });
          }
        }
        policyPut.run(kind, scope, p.minDays, p.maxDays, now, actor);
        append(eventDraft('archive.retention.set', now, { actor, subject: scope, data: { kind, minDays: p.minDays, maxDays: p.maxDays, previous: own ? { minDays: own.minDays, maxDays: own.maxDays } : null } }));
        return policyGet.get(kind, scope)!;
      });
    },
    async retentionList() {
      return policyAll.all();
    },
    async retentionRemove(p, actor, now) {
      const { kind, scope } = scopeOf(p);
      return ctx.write(() => {
        const own = policyGet.get(kind, scope);
        if (!own) throw new ParleyError('item-not-found', `no retention policy for the ${kind} ${scope}`);
        policyDel.run(kind, scope);
        append(eventDraft('archive.retention.remove', now, { actor, subject: scope, data: { kind, minDays: own.minDays, maxDays: own.maxDays } }));
        return own;
      });
    },
    async retentionStep(step) {
      const { limits, now } = step;
      return ctx.write(() => {
        const policies = policyMap();
        const holds = holdsActive.all().map(toHold);
        // Nothing can be older than the shortest retention in force: a cheaper scan when all are long.
        const all = [limits.defaultMaxDays, ...[...policies.values()].map((p) => p.maxDays)].filter((d): d is number => d !== null);
        const totals = { ...step.totals };
        let after = step.after;
        let rows: Candidate[] = [];
        if (all.length > 0) {
          const cutoff = now - Math.max(Math.min(...all), limits.minimumDays) * DAY_MS;
          const indexed = position.indexed();
          rows = candidates.all({ after, bound: Math.min(position.lastUpTo(hourOf(cutoff - 1)), indexed), indexed, cutoff, limit: RETENTION_CHUNK });
        }
        const expired: number[] = [];
        // A chunk's log records in one run: who and where (withParties), and a body a saved search looks into.
        const records = readAhead(rows, ctx, 'parties');
        for (const r of withParties(rows, records)) {
          after = r.idx;
          const max = maxDaysFor(r.conv, policies, limits);
          if (max === null || r.ts >= now - max * DAY_MS) continue;
          totals.examined++;
          let body: string | null | undefined;
          const e: HeldEntry = {
            conv: r.conv,
            actor: r.actor,
            subject: r.subject,
            ts: r.ts,
            body: () => (body === undefined ? (body = entryFields(r, records).body) : body),
          };
          if (holds.some((h) => holdCovers(h.scope, e))) {
            totals.held++;
            continue;
          }
          totals.expired++;
          expired.push(r.idx - 1);
          if (!step.dryRun) {
            // Its leaf outlives its content: sealed first if the search index has not reached it yet.
            seal([r], records);
            expire.run(now, r.idx);
            unindex(r.idx);
          }
        }
        const done = rows.length < RETENTION_CHUNK;
        // Each chunk that expires anything is journaled in its own transaction, naming the entries, so no
        // expiry is ever committed without its record, even if the run stops half way; the summary follows
        // in the last chunk's transaction.
        if (!step.dryRun && expired.length > 0) {
          append(eventDraft('archive.retention.expire', now, { actor: step.actor, data: { run: step.run, indices: expired } }));
        }
        if (done) {
          append(eventDraft('archive.retention.run', now, { actor: step.actor, data: { run: step.run, dryRun: step.dryRun, ...totals, holds: holds.map((h) => h.id) } }));
        }
        return { after, done, totals, total: position.last() };
      });
    },
    async holdAdd(p, actor, now) {
      const reason = p.reason.trim();
      if (reason.length === 0 || reason.length > 1000) throw new ParleyError('bad-request', 'a hold needs a reason (1-1000 characters)');
      const scope = normaliseHoldScope(p);
      return ctx.write(() => {
        const id = Number(holdPut.run(reason, JSON.stringify(scope), actor, now).lastInsertRowid);
        append(eventDraft('archive.hold.add', now, { actor, subject: String(id), data: { hold: id, reason, scope } }));
        return toHold(holdGet.get(id)!);
      });
    },
    async holdList(all) {
      return (all ? holdsAll : holdsActive).all().map(toHold);
    },
    async holdRelease(id, actor, now) {
      return ctx.write(() => {
        const h = Number.isSafeInteger(id) ? holdGet.get(id) : undefined;
        if (!h) throw new ParleyError('item-not-found', `no hold ${id}`);
        if (h.releasedAt !== null) throw new ParleyError('not-allowed', `hold ${id} was released already`);
        holdEnd.run(now, actor, id);
        append(eventDraft('archive.hold.release', now, { actor, subject: String(id), data: { hold: id, reason: h.reason } }));
        return toHold(holdGet.get(id)!);
      });
    },
  };
}

/** Runs a whole retention run step by step (the server's timer and the CLI); `onStep` reports progress. */
export async function runRetention(
  area: Pick<RetentionArea, 'retentionStep'>,
  opts: { now: number; dryRun: boolean; limits: RetentionLimits; actor: string; onStep?: (p: RetentionProgress) => void },
): Promise<RetentionTotals> {
  let p: RetentionProgress = { after: 0, done: false, totals: { examined: 0, expired: 0, held: 0 }, total: 0 };
  const run = `${opts.now}`;
  while (!p.done) {
    p = await area.retentionStep({ run, now: opts.now, after: p.after, dryRun: opts.dryRun, limits: opts.limits, actor: opts.actor, totals: p.totals });
    opts.onStep?.(p);
  }
  return p.totals;
}
