/**
 * The schema, as an ordered list of migrations. Never edit a released migration: append a new one, because
 * existing databases only ever run the migrations they have not recorded in schema_migrations.
 */

/** One schema step; `version` values are consecutive from 1. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const INITIAL = `
CREATE TABLE domains (
  domain     TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
  address     TEXT PRIMARY KEY,
  domain      TEXT NOT NULL REFERENCES domains(domain),
  credentials TEXT NOT NULL,           -- JSON of Credentials
  admin       INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  last_seen   INTEGER,
  last_status TEXT
);
CREATE INDEX accounts_by_domain ON accounts(domain, address);

CREATE TABLE tokens (
  hash       TEXT PRIMARY KEY,
  address    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_by_address ON tokens(address);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

CREATE TABLE roster_items (
  owner        TEXT NOT NULL,
  contact      TEXT NOT NULL,
  name         TEXT,
  groups       TEXT NOT NULL,          -- JSON array of group names
  subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
  pending_out  INTEGER NOT NULL,
  pending_in   INTEGER NOT NULL,
  PRIMARY KEY (owner, contact)
) WITHOUT ROWID;
CREATE INDEX roster_by_contact ON roster_items(contact);

CREATE TABLE shared_groups (
  name         TEXT PRIMARY KEY,
  display_name TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE shared_group_members (
  name TEXT NOT NULL REFERENCES shared_groups(name) ON DELETE CASCADE,
  user TEXT NOT NULL,
  PRIMARY KEY (name, user)
) WITHOUT ROWID;
CREATE INDEX shared_group_members_by_user ON shared_group_members(user);

CREATE TABLE rooms (
  address      TEXT PRIMARY KEY,
  domain       TEXT NOT NULL,          -- part after '@', for list(domain) and domain removal
  name         TEXT NOT NULL,
  members_only INTEGER NOT NULL,
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rooms_by_domain ON rooms(domain);

CREATE TABLE room_members (
  room      TEXT NOT NULL REFERENCES rooms(address) ON DELETE CASCADE,
  user      TEXT NOT NULL,
  role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (room, user)
) WITHOUT ROWID;
CREATE INDEX room_members_by_user ON room_members(user);

CREATE TABLE room_invites (
  room       TEXT NOT NULL REFERENCES rooms(address) ON DELETE CASCADE,
  user       TEXT NOT NULL,
  invited_by TEXT NOT NULL,
  invited_at INTEGER NOT NULL,
  PRIMARY KEY (room, user)
) WITHOUT ROWID;
CREATE INDEX room_invites_by_user ON room_invites(user);

-- The journal. AUTOINCREMENT (not just INTEGER PRIMARY KEY) so a seq is never reused, even after deletes:
-- clients resume from a seq.
CREATE TABLE log (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'retract', 'receipt')),
  type          TEXT NOT NULL CHECK (type IN ('chat', 'groupchat')),
  conv          TEXT NOT NULL,
  from_addr     TEXT NOT NULL,
  from_resource TEXT,
  to_addr       TEXT NOT NULL,
  to_resource   TEXT,
  client_id     TEXT,
  body          TEXT,
  ref           TEXT,
  receipt       TEXT CHECK (receipt IN ('delivered', 'read')),
  ts            INTEGER NOT NULL
);
-- Dedupe of client resends, for every kind (a resent edit must not apply twice).
CREATE UNIQUE INDEX log_by_client_id ON log(from_addr, client_id) WHERE client_id IS NOT NULL;
-- since(): one index range per branch (to / from / each room).
CREATE INDEX log_by_to ON log(to_addr, type, seq);
CREATE INDEX log_by_from ON log(from_addr, type, seq);
CREATE INDEX log_by_conv ON log(conv, seq);
-- history(): messages only, so receipts and edits in busy rooms are never scanned.
CREATE INDEX log_messages_by_conv ON log(conv, seq) WHERE kind = 'message';

-- Current state of edited or retracted messages only (untouched messages have no row).
CREATE TABLE message_state (
  id           TEXT PRIMARY KEY REFERENCES log(id),
  body         TEXT,
  edited_at    INTEGER,
  retracted_at INTEGER
) WITHOUT ROWID;

CREATE TABLE offline (
  user TEXT NOT NULL,
  seq  INTEGER NOT NULL REFERENCES log(seq),
  PRIMARY KEY (user, seq)
) WITHOUT ROWID;
`;

// invitesOf(): a user's invitations in invitation order straight from the index, without a sort. It also serves
// every lookup by user alone, so the single-column index it replaces would only cost writes.
const INVITES_BY_USER_AT = `
CREATE INDEX room_invites_by_user_at ON room_invites(user, invited_at, room);
DROP INDEX room_invites_by_user;
`;

// Every index is one more B-tree written per message (measured: bench/store-append.ts). history() reads
// log_by_conv and skips the few edit/retract rows of a conversation; receipts live in 1:1 conversations.
const DROP_MESSAGES_BY_CONV = `DROP INDEX log_messages_by_conv;`;

// XEP-0191 block lists and per-user documents (vCards). blockersOf() reads blocks_by_entry.
const BLOCKS_AND_PROFILES = `
CREATE TABLE blocks (
  owner TEXT NOT NULL REFERENCES accounts(address),
  entry TEXT NOT NULL,
  PRIMARY KEY (owner, entry)
) WITHOUT ROWID;
CREATE INDEX blocks_by_entry ON blocks(entry, owner);

CREATE TABLE profiles (
  owner      TEXT NOT NULL REFERENCES accounts(address),
  kind       TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (owner, kind)
) WITHOUT ROWID;
`;

// An address removed and created again is a new identity: each account and room records the log position of its
// creation, and reads start after it. Rows that exist already get 0, so what they can read stays as it was.
const CREATED_SEQ = `
ALTER TABLE accounts ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
`;

// Installation secrets (SecretStore): the key of the SCRAM salts shown for unknown users must survive restarts,
// or the salt of a name that changes on restart tells an attacker that nobody has that name.
const SERVER_SECRETS = `
CREATE TABLE server_secrets (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

// Log consumers record how far they got, and each module's area records its own migrations (migrate.ts), so a
// module's versions count from 1 independently of the core's.
const POSITIONS_AND_MODULES = `
CREATE TABLE consumer_positions (
  consumer TEXT PRIMARY KEY,
  seq      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE module_migrations (
  module     TEXT NOT NULL,
  version    INTEGER NOT NULL,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  PRIMARY KEY (module, version)
) WITHOUT ROWID;
`;

// Accounts have a kind: a person (password login) or a bot (API key login, docs/bots.md). Existing accounts are
// people.
const ACCOUNT_KIND = `
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'bot'));
`;

// XEP-0045 administration: bans (affiliation outcast, of an address or a whole domain), moderated rooms and
// members without voice (visitors). Bans go with their room; the voice flag goes with the membership.
const ROOM_BANS_AND_VOICE = `
CREATE TABLE room_bans (
  room      TEXT NOT NULL REFERENCES rooms(address) ON DELETE CASCADE,
  target    TEXT NOT NULL,
  banned_by TEXT NOT NULL,
  reason    TEXT,
  banned_at INTEGER NOT NULL,
  PRIMARY KEY (room, target)
) WITHOUT ROWID;
ALTER TABLE rooms ADD COLUMN moderated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE room_members ADD COLUMN voice INTEGER NOT NULL DEFAULT 1;
`;

// A message's extension elements (XEP-0066 links, XEP-0444 reactions, encrypted payloads: NewRecord.xml), as
// canonical XML text. Old rows are not rewritten: they read as null, which means "none".
const LOG_XML = `
ALTER TABLE log ADD COLUMN xml TEXT;
`;

// An administrator may disable an account: it then cannot sign in by any path until enabled again.
const ACCOUNT_DISABLED = `
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
`;

// Live options administrators set while the server runs (docs/settings.md): one row per module and top-level key,
// the value as JSON text, validated by the module's own schema when applied rather than here.
const SETTINGS = `
CREATE TABLE settings (
  module     TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (module, key)
) WITHOUT ROWID;
`;

/** All migrations, oldest first. */
// lastRead(): a reader's newest read receipt in a conversation, straight from the index. Partial: only receipt rows
// are written to it, so appending a message costs no extra B-tree write.
const READ_RECEIPTS = `CREATE INDEX log_read_receipts ON log(conv, from_addr, seq) WHERE kind = 'receipt' AND receipt = 'read';`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: INITIAL },
  { version: 2, name: 'room invitations by user and time', sql: INVITES_BY_USER_AT },
  { version: 3, name: 'history reads the conversation index', sql: DROP_MESSAGES_BY_CONV },
  { version: 4, name: 'block lists and profiles', sql: BLOCKS_AND_PROFILES },
  { version: 5, name: 'accounts and rooms record the log position of their creation', sql: CREATED_SEQ },
  { version: 6, name: 'server secrets', sql: SERVER_SECRETS },
  { version: 7, name: 'log consumer positions and module migrations', sql: POSITIONS_AND_MODULES },
  { version: 8, name: 'account kinds (person, bot)', sql: ACCOUNT_KIND },
  { version: 9, name: 'room bans, moderated rooms and voice', sql: ROOM_BANS_AND_VOICE },
  { version: 10, name: 'message extension elements', sql: LOG_XML },
  { version: 11, name: 'disabled accounts', sql: ACCOUNT_DISABLED },
  { version: 12, name: 'live options set by administrators', sql: SETTINGS },
  { version: 13, name: 'read receipts by conversation and reader', sql: READ_RECEIPTS },
];
