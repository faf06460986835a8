import { describe, expect, it } from 'vitest';
import { RoomView } from './room-view.js';

describe('RoomView', () => {
  it('records rooms entered and left, with the nick of each (XEP-0045)', () => {
    const v = new RoomView();
    expect(v.nick('r@muc')).toBeUndefined();
    expect(v.leave('r@muc')).toBe(false);
    expect(v.enter('r@muc', 'ann')).toBe(true);
    expect(v.enter('r@muc', 'anna')).toBe(false); // a nick change, not an entry
    expect(v.nick('r@muc')).toBe('anna');
    v.enter('s@muc', 'ann');
    expect(v.leave('r@muc')).toBe(true);
    expect(v.leaveAll()).toEqual(['s@muc']);
    expect(v.leaveAll()).toEqual([]);
  });

  it('copies for a resumed stream; the copies change apart', () => {
    const v = new RoomView();
    v.enter('r@muc', 'ann');
    const c = v.copy();
    c.enter('s@muc', 'ann');
    v.leave('r@muc');
    expect(c.nick('r@muc')).toBe('ann');
    expect(v.nick('s@muc')).toBeUndefined();
    expect(new RoomView().copy().leaveAll()).toEqual([]);
  });
});
