/**
 * The notify module's storage area on SQLite, as the store's thread imports it (the module's `storage.sqlite`
 * URL names this file; the memory store runs the same code on an in-memory database). Every change to a
 * notification is one transaction with the events that describe it, so the history never misses a step.
 */
import type Database from 'better-sqlite3';
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea, SqliteAreaContext } from '../../ports/module-storage.js';
import {
  shortId,
  targetKey,
  type Acknowledgement,
  type Action,
  type Delivery,
  type NewEvent,
  type NewNotification,
  type Notification,
  type NotificationEvent,
  type NotificationState,
  type Policy,
  type Rota,
  type Step,
} from './model.js';

/** The module's tables: migration 1. */
export const NOTIFY_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'notifications, deliveries, acknowledgements, history, policies, rotas',
    sql: `
      CREATE TABLE notify_notifications (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key       TEXT,
        title           TEXT NOT NULL,
        body            TEXT NOT NULL,
        severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        link            TEXT,
        target          TEXT NOT NULL,    -- Target as JSON
        target_key      TEXT NOT NULL,    -- targetKey(target), for filtering
        policy          TEXT NOT NULL,    -- PolicySnapshot as JSON
        state           TEXT NOT NULL DEFAULT 'triggered' CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
        created_by      TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        duplicates      INTEGER NOT NULL DEFAULT 0,
        cycle           INTEGER NOT NULL DEFAULT 0,
        step            INTEGER NOT NULL DEFAULT -1,
        next_at         INTEGER,          -- the next step is due; NULL when nothing is scheduled
        assignee        TEXT,
        exhausted       INTEGER NOT NULL DEFAULT 0,
        acknowledged_by TEXT,
        acknowledged_at INTEGER,
        resolved_by     TEXT,
        resolved_at     INTEGER,
        updated_at      INTEGER NOT NULL
      );
      -- One open notification per dedup key.
      CREATE UNIQUE INDEX notify_open_dedup ON notify_notifications (dedup_key) WHERE dedup_key IS NOT NULL AND state <> 'resolved';
      CREATE INDEX notify_by_state ON notify_notifications (state, id);
      CREATE INDEX notify_by_target ON notify_notifications (target_key, id);
      CREATE INDEX notify_due ON notify_notifications (next_at) WHERE next_at IS NOT NULL;
      CREATE INDEX notify_open_assignee ON notify_notifications (assignee) WHERE state <> 'resolved';
      CREATE TABLE notify_deliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id INTEGER NOT NULL REFERENCES notify_notifications (id),
        address         TEXT NOT NULL,
        channel         TEXT NOT NULL CHECK (channel IN ('im', 'email')),
        cycle           INTEGER NOT NULL,
        step            INTEGER NOT NULL,
        message_id      TEXT,
        at              INTEGER NOT NULL
      );
      CREATE INDEX notify_deliveries_of ON notify_deliveries (notification_id, id);
      CREATE INDEX notify_deliveries_to ON notify_deliveries (address, notification_id);
      CREATE TABLE notify_acks (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id INTEGER NOT NULL REFERENCES notify_notifications (id),
        address         TEXT NOT NULL,
        action          TEXT NOT NULL CHECK (action IN ('acknowledge', 'resolve')),
        via             TEXT NOT NULL CHECK (via IN ('http', 'json', 'im')),
        at              INTEGER NOT NULL
      );
      CREATE INDEX notify_acks_of ON notify_acks (notification_id, id);
      CREATE TABLE notify_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id INTEGER NOT NULL REFERENCES notify_notifications (id),
        kind            TEXT NOT NULL,
        actor           TEXT,
        data            TEXT NOT NULL,    -- JSON object
        at              INTEGER NOT NULL
      );
      CREATE INDEX notify_events_of ON notify_events (notification_id, id);
      CREATE TABLE notify_policies (
        name        TEXT PRIMARY KEY,
        description TEXT,
        steps       TEXT NOT NULL,        -- Step[] as JSON
        repeats     INTEGER NOT NULL,
        created_by  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );
      CREATE TABLE notify_rotas (
        name       TEXT PRIMARY KEY,
        members    TEXT NOT NULL,         -- string[] as JSON, in on-call order
        current    INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE notify_emails (
        address TEXT PRIMARY KEY,
        email   TEXT NOT NULL
      );
      CREATE TABLE notify_cursors (
        key   TEXT PRIMARY KEY,          -- a target key: where its round robin stopped
        value INTEGER NOT NULL
      );
      CREATE TABLE notify_service_accounts (
        address    TEXT PRIMARY KEY,      -- service addresses the module created
        created_at INTEGER NOT NULL
      );
    `,
  },
];

/** A change to one notification, made in one transaction with its events. */
export interface NotificationChange {
  set?: {
    state?: NotificationState;
    cycle?: number;
    step?: number;
    nextAt?: number | null;
    assignee?: string | null;
    exhausted?: boolean;
  };
  deliveries?: Array<Omit<Delivery, 'id' | 'notificationId' | 'at'>>;
  events?: NewEvent[];
}

/** List filters. */
export interface ListQuery {
  state?: NotificationState | 'open' | undefined;
  target?: string | undefined;
  assignee?: string | undefined;
  after?: number | undefined;
  limit: number;
}

/** Everything the notify module stores. Methods are async: they run on the store's thread. */
export interface NotifyArea {
  /**
   * Creates a notification, or, when an open one has the same dedup key, counts the post on that one and returns
   * it (`duplicate`). policy-violation when `maxOpen` notifications are open.
   */
  create(n: NewNotification, maxOpen: number): Promise<{ notification: Notification; duplicate: boolean }>;
  get(id: number): Promise<Notification | null>;
  list(q: ListQuery): Promise<Notification[]>;
  /** The notification with its deliveries, acknowledgements and events. */
  detail(id: number): Promise<{ notification: Notification; deliveries: Delivery[]; acknowledgements: Acknowledgement[]; events: NotificationEvent[] } | null>;
  /** Applies a change with its deliveries and events; returns the notification after it. */
  apply(id: number, change: NotificationChange): Promise<Notification>;
  /**
   * Acknowledges or resolves, as `address` through `via`: `changed` is false when it already was (acknowledging
   * something acknowledged or resolved, resolving something resolved).
   */
  act(id: number, address: string, action: Action, via: Acknowledgement['via']): Promise<{ notification: Notification; changed: boolean }>;
  /** Addresses that got the notification (by IM) in `cycle`, or in any cycle when omitted. */
  recipients(id: number, cycle?: number): Promise<string[]>;
  /** Whether `address` got the notification (by IM or e-mail). */
  isRecipient(id: number, address: string): Promise<boolean>;
  /** Open notifications `address` got by IM, newest first. */
  openFor(address: string, limit: number): Promise<Notification[]>;
  /** How many open notifications each of `addresses` is assigned. */
  openCounts(addresses: string[]): Promise<Record<string, number>>;
  /** Every scheduled step: (id, due time), for the timers after a start. */
  scheduled(): Promise<Array<{ id: number; nextAt: number }>>;
  cursor(key: string): Promise<number>;
  setCursor(key: string, value: number): Promise<void>;

  policyList(): Promise<Policy[]>;
  policyGet(name: string): Promise<Policy | null>;
  /** Creates (conflict when it exists) or, with `replace`, updates (item-not-found when absent) a policy. */
  policyPut(p: { name: string; description: string | null; steps: Step[]; repeats: number }, by: string, replace: boolean): Promise<Policy>;
  policyDelete(name: string): Promise<boolean>;

  rotaList(): Promise<Rota[]>;
  rotaGet(name: string): Promise<Rota | null>;
  rotaPut(r: { name: string; members: string[]; current: number }, replace: boolean): Promise<Rota>;
  rotaDelete(name: string): Promise<boolean>;
  /** Moves the rota on to its next member (the hand-over); returns it. */
  rotaAdvance(name: string): Promise<Rota>;

  /** The e-mail address set for each of `addresses` (those with none are left out). */
  emailsOf(addresses: string[]): Promise<Record<string, string>>;
  /** Sets (or, with null, removes) the e-mail address of a person. */
  setEmail(address: string, email: string | null): Promise<void>;

  serviceAccounts(): Promise<string[]>;
  addServiceAccount(address: string): Promise<void>;
  /** Forgets a service account (its domain was removed, and the account with it). */
  removeServiceAccount(address: string): Promise<void>;
}

interface NotificationRow {
  id: number;
  dedup_key: string | null;
  title: string;
  body: string;
  severity: string;
  link: string | null;
  target: string;
  policy: string;
  state: string;
  created_by: string;
  created_at: number;
  duplicates: number;
  cycle: number;
  step: number;
  next_at: number | null;
  assignee: string | null;
  exhausted: number;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  resolved_by: string | null;
  resolved_at: number | null;
  updated_at: number;
}

const toNotification = (r: NotificationRow): Notification => ({
  id: r.id,
  short: shortId(r.id),
  state: r.state as NotificationState,
  title: r.title,
  body: r.body,
  severity: r.severity as Notification['severity'],
  link: r.link,
  dedupKey: r.dedup_key,
  target: JSON.parse(r.target) as Notification['target'],
  policy: JSON.parse(r.policy) as Notification['policy'],
  createdBy: r.created_by,
  createdAt: r.created_at,
  duplicates: r.duplicates,
  cycle: r.cycle,
  step: r.step,
  nextAt: r.next_at,
  assignee: r.assignee,
  exhausted: r.exhausted !== 0,
  acknowledgedBy: r.acknowledged_by,
  acknowledgedAt: r.acknowledged_at,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
  updatedAt: r.updated_at,
});

interface PolicyRow {
  name: string;
  description: string | null;
  steps: string;
  repeats: number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}
const toPolicy = (r: PolicyRow): Policy => ({
  name: r.name,
  description: r.description,
  steps: JSON.parse(r.steps) as Step[],
  repeats: r.repeats,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

interface RotaRow {
  name: string;
  members: string;
  current: number;
  updated_at: number;
}
const toRota = (r: RotaRow): Rota => ({ name: r.name, members: JSON.parse(r.members) as string[], current: r.current, updatedAt: r.updated_at });

/** Opens the area on `db`. */
export function openNotify(db: Database.Database, ctx: SqliteAreaContext): NotifyArea {
  const get = db.prepare<[number], NotificationRow>('SELECT * FROM notify_notifications WHERE id = ?');
  const openByKey = db.prepare<[string], NotificationRow>("SELECT * FROM notify_notifications WHERE dedup_key = ? AND state <> 'resolved'");
  const countOpen = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM notify_notifications WHERE state <> 'resolved'");
  const countDup = db.prepare<[number, number]>('UPDATE notify_notifications SET duplicates = duplicates + 1, updated_at = ? WHERE id = ?');
  const insert = db.prepare<[string | null, string, string, string, string | null, string, string, string, string, number, number, number]>(
    `INSERT INTO notify_notifications (dedup_key, title, body, severity, link, target, target_key, policy, created_by, created_at, next_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const addEvent = db.prepare<[number, string, string | null, string, number]>('INSERT INTO notify_events (notification_id, kind, actor, data, at) VALUES (?, ?, ?, ?, ?)');
  const addDelivery = db.prepare<[number, string, string, number, number, string | null, number]>(
    'INSERT INTO notify_deliveries (notification_id, address, channel, cycle, step, message_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const addAck = db.prepare<[number, string, string, string, number]>('INSERT INTO notify_acks (notification_id, address, action, via, at) VALUES (?, ?, ?, ?, ?)');
  const deliveriesOf = db.prepare<[number], Record<string, unknown>>(
    'SELECT id, notification_id AS notificationId, address, channel, cycle, step, message_id AS messageId, at FROM notify_deliveries WHERE notification_id = ? ORDER BY id',
  );
  const acksOf = db.prepare<[number], Record<string, unknown>>('SELECT id, notification_id AS notificationId, address, action, via, at FROM notify_acks WHERE notification_id = ? ORDER BY id');
  const eventsOf = db.prepare<[number], { id: number; notification_id: number; kind: string; actor: string | null; data: string; at: number }>(
    'SELECT * FROM notify_events WHERE notification_id = ? ORDER BY id',
  );
  const recipientsIn = db.prepare<[number, number], { address: string }>("SELECT DISTINCT address FROM notify_deliveries WHERE notification_id = ? AND cycle = ? AND channel = 'im'");
  const recipientsAll = db.prepare<[number], { address: string }>("SELECT DISTINCT address FROM notify_deliveries WHERE notification_id = ? AND channel = 'im' ORDER BY id");
  const isRecipient = db.prepare<[number, string], { one: number }>('SELECT 1 AS one FROM notify_deliveries WHERE notification_id = ? AND address = ? LIMIT 1');
  const openFor = db.prepare<[string, number], NotificationRow>(
    `SELECT n.* FROM notify_notifications n WHERE n.state <> 'resolved'
       AND n.id IN (SELECT notification_id FROM notify_deliveries WHERE address = ? AND channel = 'im')
     ORDER BY n.id DESC LIMIT ?`,
  );
  const openOf = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM notify_notifications WHERE assignee = ? AND state <> 'resolved'");
  const scheduled = db.prepare<[], { id: number; next_at: number }>("SELECT id, next_at FROM notify_notifications WHERE next_at IS NOT NULL AND state = 'triggered'");
  const cursorGet = db.prepare<[string], { value: number }>('SELECT value FROM notify_cursors WHERE key = ?');
  const cursorSet = db.prepare<[string, number]>('INSERT INTO notify_cursors (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const policyAll = db.prepare<[], PolicyRow>('SELECT * FROM notify_policies ORDER BY name');
  const policyGet = db.prepare<[string], PolicyRow>('SELECT * FROM notify_policies WHERE name = ?');
  const policyIns = db.prepare<[string, string | null, string, number, string, number, number]>(
    'INSERT INTO notify_policies (name, description, steps, repeats, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const policyUpd = db.prepare<[string | null, string, number, number, string]>('UPDATE notify_policies SET description = ?, steps = ?, repeats = ?, updated_at = ? WHERE name = ?');
  const policyDel = db.prepare<[string]>('DELETE FROM notify_policies WHERE name = ?');
  const rotaAll = db.prepare<[], RotaRow>('SELECT * FROM notify_rotas ORDER BY name');
  const rotaGet = db.prepare<[string], RotaRow>('SELECT * FROM notify_rotas WHERE name = ?');
  const rotaIns = db.prepare<[string, string, number, number]>('INSERT INTO notify_rotas (name, members, current, updated_at) VALUES (?, ?, ?, ?)');
  const rotaUpd = db.prepare<[string, number, number, string]>('UPDATE notify_rotas SET members = ?, current = ?, updated_at = ? WHERE name = ?');
  const rotaDel = db.prepare<[string]>('DELETE FROM notify_rotas WHERE name = ?');
  const emailGet = db.prepare<[string], { email: string }>('SELECT email FROM notify_emails WHERE address = ?');
  const emailSet = db.prepare<[string, string]>('INSERT INTO notify_emails (address, email) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET email = excluded.email');
  const emailDel = db.prepare<[string]>('DELETE FROM notify_emails WHERE address = ?');
  const services = db.prepare<[], { address: string }>('SELECT address FROM notify_service_accounts ORDER BY address');
  const serviceAdd = db.prepare<[string, number]>('INSERT INTO notify_service_accounts (address, created_at) VALUES (?, ?) ON CONFLICT (address) DO NOTHING');
  const serviceDel = db.prepare<[string]>('DELETE FROM notify_service_accounts WHERE address = ?');

  const event = (id: number, e: NewEvent, at: number): void => {
    addEvent.run(id, e.kind, e.actor ?? null, JSON.stringify(e.data ?? {}), at);
  };
  const mustGet = (id: number): NotificationRow => {
    const r = get.get(id);
    if (!r) throw new ParleyError('item-not-found', `no notification ${id}`);
    return r;
  };

  return {
    async create(n, maxOpen) {
      return ctx.write(() => {
        const now = ctx.now();
        if (n.dedupKey !== null) {
          const open = openByKey.get(n.dedupKey);
          if (open) {
            countDup.run(now, open.id);
            event(open.id, { kind: 'deduplicated', actor: n.createdBy, data: { dedupKey: n.dedupKey } }, now);
            return { notification: toNotification(get.get(open.id)!), duplicate: true };
          }
        }
        if (countOpen.get()!.n >= maxOpen) throw new ParleyError('policy-violation', `${maxOpen} notifications are open; resolve some first`, { reason: 'max-open' });
        const id = Number(
          insert.run(n.dedupKey, n.title, n.body, n.severity, n.link, JSON.stringify(n.target), targetKey(n.target), JSON.stringify(n.policy), n.createdBy, now, now, now)
            .lastInsertRowid,
        );
        event(id, { kind: 'posted', actor: n.createdBy, data: { severity: n.severity, target: n.target, policy: n.policy.name } }, now);
        return { notification: toNotification(get.get(id)!), duplicate: false };
      });
    },
    async get(id) {
      const r = get.get(id);
      return r ? toNotification(r) : null;
    },
    async list(q) {
      const where: string[] = [];
      const args: Array<string | number> = [];
      if (q.state === 'open') where.push("state <> 'resolved'");
      else if (q.state !== undefined) {
        where.push('state = ?');
        args.push(q.state);
      }
      if (q.target !== undefined) {
        where.push('target_key = ?');
        args.push(q.target);
      }
      if (q.assignee !== undefined) {
        where.push('assignee = ?');
        args.push(q.assignee);
      }
      if (q.after !== undefined) {
        where.push('id < ?');
        args.push(q.after);
      }
      const sql = `SELECT * FROM notify_notifications ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return db.prepare<Array<string | number>, NotificationRow>(sql).all(...args, q.limit).map(toNotification);
    },
    async detail(id) {
      return ctx.read(() => {
        const r = get.get(id);
        if (!r) return null;
        return {
          notification: toNotification(r),
          deliveries: deliveriesOf.all(id) as unknown as Delivery[],
          acknowledgements: acksOf.all(id) as unknown as Acknowledgement[],
          events: eventsOf.all(id).map((e) => ({ id: e.id, notificationId: e.notification_id, kind: e.kind, actor: e.actor, data: JSON.parse(e.data) as Record<string, unknown>, at: e.at })),
        };
      });
    },
    async apply(id, change) {
      return ctx.write(() => {
        const now = ctx.now();
        mustGet(id);
        const s = change.set ?? {};
        const cols: string[] = [];
        const args: Array<string | number | null> = [];
        const put = (col: string, v: string | number | null): void => {
          cols.push(`${col} = ?`);
          args.push(v);
        };
        if (s.state !== undefined) put('state', s.state);
        if (s.cycle !== undefined) put('cycle', s.cycle);
        if (s.step !== undefined) put('step', s.step);
        if (s.nextAt !== undefined) put('next_at', s.nextAt);
        if (s.assignee !== undefined) put('assignee', s.assignee);
        if (s.exhausted !== undefined) put('exhausted', s.exhausted ? 1 : 0);
        put('updated_at', now);
        db.prepare(`UPDATE notify_notifications SET ${cols.join(', ')} WHERE id = ?`).run(...args, id);
        for (const d of change.deliveries ?? []) addDelivery.run(id, d.address, d.channel, d.cycle, d.step, d.messageId, now);
        for (const e of change.events ?? []) event(id, e, now);
        return toNotification(get.get(id)!);
      });
    },
    async act(id, address, action, via) {
      return ctx.write(() => {
        const now = ctx.now();
        const r = mustGet(id);
        const already = r.state === 'resolved' || (action === 'acknowledge' && r.state === 'acknowledged');
        if (already) return { notification: toNotification(r), changed: false };
        addAck.run(id, address, action, via, now);
        if (action === 'acknowledge') {
          db.prepare("UPDATE notify_notifications SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, next_at = NULL, updated_at = ? WHERE id = ?").run(address, now, now, id);
          event(id, { kind: 'acknowledged', actor: address, data: { via } }, now);
        } else {
          db.prepare(
            "UPDATE notify_notifications SET state = 'resolved', resolved_by = ?, resolved_at = ?, next_at = NULL, updated_at = ? WHERE id = ?",
          ).run(address, now, now, id);
          event(id, { kind: 'resolved', actor: address, data: { via } }, now);
        }
        return { notification: toNotification(get.get(id)!), changed: true };
      });
    },
    async recipients(id, cycle) {
      return (cycle === undefined ? recipientsAll.all(id) : recipientsIn.all(id, cycle)).map((r) => r.address);
    },
    async isRecipient(id, address) {
      return isRecipient.get(id, address) !== undefined;
    },
    async openFor(address, limit) {
      return openFor.all(address, limit).map(toNotification);
    },
    async openCounts(addresses) {
      return Object.fromEntries(addresses.map((a) => [a, openOf.get(a)!.n]));
    },
    async scheduled() {
      return scheduled.all().map((r) => ({ id: r.id, nextAt: r.next_at }));
    },
    async cursor(key) {
      return cursorGet.get(key)?.value ?? -1;
    },
    async setCursor(key, value) {
      cursorSet.run(key, value);
    },

    async policyList() {
      return policyAll.all().map(toPolicy);
    },
    async policyGet(name) {
      const r = policyGet.get(name);
      return r ? toPolicy(r) : null;
    },
    async policyPut(p, by, replace) {
      return ctx.write(() => {
        const now = ctx.now();
        const exists = policyGet.get(p.name) !== undefined;
        if (replace && !exists) throw new ParleyError('item-not-found', `no policy ${p.name}`);
        if (!replace && exists) throw new ParleyError('conflict', `policy ${p.name} exists`);
        if (replace) policyUpd.run(p.description, JSON.stringify(p.steps), p.repeats, now, p.name);
        else policyIns.run(p.name, p.description, JSON.stringify(p.steps), p.repeats, by, now, now);
        return toPolicy(policyGet.get(p.name)!);
      });
    },
    async policyDelete(name) {
      return policyDel.run(name).changes > 0;
    },

    async rotaList() {
      return rotaAll.all().map(toRota);
    },
    async rotaGet(name) {
      const r = rotaGet.get(name);
      return r ? toRota(r) : null;
    },
    async rotaPut(r, replace) {
      return ctx.write(() => {
        const now = ctx.now();
        const exists = rotaGet.get(r.name) !== undefined;
        if (replace && !exists) throw new ParleyError('item-not-found', `no rota ${r.name}`);
        if (!replace && exists) throw new ParleyError('conflict', `rota ${r.name} exists`);
        if (r.current >= r.members.length) throw new ParleyError('bad-request', `current: the rota has ${r.members.length} members (0-${r.members.length - 1})`);
        if (replace) rotaUpd.run(JSON.stringify(r.members), r.current, now, r.name);
        else rotaIns.run(r.name, JSON.stringify(r.members), r.current, now);
        return toRota(rotaGet.get(r.name)!);
      });
    },
    async rotaDelete(name) {
      return rotaDel.run(name).changes > 0;
    },
    async rotaAdvance(name) {
      return ctx.write(() => {
        const r = rotaGet.get(name);
        if (!r) throw new ParleyError('item-not-found', `no rota ${name}`);
        const members = JSON.parse(r.members) as string[];
        rotaUpd.run(r.members, (r.current + 1) % members.length, ctx.now(), name);
        return toRota(rotaGet.get(name)!);
      });
    },

    async emailsOf(addresses) {
      const out: Record<string, string> = {};
      for (const a of addresses) {
        const e = emailGet.get(a);
        if (e) out[a] = e.email;
      }
      return out;
    },
    async setEmail(address, email) {
      if (email === null) emailDel.run(address);
      else emailSet.run(address, email);
    },

    async serviceAccounts() {
      return services.all().map((r) => r.address);
    },
    async addServiceAccount(address) {
      serviceAdd.run(address, ctx.now());
    },
    async removeServiceAccount(address) {
      serviceDel.run(address);
    },
  };
}

/** The notify module's SQLite area. */
export const area: SqliteArea<NotifyArea> = {
  migrations: NOTIFY_MIGRATIONS,
  open: openNotify,
};
