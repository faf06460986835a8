/** The listings' paging rules: sorted input, case-insensitive substring, a cursor after the last address shown. */
import { describe, expect, it } from 'vitest';
import { ADMIN_PAGE_DEFAULT, ADMIN_PAGE_MAX, adminSession, pageOf } from './admin-views.js';

const rows = (...addresses: string[]): Array<{ address: string }> => addresses.map((address) => ({ address }));

describe('pageOf', () => {
  const all = rows('ann@a.test', 'bob@a.test', 'bobby@b.test', 'carl@b.test', 'dora@a.test');

  it('pages with a cursor: next is the last address shown, null on the last page', () => {
    const p1 = pageOf(all, { limit: 2 });
    expect(p1).toEqual({ items: rows('ann@a.test', 'bob@a.test'), next: 'bob@a.test' });
    const p2 = pageOf(all, { limit: 2, after: p1.next! });
    expect(p2).toEqual({ items: rows('bobby@b.test', 'carl@b.test'), next: 'carl@b.test' });
    expect(pageOf(all, { limit: 2, after: p2.next! })).toEqual({ items: rows('dora@a.test'), next: null });
    // A page that ends exactly at the end says so: nothing follows.
    expect(pageOf(all, { limit: 5 }).next).toBeNull();
    expect(pageOf(all, { after: 'zzz' })).toEqual({ items: [], next: null });
  });

  it('filters by a case-insensitive substring, the cursor counting only what matches', () => {
    expect(pageOf(all, { q: 'BOB' }).items).toEqual(rows('bob@a.test', 'bobby@b.test'));
    expect(pageOf(all, { q: 'b.test', limit: 1 })).toEqual({ items: rows('bobby@b.test'), next: 'bobby@b.test' });
    expect(pageOf(all, { q: 'b.test', limit: 1, after: 'bobby@b.test' })).toEqual({ items: rows('carl@b.test'), next: null });
    expect(pageOf(all, { q: 'nobody' })).toEqual({ items: [], next: null });
  });

  it('takes the default page and never more than the largest', () => {
    const many = rows(...Array.from({ length: ADMIN_PAGE_MAX + 5 }, (_, i) => `u${String(i).padStart(5, '0')}@a.test`));
    expect(pageOf(many, {}).items).toHaveLength(ADMIN_PAGE_DEFAULT);
    expect(pageOf(many, { limit: 10_000 }).items).toHaveLength(ADMIN_PAGE_MAX);
    expect(pageOf(many, { limit: 0 }).items).toHaveLength(1);
  });
});

describe('adminSession', () => {
  it('shows presence without the empty fields, and "other" for a node that did not say its protocol', () => {
    const base = { id: 's1', user: 'a@a.test', resource: 'r', available: true, carbons: false, stanzas: false, rooms: [], openedAt: 5, node: 'n1' };
    const presence = { availability: 'away' as const, activity: null, status: null, priority: 0, idleSince: null, explicit: true, updatedAt: 1 };
    expect(adminSession({ ...base, presence })).toEqual({ id: 's1', resource: 'r', protocol: 'other', openedAt: 5, available: true, node: 'n1', presence: { availability: 'away' } });
    expect(adminSession({ ...base, protocol: 'xmpp-bosh', presence: { ...presence, status: 'out' } }).presence).toEqual({ availability: 'away', status: 'out' });
  });
});
