/**
 * The webhooks storage area on SQLite (the module's `storage.sqlite` URL names this file; its memory twin opens
 * the same code on an in-memory database): the webhooks with their secret, the position each has delivered up
 * to and its run of failures, and a bounded log of delivery attempts per webhook.
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';
import type { Target } from '../presentities/model.js';

/** Why and when a webhook was disabled. */
export interface Disabled {
  at: number;
  reason: string;
}

/** A webhook as stored. */
export interface WebhookRecord {
  id: string;
  owner: string;
  url: string;
  target: Target;
  description: string | null;
  /** The signing secret (see docs/webhooks.md, "Secrets", for why it is kept as is). */
  secret: string;
  /** Null while enabled. */
  disabled: Disabled | null;
  /** The last position delivered (acknowledged with a 2xx); deliveries resume after it. */
  position: number;
  /** Failed attempts in a row, when the run started, and the last error. */
  failures: number;
  failingSince: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One attempt in the delivery log. */
export interface DeliveryAttempt {
  webhookId: string;
  deliveryId: string;
  event: string;
  position: number | null;
  /** 1 for the first attempt of a delivery. */
  attempt: number;
  at: number;
  status: number | null;
  durationMs: number;
  error: string | null;
}

/** What an attempt did to its webhook: the position moves on, or the run of failures grows (and may disable it). */
export type AttemptOutcome =
  | { ok: true; position: number | null }
  | { ok: false; failures: number; failingSince: number; lastError: string; disabled: Disabled | null };

/** What the module stores. Async, clonable values (they cross threads). */
export interface WebhooksArea {
  /** Stores a new webhook; policy-violation when its owner already has `max`. */
  create(w: WebhookRecord, max: number): Promise<void>;
  get(id: string): Promise<WebhookRecord | null>;
  /** The webhooks of `owner` (every webhook when null), oldest first. */
  list(owner: string | null): Promise<WebhookRecord[]>;
  /** Replaces a webhook's url, target, description, secret and disabled state. */
  update(w: WebhookRecord): Promise<void>;
  /** Removes a webhook and its log. */
  remove(id: string): Promise<void>;
  /**
   * The webhook saw everything up to `position` (a delivery succeeded, or nothing was left to deliver): the
   * position moves on and the run of failures ends.
   */
  delivered(id: string, position: number | null): Promise<void>;
  /**
   * Stores an attempt in one write: the log entry (keeping the webhook's newest `keep`) and its outcome (the
   * position on success; the run of failures, and the disabled state when it ends the webhook, on failure).
   */
  attempted(a: DeliveryAttempt, keep: number, outcome: AttemptOutcome): Promise<void>;
  /** The newest `limit` attempts of a webhook, newest first. */
  deliveries(id: string, limit: number): Promise<DeliveryAttempt[]>;
}

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'webhooks and their delivery log',
    sql: `
      CREATE TABLE webhooks_hooks (
        id            TEXT PRIMARY KEY,
        owner         TEXT NOT NULL,     -- the account whose visibility the webhook has
        url           TEXT NOT NULL,
        target        TEXT NOT NULL,     -- JSON: addresses, group, where
        description   TEXT,
        secret        TEXT NOT NULL,     -- the signing key (HMAC needs it, a digest would not do)
        disabled      TEXT,              -- JSON {at, reason}; NULL while enabled
        position      INTEGER NOT NULL,  -- last position delivered
        failures      INTEGER NOT NULL DEFAULT 0,
        failing_since INTEGER,
        last_error    TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX webhooks_hooks_owner ON webhooks_hooks (owner, created_at);
      CREATE TABLE webhooks_deliveries (
        n            INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id   TEXT NOT NULL,
        delivery_id  TEXT NOT NULL,
        event        TEXT NOT NULL,
        position     INTEGER,
        attempt      INTEGER NOT NULL,
        at           INTEGER NOT NULL,
        status       INTEGER,
        duration_ms  INTEGER NOT NULL,
        error        TEXT
      );
      CREATE INDEX webhooks_deliveries_hook ON webhooks_deliveries (webhook_id, n);
    `,
  },
];

interface HookRow {
  id: string;
  owner: string;
  url: string;
  target: string;
  description: string | null;
  secret: string;
  disabled: string | null;
  position: number;
  failures: number;
  failingSince: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

const hook = (r: HookRow): WebhookRecord => ({
  id: r.id,
  owner: r.owner,
  url: r.url,
  target: JSON.parse(r.target) as Target,
  description: r.description,
  secret: r.secret,
  disabled: r.disabled === null ? null : (JSON.parse(r.disabled) as Disabled),
  position: r.position,
  failures: r.failures,
  failingSince: r.failingSince,
  lastError: r.lastError,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** The webhooks SQLite area. */
export const area: SqliteArea<WebhooksArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const cols =
      'id, owner, url, target, description, secret, disabled, position, failures, failing_since AS failingSince, last_error AS lastError, created_at AS createdAt, updated_at AS updatedAt';
    const insert = db.prepare(
      'INSERT INTO webhooks_hooks (id, owner, url, target, description, secret, disabled, position, failures, failing_since, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const count = db.prepare<[string], number>('SELECT COUNT(*) FROM webhooks_hooks WHERE owner = ?').pluck();
    const byId = db.prepare<[string], HookRow>(`SELECT ${cols} FROM webhooks_hooks WHERE id = ?`);
    const byOwner = db.prepare<[string], HookRow>(`SELECT ${cols} FROM webhooks_hooks WHERE owner = ? ORDER BY created_at, id`);
    const all = db.prepare<[], HookRow>(`SELECT ${cols} FROM webhooks_hooks ORDER BY created_at, id`);
    const update = db.prepare(
      'UPDATE webhooks_hooks SET url = ?, target = ?, description = ?, secret = ?, disabled = ?, failures = ?, failing_since = ?, last_error = ?, updated_at = ? WHERE id = ?',
    );
    const del = db.prepare<[string]>('DELETE FROM webhooks_hooks WHERE id = ?');
    const delLog = db.prepare<[string]>('DELETE FROM webhooks_deliveries WHERE webhook_id = ?');
    const ack = db.prepare<[number | null, string]>(
      'UPDATE webhooks_hooks SET position = MAX(position, COALESCE(?, position)), failures = 0, failing_since = NULL, last_error = NULL WHERE id = ?',
    );
    const fail = db.prepare<[number, number, string, string | null, string]>(
      'UPDATE webhooks_hooks SET failures = ?, failing_since = ?, last_error = ?, disabled = COALESCE(?, disabled) WHERE id = ?',
    );
    const addLog = db.prepare(
      'INSERT INTO webhooks_deliveries (webhook_id, delivery_id, event, position, attempt, at, status, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const trimLog = db.prepare<[string, string, number]>(
      'DELETE FROM webhooks_deliveries WHERE webhook_id = ? AND n <= (SELECT n FROM webhooks_deliveries WHERE webhook_id = ? ORDER BY n DESC LIMIT 1 OFFSET ?)',
    );
    const readLog = db.prepare<[string, number], Omit<DeliveryAttempt, 'webhookId'>>(
      'SELECT delivery_id AS deliveryId, event, position, attempt, at, status, duration_ms AS durationMs, error FROM webhooks_deliveries WHERE webhook_id = ? ORDER BY n DESC LIMIT ?',
    );
    return {
      async create(w, max) {
        return ctx.write(() => {
          const n = count.get(w.owner) ?? 0;
          if (n >= max) throw new ParleyError('policy-violation', `${w.owner} already has ${n} webhooks (modules.webhooks.maxPerOwner); delete one first`);
          insert.run(w.id, w.owner, w.url, JSON.stringify(w.target), w.description, w.secret, w.disabled === null ? null : JSON.stringify(w.disabled), w.position, w.failures, w.failingSince, w.lastError, w.createdAt, w.updatedAt);
        });
      },
      async get(id) {
        const r = byId.get(id);
        return r ? hook(r) : null;
      },
      async list(owner) {
        return (owner === null ? all.all() : byOwner.all(owner)).map(hook);
      },
      async update(w) {
        return ctx.write(() => {
          update.run(w.url, JSON.stringify(w.target), w.description, w.secret, w.disabled === null ? null : JSON.stringify(w.disabled), w.failures, w.failingSince, w.lastError, w.updatedAt, w.id);
        });
      },
      async remove(id) {
        return ctx.write(() => {
          del.run(id);
          delLog.run(id);
        });
      },
      delivered(id, position) {
        return ctx.batched(() => {
          ack.run(position, id);
        });
      },
      attempted(a, keep, o) {
        return ctx.batched(() => {
          addLog.run(a.webhookId, a.deliveryId, a.event, a.position, a.attempt, a.at, a.status, a.durationMs, a.error);
          trimLog.run(a.webhookId, a.webhookId, keep);
          if (o.ok) ack.run(o.position, a.webhookId);
          else fail.run(o.failures, o.failingSince, o.lastError, o.disabled === null ? null : JSON.stringify(o.disabled), a.webhookId);
        });
      },
      async deliveries(id, limit) {
        return readLog.all(id, limit).map((r) => ({ webhookId: id, ...r }));
      },
    };
  },
};
