/**
 * The usage module's storage area on SQLite, as the store's thread imports it (the memory store runs the same
 * code on an in-memory database). Additive counts per day (every node adds its own), the users active each day
 * (one row per user while the day is recent, so each counts once whichever node saw them; folded into the day's
 * row once the day is past), each node's peak per day, and the log position the message counts reach.
 */
import type Database from 'better-sqlite3';
import type { ModuleMigration, SqliteArea, SqliteAreaContext } from '../../ports/module-storage.js';
import { emptyDay, PROTOCOLS, type DayReport, type UsageFlush } from './model.js';

/** The module's tables. */
export const USAGE_MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'daily counts, active users, peaks, position',
    sql: `
      CREATE TABLE usage_days (
        day              TEXT PRIMARY KEY,          -- YYYY-MM-DD, UTC
        messages         INTEGER NOT NULL DEFAULT 0,
        room_messages    INTEGER NOT NULL DEFAULT 0,
        new_accounts     INTEGER NOT NULL DEFAULT 0,
        s_json           INTEGER NOT NULL DEFAULT 0,
        s_xmpp_tcp       INTEGER NOT NULL DEFAULT 0,
        s_xmpp_websocket INTEGER NOT NULL DEFAULT 0,
        s_xmpp_bosh      INTEGER NOT NULL DEFAULT 0,
        s_other          INTEGER NOT NULL DEFAULT 0,
        active_users     INTEGER NOT NULL DEFAULT 0, -- folded from usage_active once the day is past
        active_bots      INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE usage_active (
        day  TEXT NOT NULL,
        user TEXT NOT NULL,
        bot  INTEGER NOT NULL,
        PRIMARY KEY (day, user)
      ) WITHOUT ROWID;
      CREATE TABLE usage_peaks (
        day  TEXT NOT NULL,
        node TEXT NOT NULL,
        peak INTEGER NOT NULL,
        PRIMARY KEY (day, node)
      ) WITHOUT ROWID;
      CREATE TABLE usage_position (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
      );
    `,
  },
];

/** What the module does with its storage. */
export interface UsageArea {
  /** Writes one flush in one transaction; returns the log position the message counts now reach. */
  flush(f: UsageFlush): Promise<number>;
  /** The log position the message counts reach (0 at first). */
  position(): Promise<number>;
  /** The stored days from `from` to `to` (inclusive), oldest first; days without a row are left out. */
  days(from: string, to: string): Promise<DayReport[]>;
  /**
   * Folds the per-user rows of days before `before` into their days' counts, and deletes everything of days
   * before `keepFrom` (null: keep all).
   */
  compact(before: string, keepFrom: string | null): Promise<void>;
}

const COLUMNS = { json: 's_json', 'xmpp-tcp': 's_xmpp_tcp', 'xmpp-websocket': 's_xmpp_websocket', 'xmpp-bosh': 's_xmpp_bosh', other: 's_other' } as const;

type DayRow = Record<string, number | string>;

function open(db: Database.Database, ctx: SqliteAreaContext): UsageArea {
  const cols = PROTOCOLS.map((p) => COLUMNS[p]);
  const addDay = db.prepare(
    `INSERT INTO usage_days (day, messages, room_messages, new_accounts, ${cols.join(', ')}) VALUES (?, ?, ?, ?, ${cols.map(() => '?').join(', ')})
     ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages, room_messages = room_messages + excluded.room_messages,
       new_accounts = new_accounts + excluded.new_accounts, ${cols.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
  );
  const addActive = db.prepare('INSERT OR IGNORE INTO usage_active (day, user, bot) VALUES (?, ?, ?)');
  const addPeak = db.prepare('INSERT INTO usage_peaks (day, node, peak) VALUES (?, ?, ?) ON CONFLICT (day, node) DO UPDATE SET peak = MAX(peak, excluded.peak)');
  const getPos = db.prepare('SELECT seq FROM usage_position WHERE id = 1');
  const setPos = db.prepare('INSERT INTO usage_position (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = MAX(seq, excluded.seq)');
  const position = (): number => (getPos.get() as { seq: number } | undefined)?.seq ?? 0;
  const readDays = db.prepare('SELECT * FROM usage_days WHERE day >= ? AND day <= ? ORDER BY day');
  const readActive = db.prepare('SELECT day, SUM(1 - bot) AS people, SUM(bot) AS bots FROM usage_active WHERE day >= ? AND day <= ? GROUP BY day');
  const readPeaks = db.prepare('SELECT day, SUM(peak) AS peak FROM usage_peaks WHERE day >= ? AND day <= ? GROUP BY day');
  const fold = db.prepare(
    `INSERT INTO usage_days (day, active_users, active_bots) SELECT day, SUM(1 - bot), SUM(bot) FROM usage_active WHERE day < ? GROUP BY day
     ON CONFLICT (day) DO UPDATE SET active_users = active_users + excluded.active_users, active_bots = active_bots + excluded.active_bots`,
  );
  const dropFolded = db.prepare('DELETE FROM usage_active WHERE day < ?');
  const dropOld = [db.prepare('DELETE FROM usage_days WHERE day < ?'), db.prepare('DELETE FROM usage_active WHERE day < ?'), db.prepare('DELETE FROM usage_peaks WHERE day < ?')];

  return {
    async flush(f) {
      return ctx.write(() => {
        const stored = position();
        // Messages of positions another pass already counted are not counted twice (a batch seen again).
        const countMessages = f.messages === null || f.messages.to > stored;
        for (const c of f.counts) {
          const m = countMessages ? c.messages : 0;
          const r = countMessages ? c.roomMessages : 0;
          addDay.run(c.day, m, r, c.newAccounts, ...PROTOCOLS.map((p) => c.sessions[p]));
        }
        for (const a of f.active) addActive.run(a.day, a.user, a.bot ? 1 : 0);
        for (const p of f.peaks) addPeak.run(p.day, p.node, p.peak);
        if (f.messages !== null) setPos.run(f.messages.to);
        return Math.max(stored, f.messages?.to ?? 0);
      });
    },
    async position() {
      return position();
    },
    async days(from, to) {
      return ctx.read(() => {
        const out = new Map<string, ReturnType<typeof emptyDay>>();
        const at = (day: string): ReturnType<typeof emptyDay> => {
          let d = out.get(day);
          if (!d) out.set(day, (d = emptyDay(day)));
          return d;
        };
        for (const r of readDays.all(from, to) as DayRow[]) {
          const d = at(String(r.day));
          d.messages = Number(r.messages);
          d.roomMessages = Number(r.room_messages);
          d.newAccounts = Number(r.new_accounts);
          d.activeUsers = Number(r.active_users);
          d.activeBots = Number(r.active_bots);
          for (const p of PROTOCOLS) d.sessions[p] = Number(r[COLUMNS[p]]);
        }
        for (const r of readActive.all(from, to) as Array<{ day: string; people: number; bots: number }>) {
          const d = at(r.day);
          d.activeUsers += r.people;
          d.activeBots += r.bots;
        }
        for (const r of readPeaks.all(from, to) as Array<{ day: string; peak: number }>) at(r.day).peakConnections = r.peak;
        return [...out.values()].sort((a, b) => (a.day < b.day ? -1 : 1));
      });
    },
    async compact(before, keepFrom) {
      ctx.write(() => {
        fold.run(before);
        dropFolded.run(before);
        if (keepFrom !== null) for (const s of dropOld) s.run(keepFrom);
      });
    },
  };
}

/** The area as the store opens it. */
export const area: SqliteArea<UsageArea> = { migrations: USAGE_MIGRATIONS, open };
