import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../../../engine/outbound.js';
import { ClientState } from './client-state.js';

const presence = (user: string): ServerEvent => ({ ev: 'presence', data: { user } });

describe('ClientState (XEP-0352)', () => {
  it('holds nothing while active', () => {
    const c = new ClientState();
    expect(c.hold(presence('a@x'), ['<presence/>'])).toBe(false);
    expect(c.hold({ ev: 'typing', data: {} }, ['<message/>'])).toBe(false);
    expect(c.holding).toBe(false);
  });

  it('while inactive, drops chat states and keeps the latest presence per contact, in first-held order', () => {
    const c = new ClientState();
    c.inactive = true;
    expect(c.hold({ ev: 'typing', data: {} }, ['<message/>'])).toBe(true);
    expect(c.holding).toBe(false);
    expect(c.hold(presence('a@x'), ['a1'])).toBe(true);
    expect(c.hold(presence('b@x'), ['b1', 'b2'])).toBe(true);
    expect(c.hold(presence('a@x'), ['a2'])).toBe(true);
    expect(c.hold({ ev: 'message', data: {} }, ['<message/>'])).toBe(false);
    expect(c.holding).toBe(true);
    expect(c.release()).toEqual(['a2', 'b1', 'b2']);
    expect(c.holding).toBe(false);
    expect(c.release()).toEqual([]);
  });

  it('holds a contact\'s presence per resource; a presence from the bare address replaces all of them', () => {
    const c = new ClientState();
    c.inactive = true;
    const of = (user: string, ...resources: string[]): ServerEvent => ({
      ev: 'presence',
      data: { user },
      resources: { [user]: resources.map((resource) => ({ resource, presence: null })) },
    });
    expect(c.hold(of('a@x', 'phone'), ['phone1'])).toBe(true);
    expect(c.hold(of('a@x', 'desk'), ['desk1'])).toBe(true);
    expect(c.hold(of('a@x', 'phone'), ['phone2'])).toBe(true);
    expect(c.release()).toEqual(['phone2', 'desk1']);
    c.hold(of('a@x', 'phone', 'desk'), ['phone3', 'desk3']);
    c.hold(of('b@x', 'pad'), ['pad1']);
    c.hold(presence('a@x'), ['bare']);
    expect(c.release()).toEqual(['pad1', 'bare']);
  });
});
