/**
 * The typed SDK of Parley's administration HTTP API: accounts, domains, shared groups, rooms, audit log, usage,
 * module settings, API keys, webhooks and the compliance archive. No Node.js import, so the admin console (web/admin)
 * runs it in the browser over the web session cookie, and tests and scripts run it in Node.js (pass a `fetch`
 * that adds a cookie or an Authorization header). Unsafe methods repeat the session's CSRF value
 * (`X-Parley-CSRF`, docs/web.md); every failure is an AdminApiError with the server's `{error: {code, message}}`.
 */
import { ParleyApiError } from './session.js';
import type { AdminRoom, AdminRoomDetail, AdminSession, AdminUser, AdminUserDetail, ApiKey, ArchiveFilters, ArchiveHit, AuditEntry, Delivery, FederationLink, Hold, Lexicon, ModuleSettings, RetentionPolicy, ReviewItem, SharedGroup, Usage, Webhook } from './admin-types.js';

export type { AdminRoom, AdminRoomDetail, AdminSession, AdminUser, AdminUserDetail, ApiKey, ArchiveFilters, ArchiveHit, AuditEntry, Delivery, FederationLink, Hold, JsonSchema, Lexicon, ModuleSettings, RetentionPolicy, ReviewItem, SharedGroup, Usage, UsageDay, Webhook } from './admin-types.js';

/** Who may make a call: the server checks it; the console only hides what the reader cannot use. */
export type CallRole = 'admin' | 'officer' | 'reviewer' | 'signed-in' | 'public';

/** One route of the API. */
export interface AdminCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** With `:name` placeholders for path parameters. */
  path: string;
  role: CallRole;
}

/** Every call the SDK makes, by name (tests iterate it: a plain user is refused every admin, officer and reviewer call). */
export const ADMIN_CALLS = {
  me: { method: 'GET', path: '/api/v1/admin/me', role: 'signed-in' },
  listUsers: { method: 'GET', path: '/api/v1/admin/users', role: 'admin' },
  getUser: { method: 'GET', path: '/api/v1/admin/users/:address', role: 'admin' },
  createUser: { method: 'POST', path: '/api/v1/admin/users', role: 'admin' },
  updateUser: { method: 'PATCH', path: '/api/v1/admin/users/:address', role: 'admin' },
  setPassword: { method: 'POST', path: '/api/v1/admin/users/:address/password', role: 'admin' },
  deleteUser: { method: 'DELETE', path: '/api/v1/admin/users/:address', role: 'admin' },
  endSessions: { method: 'DELETE', path: '/api/v1/admin/users/:address/sessions', role: 'admin' },
  endSession: { method: 'DELETE', path: '/api/v1/admin/users/:address/sessions/:resource', role: 'admin' },
  listSessions: { method: 'GET', path: '/api/v1/admin/sessions', role: 'admin' },
  listDomains: { method: 'GET', path: '/api/v1/admin/domains', role: 'admin' },
  addDomain: { method: 'POST', path: '/api/v1/admin/domains', role: 'admin' },
  removeDomain: { method: 'DELETE', path: '/api/v1/admin/domains/:domain', role: 'admin' },
  listGroups: { method: 'GET', path: '/api/v1/admin/shared-groups', role: 'admin' },
  createGroup: { method: 'POST', path: '/api/v1/admin/shared-groups', role: 'admin' },
  renameGroup: { method: 'PATCH', path: '/api/v1/admin/shared-groups/:name', role: 'admin' },
  deleteGroup: { method: 'DELETE', path: '/api/v1/admin/shared-groups/:name', role: 'admin' },
  addGroupMember: { method: 'PUT', path: '/api/v1/admin/shared-groups/:name/members/:user', role: 'admin' },
  removeGroupMember: { method: 'DELETE', path: '/api/v1/admin/shared-groups/:name/members/:user', role: 'admin' },
  listRooms: { method: 'GET', path: '/api/v1/admin/rooms', role: 'admin' },
  getRoom: { method: 'GET', path: '/api/v1/admin/rooms/:room', role: 'admin' },
  destroyRoom: { method: 'DELETE', path: '/api/v1/admin/rooms/:room', role: 'admin' },
  audit: { method: 'GET', path: '/api/v1/audit', role: 'admin' },
  usage: { method: 'GET', path: '/api/v1/usage', role: 'admin' },
  listSettings: { method: 'GET', path: '/api/v1/admin/settings', role: 'admin' },
  getSettings: { method: 'GET', path: '/api/v1/admin/settings/:module', role: 'admin' },
  putSettings: { method: 'PUT', path: '/api/v1/admin/settings/:module', role: 'admin' },
  resetSetting: { method: 'DELETE', path: '/api/v1/admin/settings/:module/:key', role: 'admin' },
  health: { method: 'GET', path: '/health', role: 'public' },
  listKeys: { method: 'GET', path: '/api/v1/apikeys/keys', role: 'signed-in' },
  createKey: { method: 'POST', path: '/api/v1/apikeys/keys', role: 'signed-in' },
  revokeKey: { method: 'DELETE', path: '/api/v1/apikeys/keys/:id', role: 'signed-in' },
  listWebhooks: { method: 'GET', path: '/api/v1/webhooks', role: 'signed-in' },
  createWebhook: { method: 'POST', path: '/api/v1/webhooks', role: 'signed-in' },
  deleteWebhook: { method: 'DELETE', path: '/api/v1/webhooks/:id', role: 'signed-in' },
  webhookDeliveries: { method: 'GET', path: '/api/v1/webhooks/:id/deliveries', role: 'signed-in' },
  archiveSearch: { method: 'GET', path: '/api/v1/archive/search', role: 'officer' },
  archiveExport: { method: 'POST', path: '/api/v1/archive/export', role: 'officer' },
  listHolds: { method: 'GET', path: '/api/v1/archive/holds', role: 'officer' },
  placeHold: { method: 'POST', path: '/api/v1/archive/holds', role: 'officer' },
  releaseHold: { method: 'POST', path: '/api/v1/archive/holds/:id/release', role: 'officer' },
  listRetention: { method: 'GET', path: '/api/v1/archive/retention', role: 'officer' },
  setRetention: { method: 'PUT', path: '/api/v1/archive/retention', role: 'officer' },
  listLexicons: { method: 'GET', path: '/api/v1/archive/review/lexicons', role: 'officer' },
  addLexicon: { method: 'POST', path: '/api/v1/archive/review/lexicons', role: 'officer' },
  removeLexicon: { method: 'DELETE', path: '/api/v1/archive/review/lexicons/:id', role: 'officer' },
  reviewQueue: { method: 'GET', path: '/api/v1/archive/review', role: 'reviewer' },
  reviewMark: { method: 'POST', path: '/api/v1/archive/review/:id', role: 'reviewer' },
  federationLinks: { method: 'GET', path: '/api/v1/federation/links', role: 'admin' },
} as const satisfies Record<string, AdminCall>;

/** The name of a call. */
export type AdminCallName = keyof typeof ADMIN_CALLS;

/** A refused or failed call: the server's code and message, the HTTP status, and the rest of its error object. */
export class AdminApiError extends ParleyApiError {
  readonly status: number;
  /** Which field a settings error is about (`path` in the error), when the server said. */
  readonly path: ReadonlyArray<string | number> | null;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.status = status;
    const p = details.path;
    this.path = Array.isArray(p) ? (p as Array<string | number>) : typeof p === 'string' && p !== '' ? p.split('.') : null;
  }
  /** Whether the route does not exist: its module is off (modules that are off register no routes). */
  get moduleOff(): boolean {
    return this.status === 404 && this.message.includes('no route');
  }
}

/** How the SDK reaches the server. */
export interface AdminClientOptions {
  /** The session's CSRF value (GET /api/v1/web/session), sent on unsafe methods; null with a bearer token. */
  csrf: string | null;
  /** A session token (POST /api/v1/login) sent as `Authorization: Bearer` instead of the browser's cookie. */
  token?: string;
  /** Prefix of every path: '' in the browser (same origin), `http://host:port` elsewhere. */
  base?: string;
  /** The fetch to use (Node.js callers pass one that adds their cookie or Authorization header). */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined | null>;
type Params = Record<string, string | number>;

/** Fills `:name` placeholders (each value URL-encoded). */
export function pathOf(call: AdminCall, params: Params = {}): string {
  return call.path.replace(/:([a-z]+)/gi, (_m, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`${call.path} needs ${k}`);
    return encodeURIComponent(String(v));
  });
}

const queryOf = (q: Query = {}): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const t = s.toString();
  return t === '' ? '' : `?${t}`;
};

/** The admin API, one method per call. */
export class AdminClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  constructor(private readonly opts: AdminClientOptions) {
    this.base = opts.base ?? '';
    this.doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Makes one call and answers the raw response (2xx only; otherwise throws AdminApiError). */
  async raw(name: AdminCallName, args: { params?: Params; query?: Query; body?: unknown } = {}): Promise<Response> {
    const call: AdminCall = ADMIN_CALLS[name];
    const headers: Record<string, string> = {};
    if (args.body !== undefined) headers['content-type'] = 'application/json';
    if (call.method !== 'GET' && this.opts.csrf !== null) headers['x-parley-csrf'] = this.opts.csrf;
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    const res = await this.doFetch(`${this.base}${pathOf(call, args.params)}${queryOf(args.query)}`, {
      method: call.method,
      headers,
      credentials: 'same-origin',
      ...(args.body !== undefined ? { body: JSON.stringify(args.body) } : {}),
    });
    if (!res.ok) {
      const data = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } & Record<string, unknown> };
      const { code, message, ...details } = data.error ?? {};
      throw new AdminApiError(res.status, code ?? 'internal-server-error', message ?? res.statusText, details);
    }
    return res;
  }

  /** Makes one call and answers its JSON. */
  async call<T>(name: AdminCallName, args: { params?: Params; query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await this.raw(name, args);
    return (await res.json()) as T;
  }

  /** Who the caller is: an administrator, and which archive roles it holds. */
  me(): Promise<{ address: string; admin: boolean; roles: string[] }> {
    return this.call('me');
  }
  /** A page of accounts. */
  listUsers(q: { domain?: string; q?: string; after?: string | null; limit?: number } = {}): Promise<{ users: AdminUser[]; next: string | null }> {
    return this.call('listUsers', { query: q });
  }
  /** One account with its sessions and groups. */
  getUser(address: string): Promise<AdminUserDetail> {
    return this.call('getUser', { params: { address } });
  }
  /** Creates a person (with a password) or a bot (without). */
  createUser(u: { address: string; password?: string; admin?: boolean; kind?: 'person' | 'bot' }): Promise<{ address: string; kind: string }> {
    return this.call('createUser', { body: u });
  }
  /** Disables or enables an account, grants or revokes administration. */
  updateUser(address: string, change: { disabled?: boolean; admin?: boolean }): Promise<unknown> {
    return this.call('updateUser', { params: { address }, body: change });
  }
  /** Sets a new password. */
  setPassword(address: string, password: string): Promise<unknown> {
    return this.call('setPassword', { params: { address }, body: { password } });
  }
  /** Deletes an account. */
  deleteUser(address: string): Promise<{ address: string }> {
    return this.call('deleteUser', { params: { address } });
  }
  /** Ends every session of an account. */
  endSessions(address: string): Promise<{ ended: number }> {
    return this.call('endSessions', { params: { address } });
  }
  /** Ends one session (by resource). */
  endSession(address: string, resource: string): Promise<unknown> {
    return this.call('endSession', { params: { address, resource } });
  }
  /** Every session on the server. */
  listSessions(): Promise<{ total: number; byProtocol: Record<string, number>; users: number; sessions: AdminSession[] }> {
    return this.call('listSessions');
  }
  /** The hosted domains. */
  listDomains(): Promise<{ domains: string[] }> {
    return this.call('listDomains');
  }
  /** Hosts a domain. */
  addDomain(domain: string): Promise<{ domain: string }> {
    return this.call('addDomain', { body: { domain } });
  }
  /** Removes a domain with its accounts. */
  removeDomain(domain: string): Promise<{ domain: string }> {
    return this.call('removeDomain', { params: { domain } });
  }
  /** The shared groups with their members. */
  listGroups(): Promise<{ groups: SharedGroup[] }> {
    return this.call('listGroups');
  }
  /** Creates a shared group. */
  createGroup(name: string, displayName?: string): Promise<unknown> {
    return this.call('createGroup', { body: displayName ? { name, displayName } : { name } });
  }
  /** Renames a shared group (its display name). */
  renameGroup(name: string, displayName: string): Promise<unknown> {
    return this.call('renameGroup', { params: { name }, body: { displayName } });
  }
  /** Deletes a shared group. */
  deleteGroup(name: string): Promise<unknown> {
    return this.call('deleteGroup', { params: { name } });
  }
  /** Adds a member to a shared group. */
  addGroupMember(name: string, user: string): Promise<unknown> {
    return this.call('addGroupMember', { params: { name, user } });
  }
  /** Removes a member from a shared group. */
  removeGroupMember(name: string, user: string): Promise<unknown> {
    return this.call('removeGroupMember', { params: { name, user } });
  }
  /** A page of rooms. */
  listRooms(q: { q?: string; after?: string | null; limit?: number } = {}): Promise<{ rooms: AdminRoom[]; next: string | null }> {
    return this.call('listRooms', { query: q });
  }
  /** One room with its members and roles. */
  getRoom(room: string): Promise<AdminRoomDetail> {
    return this.call('getRoom', { params: { room } });
  }
  /** Destroys a room. */
  destroyRoom(room: string, reason?: string): Promise<unknown> {
    return this.call('destroyRoom', { params: { room }, body: reason ? { reason } : {} });
  }
  /** A page of the audit log, newest first. */
  audit(q: { before?: number | null; limit?: number; type?: string; actor?: string; subject?: string; from?: number; to?: number } = {}): Promise<{ entries: AuditEntry[]; next: number | null }> {
    return this.call('audit', { query: q });
  }
  /** Usage per day over the last `days`, and now. */
  usage(days: number): Promise<Usage> {
    return this.call('usage', { query: { days } });
  }
  /** Every module's live settings with their schema. */
  listSettings(): Promise<{ modules: ModuleSettings[] }> {
    return this.call('listSettings');
  }
  /** One module's live settings. */
  getSettings(module: string): Promise<ModuleSettings> {
    return this.call('getSettings', { params: { module } });
  }
  /** Changes a module's settings (the server validates them against the schema). */
  putSettings(module: string, values: Record<string, unknown>): Promise<ModuleSettings> {
    return this.call('putSettings', { params: { module }, body: { values } });
  }
  /** Returns one setting to its configured value. */
  resetSetting(module: string, key: string): Promise<unknown> {
    return this.call('resetSetting', { params: { module, key } });
  }
  /** The server's /health report. */
  health(): Promise<Record<string, unknown>> {
    return this.call('health');
  }
  /** The server-to-server links (the federation module; item-not-found when it is off). */
  federationLinks(): Promise<{ links: FederationLink[] }> {
    return this.call('federationLinks');
  }
  /** API keys (an administrator's answer holds every owner's). */
  listKeys(owner?: string): Promise<{ keys: ApiKey[] }> {
    return this.call('listKeys', { query: { owner } });
  }
  /** Creates an API key; its token is in this answer only. */
  createKey(k: { owner?: string; name: string; scopes: string[] }): Promise<{ key: ApiKey; token: string }> {
    return this.call('createKey', { body: k });
  }
  /** Revokes an API key. */
  revokeKey(id: string): Promise<{ key: ApiKey }> {
    return this.call('revokeKey', { params: { id } });
  }
  /** The caller's webhooks. */
  listWebhooks(): Promise<{ webhooks: Webhook[] }> {
    return this.call('listWebhooks');
  }
  /** Creates a webhook; its signing secret is in this answer only. */
  createWebhook(w: { url: string; target: Record<string, unknown>; description?: string }): Promise<{ webhook: Webhook; secret: string }> {
    return this.call('createWebhook', { body: w });
  }
  /** Deletes a webhook. */
  deleteWebhook(id: string): Promise<unknown> {
    return this.call('deleteWebhook', { params: { id } });
  }
  /** A webhook's delivery log. */
  webhookDeliveries(id: string): Promise<{ deliveries: Delivery[] }> {
    return this.call('webhookDeliveries', { params: { id } });
  }
  /** Searches the compliance archive (journaled). */
  archiveSearch(f: ArchiveFilters & { before?: number | null; limit?: number }): Promise<{ hits: ArchiveHit[]; next: number | null; audit: number }> {
    return this.call('archiveSearch', { query: { ...f } });
  }
  /** Exports what the filters match as a tar bundle (journaled); answers its bytes, name and record count. */
  async archiveExport(f: ArchiveFilters): Promise<{ blob: Blob; filename: string; records: number }> {
    const res = await this.raw('archiveExport', { body: f });
    const disposition = res.headers.get('content-disposition') ?? '';
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'archive-export.tar';
    return { blob: await res.blob(), filename, records: Number(res.headers.get('x-parley-export-records') ?? 0) };
  }
  /** Legal holds (released ones too with `all`). */
  listHolds(all = false): Promise<{ holds: Hold[] }> {
    return this.call('listHolds', { query: { all } });
  }
  /** Places a legal hold on a person or a room. */
  placeHold(h: { person?: string; room?: string; reason: string }): Promise<Hold> {
    return this.call('placeHold', { body: h });
  }
  /** Releases a legal hold. */
  releaseHold(id: number): Promise<Hold> {
    return this.call('releaseHold', { params: { id } });
  }
  /** Retention policies. */
  listRetention(): Promise<{ policies: RetentionPolicy[] }> {
    return this.call('listRetention');
  }
  /** Sets the retention of a domain or a room. */
  setRetention(p: { domain?: string; room?: string; minDays: number; maxDays: number | null }): Promise<RetentionPolicy> {
    return this.call('setRetention', { body: p });
  }
  /** Supervision lexicons. */
  listLexicons(): Promise<{ lexicons: Lexicon[] }> {
    return this.call('listLexicons');
  }
  /** Adds a supervision lexicon. */
  addLexicon(l: { name: string; domain?: string; group?: string; words?: string[]; phrases?: string[]; patterns?: string[] }): Promise<Lexicon> {
    return this.call('addLexicon', { body: l });
  }
  /** Removes a supervision lexicon. */
  removeLexicon(id: number): Promise<unknown> {
    return this.call('removeLexicon', { params: { id } });
  }
  /** The review queue (journaled: reviewers read content). */
  reviewQueue(q: { state?: 'new' | 'reviewed' | 'escalated'; after?: number; limit?: number } = {}): Promise<{ items: ReviewItem[] }> {
    return this.call('reviewQueue', { query: q });
  }
  /** Decides on a review item. */
  reviewMark(id: number, state: 'reviewed' | 'escalated', comment: string): Promise<ReviewItem> {
    return this.call('reviewMark', { params: { id }, body: { state, comment } });
  }
}
