/**
 * Supervision: lexicons flag words, phrases and patterns (and not what merely resembles them), sampling flags a
 * fixed share decided by the leaf hash, reviewers mark items with a comment, every action is journaled, and the
 * HTTP routes are for compliance officers (policies, holds, roles) and supervision reviewers (the queue) only:
 * an administrator without a role is forbidden, and neither role does the other's work.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { archiveCommands } from './commands.js';
import { archiveOptions } from './options.js';
import { compileLexicon, matchLexicons, riskyPattern, sampled, validateTerms, type Lexicon, type ReviewItem } from './review.js';
import { archiveRig, RIG_ORIGIN, type ArchiveRig } from './test-rig.js';
import { cliContext } from '../testing.js';

const rigs: ArchiveRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});
const rig = async (options: Record<string, unknown> = {}): Promise<ArchiveRig> => {
  const r = await archiveRig({ retention: { runHours: 0 }, ...options });
  rigs.push(r);
  return r;
};

/** Waits until the review consumer queued `n` items (or fails after a while). */
async function queued(r: ArchiveRig, n: number): Promise<ReviewItem[]> {
  for (let i = 0; i < 200; i++) {
    const items = await r.archive.reviewList({}, 'test', Date.now());
    if (items.length >= n) return items;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`the review queue never reached ${n} items`);
}

/** Types of every journal entry from `from` on. */
async function typesFrom(r: ArchiveRig, from: number): Promise<string[]> {
  const n = await r.archive.size();
  const out: string[] = [];
  for (let i = from; i < n; i++) out.push((await r.archive.entry(i))!.type);
  return out;
}

const lexicon = (terms: Partial<Lexicon['terms']>): Lexicon => ({ id: 1, name: 'test', scope: { kind: 'all' }, terms: validateTerms(terms), createdBy: null, createdAt: 0 });

describe('lexicon matching', () => {
  const l = compileLexicon(lexicon({ words: ['guarantee', 'Überweisung'], phrases: ['off the  books'], patterns: ['\\bacct\\s*#?\\d{6,}'] }));
  const hit = (body: string): string[] => matchLexicons(body, [l]).map((x) => (x.kind === 'lexicon' ? x.term : 'sample'));

  it('flags whole words case-insensitively, phrases across whitespace, and patterns', () => {
    expect(hit('I GUARANTEE returns')).toEqual(['guarantee']);
    expect(hit('die überweisung ist raus')).toEqual(['Überweisung']);
    expect(hit('keep this Off The\nBooks please')).toEqual(['off the books']);
    expect(hit('send to acct #12345678')).toEqual(['\\bacct\\s*#?\\d{6,}']);
  });

  it('does not flag non-matches: parts of words, broken phrases, short numbers', () => {
    expect(hit('guaranteed delivery')).toEqual([]);
    expect(hit('Überweisungen')).toEqual([]);
    expect(hit('off the record, books later')).toEqual([]);
    expect(hit('acct 123')).toEqual([]);
    expect(hit('hello')).toEqual([]);
  });

  it('refuses malformed, too long and catastrophic patterns with bad-request', () => {
    expect(() => validateTerms({ patterns: ['(unclosed'] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({ patterns: ['a'.repeat(201)] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({ patterns: ['(a+)+$'] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({ patterns: ['(\\w*\\s?)*x'] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({ patterns: ['(x)\\1'] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({ words: ['two words'] })).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => validateTerms({})).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(riskyPattern('(foo|bar)+ [a+]+ (ab)?c*')).toBeNull();
  });

  it('samples deterministically from the leaf hash', () => {
    const low = Buffer.alloc(32, 0x00);
    const high = Buffer.alloc(32, 0xff);
    expect(sampled(low, 0)).toBe(false);
    expect(sampled(high, 100)).toBe(true);
    expect(sampled(low, 1)).toBe(true);
    expect(sampled(high, 99.9)).toBe(false);
  });
});

describe('the review queue', () => {
  it('queues lexicon matches from the log, not other messages, and reviewers mark them with a comment', async () => {
    const r = await rig();
    const start = await r.archive.size();
    const l = await r.archive.lexiconAdd({ name: 'promises', scope: { kind: 'domain', domain: 'example.com' }, terms: { words: ['guarantee'], phrases: ['risk free'] } }, 'officer@example.com', Date.now());
    await r.archive.lexiconAdd({ name: 'other domain', scope: { kind: 'domain', domain: 'elsewhere.example' }, terms: { words: ['hello'] } }, 'officer@example.com', Date.now());
    await r.archive.lexiconAdd({ name: 'traders', scope: { kind: 'group', group: 'traders' }, terms: { patterns: ['insider'] } }, 'officer@example.com', Date.now());
    await r.store.sharedGroups.create({ name: 'traders', displayName: 'Traders' });
    await r.store.sharedGroups.addMember('traders', 'bob@example.com');
    r.host.start();
    await r.dm('hello bob');
    await r.dm('I guarantee it');
    await r.say('totally RISK  FREE', 'bob');
    await r.say('insider tip', 'bob');
    await r.say('insider tip from alice', 'alice');
    const items = await queued(r, 3);
    expect(items.map((i) => [JSON.parse(i.entry!).body, i.reasons.map((x) => (x.kind === 'lexicon' ? `${x.name}:${x.term}` : x.kind))])).toEqual([
      ['I guarantee it', ['promises:guarantee']],
      ['totally RISK  FREE', ['promises:risk free']],
      ['insider tip', ['traders:insider']],
    ]);
    expect(items.every((i) => i.state === 'new')).toBe(true);

    const marked = await r.archive.reviewMark(items[0]!.id, 'escalated', 'promise of returns', 'officer@example.com', Date.now());
    expect(marked).toMatchObject({ state: 'escalated', reviewer: 'officer@example.com', comment: 'promise of returns' });
    await r.archive.reviewMark(items[1]!.id, 'reviewed', 'marketing copy, fine', 'officer@example.com', Date.now());
    expect((await r.archive.reviewList({ state: 'new' }, 'test', Date.now())).map((i) => i.id)).toEqual([items[2]!.id]);
    await expect(r.archive.reviewMark(999, 'reviewed', 'x', 'officer@example.com', Date.now())).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(r.archive.reviewMark(items[2]!.id, 'reviewed', ' ', 'officer@example.com', Date.now())).rejects.toMatchObject({ code: 'bad-request' });
    await r.archive.lexiconRemove(l.id, 'officer@example.com', Date.now());
    await expect(r.archive.lexiconRemove(l.id, 'officer@example.com', Date.now())).rejects.toMatchObject({ code: 'item-not-found' });
    await expect(
      r.archive.lexiconAdd({ name: 'bad', scope: { kind: 'all' }, terms: { patterns: ['[a-'] } }, 'officer@example.com', Date.now()),
    ).rejects.toMatchObject({ code: 'bad-request' });

    // Every officer and reviewer action is in the journal.
    const types = (await typesFrom(r, start)).filter((t) => t.startsWith('archive.'));
    expect(types.filter((t) => t === 'archive.review.lexicon.add')).toHaveLength(3);
    expect(types.filter((t) => t === 'archive.review.mark')).toHaveLength(2);
    expect(types).toContain('archive.review.lexicon.remove');
    expect(types).toContain('archive.review.list');
    await r.archive.checkpoint(RIG_ORIGIN, Date.now());
    expect((await r.archive.verify({ origin: RIG_ORIGIN })).problem).toBeNull();
  });

  it('samples every message at 100% and none at 0%', async () => {
    const all = await rig({ supervision: { samplePercent: 100 } });
    all.host.start();
    for (let i = 0; i < 5; i++) await all.dm(`message ${i}`);
    const items = await queued(all, 5);
    expect(items.map((i) => i.reasons)).toEqual(Array.from({ length: 5 }, () => [{ kind: 'sample' }]));

    const none = await rig({ supervision: { samplePercent: 0 } });
    await none.archive.lexiconAdd({ name: 'never', scope: { kind: 'all' }, terms: { words: ['zzzz'] } }, 'cli', Date.now());
    none.host.start();
    for (let i = 0; i < 5; i++) await none.dm(`message ${i}`);
    await none.dm('zzzz');
    expect((await queued(none, 1)).map((i) => JSON.parse(i.entry!).body)).toEqual(['zzzz']);
  });

  it('samples a share by the leaf hash, sealed by the review or before it by the search index', async () => {
    const r = await rig({ supervision: { samplePercent: 50 } });
    const first = await r.archive.size();
    const seqs: number[] = [];
    for (let i = 0; i < 30; i++) seqs.push((await r.dm(`sampled ${i}`)).seq);
    // The leaves as the entries API gives them (hashed from the bytes while not sealed yet).
    const leaves = await Promise.all(Array.from({ length: 30 }, (_, i) => r.archive.entry(first + i).then((e) => Buffer.from(e!.leaf, 'hex'))));
    const expected = leaves.flatMap((leaf, i) => (sampled(leaf, 50) ? [first + i] : []));
    expect(expected.length).toBeGreaterThan(5);
    expect(expected.length).toBeLessThan(25);
    // Half sealed by the search index before the review takes them in (as its consumer does), half not.
    await r.archive.indexPending(15 + first);
    expect(await r.archive.reviewIngest(seqs.map((seq) => ({ seq, reasons: [] })), 50, Date.now())).toBe(expected.length);
    expect((await r.archive.reviewList({}, 'test', Date.now())).map((i) => i.index)).toEqual(expected);
    await r.archive.checkpoint(RIG_ORIGIN, Date.now());
    expect((await r.archive.verify({ origin: RIG_ORIGIN })).problem).toBeNull();
  });

  it('queues a message once however often its batch is ingested', async () => {
    const r = await rig();
    const { seq } = await r.dm('watch this');
    const reasons = [{ kind: 'lexicon' as const, lexicon: 1, name: 'x', term: 'watch' }];
    expect(await r.archive.reviewIngest([{ seq, reasons }], 0, Date.now())).toBe(1);
    expect(await r.archive.reviewIngest([{ seq, reasons }], 0, Date.now())).toBe(0);
    expect(await r.archive.reviewIngest([{ seq: seq + 100, reasons }], 0, Date.now())).toBe(0);
  });
});

describe('the HTTP routes', () => {
  it('serve officers and reviewers only, each their own work: anyone else is forbidden', async () => {
    const r = await rig();
    const { app } = r;
    const auth = async (who: string) => ({ authorization: `Bearer ${await r.token(who)}` });
    const forbidden = async (who: string, routes: ReadonlyArray<readonly ['GET' | 'POST' | 'PUT' | 'DELETE', string]>): Promise<void> => {
      for (const [method, url] of routes) {
        const res = await app.inject({ method, url: `/api/v1/archive${url}`, headers: await auth(who) });
        expect(res.statusCode, `${who} ${method} ${url}`).toBe(403);
        expect(res.json()).toMatchObject({ error: { code: 'forbidden' } });
      }
    };
    const officerRoutes = [['GET', '/holds'], ['GET', '/retention'], ['GET', '/review/lexicons'], ['POST', '/holds/1/release'], ['GET', '/search'], ['GET', '/roles'], ['PUT', '/roles/reviewer/alice@example.com']] as const;
    const reviewerRoutes = [['GET', '/review'], ['POST', '/review/1']] as const;
    for (const who of ['alice@example.com', 'root@example.com']) await forbidden(who, [...officerRoutes, ...reviewerRoutes]);
    expect((await app.inject({ method: 'GET', url: '/api/v1/archive/review' })).statusCode).toBe(401);
    // An officer does not review: the queue is the reviewers'.
    await forbidden('olive@example.com', reviewerRoutes);

    const officer = { authorization: `Bearer ${r.tokens.officer}` };
    const start = await r.archive.size();
    // The officer names alice reviewer; she works the queue and nothing else.
    const grant = await app.inject({ method: 'PUT', url: '/api/v1/archive/roles/reviewer/Alice@Example.com', headers: officer });
    expect(grant.json()).toEqual({ role: 'reviewer', address: 'alice@example.com', changed: true });
    expect((await app.inject({ method: 'GET', url: '/api/v1/archive/roles', headers: officer })).json()).toEqual({ officers: ['olive@example.com'], reviewers: ['alice@example.com'] });
    await forbidden('alice@example.com', officerRoutes);
    const reviewer = await auth('alice@example.com');
    const post = (url: string, payload: object, headers = officer) => app.inject({ method: 'POST', url: `/api/v1/archive${url}`, headers, payload });
    // Retention.
    const put = await app.inject({ method: 'PUT', url: '/api/v1/archive/retention', headers: officer, payload: { domain: 'example.com', minDays: 10, maxDays: 100 } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ kind: 'domain', scope: 'example.com', minDays: 10, maxDays: 100, setBy: 'olive@example.com' });
    const low = await app.inject({ method: 'PUT', url: '/api/v1/archive/retention', headers: officer, payload: { domain: 'example.com', minDays: 0, maxDays: 5 } });
    expect(low.json()).toMatchObject({ error: { code: 'not-acceptable' } });
    expect((await post('/retention/run', { dryRun: true })).json()).toMatchObject({ expired: 0 });
    // Holds.
    const hold = await post('/holds', { person: 'alice@example.com', reason: 'litigation' });
    expect(hold.json()).toMatchObject({ id: 1, scope: { kind: 'person', address: 'alice@example.com' }, createdBy: 'olive@example.com' });
    expect((await post('/holds/1/release', {})).json()).toMatchObject({ releasedBy: 'olive@example.com' });
    const unknown = await post('/holds/42/release', {});
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'item-not-found' } });
    // Lexicons and the queue.
    const bad = await post('/review/lexicons', { name: 'bad', patterns: ['(a*)*'] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'bad-request' } });
    const lex = await post('/review/lexicons', { name: 'promises', words: ['guarantee'] });
    expect(lex.json()).toMatchObject({ id: 1, scope: { kind: 'all' }, terms: { words: ['guarantee'] } });
    const { seq } = await r.dm('I guarantee it');
    await r.archive.reviewIngest([{ seq, reasons: [{ kind: 'lexicon', lexicon: 1, name: 'promises', term: 'guarantee' }] }], 0, Date.now());
    const list = await app.inject({ method: 'GET', url: '/api/v1/archive/review?state=new', headers: reviewer });
    const [item] = (list.json() as { items: ReviewItem[] }).items;
    expect(item).toMatchObject({ state: 'new', seq });
    expect((await post(`/review/${item!.id}`, { state: 'escalated', comment: 'needs a look' }, reviewer)).json()).toMatchObject({ state: 'escalated', reviewer: 'alice@example.com' });
    expect((await post('/review/999', { state: 'reviewed', comment: 'x' }, reviewer)).json()).toMatchObject({ error: { code: 'item-not-found' } });
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/archive/review/lexicons/1', headers: officer })).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/archive/retention?domain=example.com', headers: officer })).statusCode).toBe(200);

    // Revoked, she is refused again.
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/archive/roles/reviewer/alice@example.com', headers: officer })).json()).toMatchObject({ changed: true });
    await forbidden('alice@example.com', reviewerRoutes);

    const types = await typesFrom(r, start);
    for (const t of ['archive.reviewer.add', 'archive.reviewer.remove', 'archive.retention.set', 'archive.retention.run', 'archive.hold.add', 'archive.hold.release', 'archive.review.lexicon.add', 'archive.review.list', 'archive.review.mark', 'archive.review.lexicon.remove', 'archive.retention.remove']) {
      expect(types, t).toContain(t);
    }
  });
});

describe('the reviewer role', () => {
  it('is granted and revoked over HTTP by officers, each change journaled, and the last officer stays', async () => {
    const r = await rig();
    const { app } = r;
    const officer = { authorization: `Bearer ${r.tokens.officer}` };
    const call = (method: 'PUT' | 'DELETE', url: string) => app.inject({ method, url: `/api/v1/archive/roles${url}`, headers: officer });
    const start = await r.archive.size();
    expect((await call('PUT', '/reviewer/bob@example.com')).json()).toMatchObject({ changed: true });
    expect((await call('PUT', '/reviewer/bob@example.com')).json()).toMatchObject({ changed: false });
    expect((await call('PUT', '/reviewer/nobody@example.com')).json()).toMatchObject({ error: { code: 'item-not-found' } });
    expect((await call('PUT', '/auditor/bob@example.com')).json()).toMatchObject({ error: { code: 'item-not-found' } });
    expect((await call('DELETE', '/officer/olive@example.com')).json()).toMatchObject({ error: { code: 'not-allowed' } });
    expect((await call('PUT', '/officer/alice@example.com')).json()).toMatchObject({ changed: true });
    expect((await call('DELETE', '/officer/olive@example.com')).json()).toMatchObject({ changed: true });
    const entries = [];
    for (let i = start; i < (await r.archive.size()); i++) entries.push(JSON.parse((await r.archive.entry(i))!.entry!) as Record<string, unknown>);
    expect(entries.map((e) => [e.type, e.actor, e.subject, e.changed])).toEqual([
      ['archive.reviewer.add', 'olive@example.com', 'bob@example.com', true],
      ['archive.reviewer.add', 'olive@example.com', 'bob@example.com', false],
      ['archive.officer.add', 'olive@example.com', 'alice@example.com', true],
      ['archive.officer.remove', 'olive@example.com', 'olive@example.com', true],
    ]);
  });

  it('is granted and revoked with the CLI, like the officer role', async () => {
    const r = await rig();
    const command = archiveCommands().find((c) => c.name === 'reviewer')!;
    let out = '';
    const ctx = cliContext(archiveOptions.parse({ enabled: true }), r.store, { out: (s: string) => void (out += s), err: (s: string) => void (out += s) });
    expect(await command.run(['add', 'bob@example.com'], ctx)).toBe(0);
    expect(await r.archive.roleHolders('reviewer')).toEqual(['bob@example.com']);
    expect(await command.run(['list'], ctx)).toBe(0);
    expect(await command.run(['remove', 'bob@example.com'], ctx)).toBe(0);
    await expect(command.run(['add', 'nobody@example.com'], ctx)).rejects.toMatchObject({ code: 'item-not-found' });
    expect(await command.run(['grant', 'bob@example.com'], ctx)).toBe(2);
    expect(out).toContain('granted the supervision-reviewer role to bob@example.com\nbob@example.com\nrevoked the supervision-reviewer role of bob@example.com\n');
    expect(await r.archive.roleHolders('reviewer')).toEqual([]);
    const types = await typesFrom(r, 0);
    expect(types.filter((t) => t.startsWith('archive.reviewer.'))).toEqual(['archive.reviewer.add', 'archive.reviewer.remove']);
  });
});
