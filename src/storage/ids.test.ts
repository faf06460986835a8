import { describe, expect, it } from 'vitest';
import { createIdGenerator } from './ids.js';

describe('record ids', () => {
  it('are unique and increasing within one millisecond', () => {
    const next = createIdGenerator(() => 1_700_000_000_000);
    const ids = Array.from({ length: 10_000 }, next);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('sort by time and stay increasing when the clock steps back', () => {
    let t = 1_000;
    const next = createIdGenerator(() => t);
    const a = next();
    t = 2_000;
    const b = next();
    t = 1_500;
    const c = next();
    expect(a < b && b < c).toBe(true);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('start with the time, so generators in different processes interleave by time', () => {
    const early = createIdGenerator(() => 5_000)();
    const late = createIdGenerator(() => 5_001)();
    expect(early < late).toBe(true);
    expect(early.slice(0, 10)).toBe('00000004W8');
  });
});
