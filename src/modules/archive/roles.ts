/**
 * The archive's roles, granted by the operator (or by an officer over HTTP) and separate from administrators (an
 * administrator without a role is refused): compliance **officers** do eDiscovery (search, export, entries with
 * proofs, retention, legal holds, lexicon policies); supervision **reviewers** work the review queue (FINRA Rule
 * 3110(b)(4) review of correspondence: reading flagged messages and deciding on them). The duties are kept apart:
 * an officer reviews only when also a reviewer, and a reviewer searches nothing. Granting and revoking a role is
 * journaled in the transaction that makes the change, so the journal records every change of who may read the
 * archive before it takes effect.
 */
import type Database from 'better-sqlite3';
import type { ModuleMigration, SqliteAreaContext } from '../../ports/module-storage.js';
import { eventDraft } from './entry.js';
import type { AppendEntry } from './journal.js';

/** The reviewers' table (the officers' came with the journal's migration 1): the archive's migration 5. */
export const ROLES_MIGRATION: ModuleMigration = {
  version: 5,
  name: 'supervision reviewers',
  sql: `
    CREATE TABLE archive_reviewers (
      address  TEXT PRIMARY KEY,
      added_at INTEGER NOT NULL,
      added_by TEXT
    );
  `,
};

/** The roles and their tables. */
const TABLES = {
  officer: 'archive_officers',
  reviewer: 'archive_reviewers',
} as const;

/** A role of the archive. */
export type ArchiveRole = keyof typeof TABLES;

/** Every role, in the order listings show them. */
export const ARCHIVE_ROLES = Object.keys(TABLES) as ArchiveRole[];

/** What each role is called where people read it. */
export const ROLE_NAMES: Record<ArchiveRole, string> = { officer: 'compliance-officer', reviewer: 'supervision-reviewer' };

/** Whether `s` names a role. */
export const isArchiveRole = (s: string): s is ArchiveRole => Object.hasOwn(TABLES, s);

/** The roles' part of the archive's storage area. */
export interface RolesArea {
  /** Holders of `role`, sorted. */
  roleHolders(role: ArchiveRole): Promise<string[]>;
  hasRole(address: string, role: ArchiveRole): Promise<boolean>;
  /**
   * Grants (on) or revokes the role, journaling `archive.<role>.add` / `.remove` in the same transaction (with
   * whether anything changed); false when nothing changed.
   */
  setRole(address: string, role: ArchiveRole, on: boolean, actor: string, now: number): Promise<boolean>;
}

/** Opens the roles' part (the officers' table is the journal's, the reviewers' ROLES_MIGRATION). */
export function openRoles(db: Database.Database, ctx: SqliteAreaContext, append: AppendEntry): RolesArea {
  const statements = Object.fromEntries(
    ARCHIVE_ROLES.map((role) => {
      const t = TABLES[role];
      return [
        role,
        {
          list: db.prepare<[], string>(`SELECT address FROM ${t} ORDER BY address`).pluck(),
          get: db.prepare<[string], number>(`SELECT 1 FROM ${t} WHERE address = ?`).pluck(),
          add: db.prepare<[string, number, string]>(`INSERT INTO ${t} (address, added_at, added_by) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
          remove: db.prepare<[string]>(`DELETE FROM ${t} WHERE address = ?`),
        },
      ];
    }),
  ) as Record<ArchiveRole, { list: Database.Statement<[], string>; get: Database.Statement<[string], number>; add: Database.Statement<[string, number, string]>; remove: Database.Statement<[string]> }>;
  return {
    async roleHolders(role) {
      return statements[role].list.all();
    },
    async hasRole(address, role) {
      return statements[role].get.get(address) !== undefined;
    },
    async setRole(address, role, on, actor, now) {
      const s = statements[role];
      return ctx.write(() => {
        const changed = (on ? s.add.run(address, now, actor).changes : s.remove.run(address).changes) > 0;
        append(eventDraft(`archive.${role}.${on ? 'add' : 'remove'}`, now, { actor, subject: address, data: { changed } }));
        return changed;
      });
    },
  };
}
