/**
 * What the administration HTTP API answers, as the SDK (client/admin.ts) types it: accounts, sessions, rooms,
 * the audit log, usage, module settings with their JSON Schema, API keys, webhooks and the compliance archive.
 */
/** A session as the admin API lists it. */
export interface AdminSession {
  id: string;
  resource: string;
  protocol: string;
  openedAt: number;
  available: boolean;
  node: string;
  presence: { availability: string; activity?: string | null; status?: string | null };
  user?: string;
}
/** An account in the list. */
export interface AdminUser {
  address: string;
  kind: 'person' | 'bot';
  admin: boolean;
  disabled: boolean;
  createdAt: number | null;
  lastSeen: number | null;
  /** How many sessions it has open, on every node. */
  online: number;
}
/** An account with its sessions and shared groups. */
export interface AdminUserDetail extends AdminUser {
  sessions: AdminSession[];
  groups: string[];
}
/** A shared group. */
export interface SharedGroup {
  name: string;
  displayName: string;
  members: string[];
}
/** A room in the list. */
export interface AdminRoom {
  address: string;
  name: string;
  subject?: string | null;
  members: number;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  createdAt?: number | null;
}
/** A room with its members and their roles. */
export interface AdminRoomDetail extends Omit<AdminRoom, 'members'> {
  members: Array<{ address: string; role: string }>;
}
/** An audit log entry. */
export interface AuditEntry {
  id: number;
  at: number;
  /** An address, `cli:<os user>` for the operator's CLI, null for the server itself. */
  actor: string | null;
  type: string;
  subject: string | null;
  data: Record<string, unknown>;
  node?: string;
}
/** One day of usage. */
export interface UsageDay {
  day: string;
  messages: number;
  roomMessages: number;
  activeUsers: number;
  sessions: Record<string, number>;
  peakConnections: number;
  newAccounts: number;
}
/** Usage over some days and the live figures. */
export interface Usage {
  days: UsageDay[];
  now: { sessions: number; byProtocol: Record<string, number>; onlineUsers: number };
}
/** A JSON Schema as the settings API sends it (draft 2020-12, the parts forms use). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  title?: string;
}
/** One module's live settings. */
export interface ModuleSettings {
  module: string;
  summary?: string;
  enabled: boolean;
  /** The keys an administrator may change here. */
  live: string[];
  values: Record<string, unknown>;
  overridden: string[];
  schema: JsonSchema;
}
/** An API key (its secret only in createKey's answer). */
export interface ApiKey {
  id: string;
  owner: string;
  name: string;
  scopes: string[];
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
  revokedBy: string | null;
}
/** A webhook. */
export interface Webhook {
  id: string;
  url: string;
  target: Record<string, unknown>;
  description: string | null;
  disabled: { at: number; reason: string } | null;
  failures?: number;
  lastError?: string | null;
  createdAt: number;
}
/** One attempt in a webhook's delivery log. */
export interface Delivery {
  deliveryId: string;
  event: string;
  attempt: number;
  at: number;
  status: number | null;
  durationMs: number;
  error: string | null;
}
/** A search hit of the archive. */
export interface ArchiveHit {
  index: number;
  type: string;
  ts: number;
  conv: string | null;
  actor: string | null;
  subject: string | null;
  id: string | null;
  body: string | null;
}
/** The archive's search filters. */
export interface ArchiveFilters {
  participant?: string;
  room?: string;
  domain?: string;
  from?: string;
  to?: string;
  keywords?: string;
}
/** A legal hold. */
export interface Hold {
  id: number;
  reason: string;
  scope: { kind: 'person'; address: string } | { kind: 'room'; room: string } | { kind: 'search'; search: Record<string, unknown> };
  createdBy: string;
  createdAt: number;
  releasedAt: number | null;
  releasedBy: string | null;
}
/** A retention policy. */
export interface RetentionPolicy {
  kind: 'domain' | 'room';
  scope: string;
  minDays: number;
  maxDays: number | null;
  setAt: number;
  setBy: string | null;
}
/** A supervision lexicon. */
export interface Lexicon {
  id: number;
  name: string;
  scope: { kind: 'all' } | { kind: 'domain'; domain: string } | { kind: 'group'; group: string };
  terms: { words?: string[]; phrases?: string[]; patterns?: string[] };
}
/** An item of the supervision review queue. */
export interface ReviewItem {
  id: number;
  index: number;
  reasons: Array<{ kind: 'lexicon'; name: string; term: string } | { kind: 'sample' }>;
  state: 'new' | 'reviewed' | 'escalated';
  reviewer: string | null;
  comment: string | null;
  decidedAt: number | null;
  createdAt: number;
  entry: string | null;
}

/** A server-to-server link (GET /api/v1/federation/links; src/modules/federation/README.md). */
export interface FederationLink {
  direction: 'in' | 'out';
  /** The hosted domain (or its room domain) of the pair. */
  local: string;
  /** The remote domain; empty while an incoming stream has authenticated no pair yet. */
  remote: string;
  state: 'connecting' | 'ready' | 'backoff' | 'idle' | 'negotiating';
  /** How the pair authenticated: sasl-external, dialback, dialback-certificate; null before. */
  auth: string | null;
  /** Since when it is in this state (ISO 8601). */
  since: string;
  address: string | null;
  stanzasIn: number;
  stanzasOut: number;
  queued: number;
  lastError: string | null;
}
