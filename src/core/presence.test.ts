import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParleyError } from './errors.js';
import { aggregatePresence, aggregateResources, BUSY_ACTIVITIES, presenceEquals, resourceChanges, sessionPresenceEquals, sessionState, validatePresence } from './presence.js';
import { ACTIVITIES, AVAILABILITIES, type Activity, type Availability, type PresenceState, type SessionPresence, type UserPresence } from './types.js';

const s = (over: Partial<SessionPresence> = {}): SessionPresence => ({
  availability: 'available',
  activity: null,
  status: null,
  priority: 0,
  idleSince: null,
  explicit: false,
  updatedAt: 1000,
  ...over,
});

const RANK: Record<Exclude<PresenceState, 'offline'>, number> = { dnd: 6, busy: 5, chat: 4, available: 3, away: 2, xa: 1 };

describe('sessionState', () => {
  it.each<[Availability, Activity | null, PresenceState]>([
    ['dnd', null, 'dnd'],
    ['dnd', 'in-meeting', 'dnd'],
    ['dnd', 'at-lunch', 'dnd'],
    ['available', 'on-the-phone', 'busy'],
    ['available', 'in-meeting', 'busy'],
    ['available', 'presenting', 'busy'],
    ['chat', 'busy', 'busy'],
    ['available', 'at-lunch', 'available'],
    ['chat', 'working-remotely', 'chat'],
    ['available', null, 'available'],
    ['chat', null, 'chat'],
    ['away', 'in-meeting', 'away'],
    ['xa', 'on-the-phone', 'xa'],
    ['away', null, 'away'],
    ['xa', 'on-holiday', 'xa'],
  ])('%s + %s → %s', (availability, activity, state) => {
    expect(sessionState(s({ availability, activity }))).toBe(state);
  });

  it('BUSY_ACTIVITIES', () => {
    expect([...BUSY_ACTIVITIES].sort()).toEqual(['busy', 'in-meeting', 'on-the-phone', 'presenting']);
  });
});

describe('aggregatePresence', () => {
  it('no sessions: offline with lastSeen', () => {
    expect(aggregatePresence('a@x', [], 12345)).toEqual({
      user: 'a@x',
      state: 'offline',
      availability: null,
      activity: null,
      status: null,
      idleSince: null,
      sessions: 0,
      lastSeen: 12345,
    });
    expect(aggregatePresence('a@x', [], null).lastSeen).toBeNull();
  });

  it('one session supplies everything; lastSeen is null while online', () => {
    const p = aggregatePresence('a@x', [s({ availability: 'away', activity: 'at-lunch', status: 'brb', idleSince: 500 })], 999);
    expect(p).toEqual({
      user: 'a@x',
      state: 'away',
      availability: 'away',
      activity: 'at-lunch',
      status: 'brb',
      idleSince: 500,
      sessions: 1,
      lastSeen: null,
    });
  });

  // Rule 2: dnd > busy > chat > available > away > xa.
  it.each<[SessionPresence[], PresenceState, string]>([
    [[s({ availability: 'xa', status: 'xa' }), s({ availability: 'away', status: 'away' })], 'away', 'away'],
    [[s({ availability: 'away', status: 'away' }), s({ status: 'avail' })], 'available', 'avail'],
    [[s({ status: 'avail' }), s({ availability: 'chat', status: 'chat' })], 'chat', 'chat'],
    [[s({ availability: 'chat', status: 'chat' }), s({ activity: 'in-meeting', status: 'meeting' })], 'busy', 'meeting'],
    [[s({ activity: 'presenting', status: 'busy' }), s({ availability: 'dnd', status: 'dnd' })], 'dnd', 'dnd'],
    [[s({ availability: 'xa', status: 'xa' }), s({ availability: 'dnd', status: 'dnd' }), s({ status: 'avail' })], 'dnd', 'dnd'],
    // A busy-class activity does not lift an away session.
    [[s({ availability: 'away', activity: 'on-the-phone', status: 'away' }), s({ status: 'avail' })], 'available', 'avail'],
  ])('rank %#', (sessions, state, status) => {
    const p = aggregatePresence('a@x', sessions, null);
    expect(p.state).toBe(state);
    expect(p.status).toBe(status);
    expect(p.sessions).toBe(sessions.length);
  });

  it('ties on rank: higher priority, then most recent update, then list order', () => {
    const byPriority = [s({ priority: 5, updatedAt: 1, status: 'hi' }), s({ priority: -1, updatedAt: 9, status: 'lo' })];
    expect(aggregatePresence('a@x', byPriority, null).status).toBe('hi');
    expect(aggregatePresence('a@x', [...byPriority].reverse(), null).status).toBe('hi');
    const byTime = [s({ updatedAt: 1, status: 'old' }), s({ updatedAt: 2, status: 'new' })];
    expect(aggregatePresence('a@x', byTime, null).status).toBe('new');
    expect(aggregatePresence('a@x', [...byTime].reverse(), null).status).toBe('new');
    const same = [s({ status: 'first' }), s({ status: 'second' })];
    expect(aggregatePresence('a@x', same, null).status).toBe('first');
    // Rank beats priority.
    expect(aggregatePresence('a@x', [s({ availability: 'away', priority: 127 }), s({ priority: -128 })], null).state).toBe('available');
  });

  it('an explicit session overrides automatic ones, whatever the rank', () => {
    const sessions = [
      s({ availability: 'dnd', updatedAt: 50, status: 'auto dnd' }),
      s({ availability: 'away', explicit: true, updatedAt: 10, status: 'chosen away', idleSince: 7 }),
      s({ availability: 'chat', priority: 100, updatedAt: 99 }),
    ];
    const p = aggregatePresence('a@x', sessions, null);
    expect(p).toMatchObject({ state: 'away', availability: 'away', status: 'chosen away', idleSince: 7, sessions: 3 });
  });

  it('among explicit sessions the most recently updated wins', () => {
    const sessions = [
      s({ availability: 'dnd', explicit: true, updatedAt: 10, status: 'older dnd' }),
      s({ availability: 'xa', explicit: true, updatedAt: 20, status: 'newer xa' }),
      s({ availability: 'chat', updatedAt: 30 }),
    ];
    expect(aggregatePresence('a@x', sessions, null)).toMatchObject({ state: 'xa', status: 'newer xa' });
    expect(aggregatePresence('a@x', [...sessions].reverse(), null)).toMatchObject({ state: 'xa', status: 'newer xa' });
    // Same updatedAt: falls back to rank.
    const tied = [s({ availability: 'away', explicit: true, updatedAt: 5 }), s({ availability: 'dnd', explicit: true, updatedAt: 5 })];
    expect(aggregatePresence('a@x', tied, null).state).toBe('dnd');
  });

  const sessionArb = fc.record({
    availability: fc.constantFrom(...AVAILABILITIES),
    activity: fc.option(fc.constantFrom(...ACTIVITIES)),
    status: fc.option(fc.string({ maxLength: 5 })),
    priority: fc.integer({ min: -128, max: 127 }),
    idleSince: fc.option(fc.nat()),
    explicit: fc.boolean(),
    updatedAt: fc.nat({ max: 100 }),
  });

  it('property: without explicit sessions the state is the maximum-ranked session state', () => {
    fc.assert(
      fc.property(fc.array(sessionArb.map((x) => ({ ...x, explicit: false })), { minLength: 1, maxLength: 8 }), (sessions) => {
        const p = aggregatePresence('a@x', sessions, 1);
        const max = Math.max(...sessions.map((x) => RANK[sessionState(x)]));
        expect(p.state).not.toBe('offline');
        expect(RANK[p.state as Exclude<PresenceState, 'offline'>]).toBe(max);
        expect(p.sessions).toBe(sessions.length);
        expect(p.lastSeen).toBeNull();
        // The winner is one of the sessions and supplies all the shown fields.
        expect(sessions).toContainEqual(expect.objectContaining({ availability: p.availability, activity: p.activity, status: p.status, idleSince: p.idleSince }));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: with explicit sessions the winner is a most recent explicit one', () => {
    fc.assert(
      fc.property(fc.array(sessionArb, { minLength: 1, maxLength: 8 }), (sessions) => {
        fc.pre(sessions.some((x) => x.explicit));
        const p = aggregatePresence('a@x', sessions, null);
        const newest = Math.max(...sessions.filter((x) => x.explicit).map((x) => x.updatedAt));
        const candidates = sessions.filter((x) => x.explicit && x.updatedAt === newest);
        const best = Math.max(...candidates.map((x) => RANK[sessionState(x)]));
        expect(RANK[p.state as Exclude<PresenceState, 'offline'>]).toBe(best);
        expect(candidates).toContainEqual(expect.objectContaining({ availability: p.availability, activity: p.activity, status: p.status }));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: the aggregate does not depend on session order (up to full ties)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(sessionArb, { minLength: 1, maxLength: 6, selector: (x) => `${x.explicit}|${x.updatedAt}|${x.priority}` }), (sessions) => {
        const a = aggregatePresence('a@x', sessions, null);
        const b = aggregatePresence('a@x', [...sessions].reverse(), null);
        expect(presenceEquals(a, b)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('validatePresence', () => {
  const now = 1_700_000_000_000;

  it('applies defaults and stamps updatedAt', () => {
    expect(validatePresence({}, now)).toEqual({
      availability: 'available',
      activity: null,
      status: null,
      priority: 0,
      idleSince: null,
      explicit: false,
      updatedAt: now,
    });
  });

  it('accepts every field', () => {
    const input = { availability: 'dnd', activity: 'in-meeting', status: 'Quarterly review', priority: -128, idleSince: now - 60_000, explicit: true };
    expect(validatePresence(input, now)).toEqual({ ...input, updatedAt: now });
    expect(validatePresence({ activity: null, status: null, idleSince: null, priority: 127 }, now).priority).toBe(127);
  });

  it('accepts a status of exactly 1024 characters, counting code points', () => {
    expect(validatePresence({ status: 'x'.repeat(1024) }, now).status).toHaveLength(1024);
    expect(validatePresence({ status: '😀'.repeat(1024) }, now).status).toHaveLength(2048);
    expect(validatePresence({ status: 'tab\tand\nnewline' }, now).status).toBe('tab\tand\nnewline');
  });

  it('clamps an idleSince in the future to now', () => {
    expect(validatePresence({ idleSince: now + 5000 }, now).idleSince).toBe(now);
  });

  it.each<[unknown, string]>([
    [null, 'presence must be an object'],
    ['away', 'presence must be an object'],
    [[], 'presence must be an object'],
    [{ availability: 'busy' }, 'availability must be one of available, chat, away, xa, dnd'],
    [{ availability: null }, 'availability must be one of available, chat, away, xa, dnd'],
    [{ availability: 3 }, 'availability must be one of available, chat, away, xa, dnd'],
    [{ activity: 'sleeping' }, `activity must be null or one of ${ACTIVITIES.join(', ')}`],
    [{ status: 42 }, 'status must be a string or null'],
    [{ status: 'x'.repeat(1025) }, 'status must be at most 1024 characters'],
    [{ status: 'a\u0000b' }, 'status contains control characters or unpaired surrogates'],
    [{ status: 'a\uD800b' }, 'status contains control characters or unpaired surrogates'],
    [{ priority: 128 }, 'priority must be an integer from -128 to 127'],
    [{ priority: -129 }, 'priority must be an integer from -128 to 127'],
    [{ priority: 1.5 }, 'priority must be an integer from -128 to 127'],
    [{ priority: '5' }, 'priority must be an integer from -128 to 127'],
    [{ priority: Number.NaN }, 'priority must be an integer from -128 to 127'],
    [{ idleSince: -1 }, 'idleSince must be null or a non-negative integer (epoch ms)'],
    [{ idleSince: 'yesterday' }, 'idleSince must be null or a non-negative integer (epoch ms)'],
    [{ idleSince: Number.POSITIVE_INFINITY }, 'idleSince must be null or a non-negative integer (epoch ms)'],
    [{ explicit: 'yes' }, 'explicit must be a boolean'],
    [{ avaliability: 'away' }, 'presence has unknown field "avaliability"'],
    [{ updatedAt: 5 }, 'presence has unknown field "updatedAt"'],
  ])('%j → %s', (input, message) => {
    let caught: unknown;
    try {
      validatePresence(input, now);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ParleyError);
    expect((caught as ParleyError).code).toBe('bad-request');
    expect((caught as ParleyError).message).toBe(message);
  });

  it('property: every valid input round-trips', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            availability: fc.constantFrom(...AVAILABILITIES),
            activity: fc.option(fc.constantFrom(...ACTIVITIES)),
            status: fc.option(fc.string({ maxLength: 1024 })),
            priority: fc.integer({ min: -128, max: 127 }),
            idleSince: fc.option(fc.integer({ min: 0, max: now })),
            explicit: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
        (input) => {
          const p = validatePresence(input, now);
          expect(p.availability).toBe(input.availability ?? 'available');
          expect(p.activity).toBe(input.activity ?? null);
          expect(p.status).toBe(input.status ?? null);
          expect(p.priority).toBe(input.priority ?? 0);
          expect(p.idleSince).toBe(input.idleSince ?? null);
          expect(p.explicit).toBe(input.explicit ?? false);
          expect(p.updatedAt).toBe(now);
        },
      ),
    );
  });
});

describe('presenceEquals', () => {
  const base: UserPresence = aggregatePresence('a@x', [s({ status: 'hi', idleSince: 3 })], null);

  it('is true for equal aggregates', () => {
    expect(presenceEquals(base, { ...base })).toBe(true);
    expect(presenceEquals(aggregatePresence('a@x', [], 5), aggregatePresence('a@x', [], 5))).toBe(true);
  });

  it.each<[keyof UserPresence, unknown]>([
    ['user', 'b@x'],
    ['state', 'away'],
    ['availability', 'away'],
    ['activity', 'busy'],
    ['status', 'ho'],
    ['idleSince', 4],
    ['sessions', 2],
    ['lastSeen', 9],
  ])('notices a different %s', (field, value) => {
    expect(presenceEquals(base, { ...base, [field]: value } as UserPresence)).toBe(false);
  });
});

describe('resourceChanges (RFC 6121 §4.2.2, §4.4.2, §4.5.2)', () => {
  const phone = s({ updatedAt: 1 });
  const desk = s({ updatedAt: 2, extensions: '<c xmlns="http://jabber.org/protocol/caps" ver="x"/>' });

  it('sends every resource the first time, and nothing when nothing changed', () => {
    const now = [
      { resource: 'phone', presence: phone },
      { resource: 'desk', presence: desk },
    ];
    expect(resourceChanges(undefined, now)).toEqual([
      { resource: 'phone', presence: phone },
      { resource: 'desk', presence: desk },
    ]);
    const before = new Map([
      ['phone', phone],
      ['desk', { ...desk }],
    ]);
    expect(resourceChanges(before, now)).toEqual([]);
  });

  it('sends only the resource that changed, and null for the one that left', () => {
    const before = new Map([
      ['phone', phone],
      ['desk', desk],
    ]);
    const away = s({ availability: 'away', updatedAt: 3 });
    expect(resourceChanges(before, [{ resource: 'phone', presence: away }])).toEqual([
      { resource: 'phone', presence: away },
      { resource: 'desk', presence: null },
    ]);
    expect(resourceChanges(before, [])).toEqual([
      { resource: 'phone', presence: null },
      { resource: 'desk', presence: null },
    ]);
  });

  it('notices new extensions (new caps) and a presence sent again (a new stamp)', () => {
    expect(sessionPresenceEquals(desk, { ...desk, extensions: '<c ver="y"/>' })).toBe(false);
    expect(sessionPresenceEquals(desk, { ...desk, updatedAt: 9 })).toBe(false);
    expect(sessionPresenceEquals(phone, { ...phone })).toBe(true);
    expect(resourceChanges(new Map([['desk', desk]]), [{ resource: 'desk', presence: { ...desk, extensions: undefined } }])).toHaveLength(1);
  });
});

describe('aggregateResources', () => {
  it('lists the available resources by name with the state each shows; equality notices a change in them', () => {
    const p = aggregateResources('a@x', [
      { resource: 'phone', presence: s({ availability: 'chat', activity: 'on-the-phone', priority: 1 }) },
      { resource: 'desk', presence: s({ availability: 'away', priority: -1 }) },
    ]);
    expect(p).toMatchObject({ state: 'busy', sessions: 2 });
    expect(p.resources).toEqual([
      { resource: 'desk', state: 'away', priority: -1 },
      { resource: 'phone', state: 'busy', priority: 1 },
    ]);
    expect(presenceEquals(p, { ...p, resources: [...p.resources!] })).toBe(true);
    expect(presenceEquals(p, { ...p, resources: [p.resources![0]!, { ...p.resources![1]!, state: 'dnd' }] })).toBe(false);
    expect(presenceEquals(p, { ...p, resources: [p.resources![0]!, { ...p.resources![1]!, state: 'dnd' }] }, false)).toBe(true);
    expect(aggregateResources('a@x', []).resources).toBeUndefined();
  });
});
