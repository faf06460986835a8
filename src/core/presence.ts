/**
 * Presence aggregation: a user may have several sessions, each publishing its own presence (RFC 6121 §4);
 * subscribers see one aggregate state per user.
 *
 * Per session, the state is its availability, except that "dnd" is always "dnd" and an available/chat session
 * whose activity is busy-class (BUSY_ACTIVITIES) is "busy".
 *
 * Precedence when aggregating a user's sessions:
 *  1. If any session carries an explicit (user-chosen) state, the most recently updated explicit session
 *     wins, whatever its rank: a person who sets "away" by hand on their phone means it, even while an idle
 *     desktop still says "available". Equal updatedAt falls back to rule 2's order.
 *  2. Otherwise the highest-ranked state wins: dnd > busy > chat > available > away > xa, because the more
 *     restrictive signal is the one others must respect. Ties go to the higher priority (RFC 6121 §4.7.2.3),
 *     then to the most recent updatedAt, then to the earlier session in the list.
 *  3. No sessions: state "offline", with lastSeen as given.
 * The winning session supplies availability, activity, status and idleSince; lastSeen is null while online.
 *
 * Pure: no I/O, no node:* imports.
 */
import { ParleyError } from './errors.js';
import {
  ACTIVITIES,
  AVAILABILITIES,
  type Activity,
  type PresenceState,
  type ResourcePresence,
  type ResourceState,
  type SessionPresence,
  type UserPresence,
} from './types.js';

/** Activities that make an otherwise available user "busy". */
export const BUSY_ACTIVITIES: ReadonlySet<Activity> = new Set<Activity>(['on-the-phone', 'in-meeting', 'presenting', 'busy']);

/** Longest status text, in code points. */
export const MAX_STATUS_LENGTH = 1024;

/** Rank of each online state for rule 2 (higher wins). */
const RANK: Readonly<Record<Exclude<PresenceState, 'offline'>, number>> = {
  dnd: 6,
  busy: 5,
  chat: 4,
  available: 3,
  away: 2,
  xa: 1,
};

/** The state one session shows: "dnd", "busy" for available/chat with a busy-class activity, else its availability. */
export function sessionState(p: SessionPresence): Exclude<PresenceState, 'offline'> {
  if (p.availability === 'dnd') return 'dnd';
  if ((p.availability === 'available' || p.availability === 'chat') && p.activity !== null && BUSY_ACTIVITIES.has(p.activity)) {
    return 'busy';
  }
  return p.availability;
}

/** Rule 2 order: positive when `a` beats `b`. */
function compareRanked(a: SessionPresence, b: SessionPresence): number {
  return RANK[sessionState(a)] - RANK[sessionState(b)] || a.priority - b.priority || a.updatedAt - b.updatedAt;
}

/** Aggregates a user's sessions into what subscribers see, by the precedence in the file comment. */
export function aggregatePresence(user: string, sessions: SessionPresence[], lastSeen: number | null): UserPresence {
  let winner: SessionPresence | null = null;
  let explicit = false;
  for (const s of sessions) {
    if (winner === null) {
      winner = s;
      explicit = s.explicit;
    } else if (s.explicit && !explicit) {
      winner = s;
      explicit = true;
    } else if (s.explicit === explicit) {
      const d = explicit ? s.updatedAt - winner.updatedAt || compareRanked(s, winner) : compareRanked(s, winner);
      if (d > 0) winner = s;
    }
  }
  if (winner === null) {
    return { user, state: 'offline', availability: null, activity: null, status: null, idleSince: null, sessions: 0, lastSeen };
  }
  return {
    user,
    state: sessionState(winner),
    availability: winner.availability,
    activity: winner.activity,
    status: winner.status,
    idleSince: winner.idleSince,
    sessions: sessions.length,
    lastSeen: null,
  };
}

const FIELDS: ReadonlySet<string> = new Set(['availability', 'activity', 'status', 'priority', 'idleSince', 'explicit']);
/** XML 1.0 §2.2 Char excludes these, so a status carrying them could not be relayed over XMPP. */
const NON_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function bad(message: string): ParleyError {
  return new ParleyError('bad-request', message);
}

function isOneOf<T extends string>(list: readonly T[], v: unknown): v is T {
  return typeof v === 'string' && (list as readonly string[]).includes(v);
}

function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

/**
 * Validates a client-supplied presence `{availability?, activity?, status?, priority?, idleSince?, explicit?}`
 * (defaults: available, null, null, 0, null, false) and stamps updatedAt = now. Unknown fields are rejected,
 * so a misspelt field is reported rather than silently ignored. Throws ParleyError('bad-request') naming
 * the field.
 */
export function validatePresence(input: unknown, now: number): SessionPresence {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw bad('presence must be an object');
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!FIELDS.has(key)) throw bad(`presence has unknown field "${key}"`);
  }

  const availability = o.availability === undefined ? 'available' : o.availability;
  if (!isOneOf(AVAILABILITIES, availability)) throw bad(`availability must be one of ${AVAILABILITIES.join(', ')}`);

  const activity = o.activity === undefined || o.activity === null ? null : o.activity;
  if (activity !== null && !isOneOf(ACTIVITIES, activity)) throw bad(`activity must be null or one of ${ACTIVITIES.join(', ')}`);

  const status = o.status === undefined || o.status === null ? null : o.status;
  if (status !== null) {
    if (typeof status !== 'string') throw bad('status must be a string or null');
    if (status.length > MAX_STATUS_LENGTH && codePointLength(status) > MAX_STATUS_LENGTH) {
      throw bad(`status must be at most ${MAX_STATUS_LENGTH} characters`);
    }
    if (NON_XML_CHAR.test(status)) throw bad('status contains control characters or unpaired surrogates');
  }

  // RFC 6121 §4.7.2.3: priority is an integer in -128..127.
  const priority = o.priority === undefined ? 0 : o.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < -128 || priority > 127) {
    throw bad('priority must be an integer from -128 to 127');
  }

  const idle = o.idleSince === undefined ? null : o.idleSince;
  let idleSince: number | null = null;
  if (idle !== null) {
    if (typeof idle !== 'number' || !Number.isInteger(idle) || idle < 0) {
      throw bad('idleSince must be null or a non-negative integer (epoch ms)');
    }
    // A client clock ahead of ours would claim idleness in the future; clamp rather than reject.
    idleSince = Math.min(idle, now);
  }

  const explicit = o.explicit === undefined ? false : o.explicit;
  if (typeof explicit !== 'boolean') throw bad('explicit must be a boolean');

  return { availability, activity, status, priority: priority === 0 ? 0 : priority, idleSince, explicit, updatedAt: now };
}

/**
 * Whether two aggregates look the same to subscribers (every field equal), so a broadcast can be skipped;
 * `resources` false: whether the person looks the same, whatever the list of resources says.
 */
export function presenceEquals(a: UserPresence, b: UserPresence, resources = true): boolean {
  return (
    a.user === b.user &&
    a.state === b.state &&
    a.availability === b.availability &&
    a.activity === b.activity &&
    a.status === b.status &&
    a.idleSince === b.idleSince &&
    a.sessions === b.sessions &&
    a.lastSeen === b.lastSeen &&
    (!resources || sameResources(a.resources, b.resources))
  );
}

function sameResources(a: readonly ResourceState[] | undefined, b: readonly ResourceState[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  return a.every((r, i) => r.resource === b[i]!.resource && r.state === b[i]!.state && r.priority === b[i]!.priority);
}

/**
 * `aggregatePresence` of a user's available sessions, with the list of resources and their states (the JSON
 * API's view of them, docs/protocol.md), sorted by resource.
 */
export function aggregateResources(user: string, sessions: ReadonlyArray<{ readonly resource: string; readonly presence: SessionPresence }>): UserPresence {
  const p = aggregatePresence(user, sessions.map((s) => s.presence), null);
  if (sessions.length > 0) {
    // By name, so every node lists them alike whichever holds which session.
    p.resources = sessions
      .map((s) => ({ resource: s.resource, state: sessionState(s.presence), priority: s.presence.priority }))
      .sort((x, y) => (x.resource < y.resource ? -1 : x.resource > y.resource ? 1 : 0));
  }
  return p;
}

/** Whether two presences of one resource are the same broadcast: every field, the stamp and the extensions. */
export function sessionPresenceEquals(a: SessionPresence, b: SessionPresence): boolean {
  return (
    a === b ||
    (a.updatedAt === b.updatedAt &&
      a.availability === b.availability &&
      a.activity === b.activity &&
      a.status === b.status &&
      a.priority === b.priority &&
      a.idleSince === b.idleSince &&
      a.explicit === b.explicit &&
      a.extensions === b.extensions &&
      a.added === b.added)
  );
}

/**
 * What a user's resources must broadcast to go from `before` (the presence last broadcast, by resource) to `now`
 * (the available sessions): each new or changed resource with its presence (RFC 6121 §4.2.2 initial, §4.4.2
 * subsequent), then each resource gone with null (§4.5.2 unavailable). A presence sent again with a new stamp
 * is broadcast again, as §4.4.2 wants; nothing changed, nothing to send.
 */
export function resourceChanges(
  before: ReadonlyMap<string, SessionPresence> | undefined,
  now: ReadonlyArray<{ readonly resource: string; readonly presence: SessionPresence }>,
): ResourcePresence[] {
  const out: ResourcePresence[] = [];
  for (const s of now) {
    const was = before?.get(s.resource);
    if (was === undefined || !sessionPresenceEquals(was, s.presence)) out.push({ resource: s.resource, presence: s.presence });
  }
  if (before !== undefined && before.size > 0) {
    for (const r of before.keys()) if (!now.some((s) => s.resource === r)) out.push({ resource: r, presence: null });
  }
  return out;
}
